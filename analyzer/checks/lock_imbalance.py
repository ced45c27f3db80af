"""lock-imbalance — a function returns with a lock held on some paths and not held on others,
and nothing tells its callers which.

What it does: computes the lock state at every exit (after the return value is evaluated and
after the scope guards the return leaves are released). A lock that is must-held at one exit
and known not held at another is reported when the two exits cannot be told apart by the
caller: both return nothing (void, or falling off the end) or both return the same constant
(``return 0``; a variable may carry the lock state in its value).
A function whose returns differ (``return 0`` locked, ``return -EBUSY`` unlocked; the locked
object or NULL) has a conditional-lock contract and is not reported, nor is a lock named by
an ``__acquires``/``__releases``/``__must_hold`` annotation. The region runs from the acquire
of the lock to the return that leaves it held.

Not reported either: a lock taken through a helper that takes locks conditionally (its
summary says so: the failure path may be out of sight), and an exit where a lock of the same
field name, one of the two named through a call's result, is released (possibly one lock under
two names). A lock handed to a function whose effects are unknown, or whose owning object is
(``if (put_locked(obj)) return;``), is *unknown* after that call — neither held nor not held —
so such exits never count.

Confidence: high for the lock states (NULL-guarded locks are handled: ``if (p) lock(p) … if (p)
unlock(p)`` is balanced); paths that the analysis cannot tell are infeasible (two branches on
one unchanged flag) can still make a false report.
"""

from __future__ import annotations

from ..findings.finding import Severity
from ..locks.lockid import LockId
from ..locks.state import State
from ..syntax import tree as C
from .common import Rule, first_acquire_line, suspect_locks

RULE = Rule("lock-imbalance", {
    "leaked": "{lock} is still held at the {what} on line {held_line} but not held at the "
              "{what} on line {free_line}; the caller cannot tell which, and no "
              "__acquires/__releases/__must_hold contract names it",
})


def check(ctx):
    if ctx.function.degraded:  # parse errors: paths are missing, states unreliable
        return []
    outs = ctx.fn.exits
    if len(outs) < 2:
        return []
    contract = _contract_locks(ctx)
    suspect = suspect_locks(ctx)
    keys = sorted({k for x in outs for k, f in x.state.locks.items() if f.must},
                  key=lambda k: k.path)
    found = []
    for k in keys:
        held = [(x.value, x.line, x.state.locks[k], x.block) for x in outs
                if k in x.state.locks and x.state.locks[k].must]
        free = [(x.value, x.line) for x in outs
                if k in x.state.locks and x.state.locks[k].not_held]
        if not free:
            continue
        fact = held[0][2]
        if k in contract or (k.cls is not None and k.cls in contract) or k in suspect:
            continue
        by_block = {x.block: x.state for x in outs}
        held = [h for h in held if not _other_name_released(k, by_block[h[3]])]
        pair = _indistinguishable(held, free)
        if pair is None:
            continue
        (ret, held_line, fact), free_line = pair
        found.append(_finding(ctx, k, fact, ret, held_line, free_line, held, free))
    return found


def _indistinguishable(held, free):
    """A held exit and a free exit that return nothing, or the same constant."""
    for e, ln, fact, _ in sorted(held, key=lambda x: x[1]):
        if e is not None and not _constant(e):
            continue
        text = C.render(e) if e is not None else None
        for e2, ln2 in sorted(free, key=lambda x: x[1]):
            if (C.render(e2) if e2 is not None else None) == text:
                return (e, ln, fact), ln2
    return None


def _constant(e: C.Expr) -> bool:
    """A value that cannot differ between two returns: a literal or a constant macro
    (``0``, ``NULL``, ``-EAGAIN``, ``true``). A variable may carry the lock state."""
    match e:
        case C.Literal():
            return True
        case C.Name(id=i):
            return i in ("NULL", "true", "false") or i.isupper()
        case C.Unary(op=("-" | "!" | "~"), operand=o) | C.Cast(expr=o):
            return _constant(o)
    return False


def _other_name_released(key: LockId, st: State) -> bool:
    """Another lock with the same field name is released at this exit, one of the two named
    through a call's result: possibly one lock under two names (``EXT4_SB(sb)->s_fc_lock``
    and ``sbi->s_fc_lock``, ``sbi`` set from the same call), which the analysis cannot
    equate."""
    field = key.path.field
    return any(k != key and k.path.field == field and f.not_held
               and (k.path.call_root or key.path.call_root)
               for k, f in st.locks.items())


def _contract_locks(ctx) -> set[object]:
    """Locks and classes the function's annotations name."""
    out: set[object] = set()
    st = State()
    nm = ctx.fn.naming
    for ann in ctx.function.annotations:
        k = nm.lock(ann.expr, st)
        if k is not None:
            out.add(k)
        cls = nm.lock_class(ann.expr)
        if cls:
            out.add(cls)
    return out


def _finding(ctx, key, fact, ret, held_line, free_line, held, free):
    start = first_acquire_line(ctx, key, before=held_line) or \
        first_acquire_line(ctx, key, earliest=True) or ctx.function.span.line
    what = f"return {C.render(ret)}" if ret is not None else "return"
    related = [(ln, "returns with the lock held") for _, ln, _, _ in held if ln != held_line]
    related += [(ln, "returns with the lock released") for _, ln in free]
    return RULE.finding(ctx, "leaked", Severity.ERROR, start, held_line, [key], related,
                        (key,), lock=key.describe(), what=what, held_line=held_line,
                        free_line=free_line)
