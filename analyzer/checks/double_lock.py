"""double-lock — acquiring a lock that is already held on every path reaching the acquire.

What it does: reads the acquire events of the lock-state result (including those a helper's
summary produces) and reports an acquire (not a trylock, not sparse's ``__acquire``) of a lock
that is must-held before it. Read after read counts, for an rwsem (a writer queued between
the two readers blocks the second one: lockdep reports it as recursive locking) and for an
rwlock_t too: with queued rwlocks a reader waits behind a waiting writer outside interrupt
context, so a nested read_lock() of the same lock can deadlock.

Kind ``callee``: a call, with a lock held on every path, of a function that takes the lock
again down its call chain and drops it before returning (no net effect: no summary says it),
found by :mod:`analyzer.locks.retakes` in the callees' bodies across the tree.

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
from ..locks.retakes import rebase
from ..locks.textchains import render
from ..model.enums import Mode
from ..syntax import tree as C
from .common import Rule, first_acquire_line, via_text

RULE = Rule("double-lock", {
    "held": "{lock} acquired{mode}{via} while already {how} {where}{extra}",
    "some-paths": "{lock} acquired{mode}{via} while already {how} on some paths reaching "
                  "here{extra}",
    "callee": "{lock} acquired{mode} inside {callee}() while already {how} {where}{extra}: "
              "{chain}",
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
    out.extend(_through_callees(ctx, {line for line, _ in seen}))
    return out


def _through_callees(ctx, reported: set[int]):
    """A call, with a lock held on every path, of a function that takes that lock again
    down its call chain (and gives it back: no summary effect says so)."""
    retakes = ctx.file.retakes
    if retakes is None:
        return []
    out = []
    for ev in ctx.events:
        if ev.kind != EventKind.CALL or ev.call is None or not ev.call.name \
                or ev.span.line in reported or ev.call.name == ctx.function.name:
            continue
        held = [(k, f) for k, f in ev.state.held() if f.must]
        if not held or ctx.model.primitive(ev.call.name) is not None:
            continue
        for r in retakes.of_call(ev.call.name, ctx.path):
            found = _held_as(ctx, ev, r, held)
            if found is None:
                continue
            k, fact = found
            out.append(_callee_finding(ctx, ev, k, fact, r))
            reported.add(ev.span.line)
            break
    return out


def _held_as(ctx, ev, r, held):
    """The held lock the callee's acquire ``r`` names at this call, if any."""
    if r.param is None:
        want = r.lock
    else:
        if r.param >= len(ev.call.args):
            return None
        arg = ev.call.args[r.param]
        ap = ctx.fn.naming.path(arg, ev.state)
        if ap is None or ap.version is not None:
            return None
        text = ap.render()
        if isinstance(arg, C.Unary) and arg.op == "&":
            text = "&" + text
        mine = rebase(r.lock, r.root, text)
        if mine is None:
            return None
        want = mine
    for k, f in held:
        if k.path.version is None and k.path.render() == want:
            return k, f
    return None


def _callee_finding(ctx, ev, k, fact, r):
    prev, related, how, mode, extra, where = _words(ctx, k, ev, fact, r.mode, "here")
    return RULE.finding(ctx, "callee", Severity.ERROR, ev.span.line, ev.span.end_line,
                        [k], related, (k, ev.call.name), lock=k.describe(), mode=mode,
                        callee=ev.call.name, how=how, where=where, extra=extra,
                        chain=render(r.steps))


def _held_on_a_path(ctx, ev):
    """The fact of a path partition on which the lock is must-held before ``ev``, while the
    joined state only says "may": a feasible path takes it twice."""
    if not ev.fact.may:
        return None
    return next((f for f in ctx.fn.facts_on_paths(ev) if f is not None and f.must), None)


def _words(ctx, lock, ev, fact, acq_mode, where: str):
    """The first acquire's line and the message's words for a second acquire of ``lock``
    in mode ``acq_mode`` at ``ev``, held as ``fact``."""
    prev = first_acquire_line(ctx, lock, before=ev.span.line - 1)
    how = "held" if fact.mode == Mode.ANY else f"held for {fact.mode}"
    mode = f" for {acq_mode}" if acq_mode in (Mode.READ, Mode.WRITE) else ""
    extra = ""
    if acq_mode == Mode.READ and fact.only_read:
        extra = " (read after read: deadlocks if a writer queues between the two)"
    if prev is None and ctx.fn.entry_from_callers:
        where = "by every caller of this static function"
    related = [(prev, "first acquired here")] if prev is not None else []
    return prev, related, how, mode, extra, where


def _finding(ctx, ev, fact):
    prev, related, how, mode, extra, where = _words(ctx, ev.lock, ev, fact, ev.mode,
                                                    "on every path")
    return RULE.finding(ctx, "held" if ev.fact.must else "some-paths", Severity.ERROR,
                        ev.span.line, ev.span.end_line,
                        [ev.lock], related, (ev.lock,), lock=ev.lock.describe(), mode=mode,
                        via=via_text(ev), how=how, where=where, extra=extra)
