"""Function summaries: what a call does to locks, derived from the callee's own body.

A summary is a set of *cases*, one per path through the callee (``lock_anon_vma_root`` has
three: switch roots, first lock, same root). Each case lists the net lock effects in terms of
the parameters and the returned object, the returned value's NULL-ness, and the conditions on
the arguments under which the path runs. Callers skip the cases their own facts exclude.

Bodies come from the file being analysed (its static helpers), the tree's headers (static
inline wrappers such as ``anon_vma_lock_write``) and other files of the tree; ``rules/``
wrappers are the fallback when the tree has no body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Callable

from ..syntax import tree as C
from ..flow.cfg import Cfg, EdgeKind, build_cfg
from ..frontend.treesitter import parse_expression
from ..model.lockmodel import LockModel, Wrapper
from .dataflow import RET, Analysis, Effect, Event, State, Summary, SumCase, TypeInfo, _has_prefix, _strip

MAX_PATHS = 48
MAX_STEPS = 2000  # path enumeration gives up (and joins instead) past this many block visits
MAX_VISITS = 2
MAX_DEPTH = 8


@dataclass
class FunctionIndex:
    """Where to find a function body by name, nearest first."""

    lookups: list[Callable[[str], C.Function | None]] = field(default_factory=list)
    # lookups that read other files of the tree: used for calls made by the analysed file's
    # own functions, not for the helpers' helpers (each would parse another whole file)
    far: list[Callable[[str], C.Function | None]] = field(default_factory=list)
    _memo: dict[tuple[str, bool], C.Function | None] = field(default_factory=dict)

    def find(self, name: str, far: bool = True) -> C.Function | None:
        key = (name, far)
        if key in self._memo:
            return self._memo[key]
        found = None
        for look in self.lookups + (self.far if far else []):
            found = look(name)
            if found is not None:
                break
        self._memo[key] = found
        return found


class Summaries:
    def __init__(self, model: LockModel, index: FunctionIndex, types: TypeInfo):
        self.model = model
        self.index = index
        self.types = types
        self.memo: dict[tuple[str, bool], Summary | None] = {}
        self.active: list[str] = []
        self.effects_memo: dict[str, bool] = {}

    # ------------------------------------------------------------ provider API
    def summary(self, name: str) -> Summary | None:
        far = not self.active  # other files only for the analysed file's own calls
        key = (name, far)
        if key in self.memo:
            return self.memo[key]
        if not far and (name, True) in self.memo:
            return self.memo[(name, True)]  # a fuller answer is already known
        if name in self.active or len(self.active) > MAX_DEPTH:
            return None  # recursion: no effects assumed while in progress
        fn = self.index.find(name, far=far)
        result: Summary | None = None
        if fn is not None and self._may_lock(fn, 0):
            self.active.append(name)
            try:
                result = self.from_body(fn)
            finally:
                self.active.pop()
        else:
            # no body, or a body whose locking happens out of sight (in a file we do not
            # read): the rules/ wrapper, when there is one, says what it does
            w = self.model.wrappers.get(name)
            if w is not None:
                result = from_wrapper(w)
        self.memo[key] = result
        return result

    def _may_lock(self, fn: C.Function, depth: int) -> bool:
        """Cheap pre-filter: does the body call anything that touches locks?"""
        if fn.name in self.effects_memo:
            return self.effects_memo[fn.name]
        if fn.annotations:
            self.effects_memo[fn.name] = True
            return True
        self.effects_memo[fn.name] = False  # recursion guard
        found = False
        for name in _called_names(fn.body):
            if name in self.model.primitives or name in self.model.wrappers \
                    or name in ("guard", "scoped_guard"):
                found = True
                break
            if depth < MAX_DEPTH:
                callee = self.index.find(name, far=False)
                if callee is not None and callee is not fn and self._may_lock(callee, depth + 1):
                    found = True
                    break
        self.effects_memo[fn.name] = found
        return found

    # ------------------------------------------------------------ from a body
    def from_body(self, fn: C.Function) -> Summary:
        cfg = build_cfg(fn)
        an = Analysis(fn, cfg, self.model, self, self.types, mode="path")
        params = tuple(p.name for p in fn.params)
        paths = _enumerate(an, cfg)
        cases: list[SumCase] = []
        if paths is None:
            cases = [self._joined_case(an, params)]
        else:
            for st, log, ret in paths:
                for case in self._cases(an, st, log, ret, params):
                    if case not in cases:
                        cases.append(case)
        contract = tuple(f"{a.kind} {C.render(a.expr)}" for a in fn.annotations)
        return Summary(fn.name, params, tuple(cases), "body", contract)

    def _cases(self, an: Analysis, st: State, log: list[Event], ret: C.Expr | None,
               params) -> list[SumCase]:
        outs: list[tuple[State, list[Event], bool | None, C.Expr | None]] = []
        if ret is not None and _decided_by_try(an, ret):
            # a returned call decides the result: split on its outcome (trylock wrappers)
            span = C.Span(0, 0)
            for truth in (True, False):
                ev: list[Event] = []
                s2 = an.refine(st, ret, truth, span, ev.append)
                if s2 is not None:
                    outs.append((s2, log + ev, truth, None))
            if len(outs) == 2 and _net(outs[0][1]) == _net(outs[1][1]):
                outs = [(outs[0][0], outs[0][1], None, None)]
        else:
            outs.append((st, log, None, ret))
        cases = []
        for s, events, truth, r in outs:
            rexpr = an.canon(r, s) if r is not None else None
            if truth is None and r is not None:
                truth = _truth_of(r, rexpr, s, an)
            cases.append(self._make_case(an, s, events, rexpr, truth, params))
        return cases

    def _make_case(self, an, st: State, events, rexpr, truth, params) -> SumCase:
        events = _rename_fresh(events, st)
        allowed = set(params) | {RET}
        locals_ = set(an.vartypes) - set(params)
        ret_ok = rexpr is not None and _root_ok(rexpr, allowed, locals_) \
            or rexpr is not None and "@" in C.render(rexpr)
        effects = []
        for key, (action, mode, expr, kind) in _net(events).items():
            e = expr
            if ret_ok and rexpr is not None:
                e = _replace_prefix(e, rexpr, C.Name(RET))
            if not _root_ok(e, allowed, locals_):
                continue
            effects.append(Effect(action, mode, e, kind))
        requires = []
        for k in sorted(st.null | st.nonnull):
            pe = _parse_path(k)
            if pe is None or not _root_ok(pe, set(params), locals_):
                continue
            requires.append((pe, k in st.null))
        equal = []
        for a, b in sorted(st.eq):
            pa, pb = _parse_path(a), _parse_path(b)
            if pa is not None and pb is not None and _root_ok(pa, set(params), locals_) \
                    and _root_ok(pb, set(params), locals_):
                equal.append((pa, pb))
        ret_out = rexpr if rexpr is not None and _root_ok(rexpr, set(params), locals_) else None
        return SumCase(tuple(effects), ret_out, truth, tuple(requires), tuple(equal))

    def _joined_case(self, an: Analysis, params) -> SumCase:
        res = an.solve()
        ex = res.exit_state()
        effects = []
        locals_ = set(an.vartypes) - set(params)
        if ex is not None:
            for k, f in ex.locks.items():
                pe = _parse_path(k)
                if pe is None or not _root_ok(pe, set(params), locals_):
                    continue
                if f.must:
                    effects.append(Effect("acquire", f.mode, pe, f.kind))
                elif f.not_held:
                    effects.append(Effect("release", "write", pe, f.kind))
        return SumCase(tuple(effects))


# --------------------------------------------------------------------------- helpers


def from_wrapper(w: Wrapper) -> Summary:
    text = w.lock
    nparams = 0
    for i in range(8):
        if "{%d}" % i in text:
            nparams = i + 1
            text = text.replace("{%d}" % i, f"__p{i}")
    text = text.replace("{ret}", RET)
    lock = parse_expression(text)
    params = tuple(f"__p{i}" for i in range(nparams))
    if w.action == "trylock":
        cases = (SumCase((Effect("acquire", w.mode, lock),), truth=True),
                 SumCase((), truth=False))
    elif w.action == "acquire_or_null":
        cases = (SumCase((Effect("acquire", w.mode, lock),), truth=True),
                 SumCase((), ret=C.Name("NULL"), truth=False))
    else:
        cases = (SumCase((Effect(w.action, w.mode, lock),)),)
    return Summary(w.name, params, cases, "rules")


def _rename_fresh(events: list[Event], st: State) -> list[Event]:
    """Events named through a value the path later found equal to an entry name
    (``p == victim``) are about the entry object: name them so, like the state does."""
    ren: dict[str, str] = {}
    for a, b in st.eq:
        if "@" in a and "@" not in b and "->" not in a and "." not in a:
            ren[a] = b
        elif "@" in b and "@" not in a and "->" not in b and "." not in b:
            ren[b] = a
    if not ren:
        return events
    out = []
    for ev in events:
        if ev.lock:
            for fresh, real in ren.items():
                if _has_prefix(ev.lock, fresh):
                    ev = replace(ev, lock=real + ev.lock[len(fresh):],
                                 lock_expr=_replace_prefix(ev.lock_expr, C.Name(fresh),
                                                           _parse_path(real) or C.Name(real))
                                 if ev.lock_expr is not None else None)
                    break
        out.append(ev)
    return out


def _net(events: list[Event]) -> dict[str, tuple[str, str, C.Expr, str]]:
    """Net lock effect per lock over one path: acquire, release, cycle or assert."""
    seq: dict[str, list[Event]] = {}
    for ev in events:
        if ev.kind in ("acquire", "release", "assert") and ev.lock and ev.lock_expr is not None:
            seq.setdefault(ev.lock, []).append(ev)
    out = {}
    for k, evs in seq.items():
        changes = [e for e in evs if e.kind != "assert"]
        if not changes:
            last = evs[-1]
            out[k] = ("assert", last.mode or "any", last.lock_expr, "lock")
            continue
        first, last = changes[0], changes[-1]
        kind = last.lock_kind or "lock"
        if last.kind == "release":
            if first.kind == "release":
                out[k] = ("release", last.mode or "write", last.lock_expr, kind)
        else:
            act = "cycle" if first.kind == "release" else "acquire"
            out[k] = (act, last.mode or "write", last.lock_expr, kind)
    return out


def _enumerate(an: Analysis, cfg: Cfg):
    """All paths entry → exit with their end state, event log and returned expression.

    A value decided by a trylock (``return down_write_trylock(…)``, ``ret = trylock() != 0``)
    forks the path on its outcome, so the acquire belongs to the success case only. Loops are
    followed once round (a block at most MAX_VISITS times on a path). None when the function
    has too many paths: the caller falls back to a join."""
    results = []
    entry = an.entry_state()
    budget = [MAX_STEPS]  # blocks visited over all paths, finished or not

    def run(bid: int, st: State, log: list[Event], visits: dict[int, int], ret, first=0):
        budget[0] -= 1
        if len(results) > MAX_PATHS or budget[0] < 0:
            raise _TooMany
        if bid == cfg.exit:
            results.append((st, log, ret))
            return
        if first == 0:
            n = visits.get(bid, 0) + 1
            if n > MAX_VISITS:
                return  # once round a loop is enough for a summary
            visits = dict(visits)
            visits[bid] = n
        block = cfg.blocks[bid]
        ev: list[Event] = list(log)
        cur: State | None = st
        for i in range(first, len(block.ops)):
            op = block.ops[i]
            if cur is None:
                return
            if op.kind == "return" and op.expr is not None and _decided_by_try(an, op.expr):
                ret = op.expr  # _cases splits on it, from the state before it runs
                continue
            if op.kind == "eval" and not isinstance(op.expr, C.Assign) \
                    and _decided_by_try(an, op.expr):
                # a try whose result is dropped: the lock is taken on one outcome only
                for truth in (True, False):
                    ev2: list[Event] = []
                    s2 = an.refine(cur, op.expr, truth, op.span, ev2.append, bid)
                    if s2 is not None:
                        run(bid, s2, ev + ev2, visits, ret, i + 1)
                return
            target, value = _assignment(op)
            if target is not None and _decided_by_try(an, value):
                for truth in (True, False):
                    ev2: list[Event] = []
                    if isinstance(_strip(value), C.Call):
                        s2 = an.assign(cur, target, value, op.span, ev2.append, bid,
                                       only_truth=truth)
                    else:  # trylock() != 0 and the like: the comparison decides
                        s2 = an.refine(cur, value, truth, op.span, ev2.append, bid)
                        if s2 is not None:
                            s2 = an._bind(s2, target, None, truth, op.span, ev2.append, bid)
                    if s2 is None:
                        continue
                    run(bid, s2, ev + ev2, visits, ret, i + 1)
                return
            cur = an.op(cur, op, ev.append, bid)
            if op.kind == "return":
                ret = op.expr
        if cur is None:
            return
        for e in block.succs:
            ev2 = []
            out = an.edge(cur, block, e, ev2.append)
            if out is None:
                continue
            run(e.target, out, ev + ev2, visits, ret)

    try:
        run(cfg.entry, entry, [], {}, None)
    except (_TooMany, RecursionError):
        return None
    return results


def _assignment(op) -> tuple[C.Expr | None, C.Expr | None]:
    """(variable, value) of ``v = value`` / ``type v = value``."""
    if op.kind == "decl" and op.expr is not None:
        return C.Name(op.name), op.expr
    if op.kind == "eval" and isinstance(op.expr, C.Assign) and op.expr.op == "=" \
            and isinstance(_strip(op.expr.target), C.Name):
        return _strip(op.expr.target), op.expr.value
    return None, None


def _decided_by_try(an: Analysis, e: C.Expr | None) -> bool:
    """Whether the truth of ``e`` is the outcome of a trylock (or of a helper whose cases
    differ by their result): ``trylock()``, ``!trylock()``, ``trylock() != 0``, casts."""
    while True:
        e = _strip(e) if e is not None else None
        if isinstance(e, C.Unary) and e.op == "!":
            e = e.operand
        elif isinstance(e, C.Binary) and e.op in ("==", "!=") and C.is_null(_strip(e.right)):
            e = e.left
        elif isinstance(e, C.Call) and e.name in an.model.transparent and e.args:
            e = e.args[0]
        else:
            break
    if not isinstance(e, C.Call) or e.name is None:
        return False
    prim = an.model.primitive(e.name)
    if prim is not None:
        return prim.action == "trylock"
    summ = an.summaries.summary(e.name)
    return summ is not None and len({c.truth for c in summ.cases}) > 1


class _TooMany(Exception):
    pass


def _truth_of(r: C.Expr, rexpr: C.Expr | None, st: State, an: Analysis) -> bool | None:
    r = _strip(r)
    if C.is_null(r):
        return False
    if isinstance(r, C.Literal):
        try:
            return int(r.text.rstrip("uUlL"), 0) != 0
        except ValueError:
            return None
    if isinstance(r, C.Name) and r.id in ("true", "false"):
        return r.id == "true"
    if rexpr is not None:
        k = C.render(rexpr)
        if k in st.null or (isinstance(rexpr, C.Name) and C.is_null(rexpr)):
            return False
        if k in st.nonnull:
            return True
    return None


def _root_ok(e: C.Expr, allowed: set[str], locals_: set[str]) -> bool:
    x = _strip(e)
    while isinstance(x, (C.Member, C.Index, C.Unary)):
        x = _strip(x.base if isinstance(x, (C.Member, C.Index)) else x.operand)
    if not isinstance(x, C.Name) or "@" in x.id:
        return False
    if x.id in allowed:
        return True
    return x.id not in locals_ and not C.is_null(x)  # a global lock


def _replace_prefix(e: C.Expr, prefix: C.Expr, new: C.Expr) -> C.Expr:
    if e == prefix:
        return new
    if isinstance(e, C.Member):
        nb = _replace_prefix(e.base, prefix, new)
        return C.Member(nb, e.field, e.arrow) if nb is not e.base else e
    if isinstance(e, C.Unary) and e.op in ("*", "&"):
        no = _replace_prefix(e.operand, prefix, new)
        return C.Unary(e.op, no) if no is not e.operand else e
    return e


_PATH_RE = re.compile(r"[A-Za-z_]\w*(?:(?:->|\.)[A-Za-z_]\w*)*$")


def _parse_path(key: str) -> C.Expr | None:
    if not _PATH_RE.match(key):
        return None
    parts = re.split(r"(->|\.)", key)
    e: C.Expr = C.Name(parts[0])
    for i in range(1, len(parts), 2):
        e = C.Member(e, parts[i + 1], parts[i] == "->")
    return e


def _called_names(s) -> set[str]:
    names: set[str] = set()

    def expr(e):
        for c in C.calls_in(e):
            if c.name:
                names.add(c.name)
            elif isinstance(c.func, C.Call) and c.func.name:
                names.add(c.func.name)

    def stmt(x):
        if x is None:
            return
        match x:
            case C.Compound(body=b) | C.Case(body=b):
                for y in b:
                    stmt(y)
            case C.ExprStmt(expr=e) | C.Return(value=e):
                expr(e)
            case C.Decl(init=e):
                expr(e)
            case C.If(cond=c, then=t, other=o):
                expr(c)
                stmt(t)
                stmt(o)
            case C.While(cond=c, body=b) | C.DoWhile(cond=c, body=b) | C.Switch(cond=c, body=b):
                expr(c)
                stmt(b)
            case C.For(init=i, cond=c, step=st, body=b):
                for y in i:
                    stmt(y)
                expr(c)
                expr(st)
                stmt(b)
            case C.IterLoop(args=a, body=b):
                for y in a:
                    expr(y)
                stmt(b)
            case C.Label(body=b):
                stmt(b)
            case C.ScopedGuard(body=b):
                names.add("scoped_guard")
                stmt(b)
            case C.Guard():
                names.add("guard")

    stmt(s)
    return names
