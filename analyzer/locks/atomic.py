"""Atomic sections with no lock object: which RCU read-side critical sections, preempt-off
and irq-off regions (``[[atomic]]`` in ``rules/locks.toml``) are open at each call.

The lock state tracks locks as held or not; these regions nest (``rcu_read_lock()`` twice
needs two unlocks) and have no object, so they are counted here instead: a forward dataflow
over the CFG whose value is, per kind of section, the least nesting depth over every path
reaching a point (a must-analysis: a section open on one path only is not open). A function
that closes more than it opened (its caller's section) stays at zero. Loops converge because
the depth only falls at a join (the minimum) and a block adds a fixed amount.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..flow.cfg import Cfg, Op, OpKind
from ..model.lockmodel import AtomicSection, LockModel
from ..syntax import tree as C

_CAP = 8  # deeper nesting than this is the same "open" for every question asked


@dataclass(frozen=True, slots=True)
class Open:
    """An atomic section open at a call: what it is and where the outermost one began."""

    section: AtomicSection
    line: int


Key = tuple[int, int, str]  # (block, line, called name)


def open_at_calls(cfg: Cfg, model: LockModel) -> dict[Key, tuple[Open, ...]]:
    """Every named call in the CFG, as (block, line of its statement, name) → the atomic
    sections open (on every path) just before it; calls with none open are left out. The
    key is what an event knows of its call: its block, its span and the primitive or
    function it called."""
    kinds = model.atomic
    if not kinds or not any(_mentions(cfg, kinds)):
        return {}
    found: dict[Key, tuple[Open, ...]] = {}
    ins = _solve(cfg, kinds, 0)
    for b, st in ins.items():
        _block(cfg, b, st, kinds, 0, found)
    return found


def closes_callers_section(cfg: Cfg, model: LockModel) -> bool:
    """Whether the function closes, on some path, an atomic section it did not open: it
    leaves its caller's RCU read-side section (to sleep, say) and usually re-enters it."""
    kinds = model.atomic
    if not kinds or not any(_mentions(cfg, kinds)):
        return False
    ins = _solve(cfg, kinds, -_CAP)
    lows: dict = {}
    for b, st in ins.items():
        if any(n < 0 for n, _ in st) or \
                any(n < 0 for n, _ in _block(cfg, b, st, kinds, -_CAP, lows)):
            return True
    return any(n < 0 for opened in lows.values() for n, _ in opened)


def _solve(cfg: Cfg, kinds, floor: int) -> dict[int, tuple[tuple[int, int], ...]]:
    """The least depth (and where the outermost section began) per kind at each reachable
    block's entry."""
    zero: tuple[tuple[int, int], ...] = tuple((0, 0) for _ in kinds)  # (depth, line opened)
    ins: dict[int, tuple[tuple[int, int], ...]] = {cfg.entry: zero}
    order = sorted(cfg.reachable())
    changed = True
    rounds = 0
    while changed and rounds < 4 * len(order) + 8:
        changed, rounds = False, rounds + 1
        for b in order:
            st = ins.get(b)
            if st is None:
                continue
            out = _block(cfg, b, st, kinds, floor, None)
            for e in cfg.blocks[b].succs:
                old = ins.get(e.target)
                new = out if old is None else _meet(old, out)
                if new != old:
                    ins[e.target] = new
                    changed = True
    return ins


def _mentions(cfg: Cfg, kinds: tuple[AtomicSection, ...]):
    names = set().union(*(k.enter | k.exit for k in kinds))
    guards = set().union(*(k.guards for k in kinds))
    for b in cfg.blocks:
        for op in b.ops:
            if op.kind in (OpKind.GUARD_ACQUIRE, OpKind.GUARD_RELEASE):
                yield op.lock_class in guards
        yield any(c.name in names for c in _calls(b))


def _calls(block):
    for op in block.ops:
        yield from C.calls_in(op.expr)
    yield from C.calls_in(block.cond)


def _meet(a, b):
    return tuple(x if x[0] <= y[0] else y for x, y in zip(a, b, strict=True))


def _block(cfg: Cfg, b: int, st, kinds, floor: int, found: dict | None):
    """The depths after block ``b`` from ``st`` before it; ``found`` (when given) gets the
    sections open before each call (with ``floor`` below zero: every depth, so that a
    caller can see one fall below zero)."""
    depth = list(st)
    block = cfg.blocks[b]

    def step(i: int, d: int, line: int) -> None:
        n, since = depth[i]
        n = max(floor, min(_CAP, n + d))
        depth[i] = (n, (since or line) if n > 0 else 0)

    def call(c: C.Call, line: int) -> None:
        key = (b, line, c.name or "")
        if found is not None and c.name and key not in found:
            if floor < 0:
                found[key] = tuple(depth)
            elif any(n for n, _ in depth):
                found[key] = tuple(Open(kinds[i], since) for i, (n, since) in enumerate(depth)
                                   if n)
        for i, k in enumerate(kinds):
            if c.name in k.enter:
                step(i, 1, line)
            elif c.name in k.exit:
                step(i, -1, line)

    def guard(op: Op, d: int) -> None:
        for i, k in enumerate(kinds):
            if op.lock_class in k.guards:
                step(i, d, op.span.line)

    for op in block.ops:
        if op.kind == OpKind.GUARD_ACQUIRE:
            guard(op, 1)
        elif op.kind == OpKind.GUARD_RELEASE:
            guard(op, -1)
        for c in C.calls_in(op.expr):
            call(c, op.span.line)
    line = block.cond_span.line if block.cond_span is not None else 0
    for c in C.calls_in(block.cond):
        call(c, line)
    return tuple(depth)
