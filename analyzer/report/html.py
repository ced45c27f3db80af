"""Self-contained HTML reports for ``check``, ``review`` and ``history``.

One folder, opening on ``index.html``; every page, style sheet and script is a file of that
folder (no network, no CDN), so the folder can be archived as a CI artefact and opened from
disk. A file page shows the source, syntax-highlighted, with a **lock-state gutter**: one
column per lock of the function (a colour each), filled when the lock is held before the line
(solid for write, pale for read, striped when held only on some paths, dotted when held only
if its pointer is non-NULL), with a bar where the line acquires or releases it. Each finding
is a highlighted region with its message, rule, related locations and justification; a jump
list leads to every finding and function.

Everything that comes from the analysed tree (source text, names, messages) is escaped:
templates are rendered with autoescape on, and source lines are highlighted token by token,
each token escaped (``markupsafe``), never passed through as markup.

The views read finished results only: a file is shown from its report with the file's text
and each function's lock trace (:class:`~analyzer.locks.trace.FunctionTrace`), which the
driver keeps in the cache beside the result (``check_paths(..., traces=True)``); review and
history hand over the file versions they show as ``snapshots`` of their results, with each
patch's diff. Nothing here analyses, runs checks or runs git.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

from .. import __version__
from ..findings.finding import Finding, Severity, severity_rank
from ..locks.events import EventKind
from ..locks.result import FileStatus
from ..locks.trace import FunctionTrace
from ..model.enums import Mode
from ..workflow.results import HISTORY_SNAPSHOTS, HistoryResult, ReviewResult, ReviewStatus
from .sarif import rule_doc

MANIFEST = ".rmaplint-html"  # what a previous report wrote here (removed before writing anew)
FEW_FILES = 25  # a check of at most this many files gets a page for each; else files with findings
MAX_EXCERPT = 80  # lines of annotated code beside one diff hunk
PALETTE = 12  # lock colours (assets: .k0 … .k11)


# --------------------------------------------------------------------------- highlighting

_CTRL = {c: 0x2400 + c for c in range(32) if c != 9}  # control pictures, tab kept
_CTRL[127] = 0x2421
_SURROGATE = re.compile("[\ud800-\udfff]")
_CR = "\ue000"  # stands for \r while pygments lexes (it would turn a lone \r into a newline)


def _clean(s: str) -> str:
    """Text fit for an HTML page: the bytes of a non-UTF-8 file (surrogates) as U+FFFD,
    control characters as their pictures, \\r at the end of a line dropped."""
    if s.endswith(_CR):
        s = s[:-1]
    s = s.replace(_CR, "\u240d")
    s = _SURROGATE.sub("\ufffd", s)
    return s.translate(_CTRL)


# _clean and markupsafe's escape in one pass, for the runs of highlighted text
_PAGE_TEXT = {**_CTRL, ord(_CR): "\u240d", ord("&"): "&amp;", ord("<"): "&lt;",
              ord(">"): "&gt;", ord('"'): "&#34;", ord("'"): "&#39;",
              **{c: "\ufffd" for c in range(0xD800, 0xE000)}}
# tree-sitter's leaves → pygments' short css classes (its stylesheet colours the page)
_WHOLE = {"comment": "", "string_literal": "s", "system_lib_string": "cpf",
          "char_literal": "sc", "raw_string_literal": "s", "number_literal": "m",
          "preproc_arg": "cp", "concatenated_string": ""}  # leaves, not descended into
_NAMED = {"primitive_type": "kt", "true": "kc", "false": "kc", "null": "kc",
          "identifier": "n", "field_identifier": "n", "type_identifier": "n",
          "statement_identifier": "nl"}
_PUNCT = frozenset("()[]{};,.")


def _run_html(cls: str, text: str) -> str:
    if text.endswith(_CR):
        text = text[:-1]
    text = text.translate(_PAGE_TEXT)
    return f'<span class="{cls}">{text}</span>' if cls else text


def _leaf_class(node, in_include: bool) -> str:
    t = node.type
    if t == "comment":
        return "c1" if node.text.startswith(b"//") else "cm"
    if t in _WHOLE:
        return "cpf" if in_include and t == "string_literal" else _WHOLE[t]
    if node.is_named:
        return _NAMED.get(t, "")
    if t.startswith("#"):
        return "cp"  # #include, #define, #if …
    if t[:1].isalpha() or t[:1] == "_":
        return "k"  # if, return, struct, static, sizeof, unsigned …
    return "p" if t in _PUNCT else "o"


@lru_cache(maxsize=1)
def _c_lexer():
    """tree-sitter's C grammar, used here as a lexer is (for the colours only: a report
    never runs the analysis' frontend)."""
    import tree_sitter as ts
    import tree_sitter_c as tsc

    return ts.Parser(ts.Language(tsc.language()))


def _tokens(data: bytes):
    """(start, end, css class) of every leaf of the C parse of ``data``, in order (what
    lies between two is white space, or text the parser did not take as a token)."""
    tree = _c_lexer().parse(data)
    stack = [(tree.root_node, False)]
    while stack:
        node, inc = stack.pop()
        if node.child_count == 0 or node.type in _WHOLE:
            yield node.start_byte, node.end_byte, _leaf_class(node, inc)
            continue
        inc = inc or node.type == "preproc_include"
        stack.extend((c, inc) for c in reversed(node.children))


def highlight(text: str) -> list[Markup]:
    """One escaped, highlighted line per ``\\n``-separated line of ``text``, coloured by
    the tokens of tree-sitter's parse (tree-sitter's C grammar: fast, where pygments'
    regular-expression lexer took two thirds of an HTML report's time)."""
    lines = text.split("\n")
    try:
        data = text.replace("\r", _CR).encode("utf-8", "surrogateescape")
        out: list[list[list[str]]] = [[]]  # per line: [css class, text] runs
        runs = out[-1]
        at = 0

        def add(cls: str, value: str) -> None:
            nonlocal runs
            if "\n" not in value:
                if runs and runs[-1][0] == cls:
                    runs[-1][1] += value
                elif value:
                    runs.append([cls, value])
                return
            for i, part in enumerate(value.split("\n")):
                if i:
                    runs = []
                    out.append(runs)
                if not part:
                    continue
                if runs and runs[-1][0] == cls:
                    runs[-1][1] += part
                else:
                    runs.append([cls, part])

        for start, end, cls in _tokens(data):
            if start < at:
                continue  # a zero-width or overlapping node (error recovery)
            if start > at:
                add("", data[at:start].decode("utf-8", "surrogateescape"))
            add(cls, data[start:end].decode("utf-8", "surrogateescape"))
            at = end
        if at < len(data):
            add("", data[at:].decode("utf-8", "surrogateescape"))
        if len(out) == len(lines):
            return [Markup("".join([_run_html(c, t) for c, t in runs])) for runs in out]
    except Exception:  # noqa: BLE001 - a parser problem only loses the colours
        pass
    return [escape(_clean(ln.replace("\r", _CR))) for ln in lines]


def pygments_css() -> str:
    try:
        from pygments.formatters import HtmlFormatter

        return HtmlFormatter(style="default").get_style_defs(".code")
    except Exception:  # noqa: BLE001
        return ""


# --------------------------------------------------------------------------- views


@dataclass
class LockCol:
    key: str
    cls: str
    color: int


@dataclass
class FnView:
    name: str
    start: int
    end: int
    locks: list[LockCol]
    degraded: bool = False
    converged: bool = True
    from_callers: bool = False
    anchor: str = ""  # its id on the file page: fn-<name>, fn-<name>-<line> for a second one


@dataclass
class FindingView:
    f: Finding
    id: str  # anchor on its file page
    status: ReviewStatus | None = None  # review and history only
    page: str | None = None  # the file page showing it (relative to the report folder)
    related: list[tuple[str | None, str]] = field(default_factory=list)  # (href, text)
    note: str = ""  # not analysed: why

    @property
    def region(self) -> str:
        f = self.f
        return f"{f.line}" if f.end_line == f.line else f"{f.line}-{f.end_line}"


@dataclass
class Row:
    no: int
    code: Markup
    fn: FnView | None = None
    cells: list[tuple[str, str]] = field(default_factory=list)  # (css classes, letter)
    title: str = ""  # the gutter's tooltip: locks held, events
    cls: str = ""
    anchors: list[str] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)  # related-location notes
    cards: list[FindingView] = field(default_factory=list)


@dataclass
class Block:
    fn: FnView | None
    rows: list[Row]


@dataclass
class FileView:
    path: str
    rev: str | None
    page: str
    status: FileStatus
    error: str | None
    rows: list[Row]
    functions: list[FnView]
    findings: list[FindingView]
    seconds: float = 0.0

    def blocks(self) -> list[Block]:
        out: list[Block] = []
        for r in self.rows:
            if out and out[-1].fn is r.fn:
                out[-1].rows.append(r)
            else:
                out.append(Block(r.fn, [r]))
        return out

    def excerpt(self, lo: int, hi: int) -> list[Row]:
        return self.rows[max(lo, 1) - 1:max(hi, 0)]


def _held_desc(h) -> str:
    mode = {"write": "write", "read": "read"}.get(h.mode, "read/write")
    return f"{h.lock}: {mode}, {h.certainty}" + (", if non-NULL" if h.vacuous else "")


def _function_rows(ft: FunctionTrace, rows: list[Row], file_colors: dict[str, int],
                   gaps: dict[int, set[str]]) -> FnView:
    ex = ft.explanation
    events: dict[int, list] = {}
    for ev in ft.events:
        events.setdefault(ev.line, []).append(ev)
    keys: list[str] = []
    classes: dict[str, str] = {}
    for ln in ex.lines:
        for hd in ln.held:
            if hd.lock not in classes:
                keys.append(hd.lock)
                classes[hd.lock] = hd.cls
    for line in sorted(events):
        for ev in events[line]:
            if ev.lock not in classes:
                keys.append(ev.lock)
                classes[ev.lock] = ""
    used: set[int] = set()
    cols = []
    for k in keys:
        c = file_colors.setdefault(k, len(file_colors) % PALETTE)
        if c in used and len(used) < PALETTE:
            c = next(i for i in range(PALETTE) if i not in used)
        used.add(c)
        cols.append(LockCol(k, classes[k], c))
    fn = FnView(ex.function, ft.start, ft.end, cols, ex.degraded, ex.converged,
                ex.entry_from_callers)
    for ln in ex.lines:
        if not 0 < ln.line <= len(rows):
            continue
        row = rows[ln.line - 1]
        row.fn = fn
        held = {h.lock: h for h in ln.held}
        evs = events.get(ln.line, [])
        acq = {e.lock for e in evs if e.kind == EventKind.ACQUIRE}
        rel = {e.lock for e in evs if e.kind == EventKind.RELEASE}
        cells = []
        for col in cols:
            h = held.get(col.key) if ln.reachable else None
            css = [f"k{col.color}"]
            letter = ""
            if h is not None:
                write = h.mode != Mode.READ
                css.append("w" if write else "r")
                css.append("must" if h.certainty == "must" else "may")
                if h.vacuous:
                    css.append("v")
                letter = "W" if write else "R"
                if h.certainty != "must":
                    letter = letter.lower()
            elif col.key in gaps.get(ln.line, ()) and col.key not in acq and ln.reachable:
                css.append("gap")
            if col.key in acq:
                css.append("acq")
            if col.key in rel:
                css.append("rel")
            cells.append((" ".join(css), letter))
        row.cells = cells
        parts = []
        if not ln.reachable:
            row.cls += " unreach"
            parts.append("unreachable")
        elif ln.held:
            parts.append("held before this line: " + "; ".join(_held_desc(h) for h in ln.held))
        elif ln.has_code:
            parts.append("no lock held before this line")
        for e in evs:
            via = f" (in {e.via}())" if e.via else ""
            verb = "acquires" if e.kind == EventKind.ACQUIRE else "releases"
            parts.append(f"{verb} {e.lock}{via}")
        row.title = "\n".join(parts)
        if not ln.has_code:
            row.cls += " nocode"
    return fn


def file_view(report, page: str, rev: str | None, findings: list[Finding] | None = None,
              status_of: Callable[[Finding], ReviewStatus | None] | None = None,
              href_of: Callable[[str, int], str | None] | None = None,
              first_id: int = 1) -> FileView:
    """The view of one file's report (a ``FileReport`` with its ``text`` and ``traces``).
    ``findings``: those to show (by default, the report's); ``status_of`` gives a review
    badge; ``href_of(path, line)`` links a related location in another file."""
    text = report.text or ""
    if findings is None:
        findings = list(report.findings)
    findings = sorted(findings, key=lambda f: (f.line, f.end_line, f.rule))
    code = highlight(text) if text else []
    if text.endswith("\n"):
        code.pop()  # the empty "line" after the last newline
    rows = [Row(i, c) for i, c in enumerate(code, 1)]
    views: list[FindingView] = []
    gaps: dict[int, set[str]] = {}
    for n, f in enumerate(findings, first_id):
        fv = FindingView(f, f"F{n}", status_of(f) if status_of else None, page)
        for r in f.related:
            if r.path == report.path:
                fv.related.append((f"#L{r.line}", f"{r.path}:{r.line}: {r.message}"))
            else:
                fv.related.append((href_of(r.path, r.line) if href_of else None,
                                   f"{r.path}:{r.line}: {r.message}"))
        views.append(fv)
        if f.locks:
            for ln in range(f.line, f.end_line + 1):
                gaps.setdefault(ln, set()).update(f.locks)
    colors: dict[str, int] = {}
    fns = []
    for ft in (report.traces or () if report.status != FileStatus.ERROR else ()):
        try:
            fns.append(_function_rows(ft, rows, colors, gaps))
        except Exception:  # noqa: BLE001 - one function's trouble: shown without a gutter
            continue
    seen_names: set[str] = set()
    for fn in fns:
        fn.anchor = f"fn-{fn.name}" if fn.name not in seen_names else f"fn-{fn.name}-{fn.start}"
        seen_names.add(fn.name)
    worst: dict[int, int] = {}
    for fv in views:
        f = fv.f
        lo = min(max(f.line, 1), len(rows)) if rows else 0
        hi = min(max(f.end_line, f.line), len(rows))
        if not rows:
            continue
        rows[lo - 1].anchors.append(fv.id)
        rows[hi - 1].cards.append(fv)
        for ln in range(lo, hi + 1):
            worst[ln] = max(worst.get(ln, -1), severity_rank(f.severity))
            if fv.status:
                rows[ln - 1].cls += f" st-{fv.status}"
        for r in f.related:
            if r.path == report.path and 0 < r.line <= len(rows):
                rows[r.line - 1].marks.append(r.message)
    # what the function's callers decided away ("held by all N callers"): no finding, but
    # the reader of the line should see why
    for d in getattr(report, "decided", ()):
        if 0 < d.line <= len(rows):
            row = rows[d.line - 1]
            row.marks.append(f"{d.rule}: decided at the callers: {d.text}")
            row.title = "\n".join(x for x in (row.title, f"decided at the callers: {d.text}")
                                  if x)
            row.cls += " decided"
    sev = (Severity.NOTE, Severity.WARNING, Severity.ERROR)
    for ln, w in worst.items():
        rows[ln - 1].cls += f" hit s-{sev[w]}"
    return FileView(report.path, rev, page, report.status, report.error, rows, fns, views,
                    report.seconds)


# --------------------------------------------------------------------------- rule docs


def _inline(text: str) -> Markup:
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", text)):
        out.append(Markup("<code>{}</code>").format(part) if i % 2 else escape(part))
    return Markup("").join(out)


def markdown_html(md: str) -> Markup:
    """The small markdown of rules/docs: headings, paragraphs, lists, fenced code, inline
    code. Everything escaped; links stay text (the report makes no request)."""
    out: list[Markup] = []
    lines = md.splitlines()
    i = 0
    para: list[str] = []
    items: list[str] = []

    def flush():
        if para:
            out.append(Markup("<p>{}</p>").format(_inline(" ".join(para))))
            para.clear()
        if items:
            out.append(Markup("<ul>{}</ul>").format(Markup("").join(
                Markup("<li>{}</li>").format(_inline(it)) for it in items)))
            items.clear()

    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            flush()
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            code = highlight("\n".join(lines[i + 1:j]))
            out.append(Markup('<pre class="code">{}</pre>').format(Markup("\n").join(code)))
            i = j + 1
            continue
        m = re.match(r"^(#{1,4})\s+(.*)$", line)
        if m:
            flush()
            n = len(m.group(1)) + 1
            out.append(Markup("<h{0}>{1}</h{0}>").format(n, _inline(m.group(2))))
        elif re.match(r"^\s*[-*]\s+", line):
            if para:
                flush()
            items.append(re.sub(r"^\s*[-*]\s+", "", line))
        elif not line.strip():
            flush()
        elif items and line.startswith(" "):
            items[-1] += " " + line.strip()
        else:
            if items:
                flush()
            para.append(line.strip())
        i += 1
    flush()
    return Markup("\n").join(out)


# --------------------------------------------------------------------------- the folder


def _env():
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("analyzer.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["short"] = lambda s, n=12: (s or "")[:n]
    env.globals["version"] = __version__
    env.globals["Status"] = ReviewStatus
    return env


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Report:
    """The output folder: pages are registered by (revision, path) and written once."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.env = _env()
        self.names: dict[tuple[str | None, str], str] = {}
        self.written: list[str] = []
        self.rules: set[str] = set()

    # ------------------------------------------------------------ names
    def page_name(self, rev: str | None, path: str) -> str:
        key = (rev, path)
        if key not in self.names:
            base = _SAFE.sub("_", path).strip("_") or "file"
            if rev:
                base = f"{rev[:12]}-{base}"
            name, n = f"files/{base}.html", 1
            taken = set(self.names.values())
            while name in taken:
                n += 1
                name = f"files/{base}-{n}.html"
            self.names[key] = name
        return self.names[key]

    def rule_href(self, rule: str, prefix: str = "") -> str:
        self.rules.add(rule)
        return f"{prefix}rules/{_SAFE.sub('_', rule)}.html"

    # ------------------------------------------------------------ writing
    def prepare(self) -> None:
        """Create the folder; remove what an earlier report of ours wrote there (only the
        files its manifest lists, never anything else)."""
        if self.out.exists() and not self.out.is_dir():
            from ..errors import InputError

            raise InputError(f"{self.out}: not a directory (--format html writes a folder)")
        man = self.out / MANIFEST
        if self.out.is_dir() and not man.is_file() and any(self.out.iterdir()):
            from ..errors import InputError

            raise InputError(f"{self.out}: folder not empty and not an rmaplint report "
                             "(choose an empty or new folder with -o DIR)")
        self.out.mkdir(parents=True, exist_ok=True)
        if man.is_file():
            root = self.out.resolve()
            for rel in man.read_text(errors="replace").splitlines():
                p = (self.out / rel).resolve()
                if rel and root in p.parents and p.is_file():
                    p.unlink()
            for d in ("files", "rules", "assets"):
                try:
                    (self.out / d).rmdir()
                except OSError:
                    pass

    def write(self, rel: str, text: str) -> None:
        p = self.out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        self.written.append(rel)

    def render(self, rel: str, template: str, **ctx) -> None:
        depth = rel.count("/")
        ctx.setdefault("root", "../" * depth)
        ctx.setdefault("rule_href", lambda r: self.rule_href(r, "../" * depth))
        self.write(rel, self.env.get_template(template).render(**ctx))

    def file_page(self, view: FileView, back: str = "index.html", context: str = "") -> None:
        self.render(view.page, "file.html", view=view, blocks=view.blocks(), back=back,
                    context=context, title=f"{view.path}" + (f" @ {view.rev[:12]}"
                                                             if view.rev else ""))

    def finish(self) -> Path:
        from importlib import resources

        assets = resources.files("analyzer.report") / "templates"
        css = (assets / "report.css").read_text(encoding="utf-8")
        self.write("assets/report.css", css + "\n/* pygments */\n" + pygments_css() + "\n")
        self.write("assets/report.js", (assets / "report.js").read_text(encoding="utf-8"))
        for r in sorted(self.rules):
            d = rule_doc(r)
            self.render(self.rule_href(r), "rule.html", doc=d, body=markdown_html(d.markdown),
                        title=f"rule {r}")
        self.write(MANIFEST, "\n".join(sorted(set(self.written + [MANIFEST]))) + "\n")
        return self.out / "index.html"


# --------------------------------------------------------------------------- check


def check_html(run, out: Path, rev: str | None = None, source: str = "",
               title: str = "rmaplint check") -> Path:
    """The report of a check run (``check_paths(..., traces=True)``: each report with its
    text and traces): an index with every finding and file, a page per file with findings
    (per file, when the run has few). ``rev``: the revision the files were read at;
    ``source``: what was checked, for the index."""
    rep = Report(out)
    rep.prepare()
    few = len(run.reports) <= FEW_FILES
    shown = [r for r in run.reports if r.status != FileStatus.ERROR and (few or r.findings)]
    for r in shown:
        rep.page_name(rev, r.path)
    views: dict[str, FileView] = {}

    def href_of(path: str, line: int) -> str | None:
        n = rep.names.get((rev, path))
        return f"{n}#L{line}" if n else None

    for r in shown:
        page = rep.page_name(rev, r.path)
        v = file_view(r, page, rev, list(r.findings), href_of=href_of)
        views[r.path] = v
        rep.file_page(v, context=title)
        v.rows = []  # written: the index needs its findings only
    findings = [fv for v in views.values() for fv in v.findings]
    unseen = [f for r in run.reports if r.path not in views for f in r.findings]
    by_rule: dict[str, list[Finding]] = {}
    for f in run.findings:
        by_rule.setdefault(f.rule, []).append(f)
    rep.render("index.html", "index_check.html", title=title, run=run, summary=run.summary(),
               views=views, findings=findings, unseen=unseen, by_rule=by_rule,
               source=source)
    return rep.finish()


# --------------------------------------------------------------------------- review


@dataclass
class HunkView:
    path: str
    head: str
    diff: list[tuple[int | None, int | None, str, str]]  # old, new, text, css
    rows: list[Row]  # annotated new side
    fixed: list[FindingView]
    legend: list[FnView]
    page: str = ""  # the file page after the patch


@dataclass
class PatchView:
    p: object  # PatchReview
    findings: list[FindingView]
    hunks: list[HunkView]
    extra: dict


class _RevViews:
    """File views of the snapshots a review or history result carries, by (revision, path),
    made when first asked for (in that order the pages get their names)."""

    def __init__(self, snapshots: dict, rep: Report):
        self.snapshots, self.rep = snapshots, rep
        self.views: dict[tuple[str, str], FileView | None] = {}

    def get(self, rev: str, paths: Iterable[str], status_of=None) -> dict[str, FileView]:
        paths = list(paths)
        for p in paths:
            if (rev, p) in self.views:
                continue
            report = self.snapshots.get((rev, p))
            self.views[(rev, p)] = None if report is None else file_view(
                report, self.rep.page_name(rev, p), rev, None,
                status_of=status_of.get(rev) if status_of else None)
        return {p: v for p in paths if (v := self.views.get((rev, p))) is not None}


def _excerpt(view: FileView | None, lo: int, hi: int, extra: list[Finding]) -> list[Row]:
    if view is None:
        return []
    for f in extra:
        if f.line <= hi + 3 and f.end_line >= lo - 3:
            lo, hi = min(lo, f.line), max(hi, f.end_line)
    if hi - lo + 1 > MAX_EXCERPT:
        hi = lo + MAX_EXCERPT - 1
    return view.excerpt(lo, hi)


_SHOWN_AFTER = (ReviewStatus.NEW, ReviewStatus.UNCHANGED)  # in the code after the patch
_SHOWN_BEFORE = (ReviewStatus.FIXED, ReviewStatus.NOT_ANALYSED)  # in its parent's code


def review_html(res: ReviewResult, out: Path) -> Path:
    """The series (reviewed with ``snapshots=True``): the verdict, then one section per patch
    with new/fixed/unchanged badges, each diff hunk beside the annotated code after the
    patch, and the unit-test results the patch carries (``PatchReview.extra``)."""
    from .review import _hunks_with_context

    rep = Report(out)
    rep.prepare()
    status: dict[str, dict[str, ReviewStatus]] = {}
    for p in res.patches:
        st = status.setdefault(p.commit, {})
        for f in p.new:
            st[f.fingerprint] = ReviewStatus.NEW
        for f in p.unchanged:
            st[f.fingerprint] = ReviewStatus.UNCHANGED
        sp = status.setdefault(p.parent, {})
        for f in p.fixed:
            sp.setdefault(f.fingerprint, ReviewStatus.FIXED)
        for na in p.not_analysed:
            sp.setdefault(na.finding.fingerprint, ReviewStatus.NOT_ANALYSED)
    status_of = {rev: (lambda f, st=st: st.get(f.fingerprint)) for rev, st in status.items()}
    rv = _RevViews(res.snapshots, rep)
    patches: list[PatchView] = []
    for p in res.patches:
        after = rv.get(p.commit, p.files, status_of)
        lost = [na.finding for na in p.not_analysed]
        why = {na.finding.fingerprint: na.why() for na in p.not_analysed}
        before = rv.get(p.parent, sorted({f.path for f in p.fixed + lost}), status_of) \
            if p.parent else {}
        fviews: list[FindingView] = []
        for label, items in ((ReviewStatus.NEW, p.new), (ReviewStatus.FIXED, p.fixed),
                             (ReviewStatus.NOT_ANALYSED, lost),
                             (ReviewStatus.UNCHANGED, p.unchanged)):
            for f in items:
                v = (before if label in _SHOWN_BEFORE else after).get(f.path)
                match = next((x for x in v.findings if x.f.fingerprint == f.fingerprint),
                             None) if v else None
                fv = FindingView(f, match.id if match else "", label,
                                 v.page if v is not None else None, match.related if match
                                 else [], note=why.get(f.fingerprint, "")
                                 if label == ReviewStatus.NOT_ANALYSED else "")
                fviews.append(fv)
        hunks: list[HunkView] = []
        for fi in _hunks_with_context(p.diff):
            path = fi["path"]
            if path is None or not path.endswith((".c", ".h")):
                continue
            view = after.get(path)
            fixed_here = [fv for fv in fviews
                          if fv.status in _SHOWN_BEFORE and fv.f.path == path]
            for h in fi["hunks"]:
                olds = [o for o, _, _ in h["lines"] if o is not None]
                news = [n for _, n, _ in h["lines"] if n is not None]
                diff = []
                for o, n, text in h["lines"]:
                    css = "add" if text.startswith("+") else "del" if text.startswith("-") \
                        else "ctx"
                    if o is not None and any(fv.f.line <= o <= fv.f.end_line
                                             for fv in fixed_here
                                             if fv.status == ReviewStatus.FIXED):
                        css += " fixed-hit"
                    if n is not None and any(fv.f.line <= n <= fv.f.end_line
                                             for fv in fviews
                                             if fv.status == ReviewStatus.NEW
                                             and fv.f.path == path):
                        css += " new-hit"
                    diff.append((o, n, _clean(text), css))
                shown = [fv.f for fv in fviews if fv.f.path == path
                         and fv.status in _SHOWN_AFTER]
                rows = _excerpt(view, min(news), max(news), shown) if news else []
                olo, ohi = (min(olds), max(olds)) if olds else (0, -1)
                fixed = [fv for fv in fixed_here if fv.f.line <= ohi and fv.f.end_line >= olo]
                legend = []
                for r in rows:
                    if r.fn is not None and r.fn not in legend:
                        legend.append(r.fn)
                hunks.append(HunkView(path, h["head"], diff, rows, fixed, legend,
                                      view.page if view is not None else ""))
        patches.append(PatchView(p, fviews, hunks, dict(p.extra)))
    # the verdict's findings: at the end of the series
    end = rv.get(res.end, sorted({f.path for f in res.remaining}), status_of)

    def verdict(items, label):
        out_ = []
        for f in items:
            v = end.get(f.path) if label == ReviewStatus.REMAINING else None
            match = next((x for x in v.findings if x.f.fingerprint == f.fingerprint),
                         None) if v else None
            out_.append(FindingView(f, match.id if match else "", label,
                                    v.page if v is not None else None))
        return out_

    remaining = verdict(res.remaining, ReviewStatus.REMAINING)
    not_analysed = []
    for na in res.not_analysed:  # shown where it was last seen: a patch's parent or its own
        seen = next((x for pv in patches for x in pv.findings
                     if x.f.fingerprint == na.finding.fingerprint and x.id), None)
        not_analysed.append(FindingView(na.finding, seen.id if seen else "",
                                        ReviewStatus.NOT_ANALYSED,
                                        seen.page if seen else None, note=na.why()))
    transient = []
    for f in res.transient:  # shown where a patch introduced it
        intro = next((x for pv in patches for x in pv.findings
                      if x.status == ReviewStatus.NEW and x.f.fingerprint == f.fingerprint),
                     None)
        transient.append(FindingView(f, intro.id if intro else "", ReviewStatus.TRANSIENT,
                                     intro.page if intro else None))
    title = f"rmaplint review of {res.label or 'series'}"
    for (_rev, _), v in sorted(rv.views.items(), key=lambda kv: kv[0][1]):
        if v is not None:
            rep.file_page(v, context=title)
    rep.render("index.html", "review.html", title=title, res=res, patches=patches,
               remaining=remaining, transient=transient, not_analysed=not_analysed,
               n=res.series_length)
    return rep.finish()


# --------------------------------------------------------------------------- history


def history_html(res: HistoryResult, out: Path) -> Path:
    """The range (``history(..., snapshots=True)``): a timeline of each finding over the
    commits (introduced, present, removed), the timeline per function, and the annotated
    file where it was last seen."""
    rep = Report(out)
    rep.prepare()
    order = [r.commit for r in res.revisions]
    idx = {c: i for i, c in enumerate(order)}
    cols = ([("start", res.start, "the parent of the first commit")] if res.start else []) + \
        [(c[:8], c, r.subject) for c, r in zip(order, res.revisions, strict=True)]
    off = 1 if res.start else 0
    rv = _RevViews(res.snapshots, rep)
    rows: list[dict[str, Any]] = []
    wanted: dict[str, set[str]] = {}
    for key, t in res.tracked.items():
        first = idx[t.introduced] + off if t.introduced is not None else 0
        last = idx[t.removed] + off - 1 if t.removed is not None else len(cols) - 1
        unseen = idx[t.not_analysed_since] + off if t.not_analysed_since is not None \
            else len(cols)
        cells = []
        for i in range(len(cols)):
            if i == first and t.introduced is not None:
                cells.append(("in", "+"))
            elif unseen <= i <= last:
                cells.append(("na", "?"))
            elif first <= i <= last:
                cells.append(("on", ""))
            elif t.removed is not None and i == last + 1:
                cells.append(("out", "\u2212"))
            else:
                cells.append(("", ""))
        seen_at = cols[min(last, unseen - 1)][1] if min(last, unseen - 1) >= 0 else None
        if seen_at:
            wanted.setdefault(seen_at, set()).add(t.finding.path)
        rows.append({"key": key, "t": t, "cells": cells, "rev": seen_at})
    rows.sort(key=lambda r: (r["t"].finding.path, r["t"].finding.line, r["t"].finding.rule))
    pages = 0
    for rev, paths in wanted.items():
        if pages >= HISTORY_SNAPSHOTS:
            break
        rv.get(rev, sorted(paths))
        pages += len(paths)
    for r in rows:
        f = r["t"].finding
        v = rv.views.get((r["rev"], f.path)) if r["rev"] else None
        match = next((x for x in v.findings if x.f.fingerprint == f.fingerprint), None) \
            if v else None
        r["href"] = f"{v.page}#{match.id}" if match and v else (v.page if v else None)
    title = f"rmaplint history of {res.range}"
    for v in rv.views.values():
        if v is not None:
            rep.file_page(v, context=title)
    subj = {r.commit: r.subject for r in res.revisions}
    rep.render("index.html", "history.html", title=title, res=res, cols=cols, rows=rows,
               timeline=sorted(res.timeline().items()), subj=subj)
    return rep.finish()


__all__ = ["check_html", "review_html", "history_html", "highlight", "markdown_html",
           "file_view", "Report"]
