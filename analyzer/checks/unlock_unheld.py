"""unlock-unheld — releasing a lock that is known not held on every path reaching the release.

What it does: reads the release events of the lock-state result (including those a helper's
summary produces) and reports a release of a lock whose state is exactly "not held" before
it. A lock whose state is unknown (as the caller left it, or after it was handed to a function
whose effects are unknown, such as one given ``&vmf->ptl`` that may take it and store it
there) never counts.

Not reported: a release through a helper summarised from its joined exit state (too many
paths: "taken and released" reads as released), and a release of a lock this function took
while it may already have been held (the analysis does not count nesting depth).

Confidence: high; "unknown" is never taken for "not held".
"""

from __future__ import annotations

from ..findings.finding import Severity
from ..locks.events import EventKind, Inexact
from .common import Rule

RULE = Rule("unlock-unheld", {
    "not-held": "{lock} released{via} but it is not held on any path reaching here",
    "some-paths": "{lock} released{via} but it is not held on some paths reaching here",
})


def check(ctx):
    if ctx.function.degraded:  # parse errors: paths are missing, states unreliable
        return []
    out = []
    seen: set[tuple] = set()
    # a lock taken while it may already be held nests: the analysis does not count depth, so
    # releases of it are not judged (rwlock_t readers, or after a reported double-lock)
    nested = {ev.lock for ev in ctx.events
              if ev.kind == EventKind.ACQUIRE and ev.fact is not None and ev.fact.may}
    for ev in ctx.events:
        if ev.kind != EventKind.RELEASE or ev.lock is None or ev.fact is None \
                or ev.annotation:
            continue
        if ev.lock in nested or Inexact.JOINED in ev.inexact:
            continue
        some = not ev.fact.not_held and ev.fact.may and ev.fact.maybe_not_held and any(
            f is not None and f.not_held for f in ctx.fn.facts_on_paths(ev))
        if not ev.fact.not_held and not some:
            continue
        key = (ev.span.line, ev.lock)
        if key in seen:
            continue
        seen.add(key)
        earlier = [e for e in ctx.events
                   if e.kind == EventKind.RELEASE and e.lock == ev.lock
                   and e.span.line < ev.span.line]
        rel = [e.span.line for e in earlier]
        related = [(max(rel), "released here before")] if rel else []
        if some:  # the path: a release before, and the loop it goes round to come here
            for lp in ctx.fn.cfg.loops:
                if any(e.block in lp.body for e in [*earlier, ev]):
                    related.append((lp.span.end_line, f"a path that released it goes round "
                                                      f"the loop of line {lp.span.line} here"))
        out.append(RULE.finding(ctx, "some-paths" if some else "not-held", Severity.ERROR,
                                ev.span.line,
                                ev.span.end_line, [ev.lock], related, (ev.lock,),
                                lock=ev.lock.describe(),
                                via=f" (in {ev.via}())" if ev.via else ""))
    return out
