"""b4-check's output: b4's check JSON (``b4 review``) or checkpatch-style lines (``b4 prep
--check``, ``b4 am --check``), from the :class:`~analyzer.workflow.results.Verdict` of
:func:`analyzer.workflow.b4.b4_check`."""

from __future__ import annotations

import json
from dataclasses import replace

from ..findings.finding import Finding, Severity
from ..workflow.results import B4Outcome, B4Status, Verdict
from .lines import finding_lines, terse_line

TOOL = "rmaplint"


def _count(findings: list[Finding]) -> str:
    parts = []
    for sev in (Severity.ERROR, Severity.WARNING, Severity.NOTE):
        n = sum(f.severity == sev for f in findings)
        if n:
            parts.append(f"{n} new {sev}{'s' if n != 1 else ''}")
    return ", ".join(parts)


def summary(v: Verdict) -> str:
    """The one line b4 shows beside the patch."""
    if v.outcome == B4Outcome.CHANGES_NOTHING:
        return f"the patch changes nothing {v.where}: already applied?"
    if v.outcome == B4Outcome.DOES_NOT_APPLY:
        assert v.failure is not None  # a patch that does not apply has its failure
        return f"does not apply{_file_part(v)} {v.where}: {v.failure.message}"
    counted = v.counted
    if counted:
        rules = ", ".join(sorted({f.rule for f in counted}))
        text = f"{_count(counted)} ({rules})"
    elif v.files:
        n = len(v.files)
        text = f"no new lock findings in {n} C file{'s' if n != 1 else ''}"
    else:
        text = "no .c/.h file changed"
    extra = []
    if v.justified:
        extra.append(f"{len(v.justified)} justified")
    if v.fixed:
        extra.append(f"{len(v.fixed)} fixed")
    if v.not_analysed:
        extra.append(f"{len(v.not_analysed)} not analysed (parse errors)")
    if extra:
        text += "; " + ", ".join(extra)
    return f"{text} {v.where}"


def details(v: Verdict) -> str:
    """The finding lines of what the patch adds (justified ones last), then what it fixes
    as ``note: fixed:`` lines and what it leaves unreadable as ``note: not analysed after
    this patch:`` lines (never fixed); for a patch that does not apply, git's reason."""
    if v.outcome == B4Outcome.DOES_NOT_APPLY:
        assert v.failure is not None  # a patch that does not apply has its failure
        return (f"git apply --3way failed{_file_part(v)}: {v.failure.message}\n"
                "rmaplint checks a patch on the tree's HEAD (or --base REV); "
                "apply the patches it depends on first.")
    lines = [ln for f in v.counted + v.justified for ln in finding_lines(f)]
    lines += [ln for f in v.fixed
              for ln in finding_lines(replace(f, severity=Severity.NOTE), lead="fixed: ")[:1]]
    lines += [finding_lines(replace(na.finding, severity=Severity.NOTE),
                            lead="not analysed after this patch: ", suffix=f" ({na.why()})")[0]
              for na in v.not_analysed]
    return "\n".join(lines)


def _file_part(v: Verdict) -> str:
    return f" to {v.failure.file}" if v.failure is not None and v.failure.file else ""


def check_doc(v: Verdict) -> dict:
    return {"tool": TOOL, "status": v.status, "summary": summary(v), "details": details(v),
            "url": ""}


def b4_json(verdicts: list[Verdict]) -> str:
    return json.dumps([check_doc(v) for v in verdicts], indent=2) + "\n"


def terse_text(v: Verdict) -> str:
    """checkpatch-style lines of what the patch adds (empty when it adds nothing), for b4's
    ``prep``/``am`` per-patch check commands; a patch that does not apply is one ERROR."""
    if v.status == B4Status.FAIL and not v.new:
        return f"rmaplint: ERROR:does-not-apply: {summary(v)}\n"
    return "".join(terse_line(f) + "\n" for f in v.new)
