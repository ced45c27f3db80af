"""reclaim-under-lock — an allocation that may enter direct reclaim while a lock that reclaim
takes (or any spinning lock) is held.

What it does: at every call, looks at each argument for a GFP flag listed in
``rules/protected.toml`` ``[alloc].reclaim`` (GFP_KERNEL, GFP_NOFS, …). An argument that also
has a ``no_reclaim`` flag (GFP_NOWAIT, GFP_ATOMIC) or masks a reclaim flag off
(``& ~__GFP_DIRECT_RECLAIM``) does not count; a ternary counts when one of its branches does.
Flags inside a nested call's arguments belong to that call, and calls listed as
``flag_readers`` (gfp_zone(), node_zonelist(): they only read the flags) never count. The
call is reported when, in the
state just before it, a lock is held (on every path, or on some path when this function takes
it) whose class has ``reclaim = true`` in
``rules/locks.toml`` (the anon_vma rwsem, i_mmap_rwsem), or whose kind is spinlock/rwlock.

Confidence: high that the lock is held (the lock state is path-exact, a release before the
call clears it); medium that the call allocates: any callee given a reclaiming GFP flag is
assumed to allocate with it.
"""

from __future__ import annotations

import re

from ..findings.finding import Severity
from ..locks.calls import lock_kind
from ..locks.events import EventKind
from ..model.enums import Mode
from ..syntax import tree as C
from .common import Rule

RULE = Rule("reclaim-under-lock", {
    "held": "{call}() with {flag} may enter direct reclaim while {held}",
})

_WORD = re.compile(r"[A-Za-z_]\w*")
_MASKED = re.compile(r"~\s*\(?\s*([A-Za-z_]\w*(?:\s*\|\s*[A-Za-z_]\w*)*)")


def check(ctx):
    if ctx.function.degraded:  # parse errors: paths are missing, states unreliable
        return []
    alloc = ctx.model.protected.alloc
    if not alloc.reclaim:
        return []
    out = []
    seen: set[tuple] = set()
    # a lock held on some paths only counts when this function takes it and did not get it
    # from its callers: "may" from the join of the callers' states is too weak
    entry = ctx.fn.entry
    taken = {ev.lock for ev in ctx.events if ev.kind == EventKind.ACQUIRE
             and not (entry is not None and (f := entry.fact(ev.lock)) is not None and f.may)}
    for ev in ctx.events:
        if ev.kind != EventKind.CALL or ev.call is None or ev.call.name in alloc.flag_readers:
            continue
        flag = None
        for a in ev.call.args:
            flag = reclaim_flag(a, alloc.reclaim, alloc.no_reclaim)
            if flag:
                break
        if flag is None:
            continue
        held = [(k, f, why) for k, f in ev.state.held()
                if (f.must or k in taken)
                and (why := _reclaim_conflict(k, f, ctx)) is not None]
        if not held:
            continue
        key = (ev.span.line, C.render(ev.call))
        if key in seen:
            continue
        seen.add(key)
        out.append(_finding(ctx, ev, flag, held))
    return out


def reclaim_flag(e: C.Expr, reclaim: frozenset[str],
                 no_reclaim: frozenset[str]) -> str | None:
    """The reclaiming flag an argument passes, or None when it cannot enter direct reclaim."""
    if isinstance(e, C.Ternary):
        return reclaim_flag(e.then, reclaim, no_reclaim) or \
            reclaim_flag(e.other, reclaim, no_reclaim)
    if isinstance(e, C.Cast):
        return reclaim_flag(e.expr, reclaim, no_reclaim)
    present: list[str] = []
    masked: set[str] = set()
    _flags(e, False, present, masked)
    if any(n in no_reclaim for n in present) or masked & reclaim:
        return None
    return next((n for n in present if n in reclaim), None)


def _flags(e: C.Expr | None, under_not: bool, present: list[str], masked: set[str]) -> None:
    """Identifiers in a flag expression, not looking into nested calls; those under ``~``
    are masked off."""
    match e:
        case None | C.Call() | C.Literal():
            return
        case C.Name(id=i):
            (masked.add(i) if under_not else present.append(i))
        case C.Unary(op="~", operand=o):
            _flags(o, True, present, masked)
        case C.Unary(operand=o) | C.Cast(expr=o):
            _flags(o, under_not, present, masked)
        case C.Binary(left=l, right=r):
            _flags(l, under_not, present, masked)
            _flags(r, under_not, present, masked)
        case C.Ternary(test=t, then=a, other=b):
            _flags(a, under_not, present, masked)
            _flags(b, under_not, present, masked)
        case C.Opaque(text=t):
            masked_text = set()
            for m in _MASKED.finditer(t):
                masked_text.update(_WORD.findall(m.group(1)))
            for w in _WORD.findall(t):
                if w in masked_text or under_not:
                    masked.add(w)
                else:
                    present.append(w)


def _reclaim_conflict(key, fact, ctx) -> str | None:
    """Why holding this lock across a reclaiming allocation is wrong, or None."""
    kind = lock_kind(key, fact, ctx.fn.naming.types)
    if kind is not None and kind.spins:
        return f"a {kind}: the allocation may sleep"
    lc = ctx.model.lock_class(key.cls)
    if lc is not None and lc.reclaim:
        return "reclaim takes this lock"
    return None


def _finding(ctx, ev, flag: str, held):
    name = ev.call.name or C.render(ev.call.func)
    parts = []
    for k, f, why in held:
        mode = f" for {f.mode}" if f.mode != Mode.ANY else ""
        parts.append(f"{k.describe()} {f.certainty}-held{mode} ({why})")
    return RULE.finding(ctx, "held", Severity.ERROR, ev.span.line, ev.span.end_line,
                        [k for k, _, _ in held], key=(name, flag, *(k for k, _, _ in held)),
                        call=name, flag=flag, held="; ".join(parts))
