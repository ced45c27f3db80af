"""History reports: per finding, when it appeared and disappeared; per function, a timeline."""

from __future__ import annotations

import json

from ..workflow.results import HistoryResult
from .lines import PLAIN, PathStyle, finding_lines


def history_json(res: HistoryResult) -> str:
    return json.dumps(res.to_json(), indent=2) + "\n"


def history_text(res: HistoryResult, paths: PathStyle = PLAIN) -> str:
    """One finding line per finding (where it was last seen), saying when it came, whether
    it is still there, was fixed, moved to another file (from → to), or could not be looked
    for since a commit that left its code unreadable (not analysed: never "fixed")."""
    subj = {r.commit: r.subject for r in res.revisions}
    out = [f"rmaplint history of {res.range}: {len(res.revisions)} commit(s), "
           f"{len(res.tracked)} finding(s) seen"]
    for t in sorted(res.tracked.values(), key=lambda t: (t.finding.path, t.finding.line)):
        f = t.finding
        intro = f"since {t.introduced[:12]} ({subj[t.introduced]})" if t.introduced \
            else "present at the start"
        moved = "".join(f", moved from {paths.show(a)} to {paths.show(b)} by {c[:12]} "
                        f"({subj[c]})" for c, a, b in t.moves)
        gone = f", fixed by {t.removed[:12]} ({subj[t.removed]})" if t.removed else \
            ", still present"
        na, since = t.not_analysed, t.not_analysed_since
        if na is not None and since is not None:
            unseen = f"not analysed after {since[:12]} ({subj[since]}; {na.why()})"
            gone = f", {unseen}" if not t.removed else \
                f", {unseen}, gone when analysed again at {t.removed[:12]} ({subj[t.removed]})"
        out.append(finding_lines(f, paths, f"in {f.function}(): ", f": {intro}{moved}{gone}")[0])
    tl = res.timeline()
    if tl:
        out.append("")
        out.append("timeline per function:")
        for (path, fn), events in sorted(tl.items()):
            steps = "  ".join(f"{c[:8]}{sign}{rule}" for c, sign, rule in events)
            out.append(f"  {paths.show(path)} {fn}(): {steps}")
    if res.not_analysed:
        out.append(f"{len(res.not_analysed)} finding(s) not analysed at the end of the range "
                   "(parse errors: neither fixed nor present)")
    analysed = sum(r.analysed for r in res.revisions)
    out.append(f"{analysed} file version(s) analysed over {len(res.revisions)} commit(s)")
    return "\n".join(out) + "\n"
