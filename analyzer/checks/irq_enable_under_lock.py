"""irq-enable-under-lock — interrupts enabled while a spinning lock taken with them off is held.

What it does: at every release named as enabling interrupts (``spin_unlock_irq()``,
``xa_unlock_irq()``: ``irq_on_suffixes`` in ``rules/locks.toml``) and every call that enables
them (``local_irq_enable()``), reports each other spinning lock held on every path that was
taken with interrupts off:

* taken in this function by an acquire named so (``spin_lock_irqsave()``,
  ``spin_lock_irq()``: ``irq_off_suffixes``), the last acquire of it before the call;
* or held as the function found it (its callers', or asserted with ``lockdep_assert_held()``)
  and of a class this file takes with interrupts off somewhere: a lock an interrupt handler
  may take.

An interrupt arriving after the release can run a handler that takes the held lock on the
same CPU: a deadlock lockdep reports as inconsistent lock state. The usual fix is the
``_irqsave``/``_irqrestore`` pair for the inner lock.

Confidence: high that the lock is held; medium that it is irq-safe when the function did not
take it itself (the class is judged by this file's acquires).
"""

from __future__ import annotations

import re

from ..findings.finding import Severity
from ..locks.events import EventKind
from .common import Rule
from .sleep_in_atomic import _spins

RULE = Rule("irq-enable-under-lock", {
    "held": "{what} enables interrupts while {lock} is held, taken with interrupts off "
            "{how}: an interrupt that takes it deadlocks this CPU",
})

_cache: tuple[object, frozenset[str]] | None = None


def check(ctx):
    if ctx.function.degraded:
        return []
    m = ctx.model
    if not m.irq_on_suffixes and not m.irq_on:
        return []
    out = []
    seen: set[int] = set()
    acquires = [ev for ev in ctx.events if ev.kind == EventKind.ACQUIRE and ev.lock is not None]
    for ev in ctx.events:
        name = _name(ev)
        if not name or ev.span.line in seen:
            continue
        if ev.kind == EventKind.RELEASE and name.endswith(m.irq_on_suffixes):
            what = f"{name}() of {ev.lock.describe()}" if ev.lock is not None else f"{name}()"
        elif ev.kind == EventKind.CALL and name in m.irq_on:
            what = f"{name}()"
        else:
            continue
        for k, f in ev.state.held():
            if not f.must or k == ev.lock or not _spins(k, f, ctx):
                continue
            if ev.lock is not None and _unversioned(k) == _unversioned(ev.lock):
                continue  # an old value of the released lock's own path: maybe the same
            how = _taken_irq_off(ctx, k, ev, acquires)
            if how is None:
                continue
            seen.add(ev.span.line)
            related = [(how[0], "taken here with interrupts off")] if how[0] else []
            out.append(RULE.finding(ctx, "held", Severity.ERROR, ev.span.line,
                                    ev.span.end_line, [k], related, (k, name), what=what,
                                    lock=k.describe(), how=how[1]))
            break
    return out


def _taken_irq_off(ctx, k, ev, acquires) -> tuple[int, str] | None:
    """(line, how) when ``k`` was taken with interrupts off; None when not, or not known."""
    mine = [a for a in acquires if a.lock == k and a.span.line < ev.span.line]
    if mine:
        last = mine[-1]
        name = _name(last)
        if name and name.endswith(ctx.model.irq_off_suffixes):
            return last.span.line, f"(by {name}() on line {last.span.line})"
        return None
    if k.cls and k.cls in _irq_classes(ctx):
        return 0, f"(as its callers hold it; this file takes {k.cls} with interrupts off)"
    return None


def _irq_classes(ctx) -> frozenset[str]:
    """The classes of the locks this file takes with interrupts off (once per file)."""
    global _cache
    if _cache is not None and _cache[0] is ctx.file:
        return _cache[1]
    out = set()
    for fn in ctx.file.functions:
        for ev in fn.events:
            if ev.kind == EventKind.ACQUIRE and ev.lock is not None and ev.lock.cls \
                    and (name := _name(ev)) and name.endswith(ctx.model.irq_off_suffixes):
                out.add(ev.lock.cls)
    _cache = (ctx.file, frozenset(out))
    return _cache[1]


def _name(ev) -> str | None:
    """The call that made the event: the primitive, or the helper whose summary did
    (``xa_lock_irq()``, a macro over ``spin_lock_irq()``), or the called function."""
    if ev.kind == EventKind.CALL:
        return ev.call.name if ev.call is not None else None
    return ev.primitive or ev.via


def _unversioned(k) -> str:
    return re.sub(r"@\d+", "", k.path.render())
