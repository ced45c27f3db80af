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
from ..locks.state import UNKNOWN
from ..syntax import tree as C
from .common import Rule, via_text

RULE = Rule("unlock-unheld", {
    "not-held": "{lock} released{via} but it is not held on any path reaching here",
    "some-paths": "{lock} released{via} but it is not held on some paths reaching here",
    "unpaired": "{lock} released{via} on a path that never took it: this function takes "
                "it itself on line {taken} (so its callers do not hold it), and a path "
                "reaches here without that acquire",
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
    own = _taken_from_entry(ctx)
    for ev in ctx.events:
        if ev.kind != EventKind.RELEASE or ev.lock is None or ev.fact is None \
                or ev.annotation:
            continue
        if ev.lock in nested or Inexact.JOINED in ev.inexact:
            continue
        some = not ev.fact.not_held and ev.fact.may and ev.fact.maybe_not_held and any(
            f is not None and f.not_held for f in ctx.fn.facts_on_paths(ev))
        if not ev.fact.not_held and not some:
            taken = own.get(ev.lock)
            if taken is not None and taken < ev.span.line and _from_entry(ctx, ev):
                key = (ev.span.line, ev.lock)
                if key not in seen:
                    seen.add(key)
                    out.append(RULE.finding(
                        ctx, "unpaired", Severity.ERROR, ev.span.line, ev.span.end_line,
                        [ev.lock], [(taken, "taken here, on the other paths")], (ev.lock,),
                        lock=ev.lock.describe(), taken=taken,
                        via=via_text(ev)))
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
                                via=via_text(ev)))
    return out


def _taken_from_entry(ctx) -> dict:
    """Locks this function takes itself, with a plain acquire that is a statement of its
    own block (run whenever the function gets that far, not chosen by a flag) and that finds
    the lock as the caller left it: the callers do not hold it (or that acquire would
    deadlock), so a release that still finds it as the caller left it has no acquire. Lock
    → the first such acquire's line."""
    top = _top_lines(ctx.function.body)
    params = {p.name for p in ctx.function.params}
    locals_ = set(ctx.fn.naming.vartypes) - params
    out: dict = {}
    forgotten = {ev.lock for ev in ctx.events if ev.kind == EventKind.FORGET}
    for ev in ctx.events:
        if ev.kind != EventKind.ACQUIRE or ev.trylock or ev.annotation or ev.lock is None \
                or ev.inexact or ev.lock in forgotten:
            continue
        p = ev.lock.path
        if p.version is not None or p.call_root or p.root in locals_:
            continue  # named through a local: the function's own object, tracked apart
        if (ev.fact is None or ev.fact.poss == UNKNOWN) and ev.span.line in top:
            out.setdefault(ev.lock, ev.span.line)
    return out


def _from_entry(ctx, ev) -> bool:
    """Some partition of the paths reaching ``ev`` finds its lock as the caller left it
    (no fact: the state never named it)."""
    return ev.fact.poss == UNKNOWN or any(
        f is None or f.poss == UNKNOWN for f in ctx.fn.facts_on_paths(ev))


def _top_lines(body: C.Compound) -> set[int]:
    """The lines of the expression statements and declarations directly in ``body``."""
    out: set[int] = set()
    for s in body.body:
        if isinstance(s, (C.ExprStmt, C.Decl)):
            out.update(range(s.span.line, s.span.end_line + 1))
    return out
