"""Interrupt state read from a function's lock events: which held spinning locks were taken
with interrupts off, and where the function turns them back on.

The kernel names the variants of every lock API the same way (``rules/locks.toml``): an
acquire whose name ends in ``irq_off_suffixes`` (``spin_lock_irq()``, ``xa_lock_irqsave()``)
disables local interrupts; a release ending in ``irq_on_suffixes`` (``spin_unlock_irq()``)
enables them whatever they were before; one ending in ``irq_restore_suffixes``
(``*_irqrestore()``) puts back what was saved, which this function cannot know.

A lock is *taken with interrupts off* when its last acquire before a statement is named so,
or is a plain acquire made while another lock taken with interrupts off was held on every
path and nothing between turned them back on (``spin_lock_irq(&a); spin_lock(&b);
spin_unlock(&a)``: ``b`` is still held with interrupts off).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model.lockmodel import LockModel
from .events import Event, EventKind
from .lockid import LockId
from .state import State

MAX_UNDER = 2  # plain acquires followed back to the irq-off acquire they were made under


def call_name(ev: Event) -> str | None:
    """The call that made the event: the primitive, or the helper whose summary did
    (``xa_lock_irq()``, a macro over ``spin_lock_irq()``), or the called function."""
    if ev.kind == EventKind.CALL:
        return ev.call.name if ev.call is not None else None
    return ev.primitive or ev.via


def turns_on(ev: Event, model: LockModel) -> str | None:
    """The name of the call when ``ev`` enables interrupts unconditionally."""
    name = call_name(ev)
    if not name:
        return None
    if ev.kind == EventKind.RELEASE and name.endswith(model.irq_on_suffixes):
        return name
    if ev.kind == EventKind.CALL and name in model.irq_on:
        return name
    return None


def _changes(ev: Event, model: LockModel) -> bool:
    """Whether ``ev`` may leave interrupts on: it enables them, or restores a saved state."""
    if turns_on(ev, model):
        return True
    name = call_name(ev) or ""
    return ev.kind == EventKind.RELEASE and name.endswith(model.irq_restore_suffixes)


def taken_irq_off(k: LockId, before: Event, events: Sequence[Event], model: LockModel,
                  depth: int = 0) -> tuple[int, str] | None:
    """(line, how) when the lock ``k``, held at ``before``, was taken with interrupts off
    and they stayed off since; None when not, or not known (no acquire of it here)."""
    line = before.span.line
    mine = [a for a in events if a.kind == EventKind.ACQUIRE and a.lock == k
            and a.span.line < line]
    if not mine:
        return None
    last = mine[-1]
    if any(_changes(e, model) for e in events if last.span.line <= e.span.line < line
           and e is not last and e is not before):
        return None
    name = call_name(last) or "an acquire"
    at = f"by {name}() on line {last.span.line}"
    if name.endswith(model.irq_off_suffixes):
        return last.span.line, at
    if depth >= MAX_UNDER or last.via is not None:
        return None  # a helper's acquire: what it did to interrupts inside is not known
    for j, g in last.state.held():
        if not g.must or j == k or g.kind is None or not g.kind.spins:
            continue
        under = taken_irq_off(j, last, events, model, depth + 1)
        if under is not None:
            return last.span.line, f"{at}, under {j.describe()} taken {under[1]}"
    return None


def irq_events(events: Sequence[Event], model: LockModel) -> list[Event] | None:
    """The events of a function that interrupt state is read from (its acquires, releases
    and calls); None when no acquire of it turns interrupts off, so that no lock it holds
    can have been taken with them off."""
    if not any(e.kind == EventKind.ACQUIRE
               and (call_name(e) or "").endswith(model.irq_off_suffixes) for e in events):
        return None
    return [e for e in events if e.kind in (EventKind.ACQUIRE, EventKind.RELEASE,
                                            EventKind.CALL)]


def irqs_off_at(ev: Event, events: Sequence[Event] | None, model: LockModel) -> str:
    """Why interrupts are off on every path at ``ev`` ("" when that is not known): a spinning
    lock held there was taken with them off. ``events``: the function's
    :func:`irq_events`."""
    if not model.irq_off_suffixes or not events:
        return ""
    for k, f in ev.state.held():
        if not f.must or k == ev.lock or f.kind is None or not f.kind.spins:
            continue
        how = taken_irq_off(k, ev, events, model)
        if how is not None:
            return f"{k.describe()} held, taken with interrupts off {how[1]}"
    return ""


def own_irq_enable(events: Sequence[Event], model: LockModel,
                   exit_state: State | None = None) -> Event | None:
    """The function's first release that enables interrupts of a lock it took itself with
    them off (``spin_lock_irq(&x) … spin_unlock_irq(&x)``): whatever its caller had, they
    are on after it. A lock of its caller's, given back for it (asserted held or released
    before any acquire of it, or held again at the exit: dropped and retaken) is the
    caller's business, and not one."""
    for ev in events:
        if ev.kind != EventKind.RELEASE or ev.lock is None or not turns_on(ev, model):
            continue
        k = ev.lock
        acquires = [a for a in events if a.kind == EventKind.ACQUIRE and a.lock == k]
        mine = [a for a in acquires if a.span.line < ev.span.line]
        if not mine or not (call_name(mine[-1]) or "").endswith(model.irq_off_suffixes):
            continue
        f = ev.state.fact(k)  # may be forgotten since (handed to a call)
        if f is not None and f.not_held:
            continue
        takes = [a.span.line for a in acquires]
        if any(e.kind == EventKind.ASSERT and e.lock == k and e.via is None
               and not any(t < e.span.line for t in takes) for e in events):
            continue  # asserted held before it is taken: the caller's
        if any(e.kind == EventKind.RELEASE and e.lock == k
               and not any(t < e.span.line for t in takes) for e in events):
            continue  # released before it is taken: the caller's
        end = exit_state.fact(k) if exit_state is not None else None
        if end is not None and end.must:
            continue
        return ev
    return None
