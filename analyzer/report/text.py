"""Plain text: ``path:line: severity: rule: message`` (checkpatch/gcc style), and the explain
view. Rich colours only when writing to a terminal."""

from __future__ import annotations

from .explain import Explanation
from ..findings.finding import Finding


def finding_line(f: Finding) -> str:
    region = f"{f.line}" if f.end_line == f.line else f"{f.line}-{f.end_line}"
    just = f" [justified: {f.justification}]" if f.justification else ""
    return f"{f.path}:{region}: {f.severity}: {f.rule}: {f.message}{just}"


def check_text(run, plain: bool = True) -> str:
    out = []
    for r in run.reports:
        if r.status == "error":
            out.append(f"{r.path}: error: {r.error}")
        for f in sorted(r.findings, key=lambda f: (f.line, f.rule)):
            out.append(finding_line(f))
            for rel in f.related:
                out.append(f"  {rel.path}:{rel.line}: note: {rel.message}")
    s = run.summary()
    out.append(
        f"rmaplint: {s['files']} files ({s['files_ok']} ok, {s['files_degraded']} degraded, "
        f"{s['files_error']} error), {s['functions']} functions, "
        f"{s['degraded_functions']} degraded ({s['degraded_share'] * 100:.1f}%), "
        f"{s['findings']} findings in {s['seconds']:.1f}s"
        + (f" ({s['cache_hits']} files from cache)" if s["cache_hits"] else "")
        + (f", {s['baselined']} silenced by the baseline" if s.get("baselined") else ""))
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
