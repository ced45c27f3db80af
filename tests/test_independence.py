"""A file's findings never depend on what else the run analysed.

The same blob must get the same findings in ``check FILE``, ``check DIR -j 1``, ``check DIR
-j 2`` and from a warm cache — and so in review, the hooks and b4-check, which all analyse
files the same way. Compared by (fingerprint, rule, kind, line, message), per file.

The shape that once broke this is ``corpus/independence``: ``mm/b.c`` locks through struct
types defined only in ``mm/a.c`` (see its README).
"""

from __future__ import annotations

import os
import sys
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


def one_file_runs(tree: Path, files: list[str], shared: Project | None = None,
                  callers_cache: Path | None = None):
    """Every file checked by a checker of its own (a one-file ``rmaplint check``), its
    findings then decided at its callers as ``check`` does. With ``shared``, its pure tree
    tables (iterators, definitions index) are reused, as a one-file run would compute
    exactly the same ones; the callers' files are read through one checker whose cache
    (``callers_cache``) holds their content-addressed results."""
    model = load()
    callers = Checker(TreeSource(tree), model, Cache(callers_cache, salt=model.digest))
    if shared is not None:
        callers.project.share_tree_tables(shared)
    out = []
    for path in files:
        checker = Checker(TreeSource(tree), model, Cache(None))
        if shared is not None:
            checker.project.share_tree_tables(shared)
        out.append(decide_at_callers([checker.check_file(path)], callers)[0])
    return signature(out)


def runs_agree(tree: Path, paths: list[str], tmp_path: Path, shared_tables: bool = False):
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 6000))
    spec = SourceSpec(str(tree), None, None, None, None)
    j1 = check_paths(spec, paths, jobs=1)
    files = [r.path for r in j1.reports]
    shared = None
    if shared_tables:
        shared = Project(TreeSource(tree), load())
    single = one_file_runs(tree, files, shared, tmp_path / "callers")
    j2 = check_paths(spec, paths, jobs=2)
    cached = SourceSpec(str(tree), None, None, None, str(tmp_path / "cache"))
    cold = check_paths(cached, paths, jobs=2)
    warm = check_paths(cached, paths, jobs=1)
    assert warm.cache_hits == len(files)
    base = signature(j1.reports)
    for name, other in (("one-file runs", single), ("-j 2", signature(j2.reports)),
                        ("cold cache", signature(cold.reports)),
                        ("warm cache", signature(warm.reports))):
        diff = {p: (base.get(p), other.get(p)) for p in set(base) | set(other)
                if base.get(p) != other.get(p)}
        assert not diff, f"{name} disagree with -j 1: {diff}"
    return base


def test_corpus_findings_do_not_depend_on_the_run(tmp_path):
    found = runs_agree(TREE, ["mm"], tmp_path)
    assert found["mm/b.c"] == [], "the struct types of a.c must not reach b.c"
    assert [f[1] for f in found["mm/c.c"]] == ["reclaim-under-lock"]


def test_rule_fixtures_do_not_depend_on_the_run(tmp_path):
    runs_agree(ROOT / "corpus" / "rules", [""], tmp_path)


@pytest.mark.kernel
def test_mm_findings_do_not_depend_on_the_run(kernel_tree, tmp_path):
    if os.environ.get("RMAPLINT_SKIP_SLOW"):
        pytest.skip("RMAPLINT_SKIP_SLOW set")
    found = runs_agree(kernel_tree, ["mm"], tmp_path, shared_tables=True)
    assert sum(len(v) for v in found.values()) > 0
