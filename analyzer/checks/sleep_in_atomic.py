"""sleep-in-atomic — a call that may sleep while a spinning lock (spinlock, rwlock) is held, or
inside an atomic section with no lock object (an RCU read-side critical section, preemption,
interrupts or bottom halves disabled: ``[[atomic]]`` in ``rules/locks.toml``).

What it does: at every call and every acquire, with a spinlock or an rwlock held before it on
every path, or an atomic section open on every path (:mod:`analyzer.locks.atomic` counts
their nesting), reports

* an acquire of a lock that sleeps (a mutex, an rwsem, a folio lock) that is not a trylock
  (killable and interruptible acquires sleep too);
* a call of a function listed as ``sleepers`` in ``rules/locks.toml`` (``might_sleep()``,
  ``cond_resched()``, ``msleep()``, ``vfree()``, ``synchronize_rcu()``, …);
* a call of a function of this file that may sleep: one whose body does either of the above,
  or calls such a function of the file, and releases no spinning lock (a helper that drops
  the caller's spinlock around its sleep is the usual, correct shape, as is one that closes
  more atomic sections than it opens);
* a call of any other function that may sleep down the call chain, across the tree
  (:mod:`analyzer.locks.sleeps`), with the chain as the message.

A static function that sleeps itself where nothing of its own makes the context atomic (a
call or an acquire above, with no spinning lock held on any path and no section open, in a
function that gives back no spinning lock of its callers') is judged at its callers: those
of its file, up through static helpers, and those that call it through a member of an
operations table its file stores it in (:mod:`analyzer.driver.context`). A caller that
calls it with a spinning lock held or inside an atomic section makes it ``caller`` (error,
at the sleep, naming the chain: the fix is often in the function that sleeps); no such
caller, no finding. A function other files call by name is judged where they call it (the
chain above), not here: its callers are the whole tree's.

An allocation at the call itself that may sleep in direct reclaim is reclaim-under-lock's.
Not judged: a sleeping acquire read from the summary of a helper with too many paths to be
summarised path by path (``Inexact.JOINED``): its joined exit state cannot say whether the
helper gave the spinning lock back before it took the sleeping one (``hugetlb_wp()`` drops
the PTL, then retakes its mutex); the call chain read from its body still counts.

Confidence: high that the lock is held and spins; high that the listed calls and sleeping
locks sleep; a helper of the file is judged on its whole body, so one that sleeps only on a
path its caller never takes reads as sleeping.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..findings.finding import Severity
from ..locks.atomic import closes_callers_section, open_at_calls
from ..locks.calls import Sleeps, lock_kind
from ..locks.events import EventKind, Inexact
from ..locks.textchains import render
from ..model.enums import LockKind
from .common import Rule, via_text

RULE = Rule("sleep-in-atomic", {
    "held": "{what} may sleep while {held}",
    "chain": "{what} may sleep while {held}: {chain}",
    "atomic": "{what} may sleep in {section} (entered on line {since}): atomic context",
    "atomic-chain": "{what} may sleep in {section} (entered on line {since}): atomic context: "
                    "{chain}",
    # a claim only its callers can make: decided at them (analyzer.driver.context), kept
    # only when one calls it in atomic context
    "sleeps": "{what} may sleep",
    "caller": "{what} may sleep, but {callers}: atomic context",
})

_cache: tuple[object, dict[str, str], set[str]] | None = None


def check(ctx):
    if ctx.function.degraded:  # parse errors: paths are missing, states unreliable
        return []
    sleepy, releases = _sleeping_functions(ctx)
    out = []
    seen: set[int] = set()
    for ev in ctx.events:
        if ev.span.line in seen:
            continue
        got = _what_sleeps(ev, ctx, sleepy)
        if got is None:
            continue
        what, chain = got
        held = [(k, f) for k, f in ev.state.held()
                if f.must and k != ev.lock and _spins(k, f, ctx)]
        if not held:
            continue
        seen.add(ev.span.line)
        text = "; ".join(f"{k.describe()} is {f.certainty}-held (a "
                         f"{_kind(k, f, ctx)}: atomic context)" for k, f in held)
        locks = [k for k, _ in held]
        key = (what, *locks)
        out.append(RULE.finding(ctx, "held" if chain is None else "chain", Severity.ERROR,
                                ev.span.line, ev.span.end_line, locks, key=key, what=what,
                                held=text, **_chain_arg(chain)))
    sections = open_at_calls(ctx.fn.cfg, ctx.model)
    out.extend(_in_sections(ctx, sleepy, seen, sections))
    if not out and ctx.function.name not in releases and ctx.function.is_static:
        claim = _claim(ctx, sections)
        if claim is not None:
            out.append(claim)
    return out


def _claim(ctx, sections):
    """The function's first sleep in a context nothing of its own makes atomic (no spinning
    lock held on any path, no section open), as a claim its callers decide; None when
    there is none."""
    for ev in ctx.events:
        if ev.kind not in (EventKind.CALL, EventKind.ACQUIRE):
            continue
        # a helper of the file that sleeps makes its own claim, followed up through here
        what = _sleeps(ev, ctx, {})
        if what is None or any(_spins(k, f, ctx) for k, f in ev.state.held()):
            continue
        if sections.get((ev.block, ev.span.line, _called(ev))):
            continue
        f = RULE.finding(ctx, "sleeps", Severity.ERROR, ev.span.line, ev.span.end_line, [],
                         key=(what, "callers"), what=what)
        return replace(f, needs=Sleeps(ctx.function.name))
    return None


def _called(ev) -> str:
    """What an event calls, as :func:`~analyzer.locks.atomic.open_at_calls` keys it."""
    name = ev.call.name if ev.kind == EventKind.CALL and ev.call is not None \
        else ev.primitive or ev.via
    return name or ""


def _in_sections(ctx, sleepy: dict[str, str], seen: set[int], sections) -> list:
    """The sleeps inside atomic sections with no lock object (lines not reported already);
    ``sections``: the function's :func:`~analyzer.locks.atomic.open_at_calls`."""
    if not sections:
        return []
    out = []
    for ev in ctx.events:
        if ev.span.line in seen or ev.kind not in (EventKind.CALL, EventKind.ACQUIRE):
            continue
        opened = sections.get((ev.block, ev.span.line, _called(ev)))
        if not opened:
            continue
        got = _what_sleeps(ev, ctx, sleepy, atomic=True)
        if got is None:
            continue
        what, chain = got
        seen.add(ev.span.line)
        first = min(opened, key=lambda o: o.line)
        section = " and ".join(o.section.what for o in opened)
        related = [(o.line, f"{o.section.what} from here") for o in opened if o.line]
        locks = [o.section.what for o in opened]
        key = (what, *locks)
        out.append(RULE.finding(ctx, "atomic" if chain is None else "atomic-chain",
                                Severity.ERROR, ev.span.line, ev.span.end_line, locks,
                                related, key, what=what, section=section, since=first.line,
                                **_chain_arg(chain)))
    return out


def _what_sleeps(ev, ctx, sleepy: dict[str, str], atomic: bool = False):
    """(what sleeps, as the message names it; the chain down the tree, or None when the
    sleep is at the event itself), or None when nothing is known to sleep there."""
    what = _sleeps(ev, ctx, sleepy)
    if what is not None:
        return what, None
    chain = _chain(ev, ctx, sleepy, atomic)
    return (f"{ev.call.name}()", chain) if chain is not None else None


def _chain_arg(chain) -> dict[str, Any]:
    """The message's ``chain`` argument, for the kinds that have one."""
    return {"chain": render(chain)} if chain is not None else {}


def _chain(ev, ctx, sleepy: dict[str, str], atomic: bool = False):
    """The call chain down the tree to a sleep, for a call whose callee is not judged from
    this file's events: a function of another file (or this file's, calling into one).
    Asked only under a spinning lock, or (``atomic``) inside an atomic section."""
    if ev.kind != EventKind.CALL or ev.call is None or not ev.call.name:
        return None
    name = ev.call.name
    chains = ctx.file.sleeps
    if chains is None or name == ctx.function.name or name in sleepy \
            or name in ctx.model.sleepers or ctx.model.primitive(name) is not None:
        return None
    if not atomic and not any(f.must and _spins(k, f, ctx) for k, f in ev.state.held()):
        return None  # only asked where it matters: the chain reads other files
    return chains.chain(name, ctx.path)


def _sleeps(ev, ctx, sleepy: dict[str, str]) -> str | None:
    """What sleeps at this event, as the message names it; None when nothing does."""
    if ev.kind == EventKind.ACQUIRE and ev.lock is not None and not ev.trylock \
            and not ev.annotation and ev.lock_kind is not None and ev.lock_kind.sleeps \
            and Inexact.JOINED not in ev.inexact:
        via = via_text(ev)
        return f"acquiring {ev.lock.describe()}, a {ev.lock_kind}{via},"
    if ev.kind == EventKind.CALL and ev.call is not None and ev.call.name:
        name = ev.call.name
        if name in ctx.model.sleepers:
            return f"{name}()"
        if name in sleepy and name != ctx.function.name:
            return f"{name}() ({sleepy[name]})"
    return None


def _spins(k, f, ctx) -> bool:
    kind = _kind(k, f, ctx)
    return kind is not None and kind.spins


def _kind(k, f, ctx) -> LockKind | None:
    return lock_kind(k, f, ctx.fn.naming.types)


def _sleeping_functions(ctx) -> tuple[dict[str, str], set[str]]:
    """The functions of this file that may sleep → why, and those that give back a spinning
    lock or an atomic section of their callers' (computed once per file)."""
    global _cache
    if _cache is not None and _cache[0] is ctx.file:
        return _cache[1], _cache[2]
    model = ctx.model
    direct: dict[str, str] = {}
    calls: dict[str, set[str]] = {}
    releases: set[str] = set()
    for fn in ctx.file.functions:
        name = fn.function.name
        calls[name] = set()
        if closes_callers_section(fn.cfg, model):
            releases.add(name)
        for ev in fn.events:
            if ev.kind == EventKind.RELEASE and ev.lock_kind is not None \
                    and ev.lock_kind.spins:
                releases.add(name)
            if ev.kind == EventKind.ACQUIRE and not ev.trylock and not ev.annotation \
                    and ev.lock_kind is not None and ev.lock_kind.sleeps:
                direct.setdefault(name, f"it takes a {ev.lock_kind} on line {ev.span.line}")
            if ev.kind == EventKind.CALL and ev.call is not None and ev.call.name:
                if ev.call.name in model.sleepers:
                    direct.setdefault(name, f"it calls {ev.call.name}() on line "
                                            f"{ev.span.line}")
                else:
                    calls[name].add(ev.call.name)
    sleepy = {n: why for n, why in direct.items() if n not in releases}
    changed = True
    while changed:
        changed = False
        for n, callees in calls.items():
            if n in sleepy or n in releases:
                continue
            for c in sorted(callees):
                if c in sleepy:
                    sleepy[n] = f"it calls {c}(), which may sleep"
                    changed = True
                    break
    _cache = (ctx.file, sleepy, releases)
    return sleepy, releases
