"""Plain text: gcc-style finding lines (:mod:`analyzer.report.lines`), and the explain view.
Rich colours only when writing to a terminal."""

from __future__ import annotations

from ..findings.finding import Finding
from ..locks.explain import Explanation
from ..locks.result import FileStatus
from .lines import PLAIN, PathStyle, finding_lines, terse_line


def finding_line(f: Finding, paths: PathStyle = PLAIN) -> str:
    """The finding's first line (``path:line:col: severity: message [rule-id]``)."""
    return finding_lines(f, paths)[0]


def check_terse(run, paths: PathStyle = PLAIN) -> str:
    """checkpatch's terse lines, nothing else (no summary: an empty output is a clean run)."""
    out = []
    for r in run.reports:
        if r.status == FileStatus.ERROR:
            out.append(f"{paths.show(r.path)}:1: ERROR:analysis-failed: {r.error}")
        out.extend(terse_line(f, paths) for f in sorted(r.findings,
                                                         key=lambda f: (f.line, f.rule)))
    return "".join(ln + "\n" for ln in out)


def degraded_lines(run, paths: PathStyle = PLAIN) -> list[str]:
    """``check --list-degraded``: one ``path:line: function: degraded: reason`` line per
    function parse errors degraded (at its first parse error), ``not analysed`` for one a
    parse error hid entirely, ``(file scope)`` for unreadable text outside any function."""
    out = []
    for r in run.reports:
        for d in r.degraded:
            what = "degraded" if d.analysed or not d.function else "not analysed"
            out.append(f"{paths.show(r.path)}:{d.line}: {d.function or '(file scope)'}: "
                       f"{what}: {d.reason}")
    return out


def decided_lines(run, paths: PathStyle = PLAIN) -> list[str]:
    """``check --verbose``: one ``path:line: function: decided at the callers: …`` line per
    finding the function's callers decided away ("held by all N callers")."""
    return [f"{paths.show(r.path)}:{d.line}: {d.function}: decided at the callers "
            f"[{d.rule}]: {d.text}" for r in run.reports for d in r.decided]


def check_text(run, paths: PathStyle = PLAIN, list_degraded: bool = False,
               verbose: bool = False) -> str:
    """The finding lines, files that could not be analysed first (``path:1:1: error:``),
    then the summary; ``list_degraded``: then the degraded functions (:func:`degraded_lines`);
    ``verbose``: then what the callers decided (:func:`decided_lines`)."""
    out = []
    for r in run.reports:
        if r.status == FileStatus.ERROR:
            out.append(f"{paths.show(r.path)}:1:1: error: cannot analyse the file: {r.error}")
        for f in sorted(r.findings, key=lambda f: (f.line, f.rule)):
            out.extend(finding_lines(f, paths))
    s = run.summary()
    out.append(
        f"rmaplint: {s['files']} files ({s['files_ok']} ok, {s['files_degraded']} degraded, "
        f"{s['files_error']} error), {s['functions']} functions, "
        f"{s['degraded_functions']} degraded ({s['degraded_share'] * 100:.1f}%), "
        f"{s['findings']} findings in {s['seconds']:.1f}s"
        + (f" ({s['cache_hits']} files from cache)" if s["cache_hits"] else "")
        + (f", {s['baselined']} silenced by the baseline" if s.get("baselined") else ""))
    if list_degraded:
        out.extend(degraded_lines(run, paths))
    if verbose:
        out.extend(decided_lines(run, paths))
    return "\n".join(out) + "\n"


def _held_text(ln) -> str:
    parts = []
    for h in ln.held:
        m = {"write": "W", "read": "R"}.get(h.mode, "R/W")
        cond = " if non-NULL" if h.vacuous else ""
        parts.append(f"{h.lock}:{m}/{h.certainty}{cond}")
    return ", ".join(parts)


def explain_text(ex: Explanation) -> str:
    width = max((len(_held_text(ln)) for ln in ex.lines), default=0)
    width = min(max(width, 8), 60)
    head = f"{ex.path}: {ex.function}"
    notes = []
    if ex.degraded:
        notes.append("degraded: parse errors inside, analysed as far as possible")
    if ex.entry_from_callers:
        notes.append("entry state joined from callers in this file")
    if not ex.converged:
        notes.append("did not converge")
    out = [head + (f" ({'; '.join(notes)})" if notes else ""),
           f"{'held before the line':<{width}} | line | source"]
    for ln in ex.lines:
        held = _held_text(ln) if ln.reachable else "(unreachable)"
        if not ln.has_code and ln.reachable:
            held = ""
        out.append(f"{held:<{width}} | {ln.line:4d} | {ln.text}")
    return "\n".join(out) + "\n"
