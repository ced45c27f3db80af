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

Not reported either: a lock taken through a trylock helper (see ``trust``), a lock
handed to a function with no known lock effects, an exit taken on the result of a call
given the lock's object (``if (put_locked(obj)) return;``: such a call may drop the lock),
and an exit where a lock of the same field name, one of the two named through a call's
result, is released (possibly one lock under two names).

Confidence: high for the lock states (NULL-guarded locks are handled: ``if (p) lock(p) … if (p)
unlock(p)`` is balanced); paths that the analysis cannot tell are infeasible (two branches on
one unchanged flag) can still make a false report.
"""

from __future__ import annotations

from ..syntax import tree as C
from ..flow.cfg import EdgeKind
from ..locks.dataflow import State, _has_prefix
from .common import describe_lock, finding, first_acquire_line
from .trust import names_a_function, renamed_at_declaration, suspect_locks

RULE = "lock-imbalance"


def exits(fa) -> list[tuple[C.Expr | None, int, State, int]]:
    """(returned expression, line, state when leaving, block) for every way out."""
    cfg = fa.cfg
    an = fa.analysis
    out = []
    for block in cfg.blocks:
        if not any(e.kind == EdgeKind.RETURN and e.target == cfg.exit for e in block.succs):
            continue
        st = fa.result.ins[block.id]
        ret_op = None
        for op in block.ops:
            if st is None:
                break
            st = an.op(st, op, None, block.id)
            if op.kind == "return":
                ret_op = op
        if st is None:
            continue
        if ret_op is not None:
            out.append((ret_op.expr, ret_op.span.line, st, block.id))
        else:
            out.append((None, fa.function.span.end_line, st, block.id))
    return out


def check(ctx):
    if ctx.fa.function.degraded:  # parse errors: paths are missing, states unreliable
        return []
    fa = ctx.fa
    an = fa.analysis
    outs = exits(fa)
    if len(outs) < 2:
        return []
    contract = _contract_locks(fa.function, an)
    suspect = suspect_locks(ctx)
    keys = sorted({k for _, _, st, _ in outs for k, f in st.locks.items() if f.must})
    found = []
    for k in keys:
        held = [(e, ln, st.locks[k], b) for e, ln, st, b in outs
                if k in st.locks and st.locks[k].must]
        free = [(e, ln) for e, ln, st, _ in outs
                if k in st.locks and st.locks[k].not_held]
        if not free:
            continue
        fact = held[0][2]
        if k in contract or fact.cls in contract or k in suspect or _handed_over(ctx, k) \
                or names_a_function(ctx, k) or renamed_at_declaration(ctx, k):
            continue
        by_block = {b: st for _, _, st, b in outs}
        held = [h for h in held if not _decided_by_callee(ctx, k, h[3])
                and not _other_name_released(k, by_block[h[3]])]
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


def _handed_over(ctx, key: str) -> bool:
    """The lock itself is passed to a function the analysis has no lock effects for (declared
    elsewhere, e.g. one that waits and drops the page table lock): it may release it."""
    an = ctx.fa.analysis
    for ev in ctx.events:
        if ev.kind != "call" or ev.call is None:
            continue
        if not any(an.key(a, ev.state) == key for a in ev.call.args):
            continue
        summ = an.summaries.summary(ev.call.name) if ev.call.name else None
        if summ is None or not summ.has_effects:
            return True
    return False


def _other_name_released(key: str, st: State) -> bool:
    """Another lock with the same field name is released at this exit, one of the two named
    through a call's result: possibly one lock under two names (``EXT4_SB(sb)->s_fc_lock``
    and ``sbi->s_fc_lock``, ``sbi`` set from the same call), which the analysis cannot
    equate."""
    field = _field(key)
    return any(k != key and _field(k) == field and f.not_held and ("(" in k or "(" in key)
               for k, f in st.locks.items())


def _field(key: str) -> str:
    return key.replace(".", "->").rsplit("->", 1)[-1]


def _decided_by_callee(ctx, key: str, block: int) -> bool:
    """The exit is taken on the result of a call that was given the lock or the object it
    lives in (``if (put_locked(obj)) return;``): such calls often drop the lock, e.g. through
    a release callback the analysis cannot follow."""
    fa = ctx.fa
    an = fa.analysis
    cfg = fa.cfg
    for pb, edge in cfg.preds().get(block, ()):
        cond = cfg.blocks[pb].cond
        st = fa.result.ins[pb]
        if cond is None or st is None or edge.kind not in (EdgeKind.TRUE, EdgeKind.FALSE):
            continue
        for call in C.calls_in(cond):
            if ctx.model.primitive(call.name) is not None:
                continue
            for a in call.args:
                ak = an.key(a, st)
                if ak is not None and _has_prefix(key, ak):
                    return True
    return False


def _contract_locks(fn: C.Function, an) -> set[str]:
    """Keys and classes of the locks the function's annotations name."""
    out: set[str] = set()
    st = State()
    for ann in fn.annotations:
        k = an.key(ann.expr, st)
        if k is not None:
            out.add(k)
        cls = an.lock_class(ann.expr, st)
        if cls and cls != "?" and not cls.startswith("?."):
            out.add(cls)
    return out


def _finding(ctx, key, fact, ret, held_line, free_line, held, free):
    start = first_acquire_line(ctx, key, before=held_line) or \
        first_acquire_line(ctx, key, earliest=True) or ctx.fa.function.span.line
    what = f"return {C.render(ret)}" if ret is not None else "return"
    msg = (f"{describe_lock(key, fact)} is still held at the {what} on line {held_line} "
           f"but not held at the {what} on line {free_line}; the caller cannot tell which, "
           "and no __acquires/__releases/__must_hold contract names it")
    related = [(ln, "returns with the lock held") for _, ln, _, _ in held if ln != held_line]
    related += [(ln, "returns with the lock released") for _, ln in free]
    return finding(ctx, RULE, "error", start, held_line, msg, [key], related=related,
                   key=(key,))
