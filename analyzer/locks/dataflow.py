"""Forward lock-state dataflow over a CFG.

At every operation: which locks (canonical instance path, e.g. ``root->rwsem``) are held, in
which mode, on all paths (must) or some (may). A lock's value is the set of what it can be on
the paths reaching a point: ``R``/``W`` held for read/write, ``A`` held in an unstated mode (an assertion
or contract that does not say), ``N`` known not held, ``U`` unknown
(as the caller left it). A function starts with every lock ``U``: precision first, "unknown" is
never reported as "not held".

Two ideas carry the precision the kernel's rmap code needs:

* **NULL vacuity.** A lock reached through a pointer known to be NULL on a path does not exist
  there; that path contributes nothing to the lock's value at a merge. So after
  ``unlock_anon_vma_root(root)`` (release if root, nothing otherwise) the lock is simply not held,
  and after ``x = lock_or_null()`` then ``if (!x) return;`` it is must-held on the fall-through.
* **Case summaries.** A call to a function with a body in the tree applies that function's
  per-path cases (effects, returned object, NULL-ness, conditions on arguments). A case whose
  condition contradicts what the caller knows (``root`` is NULL) is skipped.

Names: a local assigned once from a pure path (``anon_vma = pavc->anon_vma``) is replaced by the
path (``pavc->anon_vma->root->rwsem``); any other variable keeps its own name, and when it is
reassigned the locks named through it are renamed ``var@line`` (the object it pointed to
before). In *path mode* (used to summarise a helper along one path) variables are tracked
symbolically instead, so every name is in terms of the helper's entry values.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Protocol

from ..syntax import tree as C
from ..flow.cfg import Block, Cfg, Edge, EdgeKind, Op
from ..model.lockmodel import LockModel, Primitive

HELD = frozenset({"R", "W", "A"})  # read, write, held in a mode nobody stated (asserts)
UNKNOWN = frozenset({"U"})
NOT_HELD = frozenset({"N"})
RET = "__ret"


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Fact:
    poss: frozenset[str]
    cls: str = "?"
    kind: str = "lock"
    vacuous: bool = False  # on some paths the lock's base pointer was NULL

    @property
    def must(self) -> bool:
        return bool(self.poss) and self.poss <= HELD

    @property
    def may(self) -> bool:
        return bool(self.poss & HELD)

    @property
    def not_held(self) -> bool:
        return self.poss == NOT_HELD

    @property
    def mode(self) -> str:
        held = self.poss & HELD
        if held == {"W"}:
            return "write"
        if held == {"R"}:
            return "read"
        return "any"  # asserted held in an unstated mode, or read on some paths, write on others

    @property
    def certainty(self) -> str:
        return "must" if self.must else "may"


@dataclass(frozen=True)
class State:
    locks: dict[str, Fact] = field(default_factory=dict)
    null: frozenset[str] = frozenset()
    nonnull: frozenset[str] = frozenset()
    env: dict[str, C.Expr] = field(default_factory=dict)  # path mode only
    eq: frozenset[tuple[str, str]] = frozenset()  # pairs of paths known to be one object

    def held(self) -> list[tuple[str, Fact]]:
        return sorted((k, f) for k, f in self.locks.items() if f.may)

    def with_lock(self, key: str, fact: Fact | None) -> "State":
        locks = dict(self.locks)
        if fact is None:
            locks.pop(key, None)
        else:
            locks[key] = fact
        return replace(self, locks=locks)

    def null_rooted(self, key: str) -> bool:
        return any(_has_prefix(key, n) for n in self.null)


def same_object(st: State, a: str, b: str, depth: int = 3) -> bool:
    """Whether paths ``a`` and ``b`` name one object, using the equalities the state knows
    (``root == anon_vma->root`` makes ``root->rwsem`` and ``anon_vma->root->rwsem`` one lock)."""
    if a == b:
        return True
    if depth == 0:
        return False
    for x, y in st.eq:
        for p, q in ((x, y), (y, x)):
            if _has_prefix(a, p) and same_object(st, q + a[len(p):], b, depth - 1):
                return True
    return False


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def _has_prefix(key: str, base: str) -> bool:
    return key.startswith(base) and (len(key) == len(base) or key[len(base)] in "-.[")


def _strict_prefix(key: str, base: str) -> bool:
    return len(key) > len(base) and _has_prefix(key, base)


def join(a: State | None, b: State | None) -> State | None:
    """Merge two paths. None is the unreachable bottom."""
    if a is None:
        return b
    if b is None:
        return a
    if a is b:
        return a
    locks: dict[str, Fact] = {}
    for k in a.locks.keys() | b.locks.keys():
        fa, fb = a.locks.get(k), b.locks.get(k)
        if fa is None and a.null_rooted(k):
            f = replace(fb, vacuous=True)
        elif fb is None and b.null_rooted(k):
            f = replace(fa, vacuous=True)
        else:
            pa = fa.poss if fa is not None else UNKNOWN
            pb = fb.poss if fb is not None else UNKNOWN
            base = fa if fa is not None else fb
            f = Fact(pa | pb, base.cls, base.kind,
                     (fa.vacuous if fa else False) or (fb.vacuous if fb else False))
        if f.poss != UNKNOWN:
            locks[k] = f
    env = {k: v for k, v in a.env.items() if b.env.get(k) == v} if a.env or b.env else {}
    return State(locks, a.null & b.null, a.nonnull & b.nonnull, env, a.eq & b.eq)


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True, slots=True)
class Effect:
    action: str  # acquire | release | cycle | assert | downgrade
    mode: str  # read | write | any | none
    lock: C.Expr  # in terms of the callee's parameters and RET
    kind: str = "lock"


@dataclass(frozen=True, slots=True)
class SumCase:
    effects: tuple[Effect, ...]
    ret: C.Expr | None = None  # returned value, in terms of parameters (None: unknown)
    truth: bool | None = None  # returned value non-zero / zero (None: unknown)
    requires: tuple[tuple[C.Expr, bool], ...] = ()  # (param path, is NULL) on this path
    equal: tuple[tuple[C.Expr, C.Expr], ...] = ()  # param paths equal on this path


@dataclass(frozen=True, slots=True)
class Summary:
    name: str
    params: tuple[str, ...]
    cases: tuple[SumCase, ...]
    origin: str = "body"  # body | rules
    contract: tuple[str, ...] = ()  # e.g. ("releases root->rwsem",) for messages

    @property
    def has_effects(self) -> bool:
        return any(c.effects for c in self.cases) or len({c.truth for c in self.cases}) > 1


class SummaryProvider(Protocol):
    def summary(self, name: str) -> Summary | None: ...


class NoSummaries:
    def summary(self, name: str) -> Summary | None:
        return None


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Event:
    """Something a check may care about, with the state just before it."""

    kind: str  # acquire | release | assert | call | return | advance | assign
    span: C.Span
    state: State
    lock: str | None = None
    fact: Fact | None = None  # the lock's value before the event
    mode: str | None = None
    call: C.Call | None = None
    via: str | None = None  # the function whose summary produced the event
    block: int = -1
    lock_expr: C.Expr | None = None  # canonical expression of the lock
    lock_kind: str | None = None  # rwsem | mutex | spinlock | …
    trylock: bool = False


Emit = Callable[[Event], None] | None


# --------------------------------------------------------------------------- analysis


class Analysis:
    """Dataflow of one function. ``mode`` is ``main`` (joins, aliases) or ``path``."""

    def __init__(self, fn: C.Function, cfg: Cfg, model: LockModel,
                 summaries: SummaryProvider | None = None, types: "TypeInfo | None" = None,
                 mode: str = "main"):
        self.fn = fn
        self.cfg = cfg
        self.model = model
        self.summaries = summaries or NoSummaries()
        self.mode = mode
        self.types = types or TypeInfo(model.structs)
        self.vartypes: dict[str, str] = {p.name: p.type for p in fn.params}
        counts: dict[str, int] = {p.name: 0 for p in fn.params}
        rhs: dict[str, C.Expr] = {}
        cursors: set[str] = set()
        for b in cfg.blocks:
            for op in b.ops:
                if op.kind == "decl":
                    self.vartypes.setdefault(op.name, op.type or "")
                    if op.expr is not None:
                        counts[op.name] = counts.get(op.name, 0) + 1
                        rhs[op.name] = op.expr
                    else:
                        counts.setdefault(op.name, 0)
                elif op.kind == "advance" and isinstance(op.expr, C.Name):
                    cursors.add(op.expr.id)
                    counts[op.expr.id] = counts.get(op.expr.id, 0) + 2
                for e in (op.expr,):
                    for v in _assigned_names(e):
                        counts[v] = counts.get(v, 0) + 1
                        if isinstance(e, (C.Assign,)) and isinstance(e.target, C.Name) \
                                and e.target.id == v:
                            rhs[v] = e.value
            for v in _assigned_names(b.cond):
                counts[v] = counts.get(v, 0) + 2
        self.cursors = cursors
        self.params = {p.name for p in fn.params}
        self.aliases: dict[str, C.Expr] = {}
        if mode == "main":
            self._find_aliases(counts, rhs)
        self.multi = {v for v, n in counts.items() if n >= 1 and v not in self.aliases}

    def _find_aliases(self, counts, rhs) -> None:
        def stable_root(e: C.Expr) -> bool:
            r = _root_name(e)
            if r is None:
                return False
            if r in self.params and counts.get(r, 0) == 0:
                return True
            if r in self.cursors:
                return True
            return r in self.aliases

        changed = True
        while changed:
            changed = False
            for v, n in counts.items():
                if n != 1 or v in self.aliases or v in self.params or v not in rhs:
                    continue
                e = _strip(rhs[v])
                if _is_pure_path(e) and not isinstance(e, C.Name) and stable_root(e):
                    self.aliases[v] = e
                    changed = True
                elif isinstance(e, C.Name) and e.id != v and stable_root(e):
                    self.aliases[v] = e
                    changed = True

    # ------------------------------------------------------------ naming
    def canon(self, e: C.Expr | None, st: State) -> C.Expr | None:
        """Canonical object expression: casts, &, parentheses removed; aliases substituted."""
        if e is None:
            return None
        e = _strip(e)
        match e:
            case C.Name(id=i):
                if self.mode == "path":
                    return st.env.get(i, e)
                a = self.aliases.get(i)
                return self.canon(a, st) if a is not None else e
            case C.Member(base=b, field=f, arrow=arrow):
                cb = self.canon(b, st)
                if cb is None:
                    return None
                if isinstance(cb, C.Unary) and cb.op == "&" and arrow:
                    return C.Member(cb.operand, f, False)
                if isinstance(cb, C.Unary) and cb.op == "*" and not arrow:
                    return C.Member(cb.operand, f, True)
                return C.Member(cb, f, arrow)
            case C.Unary(op="*", operand=o):
                co = self.canon(o, st)
                return C.Unary("*", co) if co is not None else None
            case C.Index(base=b, index=i):
                cb = self.canon(b, st)
                return C.Index(cb, i) if cb is not None else None
            case C.Call():
                return e
        return e

    def key(self, e: C.Expr | None, st: State) -> str | None:
        ce = self.canon(e, st)
        if ce is None or isinstance(ce, (C.Literal, C.Opaque)) or C.is_null(ce):
            return None
        return C.render(ce)

    def lock_class(self, e: C.Expr, st: State) -> str:
        e = _strip(e)
        if isinstance(e, C.Member):
            struct = self.types.struct_of(e.base, self.vartypes, self.aliases)
            return self.model.class_named(struct, e.field)
        return "?"

    # ------------------------------------------------------------ entry
    def entry_state(self) -> State:
        st = State()
        for ann in self.fn.annotations:
            k = self.key(ann.expr, st)
            if k is None:
                continue
            if ann.kind in ("must_hold", "releases"):
                st = st.with_lock(k, Fact(frozenset({"A"}), self.lock_class(ann.expr, st)))
        return st

    # ------------------------------------------------------------ lock actions
    def acquire(self, st, lock_e, mode, kind, span, emit, via=None, blk=-1,
                trylock=False) -> State:
        k = self.key(lock_e, st)
        if k is None:
            return st
        old = st.locks.get(k)
        if emit:
            emit(Event("acquire", span, st, k, old, mode, via=via, block=blk,
                       lock_expr=self.canon(lock_e, st), lock_kind=kind, trylock=trylock))
        cls = old.cls if old else self.lock_class(lock_e, st)
        st = st.with_lock(k, Fact(frozenset({"W" if mode == "write" else "R"}), cls, kind))
        return self._nonnull_base(st, lock_e)

    def release(self, st, lock_e, mode, kind, span, emit, via=None, blk=-1) -> State:
        k = self.key(lock_e, st)
        if k is None:
            return st
        old = st.locks.get(k)
        if emit:
            emit(Event("release", span, st, k, old, mode, via=via, block=blk,
                       lock_expr=self.canon(lock_e, st), lock_kind=kind))
        cls = old.cls if old else self.lock_class(lock_e, st)
        return st.with_lock(k, Fact(NOT_HELD, cls, old.kind if old else kind))

    def assert_(self, st, lock_e, mode, span, emit, via=None, blk=-1) -> State:
        k = self.key(lock_e, st)
        if k is None:
            return st
        old = st.locks.get(k)
        if emit:
            emit(Event("assert", span, st, k, old, mode, via=via, block=blk,
                       lock_expr=self.canon(lock_e, st)))
        poss = {"write": frozenset({"W"}), "read": frozenset({"R"}), "none": NOT_HELD}.get(
            mode, frozenset({"A"}))
        cls = old.cls if old else self.lock_class(lock_e, st)
        return self._nonnull_base(st.with_lock(k, Fact(poss, cls, old.kind if old else "lock")),
                                  lock_e)

    def downgrade(self, st, lock_e, span, emit, via=None, blk=-1) -> State:
        k = self.key(lock_e, st)
        if k is None:
            return st
        old = st.locks.get(k)
        cls = old.cls if old else self.lock_class(lock_e, st)
        return st.with_lock(k, Fact(frozenset({"R"}), cls, old.kind if old else "rwsem"))

    def _nonnull_base(self, st: State, lock_e: C.Expr) -> State:
        """Taking ``&p->lock`` dereferences p: p is not NULL afterwards."""
        e = _strip(lock_e)
        if isinstance(e, C.Member) and e.arrow:
            bk = self.key(e.base, st)
            if bk is not None and bk not in st.nonnull:
                return replace(st, nonnull=st.nonnull | {bk}, null=st.null - {bk})
        return st

    # ------------------------------------------------------------ calls
    def call(self, st: State, call: C.Call, span: C.Span, emit: Emit, blk=-1,
             ) -> list[tuple[State, C.Expr | None, bool | None]]:
        """Apply a call: one case per feasible outcome, as
        (state, returned object, truth, effects on the returned object, substitution, events).
        A case's lock events are not emitted here: the caller emits those of the cases it
        keeps (a trylock's acquire belongs to its success case only)."""
        name = call.name
        prim = self.model.primitive(name)
        if prim is not None:
            return self._primitive(st, prim, call, span, blk)
        if emit:
            emit(Event("call", span, st, call=call, block=blk))
        if name is None:
            return [(self._forget_memory(st, call), None, None, (), {}, ())]
        summ = self.summaries.summary(name)
        if summ is None or not summ.cases:
            return [(self._forget_memory(st, call), None, None, (), {}, ())]
        out = []
        for case in summ.cases:
            evs: list[Event] = []
            r = self._apply_case(st, summ, case, call, span, evs.append, blk)
            if r is not None:
                out.append(r + (tuple(evs),))
        return out or [(st, None, None, (), {}, ())]

    def _forget_memory(self, st: State, call: C.Call) -> State:
        """A call may store to memory: NULL facts about fields, and about variables whose
        address it is given, no longer hold."""
        escaped = {C.render(_strip(a)) for a in call.args
                   if isinstance(a, C.Unary) and a.op == "&" and isinstance(a.operand, C.Name)}

        def keep(k: str) -> bool:
            return "->" not in k and "." not in k and k not in escaped

        null = frozenset(k for k in st.null if keep(k))
        nonnull = frozenset(k for k in st.nonnull if keep(k))
        if len(null) == len(st.null) and len(nonnull) == len(st.nonnull):
            return st
        return replace(st, null=null, nonnull=nonnull)

    def _primitive(self, st, prim: Primitive, call: C.Call, span, blk):
        if prim.arg >= len(call.args):
            return [(st, None, None, (), {}, ())]
        lock_e = call.args[prim.arg]
        evs: list[Event] = []
        if prim.action == "acquire":
            out = self.acquire(st, lock_e, prim.mode, prim.kind, span, evs.append, blk=blk)
        elif prim.action == "release":
            out = self.release(st, lock_e, prim.mode, prim.kind, span, evs.append, blk=blk)
        elif prim.action == "assert":
            out = self.assert_(st, lock_e, prim.mode, span, evs.append, blk=blk)
        elif prim.action == "downgrade":
            out = self.downgrade(st, lock_e, span, evs.append, blk=blk)
        elif prim.action == "trylock":
            got = self.acquire(st, lock_e, prim.mode, prim.kind, span, evs.append, blk=blk,
                               trylock=True)
            ok = prim.success != "zero"
            return [(got, None, ok, (), {}, tuple(evs)), (st, None, not ok, (), {}, ())]
        else:
            out = st
        return [(out, None, None, (), {}, tuple(evs))]

    def _apply_case(self, st: State, summ: Summary, case: SumCase, call: C.Call, span,
                    emit, blk):
        args = call.args
        subst: dict[str, C.Expr] = {}
        for i, p in enumerate(summ.params):
            if i < len(args):
                subst[p] = args[i]

        def tr(e: C.Expr) -> C.Expr | None:
            return _substitute(e, subst)

        # feasibility against what the caller knows
        for req_e, is_null in case.requires:
            ce = tr(req_e)
            if ce is None:
                continue
            k = self.key(ce, st)
            if k is None:
                if C.is_null(_strip(ce)) and not is_null:
                    return None
                continue
            if is_null and k in st.nonnull or not is_null and k in st.null:
                return None
            if is_null:
                st = self._set_null(st, k)
            else:
                st = replace(st, nonnull=st.nonnull | {k})
        st = self._forget_memory(st, call)
        for a_e, b_e in case.equal:
            ka, kb = self.key(tr(a_e), st), self.key(tr(b_e), st)
            if ka and kb and ka != kb:
                st = replace(st, eq=st.eq | {_pair(ka, kb)})
        ret_e = tr(case.ret) if case.ret is not None and not _mentions(case.ret, RET) else None
        for eff in case.effects:
            if _mentions(eff.lock, RET):
                continue
            le = tr(eff.lock)
            if le is None:
                continue
            st = self._effect(st, eff, le, span, emit, summ.name, blk)
        return st, ret_e, case.truth, tuple(e for e in case.effects if _mentions(e.lock, RET)), \
            subst

    def _effect(self, st, eff: Effect, le: C.Expr, span, emit, via, blk) -> State:
        if eff.action == "acquire":
            return self.acquire(st, le, eff.mode, eff.kind, span, emit, via, blk)
        if eff.action == "release":
            return self.release(st, le, eff.mode, eff.kind, span, emit, via, blk)
        if eff.action == "cycle":
            st = self.release(st, le, eff.mode, eff.kind, span, emit, via, blk)
            return self.acquire(st, le, eff.mode, eff.kind, span, emit, via, blk)
        if eff.action == "assert":
            return self.assert_(st, le, eff.mode, span, emit, via, blk)
        if eff.action == "downgrade":
            return self.downgrade(st, le, span, emit, via, blk)
        return st

    # ------------------------------------------------------------ expressions
    def eval(self, st: State, e: C.Expr | None, span, emit, blk=-1) -> State | None:
        """Evaluate an expression for its effects (calls, assignments)."""
        if e is None:
            return st
        e0 = e
        match e0:
            case C.Assign(op="=", target=t, value=v):
                return self.assign(st, t, v, span, emit, blk)
            case C.Assign(target=t, value=v):  # x += …: evaluate, x is another value now
                st = self.eval(st, v, span, emit, blk)
                return self._bind(st, _strip(t), None, None, span, emit, blk) \
                    if st is not None else None
            case C.Comma(items=items):
                for x in items:
                    st = self.eval(st, x, span, emit, blk)
                    if st is None:
                        return None
                return st
            case C.Call():
                res = None
                for s, *_, evs in self._call_cases(st, e0, span, emit, blk):
                    self._emit_case(emit, evs)
                    res = join(res, s)
                return res
            case C.Binary(op=("&&" | "||") as op, left=l, right=r):
                # short-circuit: the right side runs only on one outcome of the left
                first = op == "&&"
                s_run = self.refine(st, l, first, span, emit, blk)
                s_skip = self.refine(st, l, not first, span, emit, blk)
                s_run = self.eval(s_run, r, span, emit, blk) if s_run is not None else None
                return join(s_run, s_skip)
            case C.Ternary(test=t, then=a, other=b):
                s1 = self.refine(st, t, True, span, emit, blk)
                s2 = self.refine(st, t, False, span, emit, blk)
                s1 = self.eval(s1, a, span, emit, blk) if s1 is not None else None
                s2 = self.eval(s2, b, span, emit, blk) if s2 is not None else None
                return join(s1, s2)
        for c in _outer_calls(e0):
            st = self.eval(st, c, span, emit, blk)
            if st is None:
                return None
        return st

    def _call_cases(self, st, call: C.Call, span, emit, blk):
        """Apply argument calls first, then the call itself; normalised case tuples."""
        for a in call.args:
            for c in _outer_calls(a) if not isinstance(a, C.Call) else (a,):
                st = self.eval(st, c, span, emit, blk)
                if st is None:
                    return []
        if isinstance(call.func, C.Call):  # guard(x)(y) outside statements, fn-ptr results
            st = self.eval(st, call.func, span, emit, blk) or st
        return self.call(st, call, span, emit, blk)

    @staticmethod
    def _emit_case(emit: Emit, evs) -> None:
        if emit:
            for ev in evs:
                emit(ev)

    def assign(self, st: State, target: C.Expr, value: C.Expr | None, span, emit,
               blk=-1, only_truth: bool | None = None) -> State | None:
        """``target = value``; with ``only_truth``, only the call's cases whose result has
        that truth (path mode forks on a trylock's outcome)."""
        tgt = _strip(target)
        val = _strip(value) if value is not None else None
        if isinstance(val, C.Assign):  # a = b = c
            st = self.eval(st, val, span, emit, blk)
            if st is None:
                return None
            val = _strip(val.target)
        if isinstance(val, C.Call):
            res = None
            for s, ret, truth, reteffs, subst, evs in self._call_cases(st, val, span, emit,
                                                                        blk):
                if only_truth is not None and truth is not None and truth != only_truth:
                    continue
                if only_truth is not None and truth is None:
                    truth = only_truth
                self._emit_case(emit, evs)
                s = self._bind(s, tgt, ret, truth, span, emit, blk)
                s = self._ret_effects(s, reteffs, subst, self._ret_base(tgt, ret), span, emit,
                                      val.name, blk)
                res = join(res, s)
            return res
        if val is not None:
            st = self.eval(st, val, span, emit, blk)
            if st is None:
                return None
        return self._bind(st, tgt, val, None, span, emit, blk)

    def _ret_effects(self, st: State, reteffs, subst, base: C.Expr | None, span, emit,
                     via, blk) -> State:
        """A helper's effects on the object it returns, applied to ``base`` (where the
        caller keeps it); nothing when the caller keeps it nowhere."""
        if not reteffs or base is None:
            return st
        sub = {**subst, RET: base}
        for eff in reteffs:
            le = _substitute(eff.lock, sub)
            if le is not None:
                st = self._effect(st, eff, le, span, emit, via, blk)
        return st

    def _ret_base(self, tgt: C.Expr, ret: C.Expr | None) -> C.Expr | None:
        if isinstance(tgt, (C.Name, C.Member)):
            return tgt
        return ret

    def _bind(self, st: State, tgt: C.Expr, val: C.Expr | None, truth: bool | None, span,
              emit, blk) -> State:
        """``tgt = val`` where val is the (already evaluated) value or a call's result."""
        if isinstance(tgt, C.Name) and self.mode == "main" and tgt.id in self.aliases:
            return st
        if not isinstance(tgt, (C.Name, C.Member)):
            return st
        if self.mode == "path" and isinstance(tgt, C.Name):
            cv = self.canon(val, st) if val is not None and _is_pure_path(_strip(val)) else None
            if cv is None and val is not None and C.is_null(_strip(val)):
                cv = C.Name("NULL")
            fresh = cv if cv is not None else C.Name(f"{tgt.id}@{span.line}")
            env = dict(st.env)
            env[tgt.id] = fresh
            st = replace(st, env=env)
            k = C.render(fresh)
            if cv is not None and C.is_null(cv) or truth is False:
                st = self._set_null(st, C.render(C.Name(f"{tgt.id}@{span.line}"))
                                    if cv is None else k)
            elif truth is True:
                st = replace(st, nonnull=st.nonnull | {k})
            return st
        tk = self.key(tgt, st)
        if tk is None:
            return st
        vk = self.key(val, st) if val is not None else None
        if vk is not None and vk == tk:
            return st  # x = x: same object (e.g. a helper returning its argument)
        null_v = val is not None and C.is_null(_strip(val))
        was_null = vk in st.null if vk else False
        was_nonnull = vk in st.nonnull if vk else False
        st = self.kill(st, tk, span.line)
        if emit:
            emit(Event("assign", span, st, lock=tk, block=blk))
        if vk is not None and not null_v and _is_pure_path(_strip(val)) \
                and not _has_prefix(vk, tk):
            st = replace(st, eq=st.eq | {_pair(tk, vk)})
        if null_v or truth is False or was_null:
            st = self._set_null(st, tk)
        elif truth is True or was_nonnull:
            st = replace(st, nonnull=st.nonnull | {tk})
        return st

    def kill(self, st: State, base: str, line: int) -> State:
        """``base`` now names another object: rename what was held through it."""
        locks = None
        for k, f in st.locks.items():
            # k == base too: spin_lock(ptl) locks what ptl points to, and ptl now points
            # elsewhere
            if _has_prefix(k, base):
                if locks is None:
                    locks = dict(st.locks)
                del locks[k]
                if f.may:
                    locks[f"{base}@{line}{k[len(base):]}"] = f
        null = frozenset(n for n in st.null if not _has_prefix(n, base))
        nonnull = frozenset(n for n in st.nonnull if not _has_prefix(n, base))
        eq = frozenset(p for p in st.eq if not (_has_prefix(p[0], base)
                                                 or _has_prefix(p[1], base)))
        if locks is None and len(null) == len(st.null) and len(nonnull) == len(st.nonnull) \
                and len(eq) == len(st.eq):
            return st
        return replace(st, locks=locks if locks is not None else st.locks, null=null,
                       nonnull=nonnull, eq=eq)

    def _set_null(self, st: State, k: str) -> State:
        """``k`` is NULL: locks reached through it do not exist on this path."""
        locks = {x: f for x, f in st.locks.items() if not _has_prefix(x, k)}
        return replace(st, locks=locks, null=st.null | {k}, nonnull=st.nonnull - {k})

    # ------------------------------------------------------------ conditions
    def refine(self, st: State | None, e: C.Expr, truth: bool, span, emit,
               blk=-1) -> State | None:
        """The state on the edge where condition ``e`` evaluated to ``truth``."""
        if st is None:
            return None
        e = _strip_parens(e)
        match e:
            case C.Unary(op="!", operand=o):
                return self.refine(st, o, not truth, span, emit, blk)
            case C.Binary(op="&&", left=l, right=r):
                if truth:
                    return self.refine(self.refine(st, l, True, span, emit, blk), r, True,
                                       span, emit, blk)
                return join(self.refine(st, l, False, span, emit, blk),
                            self.refine(self.refine(st, l, True, span, emit, blk), r, False,
                                        span, emit, blk))
            case C.Binary(op="||", left=l, right=r):
                if not truth:
                    return self.refine(self.refine(st, l, False, span, emit, blk), r, False,
                                       span, emit, blk)
                return join(self.refine(st, l, True, span, emit, blk),
                            self.refine(self.refine(st, l, False, span, emit, blk), r, True,
                                        span, emit, blk))
            case C.Binary(op=("==" | "!=") as op, left=l, right=r):
                other = None
                if C.is_null(_strip(r)):
                    other = l
                elif C.is_null(_strip(l)):
                    other = r
                if other is not None:
                    return self.refine(st, other, truth if op == "!=" else not truth, span,
                                       emit, blk)
                st = self.eval(st, e, span, emit, blk)
                if st is not None and truth == (op == "=="):
                    kl, kr = self.key(l, st), self.key(r, st)
                    if kl and kr and kl != kr and _is_pure_path(_strip(l)) \
                            and _is_pure_path(_strip(r)):
                        st = replace(st, eq=st.eq | {_pair(kl, kr)})
                        if self.mode == "path":
                            st = _unify_fresh(st, kl, kr)
                return st
            case C.Call(args=args) if e.name in self.model.transparent and args:
                st2 = st
                for a in args[1:]:
                    st2 = self.eval(st2, a, span, emit, blk)
                    if st2 is None:
                        return None
                return self.refine(st2, args[0], truth, span, emit, blk)
            case C.Call():
                res = None
                for s, ret, t, reteffs, subst, evs in self._call_cases(st, e, span, emit, blk):
                    if t is not None and t != truth:
                        continue
                    self._emit_case(emit, evs)
                    s = self._ret_effects(s, reteffs, subst, ret, span, emit, e.name, blk)
                    res = join(res, s)
                return res
            case C.Assign(op="=", target=t):
                st = self.eval(st, e, span, emit, blk)
                return self.refine(st, t, truth, span, emit, blk)
            case C.Name() | C.Member():
                k = self.key(e, st)
                if k is None:
                    if C.is_null(e):
                        return None if truth else st
                    return st
                if truth:
                    if k in st.null:
                        return None
                    return replace(st, nonnull=st.nonnull | {k}) if k not in st.nonnull else st
                if k in st.nonnull:
                    return None
                return self._set_null(st, k)
            case C.Literal(text=t):
                try:
                    val = int(t.rstrip("uUlL"), 0) != 0
                except ValueError:
                    return st
                return st if val == truth else None
        return self.eval(st, e, span, emit, blk)

    # ------------------------------------------------------------ operations
    def op(self, st: State, op: Op, emit: Emit, blk=-1) -> State | None:
        k = op.kind
        if k == "eval":
            e = op.expr
            if isinstance(e, C.Call) and e.name in self.model.assertions and e.args:
                # WARN_ON(cond) as a statement states the author's belief that cond is false
                if emit:
                    emit(Event("call", op.span, st, call=e, block=blk))
                return self.refine(st, e.args[0], False, op.span, emit, blk) or st
            return self.eval(st, e, op.span, emit, blk)
        if k == "decl":
            if op.expr is None:
                return self.kill(st, op.name, op.span.line) if self.mode == "main" else st
            if isinstance(op.expr, C.Opaque) and op.expr.text.startswith("{"):
                return self.eval(st, op.expr, op.span, emit, blk)
            return self.assign(st, C.Name(op.name), op.expr, op.span, emit, blk)
        if k == "return":
            st = self.eval(st, op.expr, op.span, emit, blk)
            if st is not None and emit:
                emit(Event("return", op.span, st, block=blk))
            return st
        if k == "advance":
            if op.expr is not None:
                ck = self.key(op.expr, st)
                if ck is not None:
                    if emit:
                        emit(Event("advance", op.span, st, lock=ck, block=blk))
                    if self.mode == "path":
                        return self._bind(st, op.expr, None, True, op.span, emit, blk)
                    st = self.kill(st, ck, op.span.line)
                    return replace(st, nonnull=st.nonnull | {ck}, null=st.null - {ck})
            return st
        if k in ("guard_acquire", "guard_release"):
            pair = self.model.guard(op.lock_class or "")
            if pair is None or not op.args:
                return st
            prim = pair[0] if k == "guard_acquire" else pair[1]
            call = C.Call(C.Name(prim.name), op.args)
            res = None
            for s, *_, evs in self._call_cases(st, call, op.span, emit, blk):
                self._emit_case(emit, evs)
                res = join(res, s)
            return res
        return st

    def edge(self, st: State | None, block: Block, e: Edge, emit: Emit) -> State | None:
        if st is None or block.cond is None:
            return st
        span = block.cond_span or C.Span(0, 0)
        if e.kind == EdgeKind.TRUE or (e.kind == EdgeKind.BACK and e.case is not None):
            return self.refine(st, block.cond, True, span, emit, block.id)
        if e.kind == EdgeKind.FALSE:
            return self.refine(st, block.cond, False, span, emit, block.id)
        return self.eval(st, block.cond, span, emit, block.id)

    # ------------------------------------------------------------ solver
    def touches_locks(self, entry: State) -> bool:
        """Whether anything in the function can change a lock state: a primitive, a guard,
        a helper whose summary has lock effects (or whose result says whether it locked), a
        contract, or locks in the entry state. Most functions do not (about 70% of mm/)."""
        if entry.locks or self.fn.annotations:
            return True
        if any(op.kind in ("guard_acquire", "guard_release")
               for b in self.cfg.blocks for op in b.ops):
            return True
        return any(self._call_may_lock(c) for c in self.cfg.calls())

    def _call_may_lock(self, c: C.Call) -> bool:
        if isinstance(c.func, C.Call):  # guard(x)(y) in an expression
            return True
        if c.name is None:
            return False
        if self.model.primitive(c.name) is not None:
            return True
        summ = self.summaries.summary(c.name)
        return summ is not None and summ.has_effects

    def solve(self, entry: State | None = None, max_rounds: int = 60) -> "LockResult":
        cfg = self.cfg
        n = len(cfg.blocks)
        ins: list[State | None] = [None] * n
        ins[cfg.entry] = entry if entry is not None else self.entry_state()
        if self.mode == "main" and not self.touches_locks(ins[cfg.entry]):
            # nothing changes a lock: the fixed point is the entry state wherever reachable
            first = ins[cfg.entry]
            for b in cfg.reachable():
                ins[b] = first
            return LockResult(self, ins, True, lock_free=True)
        order = _rpo(cfg)
        pos = {b: i for i, b in enumerate(order)}
        work = set(order[:1])
        visits = [0] * n
        converged = True
        import heapq

        heap = [pos[cfg.entry]]
        while heap:
            i = heapq.heappop(heap)
            bid = order[i]
            if bid not in work:
                continue
            work.discard(bid)
            visits[bid] += 1
            if visits[bid] > max_rounds:
                converged = False
                continue
            block = cfg.blocks[bid]
            st = ins[bid]
            for op in block.ops:
                if st is None:
                    break
                st = self.op(st, op, None, bid)
            for e in block.succs:
                out = self.edge(st, block, e, None)
                if out is None:
                    continue
                t = e.target
                new = join(ins[t], out)
                if new != ins[t]:
                    ins[t] = new
                    if t in pos and t not in work:
                        work.add(t)
                        heapq.heappush(heap, pos[t])
        return LockResult(self, ins, converged)


def _rpo(cfg: Cfg) -> list[int]:
    seen: set[int] = set()
    post: list[int] = []
    stack = [(cfg.entry, 0)]
    seen.add(cfg.entry)
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


@dataclass
class LockResult:
    """Fixed-point states of one function and a replay of its events."""

    analysis: Analysis
    ins: list[State | None]
    converged: bool
    lock_free: bool = False  # solved without a dataflow: nothing in it touches a lock

    @property
    def cfg(self) -> Cfg:
        return self.analysis.cfg

    def replay(self) -> list[Event]:
        """Every event, in block order, with the fixed-point state before it."""
        if self.lock_free:
            return self._replay_lock_free()
        events: list[Event] = []
        an = self.analysis
        for block in self.cfg.blocks:
            st = self.ins[block.id]
            if st is None:
                continue
            for op in block.ops:
                if st is None:
                    break
                st = an.op(st, op, events.append, block.id)
            for e in block.succs:
                an.edge(st, block, e, events.append if e is block.succs[0] else None)
        return events

    def _replay_lock_free(self) -> list[Event]:
        """The events of a function that touches no lock: calls, cursor moves and returns,
        all in the one state; no transfer function to run."""
        events: list[Event] = []
        an = self.analysis
        for block in self.cfg.blocks:
            st = self.ins[block.id]
            if st is None:
                continue
            for op in block.ops:
                for c in C.calls_in(op.expr):
                    events.append(Event("call", op.span, st, call=c, block=block.id))
                if op.kind == "advance" and op.expr is not None:
                    ck = an.key(op.expr, st)
                    if ck is not None:
                        events.append(Event("advance", op.span, st, lock=ck, block=block.id))
                elif op.kind == "return":
                    events.append(Event("return", op.span, st, block=block.id))
            if block.cond is not None:
                span = block.cond_span or C.Span(0, 0)
                for c in C.calls_in(block.cond):
                    events.append(Event("call", span, st, call=c, block=block.id))
        return events

    def op_states(self) -> list[tuple[Op, State | None, int]]:
        """(operation, state before it, block) for every operation."""
        out = []
        an = self.analysis
        for block in self.cfg.blocks:
            st = self.ins[block.id]
            for op in block.ops:
                out.append((op, st, block.id))
                if st is not None:
                    st = an.op(st, op, None, block.id)
            if block.cond is not None and block.cond_span is not None:
                out.append((Op("cond", block.cond_span, expr=block.cond), st, block.id))
        return out

    def exit_state(self) -> State | None:
        return self.ins[self.cfg.exit]

    def return_states(self) -> list[tuple[C.Span, State]]:
        """State at each return statement (after evaluating its value)."""
        out = []
        an = self.analysis
        for block in self.cfg.blocks:
            st = self.ins[block.id]
            for op in block.ops:
                if st is None:
                    break
                st = an.op(st, op, None, block.id)
                if op.kind == "return" and st is not None:
                    out.append((op.span, st))
            if st is not None and any(e.kind == EdgeKind.RETURN and e.target == self.cfg.exit
                                      for e in block.succs) and not any(
                    o.kind == "return" for o in block.ops):
                out.append((C.Span(self.analysis.fn.span.end_line,
                                   self.analysis.fn.span.end_line), st))
        return out


# --------------------------------------------------------------------------- types


class TypeInfo:
    """Struct field types, to name lock classes (``root->rwsem`` → ``anon_vma.rwsem``)."""

    def __init__(self, structs: dict[str, dict[str, str]] | None = None):
        self.structs: dict[str, dict[str, str]] = {k: dict(v) for k, v in (structs or {}).items()}

    def add(self, name: str, fields: dict[str, str]) -> None:
        cur = self.structs.setdefault(name, {})
        cur.update(fields)

    def struct_of(self, e: C.Expr, vartypes: dict[str, str],
                  aliases: dict[str, C.Expr] | None = None, depth: int = 0) -> str | None:
        if depth > 12:
            return None
        e = _strip(e)
        if isinstance(e, C.Name):
            t = vartypes.get(e.id)
            if t is None and aliases and e.id in aliases:
                return self.struct_of(aliases[e.id], vartypes, aliases, depth + 1)
            return _struct_name(t)
        if isinstance(e, C.Member):
            base = self.struct_of(e.base, vartypes, aliases, depth + 1)
            if base is None:
                return None
            return _struct_name(self.structs.get(base, {}).get(e.field))
        if isinstance(e, C.Unary) and e.op in ("*", "&"):
            return self.struct_of(e.operand, vartypes, aliases, depth + 1)
        return None


def _struct_name(t: str | None) -> str | None:
    if not t:
        return None
    words = t.replace("*", " ").split()
    for i, w in enumerate(words):
        if w in ("struct", "union") and i + 1 < len(words):
            return words[i + 1]
    return None


# --------------------------------------------------------------------------- helpers


def _unify_fresh(st: State, a: str, b: str) -> State:
    """Path mode: ``a == b`` where one side is a value the function obtained (``p@12``, a
    call's result) and the other a name of the entry (``victim``): the object has that
    name, so locks taken through the fresh value are the entry object's locks."""
    if "@" in a and "@" not in b:
        fresh, real = a, b
    elif "@" in b and "@" not in a:
        fresh, real = b, a
    else:
        return st
    if "->" in fresh or "." in fresh:
        return st

    def ren(k: str) -> str:
        return real + k[len(fresh):] if _has_prefix(k, fresh) else k

    env = {v: (C.Name(real) if isinstance(x, C.Name) and x.id == fresh else x)
           for v, x in st.env.items()}
    locks = {ren(k): f for k, f in st.locks.items()}
    return replace(st, env=env, locks=locks, null=frozenset(ren(k) for k in st.null),
                   nonnull=frozenset(ren(k) for k in st.nonnull))


def _strip_parens(e: C.Expr) -> C.Expr:
    return e


def _strip(e: C.Expr) -> C.Expr:
    """Remove casts and ``&`` around an object expression."""
    while True:
        if isinstance(e, C.Cast):
            e = e.expr
        elif isinstance(e, C.Unary) and e.op == "&":
            e = e.operand
        else:
            return e


def _root_name(e: C.Expr) -> str | None:
    e = _strip(e)
    while True:
        if isinstance(e, C.Name):
            return e.id
        if isinstance(e, C.Member):
            e = _strip(e.base)
        elif isinstance(e, C.Unary) and e.op == "*":
            e = _strip(e.operand)
        else:
            return None


def _is_pure_path(e: C.Expr) -> bool:
    e = _strip(e)
    if isinstance(e, C.Name):
        return not C.is_null(e)
    if isinstance(e, C.Member):
        return _is_pure_path(e.base)
    return False


def _assigned_names(e: C.Expr | None) -> Iterable[str]:
    if e is None:
        return
    match e:
        case C.Assign(target=t, value=v):
            t = _strip(t)
            if isinstance(t, C.Name):
                yield t.id
            yield from _assigned_names(v)
        case C.Unary(op=("++" | "--" | "p++" | "p--"), operand=o):
            o = _strip(o)
            if isinstance(o, C.Name):
                yield o.id
        case C.Call(args=args):
            for a in args:
                yield from _assigned_names(a)
        case C.Comma(items=items):
            for x in items:
                yield from _assigned_names(x)
        case C.Binary(left=l, right=r):
            yield from _assigned_names(l)
            yield from _assigned_names(r)
        case C.Ternary(test=t, then=a, other=b):
            for x in (t, a, b):
                yield from _assigned_names(x)
        case C.Unary(operand=o) | C.Cast(expr=o) | C.Member(base=o):
            yield from _assigned_names(o)


def _outer_calls(e: C.Expr | None) -> list[C.Expr]:
    """The outermost calls/assignments/short-circuits in an expression, left to right."""
    out: list[C.Expr] = []

    def walk(x):
        match x:
            case C.Call() | C.Assign():
                out.append(x)
            case C.Binary(op=("&&" | "||")):
                out.append(x)
            case C.Ternary():
                out.append(x)
            case C.Member(base=b) | C.Unary(operand=b) | C.Cast(expr=b):
                walk(b)
            case C.Binary(left=l, right=r) | C.Index(base=l, index=r):
                walk(l)
                walk(r)
            case C.Comma(items=items):
                for i in items:
                    walk(i)
            case C.Opaque(calls=cs):
                out.extend(cs)

    walk(e)
    return out


def _mentions(e: C.Expr | None, name: str) -> bool:
    return _root_name(e) == name if e is not None else False


def _substitute(e: C.Expr | None, subst: dict[str, C.Expr]) -> C.Expr | None:
    if e is None:
        return None
    match e:
        case C.Name(id=i):
            if i in subst:
                return subst[i]
            return e
        case C.Member(base=b, field=f, arrow=a):
            nb = _substitute(b, subst)
            return C.Member(nb, f, a) if nb is not None else None
        case C.Unary(op=op, operand=o):
            no = _substitute(o, subst)
            return C.Unary(op, no) if no is not None else None
        case C.Index(base=b, index=i):
            nb = _substitute(b, subst)
            return C.Index(nb, i) if nb is not None else None
        case C.Cast(type=t, expr=x):
            nx = _substitute(x, subst)
            return C.Cast(t, nx) if nx is not None else None
    return e
