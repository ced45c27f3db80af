"""double-lock — acquiring a lock that is already held on every path reaching the acquire.

What it does: reads the acquire events of the lock-state result (including those a helper's
summary produces) and reports an acquire (not a trylock, not sparse's ``__acquire``) of a lock
that is must-held before it. Read after read counts, for an rwsem (a writer queued between
the two readers blocks the second one: lockdep reports it as recursive locking) and for an
rwlock_t too: with queued rwlocks a reader waits behind a waiting writer outside interrupt
context, so a nested read_lock() of the same lock can deadlock.

Not reported: an acquire through a helper whose summary is inexact (``Inexact``: too many
paths to be summarised path by path, or it takes the lock on some paths only with nothing in
its result to say which). A lock handed to a function whose effects are unknown is unknown
afterwards, so
``get_user_pages(mm, …, &locked); if (!locked) mmap_read_lock(mm);`` is not a double lock.

Confidence: high; the lock state is per path and NULL-aware, and "unknown" is never taken for
"held".
"""

from __future__ import annotations

from ..findings.finding import Severity
from ..locks.events import EventKind
from ..model.enums import Mode
from .common import Rule, first_acquire_line

RULE = Rule("double-lock", {
    "held": "{lock} acquired{mode}{via} while already {how} {where}{extra}",
    "some-paths": "{lock} acquired{mode}{via} while already {how} on some paths reaching "
                  "here{extra}",
})


def check(ctx):
    if ctx.function.degraded:  # parse errors: paths are missing, states unreliable
        return []
    out = []
    seen: set[tuple] = set()
    for ev in ctx.events:
        if ev.kind != EventKind.ACQUIRE or ev.trylock or ev.lock is None or ev.fact is None \
                or ev.annotation:
            continue
        if ev.inexact:
            continue
        fact = ev.fact if ev.fact.must else _held_on_a_path(ctx, ev)
        if fact is None:
            continue
        key = (ev.span.line, ev.lock)
        if key in seen:
            continue
        seen.add(key)
        out.append(_finding(ctx, ev, fact))
    return out


def _held_on_a_path(ctx, ev):
    """The fact of a path partition on which the lock is must-held before ``ev``, while the
    joined state only says "may": a feasible path takes it twice."""
    if not ev.fact.may:
        return None
    return next((f for f in ctx.fn.facts_on_paths(ev) if f is not None and f.must), None)


def _via(ev) -> str:
    return f" (in {ev.via}())" if ev.via else ""


def _finding(ctx, ev, fact):
    prev = first_acquire_line(ctx, ev.lock, before=ev.span.line - 1)
    how = "held" if fact.mode == Mode.ANY else f"held for {fact.mode}"
    mode = f" for {ev.mode}" if ev.mode in (Mode.READ, Mode.WRITE) else ""
    extra = ""
    if ev.mode == Mode.READ and fact.only_read:
        extra = " (read after read: deadlocks if a writer queues between the two)"
    where = "on every path"
    if prev is None and ctx.fn.entry_from_callers:
        where = "by every caller of this static function"
    related = [(prev, "first acquired here")] if prev is not None else []
    return RULE.finding(ctx, "held" if ev.fact.must else "some-paths", Severity.ERROR,
                        ev.span.line, ev.span.end_line,
                        [ev.lock], related, (ev.lock,), lock=ev.lock.describe(), mode=mode,
                        via=_via(ev), how=how, where=where, extra=extra)
