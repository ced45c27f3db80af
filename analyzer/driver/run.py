"""Running checks over many files: file selection, the result cache, worker processes.

Each file is analysed in isolation: an exception in one file becomes that file's ``error``
status with a one-line reason and the run goes on. Results are cached by the file's blob id
plus a digest of everything else that can change them (rules, learned iterator macros, the
headers the file includes and the engine's summary/type headers), so an unchanged file is never
parsed or analysed twice, across runs.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .. import checks
from ..errors import InputError
from ..findings.coverage import Degraded
from ..findings.finding import Finding
from ..findings.fingerprint import fingerprint_file
from ..index.callers import TreeDefinitions
from ..locks.calls import CLAIMS, CallTable, Need, call_table
from ..locks.result import Deps, FileAnalysis, FileStatus
from ..locks.trace import FunctionTrace, trace
from ..model.lockmodel import LockModel, load
from ..source.reader import Source, open_source
from .cache import Cache
from .context import MAX_DEPTH, Contexts, Decided, decide
from .project import Project

if TYPE_CHECKING:
    from ..frontend.clang import BuildConfig

# 8: CallSite.atomic, Sleeps claims; 7: CallSite.irqs_off; 6: summaries' PAIR; 5: FileReport.calls
RESULT_VERSION = "8"
_INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


@dataclass(frozen=True)
class FileReport:
    path: str
    status: FileStatus
    functions: int = 0
    degraded_functions: int = 0
    error: str | None = None
    findings: tuple[Finding, ...] = ()
    seconds: float = 0.0
    cached: bool = False
    spans: tuple[tuple[str, int, int], ...] = ()  # (function, first line, last line)
    # the functions parse errors degraded (or hid: ``analysed`` False), with where and why
    degraded: tuple[Degraded, ...] = ()
    # asked for with ``traces=True`` (reports that show the source: HTML): the file's text
    # and each function's lock trace; None otherwise
    text: str | None = field(default=None, repr=False, compare=False)
    traces: tuple[FunctionTrace, ...] | None = field(default=None, repr=False, compare=False)
    # each function's call sites and the locks known there (analyzer.locks.calls), which
    # the callees' findings are decided by (analyzer.driver.context)
    calls: CallTable = field(default=(), repr=False, compare=False)
    # findings the callers decided away ("held by all N callers")
    decided: tuple[Decided, ...] = field(default=(), repr=False, compare=False)
    # claims only a caller's site makes (a function that turns interrupts on is a bug where
    # it is called with them off: ``IrqsOff``): findings once decided at the callers, not
    # before (review and the hooks, which do not read the callers, never show them)
    claims: tuple[Finding, ...] = field(default=(), repr=False, compare=False)

    def to_json(self) -> dict:
        return {"path": self.path, "status": self.status, "functions": self.functions,
                "degraded_functions": self.degraded_functions, "error": self.error,
                "degraded": [d.to_json() for d in self.degraded],
                "decided": [d.to_json() for d in self.decided]}

    def degraded_for(self, function: str) -> Degraded | None:
        """Why ``function``'s findings cannot be trusted to be complete in this report: its
        own parse error, the one that hid it, or (when it is not in the file as parsed) a
        parse error outside any function; None when it was analysed cleanly or is gone."""
        for d in self.degraded:
            if d.function == function:
                return d
        if any(name == function for name, _, _ in self.spans):
            return None
        return next((d for d in self.degraded if not d.function), None)


@dataclass(frozen=True)
class CachedResult:
    """A file's report with what its analysis read from other files of the tree."""

    deps: Deps
    report: FileReport


@dataclass(frozen=True)
class CachedCalls:
    """The call sites of one name in a file (its callers' part of the file's call table),
    with what their analysis read from other files."""

    deps: Deps
    calls: CallTable


_Cached = TypeVar("_Cached", CachedResult, CachedCalls)


@dataclass(frozen=True)
class CachedTraces:
    """A file's function traces (cache kind "trace", under the same key as its result)."""

    deps: Deps
    traces: tuple[FunctionTrace, ...]


@dataclass(frozen=True)
class SourceSpec:
    """Everything a worker needs to open the same source (sources are not shared)."""

    root: str | None
    repo: str | None
    rev: str | None
    rules: str | None
    cache_dir: str | None
    clang: BuildConfig | None = None  # --frontend clang: the prepared tree

    def open(self) -> Source:
        return open_source(Path(self.root) if self.root else None,
                           Path(self.repo) if self.repo else None, self.rev)


@dataclass
class CheckRun:
    reports: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0
    cache_hits: int = 0
    baselined: int = 0

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.reports for f in r.findings]

    def apply_baseline(self, known: frozenset[str]) -> None:
        """Drop the findings a baseline records; count them."""
        kept = []
        for r in self.reports:
            fs = tuple(f for f in r.findings if f.fingerprint not in known)
            self.baselined += len(r.findings) - len(fs)
            kept.append(replace(r, findings=fs))
        self.reports = kept

    def summary(self) -> dict:
        fns = sum(r.functions for r in self.reports)
        deg = sum(r.degraded_functions for r in self.reports)
        by_rule: dict[str, int] = {}
        by_sev: dict[str, int] = {}
        for f in self.findings:
            by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
            by_sev[f.severity] = by_sev.get(f.severity, 0) + 1
        return {
            "files": len(self.reports),
            "files_ok": sum(r.status == FileStatus.OK for r in self.reports),
            "files_degraded": sum(r.status == FileStatus.DEGRADED for r in self.reports),
            "files_error": sum(r.status == FileStatus.ERROR for r in self.reports),
            "functions": fns,
            "degraded_functions": deg,
            "degraded_share": round(deg / fns, 4) if fns else 0.0,
            "findings": len(self.findings),
            "by_rule": by_rule,
            "by_severity": by_sev,
            "seconds": round(self.seconds, 3),
            "cache_hits": self.cache_hits,
            "baselined": self.baselined,
        }


class Checker:
    """Analyses files of one source with one project (one process)."""

    def __init__(self, source: Source, model: LockModel, cache: Cache,
                 only_rules: set[str] | None = None, clang: BuildConfig | None = None):
        self.source = source
        self.model = model
        self.cache = cache
        self.project = Project(source, model, cache, clang=clang)
        self.only_rules = only_rules
        self._header_ids: dict[str, str] = {}

    def _blob(self, path: str) -> str:
        if path not in self._header_ids:
            try:
                self._header_ids[path] = self.source.read(path).blob_id
            except InputError:
                self._header_ids[path] = "-"
        return self._header_ids[path]

    def result_key(self, path: str, blob_id: str, text: str) -> str:
        """Everything a file's result depends on that is known before analysing it; what
        it reads from other files of the tree is recorded with the result (``Deps``) and
        checked on every hit."""
        h = hashlib.sha1()
        h.update(f"{RESULT_VERSION}\0{blob_id}\0{path}\0{self.model.digest}\0".encode())
        h.update(self.project.salt.encode())
        h.update(",".join(sorted(self.only_rules or ())).encode())
        extra = []
        for key in ("summary_headers", "type_headers"):
            extra.extend(self.project.engine_headers(key))
        for inc in _INCLUDE_RE.findall(text):
            r = self.project.resolve_include(inc, path)
            if r:
                extra.append(r)
        for p in sorted(set(extra)):
            h.update(f"{p}={self._blob(p)}\0".encode())
        return h.hexdigest()

    def check_file(self, path: str, traces: bool = False) -> FileReport:
        """The file's report, from the cache when it holds one. ``traces``: with the file's
        text and its function traces (:mod:`analyzer.locks.trace`), which an analysis
        stores under the cache kind "trace" beside the result whenever the cache is on, so
        a report that shows the source after a plain check analyses nothing."""
        t0 = time.perf_counter()
        try:
            sf = self.source.read(path)
        except InputError as e:
            return FileReport(path, FileStatus.ERROR, error=str(e))
        try:
            key = self.result_key(path, sf.blob_id, sf.text)
        except Exception as e:  # noqa: BLE001 - one file's trouble must not stop the run
            return FileReport(path, FileStatus.ERROR, error=_one_line(e))
        hit = self._held("result", key, CachedResult)
        if hit is not None:
            report = replace(hit.report, seconds=time.perf_counter() - t0, cached=True)
            if not traces:
                return report
            if report.status == FileStatus.ERROR:
                return replace(report, text=sf.text, traces=())
            held = self.cache.get("trace", key)
            if isinstance(held, CachedTraces) and held.deps == hit.deps:
                return replace(report, text=sf.text, traces=held.traces)
        deps = Deps()
        fts: tuple[FunctionTrace, ...] = ()
        try:
            fa = self.project.analyse_file(path)
            found = checks.run_checks(fa, self.model, self.only_rules) \
                if fa.status != FileStatus.ERROR else []
            deps = fa.read_deps()
            printed = fingerprint_file(found, sf.text)
            claims = tuple(f for f in printed if isinstance(f.needs, CLAIMS))
            report = FileReport(path, fa.status, len(fa.functions), fa.degraded_functions,
                                fa.error, tuple(f for f in printed
                                                if not isinstance(f.needs, CLAIMS)),
                                time.perf_counter() - t0, spans=tuple(
                                    (f.function.name, f.function.span.line,
                                     f.function.span.end_line) for f in fa.functions),
                                degraded=_degraded(fa), calls=call_table(fa.functions, self.model),
                                claims=claims)
            if traces or self.cache.enabled:
                fts = _traces(fa, sf.text)
                self.cache.put("trace", key, CachedTraces(deps, fts))
        except RecursionError:
            report = FileReport(path, FileStatus.ERROR, error="nesting too deep to analyse")
        except Exception as e:  # noqa: BLE001
            report = FileReport(path, FileStatus.ERROR, error=_one_line(e))
        self.cache.put("result", key, CachedResult(deps, report))
        return replace(report, text=sf.text, traces=fts) if traces else report

    def _held(self, kind: str, key: str, cls: type[_Cached]) -> _Cached | None:
        """The cached ``cls`` value of (kind, key) when what it read is unchanged."""
        hit = self.cache.get(kind, key)
        return hit if isinstance(hit, cls) and self.project.deps_hold(hit.deps) else None

    def calls_of(self, path: str, name: str) -> CallTable:
        """The entries of ``path``'s call table that its call sites of ``name`` need: the
        functions calling it (and ``name``'s own, when the file defines it), as the whole
        file's analysis gives them. The file's cached report serves when there is one;
        otherwise only those functions are analysed (and cached by name): a caller's file
        is read for a question about one function, not analysed whole."""
        try:
            sf = self.source.read(path)
            key = self.result_key(path, sf.blob_id, sf.text)
        except Exception:  # noqa: BLE001 - an unreadable caller: no call sites known
            return ()
        hit = self._held("result", key, CachedResult)
        if hit is not None:
            return hit.report.calls
        ckey = hashlib.sha256(f"{key}\0{name}".encode()).hexdigest()
        held = self._held("calls", ckey, CachedCalls)
        if held is not None:
            return held.calls
        try:
            fa = self.project.analyse_file(path, calling=name)
        except Exception:  # noqa: BLE001 - as check_file: one file's trouble is its own
            return ()
        table = call_table(fa.functions, self.model) if fa.status != FileStatus.ERROR else ()
        self.cache.put("calls", ckey, CachedCalls(fa.read_deps(), table))
        return table


def _degraded(fa: FileAnalysis) -> tuple[Degraded, ...]:
    """The degraded functions of an analysis in line order, each with its first parse error,
    then what the parse errors hid (functions never analysed, unreadable file-level text)."""
    out = []
    for r in fa.functions:
        fn = r.function
        if fn.degraded:
            e = fn.parse_error
            out.append(Degraded(fn.name, e.line, e.column, e.describe()) if e is not None
                       else Degraded(fn.name, fn.span.line, 1, "parse errors inside"))
    for name, e in fa.parsed.unreadable if fa.parsed is not None else ():
        out.append(Degraded(name, e.line, e.column, e.describe(), analysed=False))
    return tuple(sorted(out, key=lambda d: (d.line, d.column, d.function)))


def _traces(fa: FileAnalysis, text: str) -> tuple[FunctionTrace, ...]:
    """Each function's trace; a function whose trace fails is left out (shown without a
    lock gutter), the others are kept."""
    if fa.status == FileStatus.ERROR:
        return ()
    out = []
    for f in fa.functions:
        try:
            out.append(trace(f, text))
        except Exception:  # noqa: BLE001, S112 - one function's trouble only loses its gutter
            continue
    return tuple(out)


def _one_line(e: BaseException) -> str:
    msg = str(e).splitlines()[0] if str(e) else ""
    return f"internal error: {type(e).__name__}: {msg}"[:300]


# ----------------------------------------------------------------------- worker processes

_worker: Checker | None = None


_worker_traces = False


def _init_worker(spec: SourceSpec, only_rules, traces: bool = False,
                 tree_defs: TreeDefinitions | None = None) -> None:
    global _worker, _worker_traces
    import sys

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 6000))
    source = spec.open()
    model = load(Path(spec.rules) if spec.rules else None)
    cache = Cache(Path(spec.cache_dir) if spec.cache_dir else None, salt=model.digest)
    _worker = Checker(source, model, cache, only_rules, spec.clang)
    if tree_defs is not None:  # read once by the parent for every worker
        _worker.project.use_tree_defs(tree_defs)
    _worker_traces = traces


def _work(path: str) -> FileReport:
    assert _worker is not None
    return _worker.check_file(path, _worker_traces)


def _work_calls(key: tuple[str, str]) -> CallTable:
    assert _worker is not None
    return _worker.calls_of(*key)


def _work_called(idents: list[tuple[str, str]]) -> list[tuple[str, tuple[str, ...]]]:
    assert _worker is not None
    return _worker.project.called_in(idents)


CALLED_CHUNK = 400  # files of the callers index one worker reads at a time


def _in_pool(pool: ProcessPoolExecutor):
    """The callers index read by the pool's workers, in chunks, in order."""
    def many(idents: list[tuple[str, str]]) -> list[tuple[str, tuple[str, ...]]]:
        chunks = [idents[i:i + CALLED_CHUNK] for i in range(0, len(idents), CALLED_CHUNK)]
        return [pf for part in pool.map(_work_called, chunks) for pf in part]
    return many


def _check_named(source: Source, paths: list[str], files: list[str]) -> None:
    """A file the user named must be readable C text: unlike a file found in a folder (which
    only gets an ``error`` status), a binary or unreadable one is an InputError."""
    listed = set(files)
    for p in paths:
        rel = source._normalize(p)  # noqa: SLF001 - the same normalisation list_files used
        if rel not in listed:
            continue  # a folder
        sf = source.read(rel)  # InputError when it cannot be read
        if sf.binary:
            raise InputError(f"{rel}: binary file (NUL bytes), not C source")


def check_paths(spec: SourceSpec, paths: Iterable[str], jobs: int = 1,
                only_rules: set[str] | None = None,
                progress: Callable[[int, int, str], None] | None = None,
                traces: bool = False) -> CheckRun:
    """Check ``paths`` (files or folders of the source); ``jobs`` worker processes.
    ``traces``: each report with its file's text and function traces (for HTML)."""
    t0 = time.perf_counter()
    import sys

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 6000))
    paths = list(paths) or ["mm"]
    with spec.open() as source:
        files = source.list_files(paths, suffixes=(".c", ".h"))
        _check_named(source, paths, files)
        model = load(Path(spec.rules) if spec.rules else None)
        cache = Cache(Path(spec.cache_dir) if spec.cache_dir else None, salt=model.digest)
        run = CheckRun()
        checker: Checker | None = None
        if jobs <= 1 or len(files) <= 1:
            checker = Checker(source, model, cache, only_rules, spec.clang)
            for i, p in enumerate(files):
                if progress:
                    progress(i, len(files), p)
                run.reports.append(checker.check_file(p, traces))
            if _undecided(run.reports):
                run.reports = decide_at_callers(run.reports, checker)
        else:
            # largest files first so the pool ends together (sizes known for a work tree);
            # the report keeps path order
            order = {f: i for i, f in enumerate(files)}
            files = _largest_first(source, files)
            # the tree's definitions (sleep chains, retakes) are read here once, not by
            # each worker; the callers phase below reuses this checker
            checker = Checker(source, model, cache, only_rules, spec.clang)
            tree_defs = checker.project.tree_defs()
            with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                                     initargs=(spec, only_rules, traces, tree_defs)) as pool:
                for i, rep in enumerate(pool.map(_work, files, chunksize=1)):
                    if progress:
                        progress(i, len(files), rep.path)
                    run.reports.append(rep)
                run.reports.sort(key=lambda r: order[r.path])
                if _undecided(run.reports):
                    # the callers' files are read by the workers: the tree's callers index
                    # in chunks, then the call tables a level of the call chains at a time
                    checker.project.callers(_in_pool(pool))
                    run.reports = decide_at_callers(
                        run.reports, checker,
                        lambda keys: list(pool.map(_work_calls, keys, chunksize=1)))
    run.cache_hits = sum(r.cached for r in run.reports)
    run.seconds = time.perf_counter() - t0
    return run


def caller_verdicts(checker: Checker, path: str, function: str) -> list[tuple[Finding, tuple]]:
    """The findings of ``function`` that its callers decide, each with the verdicts at its
    call sites (:class:`~analyzer.driver.context.Site` trees): what ``explain`` shows."""
    rep = checker.check_file(path)
    table = _tables({path: rep}, {}, checker.calls_of)
    ctxs = Contexts(table, checker.project.callers(), checker.project.bodies_of,
                    checker.model)
    out: list[tuple[Finding, tuple]] = [
        (f, ctxs.sites(f.path, f.function, f.needs)) for f in rep.findings
        if f.function == function and isinstance(f.needs, Need)]
    out += [(f, ctxs.claimed(f.path, f.function, f.needs)) for f in rep.claims
            if f.function == function]
    return out


def _undecided(reports: Iterable[FileReport]) -> bool:
    return any(r.claims or any(f.needs is not None for f in r.findings) for r in reports)


def _tables(have: dict[str, FileReport], extra: dict[tuple[str, str], CallTable],
            read: Callable[[str, str], CallTable | None]) -> Callable[[str, str], CallTable]:
    """``table(path, name)``: the call table of ``path`` as far as the call sites of
    ``name`` need it: the whole table of a file the run analysed, else one of ``extra``
    (tables read already), else what ``read`` gives, kept in ``extra`` (None: not read
    yet, an empty table for now)."""

    def table(path: str, name: str) -> CallTable:
        if path in have:
            return have[path].calls
        got = extra.get((path, name))
        if got is None:
            got = read(path, name)
            if got is None:
                return ()
            extra[path, name] = got
        return got

    return table


Prefetch = Callable[[list[tuple[str, str]]], list[CallTable]]


def decide_at_callers(reports: list[FileReport], checker: Checker,
                      prefetch: Prefetch | None = None) -> list[FileReport]:
    """The reports with every finding that needs a lock from the function's callers
    decided at its call sites (:mod:`analyzer.driver.context`). A caller's file that is
    not among the reports is read (from the cache when it can be) for its call table.

    ``prefetch`` reads many (file, name) tables at once (the worker pool): the findings
    are first decided with the tables read so far, each round collecting the ones the
    walk up the call chains asked for and did not have, until a round asks for none; the
    verdicts are then made as without it, from the same tables (each is a value of the
    tree: the same whichever process reads it)."""
    have = {r.path: r for r in reports}
    extra: dict[tuple[str, str], CallTable] = {}
    index = checker.project.callers()
    if prefetch is not None:
        missing: set[tuple[str, str]] = set()

        def note(path: str, name: str) -> None:
            missing.add((path, name))

        for _ in range(MAX_DEPTH + 2):
            missing.clear()
            ctxs = Contexts(_tables(have, extra, note), index, checker.project.bodies_of,
                            checker.model)
            for r in reports:
                for f in r.findings + r.claims:
                    decide(f, ctxs)
            if not missing:
                break
            keys = sorted(missing)
            extra.update(zip(keys, prefetch(keys), strict=True))
    ctxs = Contexts(_tables(have, extra, checker.calls_of), index, checker.project.bodies_of,
                    checker.model)
    out = []
    for r in reports:
        if not _undecided((r,)):
            out.append(r)
            continue
        kept: list[Finding] = []
        decided = list(r.decided)
        for f in r.findings + r.claims:
            nf, d = decide(f, ctxs)
            if nf is not None:
                kept.append(nf)
            if d is not None:
                decided.append(d)
        kept.sort(key=lambda f: (f.line, f.end_line, f.rule))
        out.append(replace(r, findings=tuple(kept), decided=tuple(decided), claims=()))
    return out


def _largest_first(source: Source, files: list[str]) -> list[str]:
    root = getattr(source, "root", None)
    if root is None or getattr(source, "rev", None) is not None:
        return files
    sizes = {}
    for f in files:
        try:
            sizes[f] = os.path.getsize(os.path.join(root, f))
        except OSError:
            sizes[f] = 0
    return sorted(files, key=lambda f: -sizes[f])


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))
