"""The real-bug corpus (``benchmarks/realbugs/``): every case file is well formed, its fix is
one merged before v6.1-rc1, its text is found in the Debian tree it names, and the engine
of this checkout still does on every case what the case's ``[expect]`` table records.

* ``test_case_file_is_valid`` and ``test_case_applies_to_its_tree`` are fast: they read the
  TOML files and the tree's source, no analysis.
* ``test_outcome_matches_expect`` (``kernel`` marker) runs the harness over all cases -- its
  functions, in this process, two cases at a time -- and compares each outcome with
  ``[expect]``: a case recorded as detected and now missed is a regression; a case recorded
  as missed and now detected fails too, with "promote <id>: now detected by <rule>" (run
  ``benchmarks/realbugs.py --update-expect`` and commit the new status, as semgrep's
  ``todoruleid`` becomes ``ruleid``). About five minutes on two cores (each case's two
  states share a result cache).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
HARNESS = REPO_ROOT / "benchmarks" / "realbugs.py"


def _load_harness():
    spec = importlib.util.spec_from_file_location("rmaplint_realbugs", HARNESS)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


rb = _load_harness()
CASES = rb.load_cases()
IDS = [c.id for c in CASES]


def test_there_are_cases():
    assert len(CASES) >= 34, f"only {len(CASES)} cases in {rb.CASES_DIR}"
    assert len(set(IDS)) == len(IDS), "duplicate case ids"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_file_is_valid(case):
    """Required keys present, no unknown ones, a known class and tree, hex commit ids, a
    ``merged`` before v6.1-rc1, hunks with ``buggy`` != ``fixed``, a complete [expect]."""
    problems = rb.validate_case(case)
    assert not problems, f"{case.path.name}: " + "; ".join(problems)


def test_merged_before_v61_rc1_is_checked():
    """The cut-off itself: the validation rejects a fix first released in v6.1 or later,
    and one dated on or after v6.1-rc1 when no release is named."""
    assert rb.parse_merged("v5.19 (2022-06-03, backported to 5.18.5)") == ((5, 19), "2022-06-03")
    assert rb.parse_merged("before v6.1-rc1, date 2022-05-03") == (None, "2022-05-03")
    good = dict(CASES[0].data)
    for merged, ok in (("v6.0", True), ("v5.4-rc1", True), ("v6.1-rc1", False), ("v6.1", False),
                       ("v6.2 (2022-12-20)", False),
                       ("before v6.1-rc1, date 2022-05-03", True),
                       ("date 2022-10-20", False)):
        data = dict(good, merged=merged)
        problems = rb.validate_case(rb.Case(CASES[0].id, CASES[0].path, data))
        assert (not problems) == ok, (merged, problems)


@pytest.fixture(scope="session")
def trees(request) -> dict:
    """The Debian trees the cases name, from the conftest fixtures (extracted once; skipped
    without the packages, failed under CI=true)."""
    out = {}
    labels = {c.data.get("tree") for c in CASES}
    if "6.1" in labels:
        out["6.1"] = request.getfixturevalue("kernel_tree_61")
    if "6.12" in labels:
        out["6.12"] = request.getfixturevalue("kernel_tree")
    return out


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_applies_to_its_tree(case, trees):
    """``fixed`` occurs exactly once (hunk after hunk) in the named tree's file."""
    problems = rb.check_in_tree(case, Path(trees[case.data["tree"]]))
    assert not problems, f"{case.id}: " + "; ".join(problems)


@pytest.mark.kernel
def test_outcome_matches_expect(trees):
    jobs = max(1, min(2, os.cpu_count() or 1))
    results = rb.run_cases(CASES, trees, jobs=jobs)
    by_id = {c.id: c for c in CASES}
    failures = []
    for r in results:
        case = by_id[r.id]
        expected = case.expect.get("status")
        if r.status == "error":
            failures.append(f"{r.id}: could not be run: {r.error}")
        elif expected == "detected" and r.status == "missed":
            failures.append(f"regression {r.id}: expected detected by "
                            f"{case.expect.get('rule') or '?'}, now missed")
        elif expected == "missed" and r.status == "detected":
            failures.append(f"promote {r.id}: now detected by {r.rule} ({r.severity})")
        elif expected == "detected" and r.rule != case.expect.get("rule"):
            # still found, by another rule: worth a look, not a regression of recall
            warnings.warn(f"{r.id}: detected by {r.rule}, [expect] says "
                          f"{case.expect.get('rule')} (benchmarks/realbugs.py --update-expect)")
    detected, total, _ = rb.recall(results)
    assert not failures, (f"{len(failures)} case(s) differ from [expect] "
                          f"(recall now {detected}/{total}):\n" + "\n".join(failures))
