"""The lock-state dataflow: solve one function, or every function of a file.

At every operation: which locks are held, in which mode, on all paths (must) or some (may) —
see :mod:`analyzer.locks.state` for the lattice, :mod:`analyzer.locks.naming` for what a
spelling denotes, :mod:`analyzer.locks.transfer` for what an operation does. This module
composes them over the generic :func:`~analyzer.locks.solver.worklist` and freezes the result
(:class:`~analyzer.locks.result.FunctionResult`).

Entry states: a function starts with every lock unknown, except what its contracts say. A
``static`` function called in its own file starts from the join of its callers' states at the
call sites, mapped onto its parameters (locks of other objects of the caller are not the
callee's business; global locks keep their name), which settles most helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from ..flow.cfg import Cfg, EdgeKind, Op, OpKind, build_cfg
from ..model.lockmodel import LockModel
from ..syntax import tree as C
from .events import Event, EventKind
from .lockid import LockId, ObjPath
from .naming import AliasNaming, Naming, const_token
from .result import Exit, FunctionResult, OpState, event_key
from .solver import worklist
from .state import State, join
from .summary import SummaryProvider
from .transfer import Transfer
from .types import TypeInfo

# visits of one function's entry by the callers' round: a chain of static helpers settles one
# link a visit (memory_failure → try_memory_failure_hugetlb → … → action_result is five deep)
ENTRY_ROUNDS = 8
MAX_BLOCK_VISITS = 60
MAX_PARTITIONS = 8


def make_transfer(fn: C.Function, cfg: Cfg, model: LockModel, summaries: SummaryProvider,
                  types: TypeInfo, naming_cls: type[Naming] = AliasNaming) -> Transfer:
    naming = naming_cls(fn, cfg, model, types, summaries.is_function,
                        summaries.conditioned_args)
    return Transfer(naming, model, summaries)


def rpo(cfg: Cfg) -> list[int]:
    """Blocks in reverse post-order from the entry."""
    seen: set[int] = {cfg.entry}
    post: list[int] = []
    stack = [(cfg.entry, 0)]
    while stack:
        b, i = stack.pop()
        succs = cfg.blocks[b].succs
        if i < len(succs):
            stack.append((b, i + 1))
            t = succs[i].target
            if t not in seen:
                seen.add(t)
                stack.append((t, 0))
        else:
            post.append(b)
    post.reverse()
    return post


def solve_function(tr: Transfer, cfg: Cfg, entry: State | None = None,
                   from_callers: bool = False) -> FunctionResult:
    """The fixed point of one function, then one pass over it that records the states before
    every operation, the events and the exits."""
    n = len(cfg.blocks)
    ins: list[State | None] = [None] * n
    start = entry if entry is not None else tr.entry_state()
    ins[cfg.entry] = start
    guards = any(op.kind in (OpKind.GUARD_ACQUIRE, OpKind.GUARD_RELEASE)
                 for b in cfg.blocks for op in b.ops)
    if not tr.touches_locks(start, cfg.calls(), guards):
        # nothing changes a lock: the fixed point is the entry state wherever reachable
        for b in cfg.reachable():
            ins[b] = start
        return _lock_free_result(tr, cfg, tuple(ins), from_callers)

    # the states reaching a block, kept apart by the values of the tracked variables
    # (Partitions): an error path's "err = -EAGAIN" does not merge with the success path
    parts: list[Partitions] = [Partitions() for _ in range(n)]
    parts[cfg.entry] = Partitions({start.partition: start})

    def visit(bid: int):
        block = cfg.blocks[bid]
        changed = []
        for st0 in list(parts[bid].states.values()):
            for st in _run_ops(tr, block, st0):
                for e in block.succs:
                    out = tr.edge(st, block, e, None)
                    if out is not None and parts[e.target].add(out):
                        changed.append(e.target)
        return changed

    converged = worklist(rpo(cfg), [cfg.entry], visit, MAX_BLOCK_VISITS)
    ins = [p.joined() for p in parts]
    return _record(tr, cfg, tuple(ins), converged, from_callers, parts=parts)


def _run_ops(tr: Transfer, block, st: State) -> list[State]:
    """The block's operations from ``st``: the states at its end, apart where an operation
    splits them by a tracked value (:meth:`Transfer.op_each`)."""
    sts = [st]
    for op in block.ops:
        sts = [s2 for s in sts for s2 in tr.op_each(s, op, None, block.id)]
        if not sts:
            break
    return sts


class Partitions:
    """The states reaching one point, one per combination of tracked values (at most
    ``MAX_PARTITIONS``; past that they are joined into one, and the values forgotten)."""

    def __init__(self, states: dict | None = None):
        self.states: dict[frozenset, State] = states or {}

    def add(self, st: State) -> bool:
        """Join ``st`` in; whether anything changed."""
        key = st.partition
        cur = self.states.get(key)
        new = join(cur, st)
        assert new is not None  # st is a state
        if new == cur:
            return False
        self.states[key] = new
        if len(self.states) > MAX_PARTITIONS:
            # too many: first forget which locks told them apart, then the values too
            by_vals: dict[frozenset, State] = {}
            for s in self.states.values():
                k = frozenset(s.vals.items())
                by_vals[k] = join(by_vals.get(k), s)  # type: ignore[assignment]
            if len(by_vals) <= MAX_PARTITIONS:
                self.states = {s.partition: s for s in by_vals.values()}
                if len(self.states) <= MAX_PARTITIONS:
                    return True
            one = None
            for s in self.states.values():
                one = join(one, s)
            assert one is not None
            one = replace(one, vals={})
            self.states = {one.partition: one}
        return True

    def joined(self) -> State | None:
        out = None
        for s in self.states.values():
            out = join(out, s)
        return out


def _record(tr: Transfer, cfg: Cfg, ins: tuple[State | None, ...], converged: bool,
            from_callers: bool, lock_free: bool = False,
            parts: list[Partitions] | None = None) -> FunctionResult:
    """Run every block once more from its fixed-point input, keeping what happens: the
    events and the states before operations from the joined input, the exits per
    partition (each with the value it returns)."""
    events: list[Event] = []
    ops: list[OpState] = []
    exits: list[Exit] = []
    path_facts: dict[tuple, list] = {}
    for block in cfg.blocks:
        st = ins[block.id]
        ret_op: Op | None = None
        for op in block.ops:
            ops.append(OpState(op, st, block.id))
            if st is None:
                continue
            st = tr.op(st, op, events.append, block.id)
            if op.kind == OpKind.RETURN:
                ret_op = op
        if block.cond is not None and block.cond_span is not None:
            ops.append(OpState(Op(OpKind.COND, block.cond_span, expr=block.cond), st,
                               block.id))
        seen: set[tuple] = set()
        for i, e in enumerate(block.succs):
            # the condition's own events (its calls) once, with the first edge; a lock
            # event of another edge too (the acquire of `if (!trylock(x)) return;`)
            evs: list[Event] = []
            tr.edge(st, block, e, evs.append)
            for ev in evs:
                key = (ev.kind, ev.span, ev.lock, ev.via)
                if key in seen or i > 0 and ev.lock is None:
                    continue
                seen.add(key)
                events.append(ev)
        if parts is not None and len(parts[block.id].states) > 1:
            _path_facts(tr, block, parts[block.id].states.values(), path_facts)
        if st is None or not any(e.kind == EdgeKind.RETURN and e.target == cfg.exit
                                 for e in block.succs):
            continue
        line = ret_op.span.line if ret_op is not None else tr.fn.span.end_line
        value = ret_op.expr if ret_op is not None else None
        starts = list(parts[block.id].states.values()) if parts is not None else [ins[block.id]]
        for st1 in starts:
            if st1 is None:
                continue
            for st2 in _run_ops(tr, block, st1):
                exits.append(Exit(value, line, st2, block.id, _returned(value, st2)))
    return FunctionResult(tr.fn, cfg, tr.naming, ins, tuple(ops), tuple(events),
                          tuple(exits), converged, lock_free, from_callers,
                          {k: tuple(v) for k, v in path_facts.items()})


_LOCK_EVENTS = (EventKind.ACQUIRE, EventKind.RELEASE, EventKind.ASSERT)


def _path_facts(tr: Transfer, block, states, out: dict[tuple, list]) -> None:
    """Run the block once per partition reaching it, keeping the fact before each lock
    event (its edges' conditions too: ``if (!trylock(x))``)."""
    for st in states:
        evs: list[Event] = []
        cur: State | None = st
        for op in block.ops:
            if cur is None:
                break
            cur = tr.op(cur, op, evs.append, block.id)
        if cur is not None:
            for e in block.succs:
                tr.edge(cur, block, e, evs.append)
        seen: set[tuple] = set()
        for ev in evs:
            if ev.kind in _LOCK_EVENTS and ev.lock is not None:
                k = event_key(ev)
                if k not in seen:
                    seen.add(k)
                    out.setdefault(k, []).append(ev.fact)


def _returned(value: C.Expr | None, st: State) -> str | None:
    """The returned value as the path knows it: a constant's text, or a tracked variable's
    value (ZERO / NONZERO after a test)."""
    if value is None:
        return None
    tok = const_token(value)
    if tok is None and isinstance(value, C.Name):
        tok = st.vals.get(value.id)
    return tok


def _lock_free_result(tr: Transfer, cfg: Cfg, ins: tuple[State | None, ...],
                      from_callers: bool) -> FunctionResult:
    """A function that touches no lock: one state everywhere (no transfer function to run,
    so NULL tests and equalities are not recorded: no lock depends on them). Its events
    are its calls, cursor moves and returns."""
    events: list[Event] = []
    ops: list[OpState] = []
    exits: list[Exit] = []
    for block in cfg.blocks:
        st = ins[block.id]
        ret_op = None
        for op in block.ops:
            ops.append(OpState(op, st, block.id))
            if st is None:
                continue
            for c in C.calls_in(op.expr):
                events.append(Event(EventKind.CALL, op.span, st, call=c, block=block.id))
            if op.kind == OpKind.ADVANCE and op.expr is not None:
                ck = tr.naming.path(op.expr, st)
                if ck is not None:
                    events.append(Event(EventKind.ADVANCE, op.span, st, block=block.id,
                                        path=ck))
            elif op.kind == OpKind.RETURN:
                ret_op = op
                events.append(Event(EventKind.RETURN, op.span, st, block=block.id))
        if block.cond is not None:
            span = block.cond_span or C.Span(0, 0)
            if block.cond_span is not None:
                ops.append(OpState(Op(OpKind.COND, span, expr=block.cond), st, block.id))
            if st is not None:
                for c in C.calls_in(block.cond):
                    events.append(Event(EventKind.CALL, span, st, call=c, block=block.id))
        if st is not None and any(e.kind == EdgeKind.RETURN and e.target == cfg.exit
                                  for e in block.succs):
            exits.append(Exit(ret_op.expr if ret_op else None,
                              ret_op.span.line if ret_op else tr.fn.span.end_line, st,
                              block.id))
    return FunctionResult(tr.fn, cfg, tr.naming, ins, tuple(ops), tuple(events),
                          tuple(exits), True, True, from_callers)


# --------------------------------------------------------------------------- a whole file


def solve_functions(fns: list[C.Function], model: LockModel, summaries: SummaryProvider,
                    types: TypeInfo, calling: str | None = None) -> list[FunctionResult]:
    """Solve every function of a file; static functions called in the file get the join of
    their callers' states (file order, a few visits each for chains of helpers).

    ``calling``: solve only what the call sites of that name need (:func:`calling_subset`),
    the rest is left out of the result; each function solved is exactly what the whole
    file's solve gives it."""
    cfgs = [build_cfg(f) for f in fns]
    by_name: dict[str, int] = {}
    for i, f in enumerate(fns):
        by_name[f.name] = i  # a name defined twice (#if branches): the last one is called
    statics = {i for i, f in enumerate(fns) if f.is_static and by_name[f.name] == i}
    # callee index -> [(caller index, call)]
    callers: dict[int, list[tuple[int, C.Call]]] = {i: [] for i in statics}
    callees: dict[int, set[int]] = {i: set() for i in range(len(fns))}
    for i, c in enumerate(cfgs):
        for call in c.calls():
            j = by_name.get(call.name or "")
            if j is not None and j in statics and j != i:
                callers[j].append((i, call))
                callees[i].add(j)
    keep = range(len(fns)) if calling is None else calling_subset(fns, cfgs, callers, calling)
    transfers: dict[int, Transfer] = {i: make_transfer(fns[i], cfgs[i], model, summaries, types)
                                      for i in keep}
    results: dict[int, FunctionResult] = {i: solve_function(transfers[i], cfgs[i])
                                          for i in keep}
    at_calls: dict[int, dict[C.Call, list[State]]] = {}

    def states_at_calls(i: int) -> dict[C.Call, list[State]]:
        if i not in at_calls:
            found: dict[C.Call, list[State]] = {}
            for ev in results[i].events:
                if ev.kind == EventKind.CALL and ev.call is not None \
                        and by_name.get(ev.call.name or "") in statics:
                    found.setdefault(ev.call, []).append(ev.state)
            at_calls[i] = found
        return at_calls[i]

    def visit(j: int):
        entry = _entry_from_callers(j, callers[j], transfers, results, states_at_calls)
        if entry is None:
            return ()
        cur = results[j]
        if cur.entry_from_callers and cur.entry == entry:
            return ()
        results[j] = solve_function(transfers[j], cfgs[j], entry, True)
        at_calls.pop(j, None)
        return sorted(m for m in callees[j] if m in results)

    start = [j for j in sorted(statics) if callers[j] and j in results]
    worklist(list(range(len(fns))), start, visit, ENTRY_ROUNDS)
    return [results[i] for i in sorted(results)]


def calling_subset(fns: list[C.Function], cfgs: list[Cfg],
                   callers: dict[int, list[tuple[int, C.Call]]], name: str) -> set[int]:
    """The functions whose results give every call site of ``name`` in the file, and the
    entry of ``name`` itself when the file defines it: those that call it, its own
    definitions, and, a static function's entry state being the join of its callers', every
    caller of a static one among them, transitively. No function outside reaches one inside
    (the entry fixpoint only flows from callers to callees), so each is solved as in the
    whole file, visit for visit."""
    keep = {i for i, f in enumerate(fns) if f.name == name}
    keep |= {i for i, c in enumerate(cfgs)
             if any(C.callee_key(call) == name for call in c.calls())}
    todo = list(keep)
    while todo:
        j = todo.pop()
        for i, _call in callers.get(j, ()):
            if i not in keep:
                keep.add(i)
                todo.append(i)
    return keep


def _entry_from_callers(j: int, sites, transfers: Mapping[int, Transfer], results,
                        states_at_calls: Callable[[int], dict]) -> State | None:
    own = transfers[j].entry_state()
    callee = transfers[j].fn
    entry: State | None = None
    for i, call in sites:
        for st in states_at_calls(i).get(call, ()):
            entry = join(entry, map_state(st, transfers[i].naming, call, callee))
    if entry is None:
        return None
    for k, fact in own.locks.items():  # the callee's own contract wins
        entry = entry.with_lock(k, fact)
    return entry


def _address_of(a: C.Expr) -> bool:
    while isinstance(a, C.Cast):
        a = a.expr
    return isinstance(a, C.Unary) and a.op == "&"


def map_state(st: State, naming: Naming, call: C.Call, callee: C.Function) -> State:
    """Express the caller's state at a call site in the callee's parameter names."""
    prefixes: list[tuple[ObjPath, ObjPath, bool]] = []
    for p, a in zip(callee.params, call.args, strict=False):  # variadic: more args than params
        k = naming.path(a, st)
        if k is not None:
            prefixes.append((k, ObjPath(p.name), _address_of(a)))

    def map_path(k: ObjPath) -> ObjPath | None:
        best = None
        for pre, new, addr in prefixes:
            if k.has_prefix(pre) and (best is None or len(pre.steps) > len(best[0].steps)):
                best = (pre, new, addr)
        if best is not None:
            pre, new, addr = best
            rest = k.steps[len(pre.steps):]
            if addr:  # f(&x): the caller's x.f is the callee's p->f, x itself is *p
                if not rest:
                    return ObjPath(new.root, ("*",))
                if rest[0].startswith("."):
                    rest = ("->" + rest[0][1:],) + rest[1:]
                else:
                    rest = ("*",) + rest
            return ObjPath(new.root, rest)
        if naming.is_global(k.root) and not k.is_fresh and not k.call_root \
                and not any("@" in s for s in k.steps):
            return k  # a global lock keeps its name
        return None

    locks = {}
    for lk, fact in st.locks.items():
        mk = map_path(lk.path)
        if mk is not None and not st.null_rooted(lk.path):
            locks[LockId(mk, lk.cls)] = fact
    null = frozenset(m for m in (map_path(k) for k in st.null) if m)
    nonnull = frozenset(m for m in (map_path(k) for k in st.nonnull) if m)
    return State(locks, null, nonnull)
