"""Command line: arguments → pipeline → reporter → exit code. Nothing else lives here.

Exit codes: 0 nothing at or above --fail-on, 1 findings, 2 usage or input error (one line).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import __version__
from ..errors import InputError, UsageError
from ..findings.finding import severity_rank
from .unittest import add_unittest_parser


class _Parser(argparse.ArgumentParser):
    def __init__(self, *a, **k):
        k.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*a, **k)

    def error(self, message: str):  # one line, exit 2 (argparse prints usage otherwise)
        raise UsageError(message)


EPILOG = """\
examples:
  rmaplint demo                              the embedded example series, reviewed
  rmaplint check mm/rmap.c                   path:line:col: severity: message [rule-id]
  rmaplint check --rev v6.12 --format sarif mm/ > rmaplint.sarif
  rmaplint review                            your branch: @{upstream}..HEAD, patch by patch
  rmaplint review series.mbox --format email -o replies.mbox
  rmaplint history v6.11..v6.12 mm/rmap.c    when each finding appeared and went
  rmaplint explain mm/rmap.c anon_vma_clone  the locks held before every line
  rmaplint rule lock-dropped-in-loop         what a rule finds and why (--all: every rule)

exit status:
  0  nothing at or above --fail-on (default warning; justified and baselined findings
     never count)
  1  findings at or above --fail-on
  2  usage or input error (one line on stderr)

Settings: .rmaplint.toml at the top of the tree, or git config rmaplint.* (fail-on,
select, ignore, rules, baseline); the command line wins. Rule docs: rmaplint rule ID.
Command help: rmaplint COMMAND --help.
"""


def _git_toplevel(cwd: Path) -> Path | None:
    try:
        from ..source.reader import git_env

        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd,
                             capture_output=True, text=True, timeout=30, env=git_env())
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def _root(args) -> tuple[Path, Path | None]:
    """(tree root, repo) for the source: --repo wins, else the enclosing git work tree."""
    if args.repo is not None:
        repo = Path(args.repo).resolve()
        if not repo.is_dir():
            raise InputError(f"--repo {args.repo}: no such directory")
        return repo, repo
    top = _git_toplevel(Path.cwd())
    if args.rev is not None:
        if top is None:
            raise InputError(f"--rev {args.rev}: {Path.cwd()} is not in a git repository "
                             "(use --repo DIR)")
        return top, top
    return top or Path.cwd(), None


def _paths(args, root: Path) -> list[str]:
    out = []
    for p in args.paths:
        if os.path.isabs(p):
            out.append(p)
        elif args.repo is None:
            out.append(str((Path.cwd() / p).resolve()) if args.rev is None
                       else str(Path.cwd() / p))
        else:
            out.append(p)
    if args.rev is not None and args.repo is None:
        # paths relative to the repository top for a revision
        out = [os.path.relpath(p, root) if os.path.isabs(p) else p for p in out]
    return out


def _frontend(args, root: Path | None):
    """--frontend: the prepared tree's BuildConfig for clang, None for tree-sitter. ``auto``
    falls back to tree-sitter with one line on stderr; ``clang`` on an unprepared tree is an
    InputError naming the command that prepares it."""
    kind = getattr(args, "frontend", "tree-sitter")
    if kind == "tree-sitter":
        return None
    from ..frontend.clang import FrontendUnavailable, build_config

    build_dir = getattr(args, "build_dir", None)
    try:
        return _with_clang_hint(lambda: build_config(root or Path.cwd(), build_dir))
    except FrontendUnavailable as e:
        if kind == "clang":
            raise
        print(f"rmaplint: --frontend auto: {e}; using tree-sitter", file=sys.stderr)
        return None


def _with_clang_hint(make):
    """libclang is the ``clang`` extra: say how to get it when it is missing."""
    from ..frontend.clang import FrontendUnavailable

    try:
        return make()
    except FrontendUnavailable as e:
        msg = str(e)
        if "libclang" in msg and "rmaplint[clang]" not in msg:
            raise FrontendUnavailable(msg.split(": pip install")[0] + ": --frontend clang "
                                      "needs the clang extra: pip install 'rmaplint[clang]'") \
                from None
        raise


def _cache_dir(args) -> str | None:
    if getattr(args, "no_cache", False):
        return None
    if getattr(args, "cache_dir", None):
        return str(Path(args.cache_dir).resolve())
    from ..driver.cache import default_cache_dir

    return str(default_cache_dir())


def _write(args, text: str) -> None:
    # Source text holds the bytes of non-UTF-8 files as surrogates: write them back as the
    # same bytes, whatever the encoding and error handler of stdout.
    if (not args.output or args.output == "-") and _colour(args):
        from ..report.lines import colorize

        text = colorize(text)
    data = text.encode("utf-8", "surrogateescape")
    if args.output and args.output != "-":
        out = Path(args.output)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
        except OSError as e:
            raise InputError(f"cannot write {args.output}: {e.strerror or e}") from None
        return
    buf = getattr(sys.stdout, "buffer", None)
    if buf is None:  # a text-only stream (tests): it takes str
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    buf.write(data)
    buf.flush()


def _colour(args) -> bool:
    """Colour the text report: --color, else NO_COLOR/FORCE_COLOR, else a terminal."""
    from ..report.lines import color_wanted

    if getattr(args, "format", "text") not in ("text", None) or getattr(args, "terse", False):
        return False
    return color_wanted(getattr(args, "color", "auto"), sys.stdout)


def _to_terminal(args) -> bool:
    """Writing to a terminal (rich output), not to a file or a pipe."""
    return (not args.output or args.output == "-") and sys.stdout.isatty()


class _Progress:
    """One line on stderr, rewritten in place, when stderr is a terminal (and not -q)."""

    def __init__(self, args):
        self.on = sys.stderr.isatty() and not getattr(args, "quiet", False)
        self.shown = False

    def __call__(self, i: int, n: int, what: str) -> None:
        if not self.on:
            return
        line = f"rmaplint: [{i}/{n}] {what}"
        width = shutil.get_terminal_size((100, 20)).columns - 1
        sys.stderr.write("\r\x1b[K" + line[:width])
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.done()


def _report_dir(kind: str) -> Path:
    """A fresh folder for a report nobody named: in the cache, never in the user's tree."""
    import time

    from ..driver.cache import default_cache_dir

    base = default_cache_dir() / "reports"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        base.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{kind}-{stamp}-", dir=base))
    except OSError:
        return Path(tempfile.mkdtemp(prefix=f"rmaplint-{kind}-"))


def _html(args, build, kind: str) -> None:
    """--format html: -o names a folder (default: a new folder in the cache); say where its
    index is."""
    if args.output == "-":
        raise UsageError("--format html writes a folder: -o DIR, not -")
    out = Path(args.output) if args.output else _report_dir(f"html-{kind}")
    try:
        index = build(out)
    except OSError as e:
        raise InputError(f"cannot write {out}: {e.strerror or e}") from None
    print(f"rmaplint: HTML report: {index}")


def _policy(args, top: Path | None):
    """The settings for this run: the command line over git config over .rmaplint.toml."""
    from ..workflow.config import load_policy

    def ids(values):
        if values is None:
            return None
        return [x for v in values for x in v.split(",") if x.strip()]

    return load_policy(top, fail_on=getattr(args, "fail_on", None),
                       select=ids(getattr(args, "select", None)),
                       ignore=ids(getattr(args, "ignore", None)),
                       rules=getattr(args, "rules", None),
                       baseline=getattr(args, "baseline", None))


def _load_model(policy):
    from ..model.lockmodel import load

    return load(Path(policy.rules) if policy.rules else None)


def _paths_style(top: Path | None):
    from ..report.lines import PathStyle

    return PathStyle.for_tree(top)


def cmd_check(args) -> int:
    from ..driver.run import SourceSpec, check_paths
    from ..report.jsonfmt import check_json
    from ..report.text import check_terse, check_text, decided_lines, degraded_lines

    if args.list_degraded and (args.terse or args.format in ("sarif", "html")):
        raise InputError("--list-degraded goes with the text report (--format json lists "
                         "the degraded functions in each file's entry anyway)")
    root, repo = _root(args)
    policy = _policy(args, root)
    spec = SourceSpec(str(root), str(repo) if repo else None, args.rev, policy.rules,
                      _cache_dir(args), _frontend(args, root))
    paths = _paths(args, root) if args.paths else ["mm"]
    progress = None
    bar = None
    if sys.stderr.isatty() and not args.quiet:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("analysing", total=None)

        def progress(i, n, path):
            bar.update(task, total=n, completed=i + 1, description=path)

    try:
        run = check_paths(spec, paths, jobs=args.jobs, progress=progress,
                          traces=args.format == "html" and not args.terse)
    finally:
        if bar is not None:
            bar.stop()
    if args.write_baseline:
        from ..findings.finding import write_baseline

        try:
            write_baseline(args.write_baseline, run.findings)
        except OSError as e:
            raise InputError(f"cannot write {args.write_baseline}: {e.strerror or e}") \
                from None
    run.apply_baseline(policy.baseline)
    _select(run, policy)
    style = _paths_style(root)
    if args.terse:
        _write(args, check_terse(run, style))
    elif args.format == "json":
        _write(args, check_json(run))
    elif args.format == "sarif":
        from ..checks import rule_ids
        from ..report.sarif import check_sarif
        from ..workflow.provenance import commit_of, provenance

        prov = provenance(root, commit_of(root, args.rev)) if args.rev is not None else None
        _write(args, check_sarif(run, rule_ids(), root, args.rev, prov))
    elif args.format == "html":
        from ..report.html import check_html

        with _Progress(args) as prog:
            prog(1, 1, "writing the HTML report")
            _html(args, lambda out: check_html(run, out, spec.rev,
                                               spec.rev or spec.root or ""), "check")
    elif not args.plain and _to_terminal(args):
        from ..report.terminal import check_rich

        with spec.open() as source:
            text = check_rich(run, lambda p: source.read(p).text,
                              color_system="auto" if _colour(args) else None)
        if args.list_degraded:
            text += "".join(ln + "\n" for ln in degraded_lines(run, style))
        if args.verbose:
            text += "".join(ln + "\n" for ln in decided_lines(run, style))
        args_plain = argparse.Namespace(**{**vars(args), "color": "never"})
        _write(args_plain, text)
    else:
        _write(args, check_text(run, style, list_degraded=args.list_degraded,
                                verbose=args.verbose))
    return 1 if policy.fails(run.findings) else 0


def _select(run, policy) -> None:
    """Drop the findings of rules --select/--ignore leave out (baseline: apply_baseline)."""
    from dataclasses import replace

    if policy.select is None and not policy.ignore:
        return
    run.reports = [replace(r, findings=tuple(f for f in r.findings if policy.keep(f)))
                   for r in run.reports]


def cmd_mine(args) -> int:
    from ..driver.mine import mine_paths
    from ..driver.run import SourceSpec
    from ..report.mine import mine_json, mine_text, mine_toml

    root, repo = _root(args)
    policy = _policy(args, root)
    spec = SourceSpec(str(root), str(repo) if repo else None, args.rev, policy.rules,
                      _cache_dir(args), _frontend(args, root))
    paths = _paths(args, root) if args.paths else ["mm"]
    with _Progress(args) as prog:
        run = mine_paths(spec, paths, jobs=args.jobs, progress=prog, everything=args.all)
    writer = {"json": mine_json, "toml": mine_toml}.get(args.format, mine_text)
    _write(args, writer(run))
    return 0


def cmd_explain(args) -> int:
    import difflib

    from ..driver.project import Project
    from ..locks.explain import explain
    from ..locks.result import FileStatus
    from ..model.lockmodel import load
    from ..report.jsonfmt import explain_json
    from ..report.text import explain_text
    from ..source.reader import open_source

    root, repo = _root(args)
    model = load(Path(args.rules).resolve() if args.rules else None)
    path = _paths(args, root)[0]
    clang = _frontend(args, root)
    with open_source(root, repo, args.rev) as source:
        files = source.list_files([path], suffixes=None)
        if len(files) != 1:
            raise InputError(f"{args.paths[0]}: expected one file")
        project = Project(source, model, clang=clang)
        fa_file = project.analyse_file(files[0])
        if fa_file.status == FileStatus.ERROR:
            raise InputError(f"{files[0]}: {fa_file.error}")
        found = [fa for fa in fa_file.functions if fa.function.name == args.function]
        if not found:
            names = sorted({fa.function.name for fa in fa_file.functions})
            near = difflib.get_close_matches(args.function, names, n=3)
            hint = (" (did you mean " + ", ".join(f"'{n}'" for n in near) + "?)") if near \
                else (f" ({len(names)} functions in it)" if names else " (it defines none)")
            raise InputError(f"no function '{args.function}' in {files[0]}{hint}")
        assert fa_file.source is not None  # an analysed file keeps its text
        exs = [explain(fa, fa_file.source.text) for fa in found]
    if args.format == "json":
        if len(exs) == 1:
            _write(args, explain_json(exs[0]))
        else:
            import json

            doc = exs[0].to_json()
            doc["definitions"] = len(exs)
            doc["also_defined"] = [e.to_json() for e in exs[1:]]
            _write(args, json.dumps(doc, indent=2) + "\n")
        return 0
    text = ""
    if len(exs) > 1:
        where = ", ".join(f"lines {e.lines[0].line}-{e.lines[-1].line}" for e in exs if e.lines)
        text = (f"{files[0]}: {args.function} is defined {len(exs)} times (under #if/#else: "
                f"each configuration compiles one): {where}\n\n")
    text += "\n".join(explain_text(e) for e in exs)
    text += _callers_text(args, root, repo, model, clang, files[0])
    _write(args, text)
    return 0


def _callers_text(args, root, repo, model, clang, path: str) -> str:
    """``explain``: the function's findings its callers decide, with the verdict at every
    call site up the chain (analyzer.driver.context)."""
    from ..driver.cache import Cache
    from ..driver.context import Held, held_by_all, tree
    from ..driver.run import Checker, caller_verdicts
    from ..locks.calls import IrqsOff, Need, Sleeps
    from ..source.reader import open_source

    cache_dir = _cache_dir(args)
    with open_source(root, repo, args.rev) as source:
        checker = Checker(source, model, Cache(Path(cache_dir) if cache_dir else None,
                                               salt=model.digest), clang=clang)
        found = caller_verdicts(checker, path, args.function)
    out = []
    for f, sites in found:
        if not sites:
            continue
        head = f.message.split(": ", 1)[0]
        if isinstance(f.needs, IrqsOff):
            out.append(f"\n{f.path}:{f.line}: [{f.rule}] {head}: called with interrupts "
                       f"off at {len(sites)} call site{'s' if len(sites) > 1 else ''}")
            out.extend("  " + ln for ln in tree(sites))
            continue
        if isinstance(f.needs, Sleeps):
            out.append(f"\n{f.path}:{f.line}: [{f.rule}] {head}: called in atomic context "
                       f"at {len(sites)} call site{'s' if len(sites) > 1 else ''}")
            out.extend("  " + ln for ln in tree(sites))
            continue
        held = sum(s.verdict == Held.HELD for s in sites)
        verdict = held_by_all(len(sites)) if held == len(sites) else \
            f"held by {held} of {len(sites)} callers"
        lock = f.needs.path.render() if isinstance(f.needs, Need) else "the lock"
        out.append(f"\n{f.path}:{f.line}: [{f.rule}] {head}: {lock} {verdict}")
        out.extend("  " + ln for ln in tree(sites))
    if not out:
        return ""
    return "\nDecided at the callers (up the call chain, through the callers index):\n" + \
        "\n".join(ln[1:] if ln.startswith("\n") else ln for ln in out) + "\n"


def cmd_frontends_diff(args) -> int:
    from ..frontend.clang import build_config
    from ..model.lockmodel import load
    from ..source.reader import open_source
    from ..workflow.frontends_diff import diff_json, diff_text, frontends_diff

    root, repo = _root(args)
    model = load(Path(args.rules).resolve() if args.rules else None)
    clang = _with_clang_hint(lambda: build_config(root or Path.cwd(), args.build_dir))
    paths = _paths(args, root)
    with open_source(root, repo, args.rev) as source:
        files = source.list_files(paths, suffixes=(".c",))
        if not files:
            raise InputError("no C files under " + " ".join(args.paths))
        d = frontends_diff(source, model, files, clang, all_branches=args.all_branches)
    _write(args, diff_json(d) if args.format == "json" else diff_text(d))
    return 0


def _model_cache(args, policy=None):
    from ..driver.cache import Cache
    from ..model.lockmodel import load

    rules = policy.rules if policy is not None else \
        (str(Path(args.rules).resolve()) if getattr(args, "rules", None) else None)
    model = load(Path(rules) if rules else None)
    cdir = _cache_dir(args)
    return model, Cache(Path(cdir) if cdir else None, salt=model.digest)


def _repo_for(args) -> Path:
    if args.repo is not None:
        repo = Path(args.repo).resolve()
        if not repo.is_dir():
            raise InputError(f"--repo {args.repo}: no such directory")
        top = _git_toplevel(repo)
        if top is None:
            raise InputError(f"--repo {args.repo}: " + ("a bare git repository; give one "
                             "with a work tree" if _is_bare(repo) else "not a git repository"))
        return top
    top = _git_toplevel(Path.cwd())
    if top is None:
        raise InputError(f"{Path.cwd()} is " + ("a bare git repository; give one with a work "
                         "tree" if _is_bare(Path.cwd()) else "not in a git repository")
                         + " (use --repo DIR)")
    return top


def _is_bare(path: Path) -> bool:
    try:
        from ..source.reader import git_env

        out = subprocess.run(["git", "rev-parse", "--is-bare-repository"], cwd=path,
                             capture_output=True, text=True, timeout=30, env=git_env())
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and out.stdout.strip() == "true"


def _logs_dir(args, kind: str) -> Path:
    """Where build and run logs go: --reports-dir, else a new folder in the cache (printed)."""
    if getattr(args, "reports_dir", None):
        return Path(args.reports_dir).resolve()
    d = _report_dir(f"logs-{kind}")
    print(f"rmaplint: unit-test logs in {d}", file=sys.stderr)
    return d


def _unittests_hook(args, repo: Path, base: str):
    if args.unittests is None:
        return None
    from ..unittests.per_patch import UnitTestsPerPatch

    suites = [x for part in args.unittests for x in part.split(",") if x] or ["vma"]
    return UnitTestsPerPatch(repo, base, suites, args.jobs, _logs_dir(args, "review") /
                             "unittests")


def _upstream_range(repo: Path) -> str | None:
    """``<upstream>..HEAD`` for the current branch, None when it has no upstream."""
    from ..source.reader import git_env

    out = subprocess.run(["git", "rev-parse", "--abbrev-ref", "--symbolic-full-name",
                          "@{upstream}"], cwd=repo, capture_output=True, text=True,
                         env=git_env())
    up = out.stdout.strip()
    return f"{up}..HEAD" if out.returncode == 0 and up else None


def _filter_review(res, policy) -> None:
    """--select/--ignore and the baseline, applied to every list of a review."""
    for p in res.patches:
        p.new = policy.filter(p.new)
        p.fixed = policy.filter(p.fixed)
        p.unchanged = policy.filter(p.unchanged)
        p.not_analysed = [na for na in p.not_analysed if policy.keep(na.finding)]
    res.remaining = policy.filter(res.remaining)
    res.transient = policy.filter(res.transient)
    res.not_analysed = [na for na in res.not_analysed if policy.keep(na.finding)]


def _review_wants(args) -> dict:
    """What the review's result must carry for the report asked for: the file snapshots
    and diffs the HTML shows, the patch texts the mail replies quote."""
    terse = getattr(args, "terse", False)  # what _emit_review prints: html, sarif, terse, …
    return {"snapshots": args.format == "html",
            "patch_texts": args.format == "email" and not terse}


def _emit_review(args, res, top: Path | None) -> None:
    from ..report.review import review_email, review_json, review_terse, review_text

    if args.format == "html":
        from ..report.html import review_html

        _html(args, lambda out: review_html(res, out), "review")
    elif args.format == "sarif":
        from ..checks import rule_ids
        from ..report.sarif import review_sarif
        from ..workflow.provenance import provenance

        _write(args, review_sarif(res, rule_ids(), provenance(res.repo, res.end)))
    elif args.terse:
        _write(args, review_terse(res, _paths_style(top)))
    elif args.format == "json":
        _write(args, review_json(res))
    elif args.format == "email":
        _write(args, review_email(res))
    else:
        _write(args, review_text(res, _paths_style(top)))


def _review_status(args, res, policy) -> int:
    if res.failure is not None:
        fl = res.failure
        print(f"rmaplint: error: patch {fl.index} ({fl.subject}) does not apply"
              + (f" to {fl.file}" if fl.file else "") + f": {fl.message}", file=sys.stderr)
        return 2
    if policy.fails(res.remaining):
        return 1
    if getattr(args, "fail_on_transient", False) and policy.fails(res.transient):
        return 1
    return 0


def cmd_review(args) -> int:
    from ..workflow.review import review_series

    repo = _repo_for(args) if args.series is not None or args.repo is not None else \
        _git_toplevel(Path.cwd())
    if repo is None:
        raise InputError(f"{Path.cwd()} is not in a git repository: name a series "
                         "(rmaplint review A..B --repo DIR, or an mbox with --repo DIR); "
                         "rmaplint demo runs the embedded example")
    series = args.series
    if series is None:
        series = _upstream_range(repo)
        if series is None:
            raise InputError("the current branch has no upstream: name the commits to "
                             "review, e.g. rmaplint review origin/master..HEAD (or set one: "
                             "git branch --set-upstream-to=origin/master)")
        from ..workflow.review import commits_in

        if not commits_in(repo, series):
            print(f"rmaplint: nothing to review: HEAD has no commit over "
                  f"{series.split('..')[0]}", file=sys.stderr)
            return 0
    policy = _policy(args, repo)
    model, cache = _model_cache(args, policy)
    if Path(series).is_file():
        series = str(Path(series).resolve())
    hook = None
    if args.unittests is not None:
        from ..workflow.review import resolve

        base = args.base or (series.split("..")[0] or "HEAD"
                             if ".." in series and not Path(series).is_file() else "HEAD")
        hook = _unittests_hook(args, repo, resolve(repo, base))
    with _Progress(args) as prog:
        res = review_series(repo, series, args.base, model, cache, on_patch=hook,
                            clang=_frontend(args, repo), progress=prog, **_review_wants(args))
    _filter_review(res, policy)
    _emit_review(args, res, repo)
    return _review_status(args, res, policy)


def cmd_demo(args) -> int:
    """The embedded example: the corpus history (corpus/history) built into a throwaway
    repository, its series reviewed as an mbox. Exit 0 when it ran: findings are its point."""
    from ..workflow.corpus import build_history
    from ..workflow.review import review_series

    model, cache = _model_cache(args)
    with tempfile.TemporaryDirectory(prefix="rmaplint-demo-") as tmp:
        with _Progress(args) as prog:
            prog(0, 3, "building the example repository")
            corpus = build_history(Path(tmp) / "repo")
            hook = _unittests_hook(args, corpus.path, corpus.base)
            args.terse = False
            res = review_series(corpus.path, str(corpus.mbox), corpus.base, model, cache,
                                on_patch=hook, clang=_frontend(args, corpus.path),
                                progress=prog, **_review_wants(args))
        res.label = "the corpus series (corpus/history)"
        _emit_review(args, res, None)
    if res.failure is not None:
        return _review_status(args, res, _policy(args, None))
    return 0


def cmd_history(args) -> int:
    from ..report.history import history_json, history_text
    from ..workflow.history import history

    repo = _repo_for(args)
    policy = _policy(args, repo)
    model, cache = _model_cache(args, policy)
    filtering = policy.select is not None or policy.ignore or policy.baseline
    with _Progress(args) as prog:
        res = history(repo, args.range, args.paths or ["mm"], model, cache, progress=prog,
                      keep=policy.keep if filtering else None,
                      snapshots=args.format == "html")
    if args.format == "html":
        from ..report.html import history_html

        _html(args, lambda out: history_html(res, out), "history")
    elif args.format == "sarif":
        from ..checks import rule_ids
        from ..report.sarif import history_sarif
        from ..workflow.provenance import provenance

        _write(args, history_sarif(res, repo, rule_ids(), provenance(repo, res.end)))
    else:
        _write(args, history_json(res) if args.format == "json"
               else history_text(res, _paths_style(repo)))
    return 0


def cmd_b4_check(args) -> int:
    from ..report.b4 import b4_json, terse_text
    from ..workflow.b4 import b4_check
    from ..workflow.results import B4Status

    stdin = getattr(sys.stdin, "buffer", None)
    if stdin is None or sys.stdin.isatty():
        raise InputError("b4-check reads one patch on stdin "
                         "(e.g. git format-patch -1 --stdout | rmaplint b4-check)")
    data = stdin.read()
    repo = _repo_for(args)
    policy = _policy(args, repo)
    model, cache = _model_cache(args, policy)
    with _Progress(args) as prog:
        verdict = b4_check(repo, data, args.base, model, cache, progress=prog,
                           select=policy.filter)
    if args.terse:
        # b4's prep/am per-patch checks read checkpatch-style lines; the status says fail
        _write(args, terse_text(verdict))
        return 1 if policy.fails(verdict.new) or verdict.status == B4Status.FAIL and \
            not verdict.new else 0
    _write(args, b4_json([verdict]))
    return 0  # the verdict is in the JSON: b4 reads the exit status only without one


def _hook_names(args) -> list[str]:
    return [n for n, on in (("pre-commit", args.pre_commit), ("pre-push", args.pre_push)) if on]


def cmd_hook_install(args) -> int:
    from ..report.hook import hook_change_line
    from ..workflow.hook import install

    repo = _repo_for(args)
    run_args = []
    if args.fail_on:
        run_args += ["--fail-on", args.fail_on]
    if args.strict:
        run_args.append("--strict")
    for opt in ("select", "ignore"):
        for v in getattr(args, opt) or []:
            run_args += [f"--{opt}", v]
    if args.baseline:
        run_args += ["--baseline", str(Path(args.baseline).resolve())]
    _policy(args, repo)  # a typo in a setting fails now, not at every commit
    if args.rules:
        rules = Path(args.rules).resolve()
        from ..model.lockmodel import load

        load(rules)
        run_args += ["--rules", str(rules)]
    if args.no_cache:
        run_args.append("--no-cache")
    elif args.cache_dir:
        run_args += ["--cache-dir", str(Path(args.cache_dir).resolve())]
    for change in install(repo, _hook_names(args) or ["pre-commit"], args.force, run_args):
        print(hook_change_line(change))
    return 0


def cmd_hook_uninstall(args) -> int:
    from ..report.hook import hook_change_line
    from ..workflow.hook import HOOKS, uninstall

    for change in uninstall(_repo_for(args), _hook_names(args) or list(HOOKS)):
        print(hook_change_line(change))
    return 0


def cmd_hook_run(args) -> int:
    """Exit 1 when the commit/push adds findings at or above --fail-on; an internal error
    is one line and exit 0 (the commit goes through), or exit 2 with --strict.

    Run by the pre-commit framework: file names (pass_filenames) are checked whole;
    PRE_COMMIT_FROM_REF/PRE_COMMIT_TO_REF name a range to review."""
    from ..report.lines import finding_lines
    from ..workflow.hook import (
        files_findings,
        pre_commit_findings,
        pre_push_findings,
        range_findings,
    )

    what = "commit" if args.name == "pre-commit" else "push"
    whole_files = bool(args.hook_args) and args.name == "pre-commit"
    from_ref = os.environ.get("PRE_COMMIT_FROM_REF") or os.environ.get("PRE_COMMIT_SOURCE")
    to_ref = os.environ.get("PRE_COMMIT_TO_REF") or os.environ.get("PRE_COMMIT_ORIGIN")
    try:
        repo = _repo_for(args)
        policy = _policy(args, repo)
        model, cache = _model_cache(args, policy)
        with _Progress(args) as prog:
            if from_ref and to_ref:
                what = f"range {from_ref[:12]}..{to_ref[:12]}"
                new = range_findings(repo, from_ref, to_ref, model, cache, prog)
            elif args.hook_args and args.name == "pre-commit":
                what = "commit"
                new = files_findings(repo, args.hook_args, model, cache)
            elif args.name == "pre-commit":
                new = pre_commit_findings(repo, model, cache)
            else:
                # git writes the pushed refs on stdin; run by hand at a terminal, there are none
                lines = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
                new = pre_push_findings(repo, lines, model, cache)
        new = policy.filter(new)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - a broken checker must not stop git
        if os.environ.get("RMAPLINT_DEBUG"):
            raise
        msg = str(e).splitlines()[0] if str(e) else ""
        kind = "" if isinstance(e, InputError) else f"internal error: {type(e).__name__}: "
        if args.strict:
            print(f"rmaplint hook: {args.name} check failed: {kind}{msg} "
                  f"(--strict: {what} blocked)", file=sys.stderr)
            return 2
        print(f"rmaplint hook: {args.name} check skipped: {kind}{msg} "
              f"({what} allowed; --strict blocks instead)", file=sys.stderr)
        return 0
    new = [f for f in new if not f.justification]
    threshold = severity_rank(policy.fail_on)
    block = [f for f in new if severity_rank(f.severity) >= threshold]
    if not new:
        return 0
    kind = "" if whole_files else "new "
    if block:
        print(f"rmaplint: {what} blocked: {len(block)} {kind}finding(s) at or above "
              f"{policy.fail_on}:", file=sys.stderr)
    else:
        print(f"rmaplint: {len(new)} {kind}finding(s) below {policy.fail_on} "
              f"({what} allowed):", file=sys.stderr)
    style = _paths_style(repo)
    for f in new:
        for ln in finding_lines(f, style):
            print(ln, file=sys.stderr)
    if block:
        print(f"rmaplint: justify one with /* rmaplint: allow <rule> -- why */ in its "
              f"region, or skip the check with git {args.name.split('-')[1]} --no-verify",
              file=sys.stderr)
        return 1
    return 0


def cmd_rule(args) -> int:
    """Print a rule's doc (``ruff rule`` style), every rule's (--all), or the list."""
    import difflib

    from ..checks import rule_ids
    from ..report.sarif import rule_doc

    ids = rule_ids()
    if args.all:
        _write(args, "\n".join(rule_doc(r).markdown.rstrip() + "\n" for r in ids))
        return 0
    if not args.rule:
        w = max(len(r) for r in ids)
        _write(args, "".join(f"{r:<{w}}  {rule_doc(r).severity:<7}  {rule_doc(r).summary}\n"
                             for r in ids))
        return 0
    if args.rule not in ids:
        near = difflib.get_close_matches(args.rule, ids, n=1)
        raise UsageError(f"unknown rule '{args.rule}'" + (f" (did you mean '{near[0]}'?)"
                         if near else " (rmaplint rule lists them)"))
    _write(args, rule_doc(args.rule).markdown)
    return 0


def _parse_size(text: str) -> int:
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", text.lower())
    if not m:
        raise UsageError(f"--max-size {text}: not a size (e.g. 500M, 2G)")
    return int(float(m.group(1)) * 1024 ** " kmgt".index(m.group(2) or " "))


def cmd_cache(args) -> int:
    from ..driver.cache import default_cache_dir
    from ..workflow.cachetool import cache_info, prune

    root = Path(args.cache_dir).resolve() if args.cache_dir else default_cache_dir()
    if args.cache_command == "info":
        _write(args, cache_info(root))
        return 0
    removed, freed, left = prune(root, _parse_size(args.max_size) if args.max_size else None,
                                 everything=args.all)
    _write(args, f"rmaplint: removed {removed} entries ({freed / 2**20:.1f} MiB) from {root}; "
                 f"{left / 2**20:.1f} MiB left\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rmaplint", description="Lock-state analysis of the Linux kernel's rmap "
                "locking rules: findings in files, patches, series and history.",
                epilog=EPILOG)
    p.add_argument("--version", action="version", version=f"rmaplint {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    def output_opts(sp, formats, html=False):
        sp.add_argument("--format", choices=formats, default="text",
                        help="report format (default text: path:line:col: severity: "
                        "message [rule-id])")
        sp.add_argument("-o", "--output", metavar="FILE", help="write the report here "
                        "(default stdout" + ("; --format html: a folder, default a new one "
                                             "in ~/.cache/rmaplint/reports, printed)"
                                             if html else ")"))
        sp.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the text report (auto: on a terminal, unless NO_COLOR; "
                        "FORCE_COLOR forces it)")

    def policy_opts(sp, fail_on=True):
        if fail_on:
            sp.add_argument("--fail-on", choices=("error", "warning", "note"), default=None,
                            help="exit 1 on findings at or above this severity (default "
                            "warning, or fail-on of .rmaplint.toml / git config)")
        sp.add_argument("--select", action="append", metavar="RULES", help="only these "
                        "rule ids (comma-separated, repeatable)")
        sp.add_argument("--ignore", action="append", metavar="RULES", help="never these "
                        "rule ids (comma-separated, repeatable)")
        sp.add_argument("--baseline", metavar="FILE", help="do not report the findings of "
                        "this baseline (check --write-baseline; matched by fingerprint, "
                        "which survives line shifts)")
        sp.add_argument("--rules", metavar="DIR", help="rules folder (default: built in)")

    def cache_opts(sp):
        sp.add_argument("--cache-dir", metavar="DIR", help="result cache (default "
                        "~/.cache/rmaplint; rmaplint cache prune bounds it)")
        sp.add_argument("--no-cache", action="store_true", help="neither read nor write "
                        "the cache")

    def quiet(sp):
        sp.add_argument("--quiet", "-q", action="store_true",
                        help="no progress on stderr (shown only on a terminal)")

    def repo_opt(sp, what="the repository (default: the enclosing one)"):
        sp.add_argument("--repo", metavar="DIR", help=what)

    def frontend_opts(sp):
        sp.add_argument("--frontend", choices=("tree-sitter", "clang", "auto"),
                        default="tree-sitter", help="parser: tree-sitter (any revision, no "
                        "build), clang (libclang, pip install 'rmaplint[clang]', on a "
                        "prepared tree: make defconfig && make prepare), auto (clang where "
                        "usable)")
        sp.add_argument("--build-dir", metavar="DIR", help="clang: the O= build folder of the "
                        "prepared tree (default: the tree itself)")

    c = sub.add_parser("check", help="analyse files or folders (default mm/)",
                       description="Analyse files or folders of a tree or revision.",
                       epilog="examples:\n  rmaplint check mm/rmap.c\n"
                       "  rmaplint check --rev v6.12 --format sarif -o rmaplint.sarif mm/\n"
                       "  rmaplint check --write-baseline .rmaplint-baseline.json mm/\n"
                       "  rmaplint check --terse --ignore walk-unlocked mm/vma.c\n"
                       "  rmaplint check --list-degraded mm/\n")
    c.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default mm)")
    repo_opt(c, "tree or git repository (default: the enclosing git work tree, else the "
                "current directory)")
    c.add_argument("--rev", metavar="REV", help="read files from this git revision "
                   "(the work tree is not touched)")
    output_opts(c, ("text", "json", "sarif", "html"), html=True)
    c.add_argument("--terse", action="store_true", help="checkpatch-style lines only: "
                   "FILE:LINE: SEVERITY:rule-id: message")
    c.add_argument("--plain", action="store_true", help="text: plain finding lines even "
                   "on a terminal (the default when piped)")
    c.add_argument("--list-degraded", action="store_true", help="text: after the report, "
                   "one 'path:line: function: degraded: reason' line per function with parse "
                   "errors (analysed as far as possible; 'not analysed' when a parse error "
                   "hid it); --format json lists them in each file's entry")
    c.add_argument("--verbose", "-v", action="store_true", help="text: after the report, "
                   "the findings the function's callers decided away, one 'path:line: "
                   "function: decided at the callers' line each ('held by all N callers'); "
                   "--format json lists them in each file's entry")
    frontend_opts(c)
    c.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                   help="worker processes (default 1)")
    policy_opts(c)
    cache_opts(c)
    quiet(c)
    c.add_argument("--write-baseline", metavar="FILE", help="record every finding of this run "
                   "as the baseline")
    c.set_defaults(func=cmd_check)

    mi = sub.add_parser("mine", help="which lock guards which struct member: declared in "
                        "the tree's comments and mined from the code",
                        description="Count every read and write of a struct member with the "
                        "locks held there; list the guards declared in comments and those "
                        "the code keeps (thresholds: rules/protected.toml [guards]).",
                        epilog="examples:\n  rmaplint mine mm/\n"
                        "  rmaplint mine --format json -o guards.json mm/\n"
                        "  rmaplint mine --format toml mm/hugetlb.c >> rules/protected.toml\n")
    mi.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default mm)")
    repo_opt(mi, "tree or git repository (default: the enclosing git work tree, else the "
                 "current directory)")
    mi.add_argument("--rev", metavar="REV", help="read files from this git revision")
    output_opts(mi, ("text", "json", "toml"))
    mi.add_argument("--all", action="store_true", help="every candidate pair, not only "
                    "those above the thresholds")
    frontend_opts(mi)
    mi.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                    help="worker processes (default 1)")
    mi.add_argument("--rules", metavar="DIR", help="rules folder (default: built in)")
    cache_opts(mi)
    quiet(mi)
    mi.set_defaults(func=cmd_mine)

    e = sub.add_parser("explain", help="lock state before every line of one function")
    e.add_argument("paths", nargs=1, metavar="PATH", help="the file")
    e.add_argument("function", metavar="FUNCTION", help="the function's name")
    repo_opt(e, "tree or git repository (default: the enclosing one, else the current "
                "directory)")
    e.add_argument("--rev", metavar="REV", help="read the file at this git revision")
    output_opts(e, ("text", "json"))
    e.add_argument("--rules", metavar="DIR", help="rules folder (default: built in)")
    frontend_opts(e)
    cache_opts(e)
    e.set_defaults(func=cmd_explain)

    fd = sub.add_parser("frontends-diff", help="run tree-sitter and clang on the same files "
                        "and report where their lock states or findings differ")
    fd.add_argument("paths", nargs="+", metavar="PATH", help="C files")
    repo_opt(fd, "the prepared tree (default: the enclosing one)")
    fd.add_argument("--rev", metavar="REV", help="read the files at this git revision")
    output_opts(fd, ("text", "json"))
    fd.add_argument("--rules", metavar="DIR", help="rules folder (default: built in)")
    frontend_opts(fd)
    fd.add_argument("--all-branches", action="store_true", help="tree-sitter reads every #if "
                    "branch (its default) instead of the prepared configuration's")
    fd.set_defaults(func=cmd_frontends_diff, frontend="clang")

    def review_opts(r):
        r.add_argument("--terse", action="store_true", help="checkpatch-style lines of what "
                       "the series leaves behind, nothing else")
        frontend_opts(r)
        policy_opts(r)
        cache_opts(r)
        quiet(r)
        r.add_argument("--unittests", nargs="?", action="append", const="vma",
                       metavar="SUITES", help="also build and run the kernel's userland test "
                       "suites (default vma) on the base and after each patch that changes "
                       "what they compile")
        r.add_argument("--reports-dir", metavar="DIR", help="--unittests: where build and "
                       "run logs go (default: a new folder in ~/.cache/rmaplint/reports, "
                       "printed)")
        r.add_argument("--jobs", "-j", type=int, default=2, metavar="N",
                       help="make -j for --unittests builds (default 2)")

    r = sub.add_parser("review", help="review a patch series patch by patch (default: "
                       "@{upstream}..HEAD)", description="Review a series patch by patch: "
                       "what each patch adds, fixes, keeps or moves, and what the series "
                       "leaves behind. An mbox is applied to a temporary index, never to a "
                       "work tree.", epilog="examples:\n  rmaplint review\n"
                       "  rmaplint review origin/master..HEAD --fail-on-transient\n"
                       "  b4 am -o - <msgid> > s.mbox && rmaplint review s.mbox "
                       "--format email -o replies.mbox\n")
    r.add_argument("series", nargs="?", metavar="SERIES", help="an mbox (cover letter and "
                   "replies skipped) or a range A..B (default: @{upstream}..HEAD)")
    repo_opt(r)
    r.add_argument("--base", metavar="REV", help="apply an mbox on this revision (default "
                   "HEAD)")
    output_opts(r, ("text", "json", "email", "sarif", "html"), html=True)
    r.add_argument("--fail-on-transient", action="store_true", help="also exit 1 when a "
                   "patch adds a finding a later patch removes (it breaks bisection)")
    review_opts(r)
    r.set_defaults(func=cmd_review)

    d = sub.add_parser("demo", help="review the embedded example series (exit 0 when it ran)",
                       description="Build the embedded example (kernel-style code and patches "
                       "written for rmaplint, in the shape of the 2025 anon_vma clean-up) in a "
                       "temporary repository and review its series. Nothing is written "
                       "unless -o says so.")
    output_opts(d, ("text", "json", "email", "sarif", "html"), html=True)
    review_opts(d)
    d.set_defaults(func=cmd_demo, repo=None, base=None)

    h = sub.add_parser("history", help="findings across the commits of a range: when each "
                       "appeared, was fixed or moved")
    h.add_argument("range", metavar="REV_RANGE", help="A..B")
    h.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default mm)")
    repo_opt(h)
    output_opts(h, ("text", "json", "sarif", "html"), html=True)
    policy_opts(h, fail_on=False)
    cache_opts(h)
    quiet(h)
    h.set_defaults(func=cmd_history)

    b = sub.add_parser("b4-check", help="b4's per-patch check: one patch on stdin, "
                       "b4's check JSON on stdout (b4.review-perpatch-check-cmd)",
                       epilog="b4 config:\n  [b4]\n    review-perpatch-check-cmd = rmaplint "
                       "b4-check\n    prep-perpatch-check-cmd = rmaplint b4-check --terse\n"
                       "    am-perpatch-check-cmd = rmaplint b4-check --terse\n")
    repo_opt(b)
    b.add_argument("--base", metavar="REV", help="apply the patch on this revision "
                   "(default HEAD)")
    b.add_argument("-o", "--output", metavar="FILE", help="write the result here")
    b.add_argument("--terse", action="store_true", help="checkpatch-style lines (for b4's "
                   "prep/am per-patch check commands) instead of JSON; exit 1 on findings")
    policy_opts(b)
    cache_opts(b)
    quiet(b)
    b.set_defaults(func=cmd_b4_check, color="never", format="text")

    k = sub.add_parser("hook", help="git hooks that block a commit or push adding findings")
    ksub = k.add_subparsers(dest="hook_command", parser_class=_Parser, required=True,
                            metavar="ACTION")

    def which(sp, verb):
        sp.add_argument("--pre-commit", action="store_true", help=f"{verb} the pre-commit hook")
        sp.add_argument("--pre-push", action="store_true", help=f"{verb} the pre-push hook")
        repo_opt(sp)

    def run_opts(sp):
        policy_opts(sp)
        sp.add_argument("--strict", action="store_true",
                        help="block when the check itself fails (default: let it through)")
        cache_opts(sp)

    ki = ksub.add_parser("install", help="write the hook (default --pre-commit); the run "
                         "options are stored in it")
    which(ki, "install")
    ki.add_argument("--force", action="store_true",
                    help="replace a hook that is not ours (kept as <name>.rmaplint-backup)")
    run_opts(ki)
    ki.set_defaults(func=cmd_hook_install)

    ku = ksub.add_parser("uninstall", help="remove our hooks (default both); a foreign "
                         "hook is left alone")
    which(ku, "uninstall")
    ku.set_defaults(func=cmd_hook_uninstall)

    kr = ksub.add_parser("run", help="what the installed hook (or the pre-commit "
                         "framework) runs")
    kr.add_argument("name", choices=("pre-commit", "pre-push"), help="which hook")
    kr.add_argument("hook_args", nargs="*", metavar="ARG",
                    help="pre-commit: file names to check (the pre-commit framework's "
                    "pass_filenames); pre-push: remote name and URL")
    repo_opt(kr)
    run_opts(kr)
    quiet(kr)
    kr.set_defaults(func=cmd_hook_run)

    ru = sub.add_parser("rule", help="print a rule's documentation (like ruff rule)")
    ru.add_argument("rule", nargs="?", metavar="ID", help="a rule id (none: list them)")
    ru.add_argument("--all", action="store_true", help="every rule's documentation")
    ru.add_argument("-o", "--output", metavar="FILE", help="write it here")
    ru.set_defaults(func=cmd_rule, color="never", format="markdown")

    ca = sub.add_parser("cache", help="the result cache: where it is, how big; prune it")
    casub = ca.add_subparsers(dest="cache_command", parser_class=_Parser, required=True,
                              metavar="ACTION")
    ci = casub.add_parser("info", help="the cache folder, its size per kind and namespace")
    cp = casub.add_parser("prune", help="remove the namespaces of other rmaplint versions "
                          "and old reports, then the least recently used entries over "
                          "--max-size")
    cp.add_argument("--max-size", metavar="SIZE", help="keep at most this much (e.g. 2G; "
                    "default: only stale namespaces and reports older than 30 days)")
    cp.add_argument("--all", action="store_true", help="empty the cache (the extracted "
                    "kernel tree of the test suite is kept)")
    for sp in (ci, cp):
        sp.add_argument("--cache-dir", metavar="DIR", help="the cache (default "
                        "~/.cache/rmaplint)")
        sp.add_argument("-o", "--output", metavar="FILE", help=argparse.SUPPRESS)
        sp.set_defaults(func=cmd_cache, color="never", format="text")
    add_unittest_parser(sub)
    return p


def _sigterm_unwinds() -> None:
    """SIGTERM unwinds like Ctrl-C, so every temporary folder and worktree is removed."""
    import signal

    def on_term(signum, frame):
        raise _Terminated

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (embedded use): leave the handler alone
        pass


class _Terminated(KeyboardInterrupt):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    _sigterm_unwinds()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and getattr(args, "func", None) is cmd_hook_run and \
                not any(x.startswith("-") for x in extra):
            # file names after options, as the pre-commit framework passes them
            args.hook_args = [*args.hook_args, *extra]
        elif extra:
            raise UsageError(f"unrecognized arguments: {' '.join(extra)}")
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        if getattr(args, "jobs", 1) < 1:
            raise UsageError("--jobs must be at least 1")
        return args.func(args)
    except InputError as e:
        print(f"rmaplint: error: {e}", file=sys.stderr)
        return 2
    except _Terminated:
        print("rmaplint: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("rmaplint: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # noqa: BLE001 - never a traceback for the user
        if os.environ.get("RMAPLINT_DEBUG"):
            raise
        msg = str(e).splitlines()[0] if str(e) else ""
        print(f"rmaplint: internal error: {type(e).__name__}: {msg} "
              "(set RMAPLINT_DEBUG=1 for a traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
