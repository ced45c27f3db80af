"""A file's findings never depend on what else the run analysed.

The same blob must get the same findings in ``check FILE``, ``check DIR -j 1``, ``check DIR
-j 2`` and from a warm cache — and so in review, the hooks and b4-check, which all analyse
files the same way. Compared by (fingerprint, rule, kind, line, message), per file.

The shape that once broke this is ``corpus/independence``: ``mm/b.c`` locks through struct
types defined only in ``mm/a.c`` (see its README).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from analyzer.driver.cache import Cache
from analyzer.driver.project import Project
from analyzer.driver.run import Checker, SourceSpec, check_paths, decide_at_callers
from analyzer.model.lockmodel import load
from analyzer.source.reader import TreeSource

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "corpus" / "independence"


def signature(reports) -> dict[str, list[tuple]]:
    return {r.path: sorted((f.fingerprint, f.rule, f.kind, f.line, f.message)
                           for f in r.findings) + sorted(("decided", d.line, d.text)
                                                         for d in r.decided)
            for r in reports}


_STATE: dict = {}  # what the forked one-file workers inherit


def _one_file(path: str) -> dict[str, list[tuple]]:
    tree, model, shared, callers = (_STATE[k] for k in ("tree", "model", "shared", "callers"))
    checker = Checker(TreeSource(tree), model, Cache(None))
    if shared is not None:
        checker.project.share_tree_tables(shared)
    return signature(decide_at_callers([checker.check_file(path)], callers))


def one_file_runs(tree: Path, files: list[str], shared: Project | None = None,
                  callers_cache: Path | None = None, jobs: int = 1):
    """Every file checked by a checker of its own (a one-file ``rmaplint check``), its
    findings then decided at its callers as ``check`` does. With ``shared``, its pure tree
    tables (iterators, definitions index) are reused, as a one-file run would compute
    exactly the same ones; the callers' files are read through one checker whose cache
    (``callers_cache``) holds their content-addressed results. ``jobs`` > 1: the files
    are checked in forked processes (each one still a checker of its own)."""
    model = load()
    callers = Checker(TreeSource(tree), model, Cache(callers_cache, salt=model.digest))
    if shared is not None:
        callers.project.share_tree_tables(shared)
    _STATE.update(tree=tree, model=model, shared=shared, callers=callers)
    try:
        if jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
                parts = list(pool.map(_one_file, files))
        else:
            parts = [_one_file(path) for path in files]
    finally:
        _STATE.clear()
    out: dict[str, list[tuple]] = {}
    for part in parts:
        out.update(part)
    return out


def runs_agree(tree: Path, paths: list[str], tmp_path: Path, shared_tables: bool = False,
               cache_dir: Path | None = None, fresh_j1: bool = True):
    """A -j 2 run through a cache is the reference; one-file runs, a -j 1 run served from
    that cache and (``fresh_j1``) a fresh -j 1 run must agree with it. ``cache_dir``: a
    cache that another run (the CLI's check of the same tree) may have filled already —
    its values must be the same a fresh run makes; when it is empty, the -j 2 run fills
    it cold. Every file is analysed fresh by its own checker in the one-file runs, so a
    value that leaked from one file to the next inside a many-file process (-j 2's
    workers, as -j 1's one process) disagrees there."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 6000))
    cached = SourceSpec(str(tree), None, None, None, str(cache_dir or tmp_path / "cache"))
    j2 = check_paths(cached, paths, jobs=2)
    files = [r.path for r in j2.reports]
    shared = None
    if shared_tables:
        shared = Project(TreeSource(tree), load())
    single = one_file_runs(tree, files, shared, tmp_path / "callers", jobs=2)
    warm = check_paths(cached, paths, jobs=1)
    assert warm.cache_hits == len(files)
    others = [("one-file runs", single), ("warm cache", signature(warm.reports))]
    if fresh_j1:
        spec = SourceSpec(str(tree), None, None, None, None)
        others.append(("a fresh -j 1 run", signature(check_paths(spec, paths, jobs=1).reports)))
    base = signature(j2.reports)
    for name, other in others:
        diff = {p: (base.get(p), other.get(p)) for p in set(base) | set(other)
                if base.get(p) != other.get(p)}
        assert not diff, f"{name} disagree with -j 2 through the cache: {diff}"
    return base


_FRESH = """
import json, sys
sys.setrecursionlimit(6000)
sys.path.insert(0, sys.argv[3])
from test_independence import signature
from analyzer.driver.run import SourceSpec, check_paths
spec = SourceSpec(sys.argv[1], None, None, None, None)
print(json.dumps(signature(check_paths(spec, [sys.argv[2]], jobs=1).reports)))
"""


def fresh_processes_agree(tree: Path, path: str, base: dict) -> None:
    """Interpreters started afresh (not forked: forked workers share the parent's object
    addresses, and on Python 3.11 ``hash(None)`` is one of them) under other hash seeds
    give the same findings: nothing printed follows the iteration order of a set."""
    import json
    import subprocess
    want = json.loads(json.dumps(base))
    for seed in ("0", "7"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", _FRESH, str(tree), path,
                               str(Path(__file__).parent)], env=env, capture_output=True,
                              text=True, check=True)
        got = json.loads(done.stdout)
        diff = {p: (want.get(p), got.get(p)) for p in set(want) | set(got)
                if want.get(p) != got.get(p)}
        assert not diff, f"a fresh process (PYTHONHASHSEED={seed}) disagrees: {diff}"


def test_corpus_findings_do_not_depend_on_the_run(tmp_path):
    found = runs_agree(TREE, ["mm"], tmp_path)
    assert found["mm/b.c"] == [], "the struct types of a.c must not reach b.c"
    assert [f[1] for f in found["mm/c.c"]] == ["reclaim-under-lock"]
    fresh_processes_agree(TREE, "mm", found)


def test_rule_fixtures_do_not_depend_on_the_run(tmp_path):
    found = runs_agree(ROOT / "corpus" / "rules", [""], tmp_path)
    fresh_processes_agree(ROOT / "corpus" / "rules", "", found)


@pytest.mark.kernel
def test_mm_findings_do_not_depend_on_the_run(kernel_tree, kernel_mm_cache, tmp_path):
    if os.environ.get("RMAPLINT_SKIP_SLOW"):
        pytest.skip("RMAPLINT_SKIP_SLOW set")
    # no fresh -j 1 run of the whole of mm/ (three minutes): the one-file runs are the
    # fresh values, the -j 2 workers the many-file processes
    found = runs_agree(kernel_tree, ["mm"], tmp_path, shared_tables=True,
                       cache_dir=kernel_mm_cache, fresh_j1=False)
    assert sum(len(v) for v in found.values()) > 0
