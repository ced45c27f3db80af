"""``rmaplint mine``: every member access of the files named, with the locks held there, and
the guards declared and mined from them.

Each file is analysed as ``check`` analyses it (same project, same per-file isolation); what a
file contributes (its accesses, the guards its struct definitions declare, the mentions left
unresolved) is a value cached under the cache kind "access" with the file's result key, so a
second ``mine`` of an unchanged tree analyses nothing. Worker processes each return that
value; the counting is done once, over all of them, in path order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import InputError
from ..locks.result import Deps, FileStatus
from ..mining.accesses import FieldAccess, file_accesses
from ..mining.declared import Mention
from ..mining.guards import Located, Mined, mine
from ..model.lockmodel import Guard, LockModel, load
from .cache import Cache
from .run import Checker, SourceSpec, _check_named, _largest_first, _one_line

MINE_VERSION = "1"


@dataclass(frozen=True)
class FileAccesses:
    path: str
    status: FileStatus
    accesses: tuple[FieldAccess, ...] = ()
    declared: tuple[Guard, ...] = ()
    mentions: tuple[Mention, ...] = ()
    error: str | None = None
    cached: bool = False


@dataclass(frozen=True)
class _Cached:
    deps: Deps
    value: FileAccesses


@dataclass
class MineRun:
    files: list[FileAccesses] = field(default_factory=list)
    guards: list[Mined] = field(default_factory=list)  # mined, best first
    declared: list[Guard] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def accesses(self) -> int:
        return sum(len(f.accesses) for f in self.files)


def file_value(checker: Checker, path: str) -> FileAccesses:
    try:
        sf = checker.source.read(path)
        key = "mine" + MINE_VERSION + checker.result_key(path, sf.blob_id, sf.text)
    except InputError as e:
        return FileAccesses(path, FileStatus.ERROR, error=str(e))
    hit = checker.cache.get("access", key)
    if isinstance(hit, _Cached) and checker.project.deps_hold(hit.deps):
        return replace(hit.value, cached=True)
    deps = Deps()
    try:
        fa = checker.project.analyse_file(path)
        deps = fa.deps
        if fa.status == FileStatus.ERROR:
            value = FileAccesses(path, fa.status, error=fa.error)
        else:
            value = FileAccesses(path, fa.status, file_accesses(fa, checker.model),
                                 tuple(fa.declared), tuple(fa.mentions))
    except RecursionError:
        value = FileAccesses(path, FileStatus.ERROR, error="nesting too deep to analyse")
    except Exception as e:  # noqa: BLE001 - one file's trouble must not stop the run
        value = FileAccesses(path, FileStatus.ERROR, error=_one_line(e))
    checker.cache.put("access", key, _Cached(deps, value))
    return value


_worker: Checker | None = None


def _init_worker(spec: SourceSpec) -> None:
    global _worker
    import sys

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 6000))
    model = load(Path(spec.rules) if spec.rules else None)
    cache = Cache(Path(spec.cache_dir) if spec.cache_dir else None, salt=model.digest)
    _worker = Checker(spec.open(), model, cache, clang=spec.clang)


def _work(path: str) -> FileAccesses:
    assert _worker is not None
    return file_value(_worker, path)


def mine_paths(spec: SourceSpec, paths: Iterable[str], jobs: int = 1,
               progress: Callable[[int, int, str], None] | None = None,
               everything: bool = False) -> MineRun:
    """Mine ``paths`` (files or folders of the source). ``everything``: every candidate pair,
    not only those that pass the thresholds."""
    import sys

    t0 = time.perf_counter()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 6000))
    paths = list(paths) or ["mm"]
    run = MineRun()
    with spec.open() as source:
        files = source.list_files(paths, suffixes=(".c", ".h"))
        _check_named(source, paths, files)
        model = load(Path(spec.rules) if spec.rules else None)
        if jobs <= 1 or len(files) <= 1:
            cache = Cache(Path(spec.cache_dir) if spec.cache_dir else None, salt=model.digest)
            checker = Checker(source, model, cache, clang=spec.clang)
            for i, p in enumerate(files):
                if progress:
                    progress(i, len(files), p)
                run.files.append(file_value(checker, p))
        else:
            order = {f: i for i, f in enumerate(files)}
            with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                                     initargs=(spec,)) as pool:
                for i, v in enumerate(pool.map(_work, _largest_first(source, files),
                                               chunksize=1)):
                    if progress:
                        progress(i, len(files), v.path)
                    run.files.append(v)
            run.files.sort(key=lambda v: order[v.path])
    return _count(run, model, everything, t0)


def _count(run: MineRun, model: LockModel, everything: bool, t0: float) -> MineRun:
    located = [Located(f.path, a) for f in run.files for a in f.accesses]
    run.guards = mine(located, model.protected.guard_rules, everything)
    declared: dict = {}
    mentions: dict = {}
    for f in run.files:
        for g in f.declared:
            declared.setdefault((g.struct, g.field, g.access, g.lock), g)
        for m in f.mentions:
            mentions.setdefault((m.struct, m.field, m.where, m.why), m)
    run.declared = sorted(declared.values(), key=lambda g: (g.where, g.field, g.access))
    run.mentions = sorted(mentions.values(), key=lambda m: (m.where, m.field, m.why))
    run.seconds = time.perf_counter() - t0
    return run
