"""Unit-test suite reports: text (one status per suite, then what explains it) and JSON
(schema ``rmaplint-unittest/1``)."""

from __future__ import annotations

import json

from ..unittests.results import OK_STATUSES, PrepareMethod, SuiteResult, UnitStatus, UnittestRun

_PREPARED = {
    PrepareMethod.HARDLINK: "built in a temporary copy (hard links; tools/ copied)",
    PrepareMethod.COPY: "built in a temporary copy",
    PrepareMethod.WORKTREE: "built in a temporary git worktree",
    PrepareMethod.IN_PLACE: "built in place",
    PrepareMethod.NONE: "nothing built",
}


def unittest_json(run: UnittestRun) -> str:
    return json.dumps(run.to_json(), indent=2) + "\n"


def _secs(x: float | None) -> str:
    return "" if x is None else f"{x:.1f}s"


def suite_lines(r: SuiteResult, indent: str = "", width: int = 12) -> list[str]:
    """The lines for one suite: its status line, then failures, first error, log."""
    head = f"{indent}{r.suite:<{width}} {r.status:<19}"
    sub = indent + " " * (width + 1)
    out = []
    if r.status == UnitStatus.PASSED:
        counts = (f"{r.tests_run} tests run, {r.passed} passed, {r.failed} failed"
                  if r.tests_run is not None else "passed")
        times = ", ".join(f"{k} {_secs(v)}" for k, v in (("build", r.build_seconds),
                                                          ("run", r.run_seconds)) if v is not None)
        out.append(f"{head}{counts}" + (f" ({times})" if times else ""))
    elif r.status == UnitStatus.TESTS_FAILED:
        counts = (f" ({r.tests_run} tests run, {r.passed} passed, {r.failed} failed)"
                  if r.tests_run is not None else "")
        out.append(f"{head}{r.detail}{counts}")
        for f in r.failures:
            where = f"{f.location}: " if f.location else ""
            name = f"{f.test}: " if f.test else ""
            out.append(f"{sub}FAILED {name}{where}{f.message}")
    elif r.status == UnitStatus.BUILD_FAILED:
        e = r.first_error
        if e is not None:
            out.append(f"{head}{e.location + ': ' if e.location else ''}{e.message}")
        else:
            out.append(f"{head}{r.detail}")
    elif r.status == UnitStatus.MISSING_DEPENDENCY:
        e = r.first_error
        what = ((f"{e.location}: " if e.location else "") + e.message) if e else r.detail
        out.append(f"{head}{what}")
        if r.package:
            out.append(f"{sub}install it: apt-get install {r.package}")
    else:  # not-present, timed-out
        out.append(f"{head}{r.detail}")
    if r.status not in OK_STATUSES:
        if r.build_log is not None:
            out.append(f"{sub}build log: {r.build_log}")
        if r.run_log is not None:
            out.append(f"{sub}run log: {r.run_log}")
    return out


def unittest_text(run: UnittestRun) -> str:
    where = run.tree + (f" at {run.rev[:12]}" if run.rev else "")
    how = _PREPARED.get(run.prepared.method, run.prepared.method)
    if PrepareMethod(run.prepared.method).temporary:
        how += f", ready in {run.prepared.seconds:.1f}s"
    out = [f"rmaplint unittest: {where} ({how})"]
    width = max([12, *(len(r.suite) for r in run.suites)])
    for r in run.suites:
        out.extend(suite_lines(r, "  ", width))
    counts: dict[str, int] = {}
    for r in run.suites:
        counts[r.status] = counts.get(r.status, 0) + 1
    out.append("suites " + ("ok" if run.ok else "not ok") + " — "
               + "; ".join(f"{k} {v}" for k, v in counts.items()))
    return "\n".join(out) + "\n"
