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
from dataclasses import replace

from ..findings.finding import Severity
from ..locks.calls import IrqsOff
from ..locks.events import EventKind
from ..locks.irqs import call_name, own_irq_enable, taken_irq_off, turns_on
from .common import Rule
from .sleep_in_atomic import _spins

RULE = Rule("irq-enable-under-lock", {
    "held": "{what} enables interrupts while {lock} is held, taken with interrupts off "
            "{how}: an interrupt that takes it deadlocks this CPU",
    # a claim only its callers can make: decided at them (analyzer.driver.context), kept
    # when one calls the function with interrupts off, dropped otherwise
    "enables": "{what} enables interrupts whatever its caller had",
    "caller": "{what} enables interrupts whatever its caller had, but {callers}: an "
              "interrupt that takes that lock deadlocks the CPU (the _irqsave/_irqrestore "
              "pair keeps the caller's state)",
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
    for ev in ctx.events:
        name = turns_on(ev, m)
        if not name or ev.span.line in seen:
            continue
        what = f"{name}() of {ev.lock.describe()}" if ev.lock is not None else f"{name}()"
        for k, f in ev.state.held():
            if not f.must or k == ev.lock or not _spins(k, f, ctx):
                continue
            if ev.lock is not None and _unversioned(k) == _unversioned(ev.lock):
                continue  # an old value of the released lock's own path: maybe the same
            if ev.lock is not None and f.asserted and k.cls == ev.lock.cls:
                continue  # held only as an assertion spelt it: maybe the one released
            how = _taken_irq_off(ctx, k, ev)
            if how is None:
                continue
            seen.add(ev.span.line)
            related = [(how[0], "taken here with interrupts off")] if how[0] else []
            out.append(RULE.finding(ctx, "held", Severity.ERROR, ev.span.line,
                                    ev.span.end_line, [k], related, (k, name), what=what,
                                    lock=k.describe(), how=how[1]))
            break
    own = own_irq_enable(ctx.events, m, ctx.fn.exit_state())
    if own is not None and own.span.line not in seen and own.lock is not None:
        name = call_name(own)
        f = RULE.finding(ctx, "enables", Severity.ERROR, own.span.line, own.span.end_line,
                         [own.lock], key=(own.lock, name),
                         what=f"{name}() of {own.lock.describe()}")
        out.append(replace(f, needs=IrqsOff(ctx.fn.function.name)))
    return out


def _taken_irq_off(ctx, k, ev) -> tuple[int, str] | None:
    """(line, how) when ``k`` was taken with interrupts off; None when not, or not known."""
    got = taken_irq_off(k, ev, ctx.events, ctx.model)
    if got is not None:
        return got[0], f"({got[1]})"
    if any(a.kind == EventKind.ACQUIRE and a.lock == k and a.span.line < ev.span.line
           for a in ctx.events):
        return None  # taken here, with interrupts on (or turned on since)
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
                    and (name := call_name(ev)) and name.endswith(ctx.model.irq_off_suffixes):
                out.add(ev.lock.cls)
    _cache = (ctx.file, frozenset(out))
    return _cache[1]


def _unversioned(k) -> str:
    return re.sub(r"@\d+", "", k.path.render())
