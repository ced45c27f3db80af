"""The transfer function of the lock-state dataflow: what one operation, one condition edge or
one call does to a :class:`~analyzer.locks.state.State`.

Calls: a locking primitive of the lock model acts on its lock argument; a call to a function
whose summary is known applies its per-path cases (skipping those whose conditions contradict
what the caller knows, e.g. a helper's "root is NULL" case when root is known non-NULL); a
known function without a summary has no lock effects. A call whose effects are **unknown** (a
function with no body in the tree and no rules entry) that is given a lock, or the object that
directly owns one, makes that lock *unknown*: the callee may release it, take it, or record
that it did so through an out-parameter (``&locked``), and nothing after the call may assume
either way. A call through a function pointer (an ops method, a hook) forgets only the locks
it is given themselves (``ptl``, ``&ptl``), not those of an object it is given (``mm``): a
method leaves its caller's locks as it found them unless its contract says otherwise, and the
one that may drop one (``->fault``) is given a path far from the lock (``vmf``).

Conditions: the TRUE/FALSE edges of a block refine the state — a trylock's success, a pointer
tested against NULL (locks reached through a NULL pointer do not exist on that edge), ``==``
between paths (the two name one object from then on).

Names: see :mod:`analyzer.locks.naming`. In the dataflow a reassigned variable renames what
was held through it to ``var@line`` (the object it pointed to before); a helper summarised
path by path tracks its variables symbolically instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from ..flow.cfg import Block, Edge, EdgeKind, Op, OpKind
from ..model.enums import Action, LockKind, Mode, Success
from ..model.lockmodel import LockModel, Primitive
from ..syntax import tree as C
from ..syntax.consteval import tests_only
from ..syntax.consteval import value as const_value
from ..syntax.exprs import is_pure_path, mentions, outer_calls, root_name, strip, substitute
from .events import Event, EventKind, Inexact
from .lockid import LockId, ObjPath, path_of
from .naming import Naming, const_token
from .state import (
    NONZERO,
    NOT_HELD,
    SYM,
    UNKNOWN,
    ZERO,
    Fact,
    Poss,
    State,
    held_as,
    is_nonzero,
    join,
    pair,
    same_object,
    symbolic,
)
from .summary import RET, Effect, NoSummaries, SumCase, Summary, SummaryProvider

Emit = Callable[[Event], None] | None

# one outcome of a call: (state, returned object, truth of the result, effects on the
# returned object, parameter substitution, the case's lock events)
Outcome = tuple[State, C.Expr | None, bool | None, tuple[Effect, ...], dict[str, C.Expr],
                tuple[Event, ...]]


_CONST_TEXT = re.compile(r"-?\d+|[A-Z][A-Z0-9_]*")  # a tracked value that is a constant


class Transfer:
    def __init__(self, naming: Naming, model: LockModel,
                 summaries: SummaryProvider | None = None):
        self.naming = naming
        self.model = model
        self.summaries = summaries or NoSummaries()
        self.fn = naming.fn
        # __must_hold(fi->lock) on a local: a fact from the local's declaration on
        self.local_contracts: dict[str, list[C.Annotation]] = {}
        for ann in naming.contracts:
            r = path_of(strip(ann.expr))
            if r is not None and r.root in naming.locals:
                self.local_contracts.setdefault(r.root, []).append(ann)

    # ------------------------------------------------------------ entry
    def entry_state(self) -> State:
        """Every lock unknown, except what the function's contracts say it is given."""
        st = State()
        for ann in self.naming.contracts:
            k = self.naming.lock(ann.expr, st)
            if k is None or k.path.root in self.local_contracts:
                continue
            if ann.caller_holds:
                st = st.with_lock(k, Fact(frozenset({Poss.ANY})))
        return st

    # ------------------------------------------------------------ lock actions
    def acquire(self, st: State, lock_e, mode: Mode, kind: LockKind, span, emit: Emit,
                via=None, blk=-1, trylock=False, inexact=frozenset(), annotation=False,
                tied: str | None = None) -> State:
        annotation = annotation or tied is not None  # a mark that can be set again
        k = self.naming.lock(lock_e, st)
        if k is None:
            return st
        old = st.fact(k)
        if emit:
            emit(Event(EventKind.ACQUIRE, span, st, k, old, mode, via=via, block=blk,
                       lock_expr=self.naming.canon(lock_e, st), lock_kind=kind,
                       trylock=trylock, inexact=inexact, annotation=annotation))
        k = self._keep_class(st, k)
        if tied is None and k.cls is not None:
            tied = self.model.tied_classes.get(k.cls)  # taken inside a helper
        st = st.with_lock(k, Fact(held_as(mode if mode in (Mode.WRITE, Mode.ANY) else Mode.READ),
                                  kind, tied=tied))
        return self._nonnull_base(st, lock_e)

    def release(self, st: State, lock_e, mode: Mode, kind: LockKind, span, emit: Emit,
                via=None, blk=-1, inexact=frozenset(), annotation=False) -> State:
        k = self.naming.lock(lock_e, st)
        if k is None:
            return st
        old = st.fact(k)
        if emit:
            emit(Event(EventKind.RELEASE, span, st, k, old, mode, via=via, block=blk,
                       lock_expr=self.naming.canon(lock_e, st), lock_kind=kind,
                       inexact=inexact, annotation=annotation))
        k = self._keep_class(st, k)
        st = st.with_lock(k, Fact(NOT_HELD, old.kind if old else kind))
        if k.cls is not None:
            # locks released together with this one (a VMA's write lock with its mmap lock)
            for other, f in list(st.locks.items()):
                if f.tied == k.cls and f.may:
                    st = st.with_lock(other, Fact(NOT_HELD, f.kind))
        # the same lock under another name the state knows equal is released too
        from .state import same_object

        for other, f in list(st.locks.items()):
            if other != k and f.may and same_object(st, other.path, k.path):
                st = st.with_lock(other, Fact(NOT_HELD, f.kind))
            elif other != k and f.may and f.asserted and k.cls is not None \
                    and other.cls == k.cls:
                # a lock of the class only an assertion said was held (a callee's
                # ``inode->root->lock`` for the caller's ``root->lock``) may be the one
                # released: it is no longer known held
                st = st.with_lock(other, None)
        return st

    def pair(self, st: State, lock_e, eff: Effect, span, emit: Emit, via, blk,
             inexact=frozenset()) -> State:
        """A callee took the lock and gave it back: not held after the call. Where the
        caller may hold it, the callee would wait on it (double-lock's ``callee`` kind says
        so, from the callee's body): the caller's state stands, so the deadlock does not
        also read as the caller's lock gone."""
        k = self.naming.lock(lock_e, st)
        if k is None:
            return st
        old = st.fact(k)
        if emit:
            emit(Event(EventKind.PAIR, span, st, k, old, eff.mode, via=via, block=blk,
                       lock_expr=self.naming.canon(lock_e, st), lock_kind=eff.kind,
                       trylock=eff.trylock, inexact=inexact, annotation=eff.annotation))
        if old is not None and old.may:
            return st
        return self.release(st, lock_e, eff.mode, eff.kind, span, None, via, blk, inexact)

    def assert_(self, st: State, lock_e, mode: Mode, span, emit: Emit, via=None,
                blk=-1) -> State:
        k = self.naming.lock(lock_e, st)
        if k is None:
            return st
        old = st.fact(k)
        if emit:
            emit(Event(EventKind.ASSERT, span, st, k, old, mode, via=via, block=blk,
                       lock_expr=self.naming.canon(lock_e, st)))
        k = self._keep_class(st, k)
        st = st.with_lock(k, Fact(held_as(mode), old.kind if old else LockKind.LOCK,
                                  asserted=old is None or not old.may or old.asserted))
        return self._nonnull_base(st, lock_e)

    def downgrade(self, st: State, lock_e, span, emit: Emit, via=None, blk=-1) -> State:
        k = self.naming.lock(lock_e, st)
        if k is None:
            return st
        old = st.fact(k)
        k = self._keep_class(st, k)
        return st.with_lock(k, Fact(frozenset({Poss.READ}),
                                    old.kind if old else LockKind.RWSEM))

    def forget(self, st: State, obj: ObjPath, span, emit: Emit, via=None, blk=-1,
               owned: bool = True) -> State:
        """``obj`` is handed to code whose effects are unknown: the lock it is (or points to:
        ``ptl``, ``*ptlp``) and the locks of the object it is (``mm`` → ``mm->mmap_lock``)
        may have been taken or released there. Their value joins ``unknown``: a lock held
        before is no longer *must* held, one not held no longer *known* not held. Not
        ``owned``: only the lock ``obj`` is or points to, not the locks of the object."""
        hit = [k for k in st.locks
               if k.path == obj or owned and k.path.base == obj or k.path.has_prefix(obj)
               and k.path.steps[len(obj.steps):] == ("*",)]
        if obj not in st.forgotten and (owned or hit or self.model.is_lock_type(
                self.naming.vartypes.get(obj.root))):
            st = replace(st, forgotten=st.forgotten | {obj})  # for a joined summary too
        if not hit:
            return st
        if emit:
            for k in hit:
                emit(Event(EventKind.FORGET, span, st, k, st.fact(k), via=via, block=blk,
                           path=obj, lock_expr=k.path.to_expr()))
        locks = dict(st.locks)
        for k in hit:
            f = locks[k]
            locks[k] = replace(f, poss=f.poss | UNKNOWN)
        return replace(st, locks=locks)

    @staticmethod
    def _keep_class(st: State, k: LockId) -> LockId:
        """The key as the state has it when it knows the class and this spelling does not."""
        if k.cls is None:
            have = st.lock_named(k.path)
            if have is not None:
                return have
        return k

    def _nonnull_base(self, st: State, lock_e: C.Expr) -> State:
        """Taking ``&p->lock`` dereferences p: p is not NULL afterwards."""
        e = strip(lock_e)
        if isinstance(e, C.Member) and e.arrow:
            bk = self.naming.path(e.base, st)
            if bk is not None and bk not in st.nonnull:
                return replace(st, nonnull=st.nonnull | {bk}, null=st.null - {bk})
        return st

    # ------------------------------------------------------------ calls
    def call(self, st: State, call: C.Call, span, emit: Emit, blk=-1) -> list[Outcome]:
        """Apply a call: one outcome per feasible case. A case's lock events are not emitted
        here: the caller emits those of the cases it keeps (a trylock's acquire belongs to
        its success case only)."""
        name = call.name
        prim = self.model.primitive(name)
        if prim is not None:
            return self._primitive(st, prim, call, span, blk)
        if emit:
            emit(Event(EventKind.CALL, span, st, call=call, block=blk))
        if name is not None and self.summaries.noreturn(name):
            return []  # BUG(), panic(): the path ends here
        if st.private:
            st = self._publish(st, call)
        summ = self.summaries.summary(name) if name is not None else None
        if self._hands_callback(call):
            st = self._callback(st, call, span, emit, blk)
        if summ is None or not summ.cases:
            st = self._forget_memory(st, call)
            if not self._known(name):
                st = self._unknown_call(st, call, span, emit, blk)
            return [(st, None, None, (), {}, ())]
        out = []
        bound = self._bound(st, summ, call) if any(c.when for c in summ.cases) else {}
        for case in summ.cases:
            chosen = st
            if case.when:
                if not self._may_run(bound, case):
                    continue
                chosen = self._chosen_by(st, bound, case)
            evs: list[Event] = []
            r = self._apply_case(chosen, summ, case, call, span, evs.append, blk)
            if r is not None:
                out.append(r + (tuple(evs),))
        return out or [(st, None, None, (), {}, ())]

    def _bound(self, st: State, summ: Summary, call: C.Call) -> dict[str, C.Expr]:
        """The callee's parameters as the call's arguments, a variable read as the constant
        the path holds in it, if any (varargs: fewer arguments than parameters)."""
        return {p: self._value_of(st, a) for p, a in zip(summ.params, call.args, strict=False)}

    def _may_run(self, bound: dict[str, C.Expr], case: SumCase) -> bool:
        """Whether the call's arguments may satisfy the conditions the case's path tested:
        false only when one of them is decided false (``XFS_IOLOCK_EXCL & XFS_ILOCK_EXCL``)."""
        for cond, took in case.when:
            v = const_value(substitute(cond, bound), self.summaries.constant,
                            self.model.transparent)
            if v is not None and bool(v) != took:
                return False
        return True

    def _chosen_by(self, st: State, bound: dict[str, C.Expr], case: SumCase) -> State:
        """A summary's path: the case's conditions that its own parameters decide (it
        hands them on: ``lock(g, mode)``) become conditions of its own case."""
        if not self.naming.symbolic:
            return st
        mine = frozenset((c, took) for cond, took in case.when
                         if (c := substitute(cond, bound)) is not None
                         and tests_only(c, self.naming.params, self.model.transparent))
        return replace(st, when=st.when | mine) if mine else st

    def _value_of(self, st: State, arg: C.Expr) -> C.Expr:
        """An argument, or the constant the path stored in it (``mode = FOO_SHARED``)."""
        a = strip(arg)
        if not isinstance(a, C.Name):
            return arg
        if a.id in st.env:  # a summary's path: the variable's symbolic value
            return st.env[a.id]
        text = st.vals.get(a.id)
        if text is not None and _CONST_TEXT.fullmatch(text):
            return C.Literal(text) if text[-1].isdigit() else C.Name(text)
        return arg

    def _publish(self, st: State, call: C.Call) -> State:
        """A private object handed to a call may be linked where others see it
        (anon_vma_chain_link()); not by a lock helper (anon_vma_lock_write()) or a query."""
        name = call.name
        if name in self.model.queries or name in self.model.protected.alloc.allocators \
                or name is not None and self.summaries.lock_wrapper(name):
            return st
        given = {p for a in call.args if (p := self.naming.path(a, st)) is not None}
        gone = st.private & given
        return replace(st, private=st.private - gone) if gone else st

    def _hands_callback(self, call: C.Call) -> bool:
        """The call is given a function of the tree that may take or drop locks (its body
        does, or it has none in sight): the callee may call it."""
        for a in call.args:
            if isinstance(a, C.Name) and a.id not in self.naming.vartypes \
                    and a.id != call.name and self.summaries.is_function(a.id):
                if self.summaries.may_lock(a.id) or not self.summaries.known(a.id):
                    return True
        return False

    def _callback(self, st: State, call: C.Call, span, emit: Emit, blk) -> State:
        """A callback may be called with any argument, or with the object around a member
        it is given (``kref_put(&w->ref, release)``: ``container_of``): their locks may
        change."""
        for a in call.args:
            if isinstance(a, (C.Literal, C.Opaque)) or C.is_null(strip(a)):
                continue
            p = self.naming.path(a, st)
            if p is None:
                continue
            st = self.forget(st, p, span, emit, blk=blk)
            if p.base is not None:
                st = self.forget(st, p.base, span, emit, blk=blk)
        return st

    def _known(self, name: str | None) -> bool:
        if name is None:
            return False
        return name in self.model.transparent or name in self.model.assertions \
            or name in self.model.queries or self.summaries.known(name)

    def _unknown_call(self, st: State, call: C.Call, span, emit: Emit, blk) -> State:
        """A call whose effects are unknown may take or release any lock it is given — its
        address, a pointer to it (``ptl``, ``&ptl`` where it may store one), or the object
        owning it (``mm``); through a function pointer, only the locks it is given; a
        function whose text the tree has (another subsystem's), only the arguments whose
        locks that text takes or releases."""
        pointer = call.name is None or call.name in self.naming.vartypes
        touched = None if pointer or call.name is None else self.summaries.touches(call.name)
        for i, a in enumerate(call.args):
            if isinstance(a, (C.Literal, C.Opaque)) or C.is_null(strip(a)) \
                    or touched is not None and i not in touched:
                continue
            p = self.naming.path(a, st)
            if p is not None:
                st = self.forget(st, p, span, emit, blk=blk, owned=not pointer)
        return st

    def _forget_memory(self, st: State, call: C.Call) -> State:
        """A call may store through what it is given: NULL facts about what an argument
        reaches (``vmf->pte`` when given ``vmf``), and about variables whose address it is
        given, no longer hold. What it is not given it cannot reach."""
        if not st.null and not st.nonnull:
            return st
        roots = {r for a in call.args if (r := root_name(a)) is not None}
        roots |= {q.root for r in roots if r in self.naming.aliases
                  and (q := self.naming.path(C.Name(r), st)) is not None}
        if not roots or not any(p.root in roots for p in st.null | st.nonnull):
            return st
        reach: set[ObjPath] = set()
        for a in call.args:
            if isinstance(a, (C.Literal, C.Opaque)):
                continue
            p = self.naming.path(a, st)
            if p is not None:
                reach.add(p)

        def keep(p: ObjPath) -> bool:
            return not any(p.has_prefix(r) if p.steps else p == r and _addr(call, p)
                           for r in reach)

        null = frozenset(k for k in st.null if keep(k))
        nonnull = frozenset(k for k in st.nonnull if keep(k))
        if len(null) == len(st.null) and len(nonnull) == len(st.nonnull):
            return st
        return replace(st, null=null, nonnull=nonnull)

    def _primitive(self, st: State, prim: Primitive, call: C.Call, span, blk) -> list[Outcome]:
        if prim.arg >= len(call.args):
            return [(st, None, None, (), {}, ())]
        lock_e = call.args[prim.arg]
        if prim.field is not None:
            lock_e = C.Member(lock_e, prim.field, True)
        evs: list[Event] = []
        if prim.action == Action.ACQUIRE:
            out = self.acquire(st, lock_e, prim.mode, prim.kind, span, evs.append, blk=blk,
                               annotation=prim.annotation, tied=prim.released_with)
        elif prim.action == Action.RELEASE:
            out = self.release(st, lock_e, prim.mode, prim.kind, span, evs.append, blk=blk,
                               annotation=prim.annotation)
        elif prim.action == Action.ASSERT:
            out = self.assert_(st, lock_e, prim.mode, span, evs.append, blk=blk)
        elif prim.action == Action.DOWNGRADE:
            out = self.downgrade(st, lock_e, span, evs.append, blk=blk)
        elif prim.action == Action.TRYLOCK:
            got = self.acquire(st, lock_e, prim.mode, prim.kind, span, evs.append, blk=blk,
                               trylock=not prim.waits)
            ok = prim.success != Success.ZERO
            evs = [replace(e, primitive=prim.name) for e in evs]
            return [(got, None, ok, (), {}, tuple(evs)), (st, None, not ok, (), {}, ())]
        elif prim.action == Action.COND_ACQUIRE and len(call.args) > 1:
            # __cond_lock(lock, cond): the value is cond, the lock is taken when it is true
            out_: list[Outcome] = []
            for truth in (True, False):
                ev2: list[Event] = []
                s2 = self.refine(st, call.args[1], truth, span, ev2.append, blk)
                if s2 is None:
                    continue
                if truth:
                    s2 = self.acquire(s2, lock_e, prim.mode, prim.kind, span, ev2.append,
                                      blk=blk, trylock=True)
                out_.append((s2, None, truth, (), {}, tuple(ev2)))
            return out_
        else:
            out = st
        return [(out, None, None, (), {}, tuple(replace(e, primitive=prim.name) for e in evs))]

    def _apply_case(self, st: State, summ: Summary, case: SumCase, call: C.Call, span,
                    emit, blk):
        args = call.args
        subst: dict[str, C.Expr] = {}
        for i, p in enumerate(summ.params):
            if i < len(args):
                subst[p] = args[i]

        def tr(e: C.Expr) -> C.Expr | None:
            return substitute(e, subst)

        # feasibility against what the caller knows
        for req_e, is_null in case.requires:
            ce = tr(req_e)
            if ce is None:
                continue
            known = truthiness(const_token(strip(ce)))
            if known is not None:
                if known == is_null:  # a constant argument: false/0/NULL or true/non-zero
                    return None
                continue
            k = self.naming.path(ce, st)
            if k is None:
                if C.is_null(strip(ce)) and not is_null:
                    return None
                continue
            if is_null and k in st.nonnull or not is_null and k in st.null:
                return None
            if is_null:
                st = self.set_null(st, k)
            else:
                st = replace(st, nonnull=st.nonnull | {k})
        st = self._forget_memory(st, call)
        for a_e, b_e in case.equal:
            ta, tb = tr(a_e), tr(b_e)
            ka = self.naming.path(ta, st) if ta is not None else None
            kb = self.naming.path(tb, st) if tb is not None else None
            if ka and kb and ka != kb:
                st = replace(st, eq=st.eq | {pair(ka, kb)})
        for obj in case.forgets:
            te = tr(obj)
            fp = self.naming.path(te, st) if te is not None else None
            if fp is not None:
                st = self.forget(st, fp, span, emit, summ.name, blk)
        for flag_e, tok in case.sets:  # *dropped = 1 in the callee, given &dropped
            target = strip(tr(flag_e))
            key = target.id if isinstance(target, C.Name) else _out_flag(target) \
                if target is not None else None
            if key is not None and key in self.naming.tracked:
                st = replace(st, vals={**st.vals, key: tok})
        ret_e = tr(case.ret) if case.ret is not None and not mentions(case.ret, RET) else None
        mine = [(eff, le) for eff in case.effects if not mentions(eff.lock, RET)
                and (le := tr(eff.lock)) is not None]
        # a cycle's release comes first: the callee dropped the lock before it took again
        # whatever it left held (hugetlb_wp() drops the ptl, then retakes its mutex)
        for eff, le in mine:
            if eff.action == Action.CYCLE:
                st = self.release(st, le, eff.mode, eff.kind, span, emit, summ.name, blk,
                                  summ.inexact)
        for eff, le in mine:
            if eff.action == Action.CYCLE:
                st = self.acquire(st, le, eff.mode, eff.kind, span, emit, summ.name, blk,
                                  inexact=summ.inexact)
            else:
                st = self.effect(st, eff, le, span, emit, summ.name, blk, summ.inexact)
        return st, ret_e, case.truth, tuple(e for e in case.effects if mentions(e.lock, RET)), \
            subst

    def effect(self, st: State, eff: Effect, le: C.Expr, span, emit, via, blk,
               inexact=frozenset()) -> State:
        if eff.action == Action.ACQUIRE:
            return self.acquire(st, le, eff.mode, eff.kind, span, emit, via, blk,
                                trylock=eff.trylock, inexact=inexact,
                                annotation=eff.annotation)
        if eff.action == Action.RELEASE:
            return self.release(st, le, eff.mode, eff.kind, span, emit, via, blk, inexact,
                                annotation=eff.annotation)
        if eff.action == Action.CYCLE:
            st = self.release(st, le, eff.mode, eff.kind, span, emit, via, blk, inexact)
            return self.acquire(st, le, eff.mode, eff.kind, span, emit, via, blk,
                                inexact=inexact)
        if eff.action == Action.PAIR:
            return self.pair(st, le, eff, span, emit, via, blk, inexact)
        if eff.action == Action.ASSERT:
            return self.assert_(st, le, eff.mode, span, emit, via, blk)
        if eff.action == Action.DOWNGRADE:
            return self.downgrade(st, le, span, emit, via, blk)
        if eff.action == Action.FORGET:
            p = self.naming.path(le, st)
            return self.forget(st, p, span, emit, via, blk) if p is not None else st
        return st

    # ------------------------------------------------------------ expressions
    def eval(self, st: State, e: C.Expr | None, span, emit: Emit, blk=-1) -> State | None:
        """Evaluate an expression for its effects (calls, assignments)."""
        if e is None:
            return st
        match e:
            case C.Assign(op="=", target=t, value=v):
                return self.assign(st, t, v, span, emit, blk)
            case C.Assign(target=t, value=v):  # x += …: evaluate, x is another value now
                s2 = self.eval(st, v, span, emit, blk)
                return self.bind(s2, strip(t), None, None, span, emit, blk) \
                    if s2 is not None else None
            case C.Comma(items=items):
                cur: State | None = st
                for x in items:
                    cur = self.eval(cur, x, span, emit, blk) if cur is not None else None
                return cur
            case C.Call():
                res = None
                for s, evs in self.call_each(st, e, span, emit, blk):
                    _emit_all(emit, evs)
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
        cur2: State | None = st
        for c in outer_calls(e):
            cur2 = self.eval(cur2, c, span, emit, blk) if cur2 is not None else None
        return cur2

    def call_cases(self, st: State, call: C.Call, span, emit: Emit, blk) -> list[Outcome]:
        """Apply argument calls first, then the call itself (a conditional acquire reads
        its condition argument itself, case by case)."""
        cur: State | None = st
        prim = self.model.primitive(call.name)
        for a in call.args if prim is None or prim.action != Action.COND_ACQUIRE else ():
            for c in outer_calls(a) if not isinstance(a, C.Call) else (a,):
                cur = self.eval(cur, c, span, emit, blk) if cur is not None else None
        if cur is None:
            return []
        if cur.vals:  # an out-parameter flag handed on: the callee may set it
            handed = {"*" + a.id for a in map(strip, call.args) if isinstance(a, C.Name)}
            if handed & cur.vals.keys():
                cur = replace(cur, vals={k: v for k, v in cur.vals.items() if k not in handed})
        if isinstance(call.func, C.Call):  # guard(x)(y) outside statements, fn-ptr results
            cur = self.eval(cur, call.func, span, emit, blk) or cur
        return self.call(cur, call, span, emit, blk)

    def assign(self, st: State, target: C.Expr, value: C.Expr | None, span, emit: Emit,
               blk=-1, only_truth: bool | None = None, declaration: bool = False
               ) -> State | None:
        """``target = value``; with ``only_truth``, only the call's cases whose result has
        that truth (summaries fork on a trylock's outcome)."""
        res = None
        for s, evs in self.assign_each(st, target, value, span, emit, blk, only_truth,
                                       declaration):
            _emit_all(emit, evs)
            res = join(res, s)
        return res

    def assign_each(self, st: State, target: C.Expr, value: C.Expr | None, span,
                    emit: Emit, blk=-1, only_truth: bool | None = None,
                    declaration: bool = False) -> list[tuple[State, tuple[Event, ...]]]:
        """``target = value`` per case of the called function (one entry when the value is
        no call), each with its events: a summary follows each case on its own path."""
        tgt = strip(target)
        val = strip(value) if value is not None else None
        if isinstance(val, C.Assign):  # a = b = c
            s2 = self.eval(st, val, span, emit, blk)
            if s2 is None:
                return []
            st = s2
            val = strip(val.target)
        if isinstance(val, C.Call):
            out = []
            for s, ret, truth, reteffs, subst, evs in self.call_cases(st, val, span, emit,
                                                                       blk):
                if only_truth is not None and truth is not None and truth != only_truth:
                    continue
                if only_truth is not None and truth is None:
                    truth = only_truth
                more: list[Event] = list(evs)
                s = self.bind(s, tgt, ret, truth, span, more.append, blk, declaration)
                if isinstance(tgt, C.Name) and tgt.id in self.naming.tracked \
                        and tgt.id not in s.vals and not self.naming.symbolic:
                    s = replace(s, vals={**s.vals, tgt.id: symbolic(span.line)})
                if val.name in self.model.protected.alloc.allocators \
                        and isinstance(tgt, C.Name) and not self.naming.symbolic:
                    p = self.naming.path(tgt, s)
                    if p is not None:
                        s = replace(s, private=s.private | {p})  # new: nobody else sees it
                s = self.ret_effects(s, reteffs, subst, self._ret_base(tgt, ret), span,
                                     more.append, val.name, blk)
                out.append((s, tuple(more)))
            return out
        if val is not None:
            s3 = self.eval(st, val, span, emit, blk)
            if s3 is None:
                return []
            st = s3
        return [(self.bind(st, tgt, val, None, span, emit, blk, declaration), ())]

    def call_each(self, st: State, call: C.Call, span, emit: Emit, blk=-1
                  ) -> list[tuple[State, tuple[Event, ...]]]:
        """A call statement per case of the called function, each with its events (a lock
        it takes of the object it returns, which the statement drops, is unnamed)."""
        return [(self._unnamed_acquires(s, reteffs) if reteffs else s, evs)
                for s, _ret, _t, reteffs, _subst, evs in self.call_cases(st, call, span, emit,
                                                                         blk)]

    def ret_effects(self, st: State, reteffs, subst, base: C.Expr | None, span, emit, via,
                    blk) -> State:
        """A helper's effects on the object it returns, applied to ``base`` (where the
        caller keeps it); nothing when the caller keeps it nowhere."""
        if not reteffs:
            return st
        if base is None:
            return self._unnamed_acquires(st, reteffs)
        sub = {**subst, RET: base}
        inexact = self._inexact(via)
        for eff in reteffs:
            le = substitute(eff.lock, sub)
            if le is not None:
                st = self.effect(st, eff, le, span, emit, via, blk, inexact)
        return st

    @staticmethod
    def _unnamed_acquires(st: State, reteffs) -> State:
        """The helper took a lock of the object it returns, and the caller keeps that object
        nowhere (``lock_cluster(si, offset);`` to retake the cluster it holds a pointer to):
        a lock of that field the path knows as not held may be the one taken, so it is
        unknown now."""
        fields = set()
        for eff in reteffs:
            if eff.action in (Action.ACQUIRE, Action.CYCLE):
                p = path_of(eff.lock)
                if p is not None and p.field:
                    fields.add(p.field)
        if not fields:
            return st
        locks = {k: (Fact(UNKNOWN, f.kind) if f.not_held and k.path.field in fields else f)
                 for k, f in st.locks.items()}
        return replace(st, locks=locks) if locks != st.locks else st

    def _inexact(self, via: str | None) -> frozenset[Inexact]:
        s = self.summaries.summary(via) if via else None
        return s.inexact if s is not None else frozenset()

    @staticmethod
    def _ret_base(tgt: C.Expr, ret: C.Expr | None) -> C.Expr | None:
        if isinstance(tgt, (C.Name, C.Member)):
            return tgt
        return ret

    def bind(self, st: State, tgt: C.Expr, val: C.Expr | None, truth: bool | None, span,
             emit: Emit, blk, declaration: bool = False) -> State:
        """``tgt = val`` where val is the (already evaluated) value or a call's result."""
        nm = self.naming
        if isinstance(tgt, C.Name) and not nm.symbolic and tgt.id in nm.aliases:
            return self._declare(st, tgt.id, span, emit, blk) if declaration else st
        if not isinstance(tgt, (C.Name, C.Member)) and not (
                isinstance(tgt, C.Unary) and tgt.op == "*"):
            return st  # *p = v is kept: a lock pointer stored through an out-parameter
        if nm.symbolic and isinstance(tgt, C.Name):
            cv = nm.canon(val, st) if val is not None and is_pure_path(strip(val)) else None
            if cv is not None and _address(val) and not isinstance(cv, C.Unary):
                cv = C.Unary("&", cv)  # p = &x->member: p points to the member
            if cv is None and val is not None and C.is_null(strip(val)):
                cv = C.Name("NULL")
            fresh = cv if cv is not None else C.Name(f"{tgt.id}@{span.line}")
            env = dict(st.env)
            env[tgt.id] = fresh
            st = replace(st, env=env)
            if cv is not None and C.is_null(cv) or truth is False:
                k = path_of(C.Name(f"{tgt.id}@{span.line}") if cv is None else fresh)
                if k is not None:
                    st = self.set_null(st, k)
            elif truth is True:
                k = path_of(fresh)
                if k is not None:
                    st = replace(st, nonnull=st.nonnull | {k})
            # its tracked value is the new one too (a summary's path tests it again)
            return self._retrack(st, tgt, val, truth, span.line)
        st = self._retrack(st, tgt, val, truth, span.line)
        tk = nm.path(tgt, st)
        if tk is None:
            return st
        vk = nm.path(val, st) if val is not None else None
        if vk is not None and vk == tk:
            return st  # x = x: same object (e.g. a helper returning its argument)
        null_v = val is not None and C.is_null(strip(val))
        was_null = vk in st.null if vk else False
        was_nonnull = vk in st.nonnull if vk else False
        st = self.kill(st, tk, span.line)
        if emit:
            emit(Event(EventKind.ASSIGN, span, st, block=blk, path=tk,
                       value=None if null_v else vk))
        if vk is not None and vk in st.private and not any(tk.has_prefix(p)
                                                           for p in st.private):
            st = replace(st, private=st.private - {vk})  # stored elsewhere: published

        if vk is not None and not null_v and val is not None and is_pure_path(strip(val)) \
                and not vk.has_prefix(tk):
            st = replace(st, eq=st.eq | {pair(tk, vk)})
        if null_v or truth is False or was_null:
            st = self.set_null(st, tk)
        elif truth is True or was_nonnull:
            st = replace(st, nonnull=st.nonnull | {tk})
        if declaration and isinstance(tgt, C.Name):
            st = self._declare(st, tgt.id, span, emit, blk)
        return st

    def _retrack(self, st: State, tgt: C.Expr, val: C.Expr | None, truth: bool | None,
                 line: int) -> State:
        """After ``tgt = val``: the tracked value of ``tgt`` (or of the flag it points to),
        and no condition remembered over its old value."""
        nm = self.naming
        if isinstance(tgt, C.Name) and (tgt.id in nm.tracked or tgt.id in st.vals):
            st = self._track(st, tgt.id, val, truth, line)
        elif (flag := _out_flag(tgt)) is not None and flag in nm.tracked:
            st = self._track(st, flag, val, truth, line)
        if isinstance(tgt, C.Name) and st.vals:
            stale = [k for k in st.vals if k.startswith(COND)
                     and tgt.id in nm.tracked_conds.get(k[len(COND):], ())]
            if stale:
                st = replace(st, vals={k: v for k, v in st.vals.items() if k not in stale})
        return st

    def _track(self, st: State, name: str, val: C.Expr | None, truth: bool | None,
               line: int) -> State:
        """A tracked variable gets a constant, a copy of another's value, or (a call's
        result) the truth of the case taken; anything else is unknown (a call's result
        with nothing known of it is given its site by :meth:`assign_each`)."""
        tok = const_token(val) if val is not None else None
        if tok is None and isinstance(val, C.Name) and val.id in st.vals:
            tok = st.vals[val.id]
        if tok is None and truth is not None:
            tok = f"{NONZERO}{symbolic(line)}" if truth else ZERO

        vals = dict(st.vals)
        if tok is None:
            vals.pop(name, None)
        else:
            vals[name] = tok
        return replace(st, vals=vals) if vals != st.vals else st

    def _declare(self, st: State, name: str, span, emit: Emit, blk) -> State:
        """A local's declaration: the contract facts named through it start here."""
        for ann in self.local_contracts.get(name, ()):
            k = self.naming.lock(ann.expr, st)
            if k is not None and ann.caller_holds:
                st = st.with_lock(k, Fact(frozenset({Poss.ANY})))
        return st

    def kill(self, st: State, base: ObjPath, line: int) -> State:
        """``base`` now names another object: rename what was held through it to the old
        object's name (``x@line``, ``vmf->ptl@line``)."""
        old = base.with_version(line) if not base.steps else \
            ObjPath(base.root, base.steps[:-1] + (f"{base.steps[-1]}@{line}",), base.version)
        locks = None
        for k, f in st.locks.items():
            # k == base too: spin_lock(ptl) locks what ptl points to, and ptl now points
            # elsewhere
            if k.path.has_prefix(base):
                if locks is None:
                    locks = dict(st.locks)
                del locks[k]
                if f.may:
                    locks[LockId(k.path.rebase(base, old), k.cls)] = f
        null = frozenset(n for n in st.null if not n.has_prefix(base))
        nonnull = frozenset(n for n in st.nonnull if not n.has_prefix(base))
        eq = frozenset(p for p in st.eq if not (p[0].has_prefix(base) or p[1].has_prefix(base)))
        private = frozenset(p for p in st.private if not p.has_prefix(base))
        if locks is None and len(null) == len(st.null) and len(nonnull) == len(st.nonnull) \
                and len(eq) == len(st.eq) and len(private) == len(st.private):
            return st
        return replace(st, locks=locks if locks is not None else st.locks, null=null,
                       nonnull=nonnull, eq=eq, private=private)

    def set_null(self, st: State, k: ObjPath) -> State:
        """``k`` is NULL: locks reached through it do not exist on this path."""
        locks = {x: f for x, f in st.locks.items() if not x.path.has_prefix(k)}
        return replace(st, locks=locks, null=st.null | {k}, nonnull=st.nonnull - {k})

    # ------------------------------------------------------------ conditions
    def refine(self, st: State | None, e: C.Expr, truth: bool, span, emit: Emit,
               blk=-1) -> State | None:
        """The state on the edge where condition ``e`` evaluated to ``truth``."""
        if st is None:
            return None
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
            case C.Binary(op=("<" | ">=") as op, left=C.Name(id=v), right=r) \
                    if v in self.naming.tracked and const_token(r) == ZERO:
                negative = truth == (op == "<")
                tok = st.vals.get(v)
                if tok is not None and SYM not in tok and tok != NONZERO:
                    if tok.startswith("-") != negative:
                        return None  # a constant the test contradicts
                elif negative and not (tok or "").startswith("-"):
                    site = tok[tok.index(SYM):] if tok and SYM in tok else SYM
                    st = replace(st, vals={**st.vals, v: "-" + site})
                return self.eval(st, e, span, emit, blk)
            case C.Binary(op=("==" | "!=") as op, left=C.Name(id=v), right=r) \
                    if v in self.naming.tracked and const_token(r) is not None:
                equal = truth == (op == "==")
                tok, want = st.vals.get(v), const_token(r)
                assert want is not None  # the guard above
                same = None if tok is None else _same_value(tok, want)
                if same is not None and same != equal:
                    return None
                if equal and (tok is None or tok.startswith(SYM)):
                    st = replace(st, vals={**st.vals, v: want})
                elif not equal and want == ZERO and (tok is None or tok.startswith(SYM)):
                    st = replace(st, vals={**st.vals, v: NONZERO + (tok or "")})
                return self.eval(st, e, span, emit, blk)
            case C.Binary(op=("==" | "!=") as op, left=l, right=r):
                other = None
                if C.is_null(strip(r)):
                    other = l
                elif C.is_null(strip(l)):
                    other = r
                if other is not None:
                    return self.refine(st, other, truth if op == "!=" else not truth, span,
                                       emit, blk)
                s2 = self.eval(st, e, span, emit, blk)
                if s2 is not None and truth != (op == "==") and is_pure_path(strip(l)) \
                        and is_pure_path(strip(r)):
                    # the branch says they differ: not where an earlier test made them one
                    # (``if (new != old) lock(new); … if (new != old) unlock(new);``)
                    kl, kr = self.naming.path(l, s2), self.naming.path(r, s2)
                    if kl and kr and kl != kr and same_object(s2, kl, kr):
                        return None
                    # one name: two variables, one assigned the other; a field read
                    # again against the value a variable saved from it may differ (the
                    # lock was dropped meanwhile: ``if (head->next != next)`` revalidates)
                    if kl and kr and kl == kr and isinstance(strip(l), C.Name) \
                            and isinstance(strip(r), C.Name):
                        return None
                if s2 is not None and truth == (op == "=="):
                    kl, kr = self.naming.path(l, s2), self.naming.path(r, s2)
                    if kl and kr and kl != kr and is_pure_path(strip(l)) \
                            and is_pure_path(strip(r)):
                        s2 = replace(s2, eq=s2.eq | {pair(kl, kr)})
                        if self.naming.symbolic:
                            s2 = unify_fresh(s2, kl, kr)
                return s2
            case C.Call(args=args) if e.name in self.model.transparent and args:
                cur: State | None = st
                for a in args[1:]:
                    cur = self.eval(cur, a, span, emit, blk) if cur is not None else None
                return self.refine(cur, args[0], truth, span, emit, blk)
            case C.Call() if C.render(e) in self.naming.tracked_conds \
                    and self.model.primitive(e.name) is None \
                    and self.summaries.summary(e.name or "") is None:
                # a test made again with nothing it reads changed answers as before
                key = COND + C.render(e)
                known = st.vals.get(key)
                if known is not None and (known == "true") != truth:
                    return None
                res = None
                for s, ret, t, reteffs, subst, evs in self.call_cases(st, e, span, emit, blk):
                    if t is not None and t != truth:
                        continue
                    _emit_all(emit, evs)
                    s = self.ret_effects(s, reteffs, subst, ret, span, emit, e.name, blk)
                    res = join(res, replace(s, vals={**s.vals, key: "true" if truth
                                                     else "false"}))
                return res
            case C.Call():
                res = None
                for s, ret, t, reteffs, subst, evs in self.call_cases(st, e, span, emit, blk):
                    if t is not None and t != truth:
                        continue
                    _emit_all(emit, evs)
                    s = self.ret_effects(s, reteffs, subst, ret, span, emit, e.name, blk)
                    res = join(res, s)
                return res
            case C.Assign(op="=", target=t, value=v):
                # per case of a called function: a case whose result contradicts the
                # outcome (NULL where the test says non-NULL) is no path here
                res = None
                for s, evs in self.assign_each(st, t, v, span, emit, blk):
                    s2 = self.refine(s, t, truth, span, emit, blk)
                    if s2 is not None:
                        _emit_all(emit, evs)
                        res = join(res, s2)
                return res
            case C.Unary(op="*") if (flag := _out_flag(e)) in self.naming.tracked:
                assert flag is not None
                flag_truth = truthiness(st.vals.get(flag))
                if flag_truth is not None and flag_truth != truth:
                    return None
                if flag_truth is None:
                    st = replace(st, vals={**st.vals, flag: NONZERO if truth else ZERO})
                return self.eval(st, e, span, emit, blk)
            case C.Name() | C.Member():
                if isinstance(e, C.Name) and e.id in self.naming.tracked:
                    known_truth = truthiness(st.vals.get(e.id))
                    if known_truth is not None and known_truth != truth:
                        return None  # the value the path gave it says otherwise
                    if known_truth is None:
                        tok = st.vals.get(e.id) or ""
                        site = tok if tok.startswith(SYM) else ""
                        st = replace(st, vals={**st.vals,
                                               e.id: NONZERO + site if truth else ZERO})
                k = self.naming.path(e, st)
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
                return self.set_null(st, k)
            case C.Literal(text=t):
                try:
                    val = int(t.rstrip("uUlL"), 0) != 0
                except ValueError:
                    return st
                return st if val == truth else None
        return self.eval(st, e, span, emit, blk)

    # ------------------------------------------------------------ operations
    def op_each(self, st: State, op: Op, emit: Emit, blk=-1) -> list[State]:
        """The states after ``op``, apart where a helper's cases give a flag handed on to a
        helper conditioned on it different values (``mode = lock_for_read(g)``: each mode
        goes to the unlock on its own path, see ``Naming.handed``); else the one state."""
        target = C.Name(op.name) if op.kind == OpKind.DECL and op.name is not None else \
            strip(op.expr.target) if op.kind == OpKind.EVAL and isinstance(op.expr, C.Assign) \
            and op.expr.op == "=" else None
        value = op.expr.value if isinstance(op.expr, C.Assign) else op.expr
        if not isinstance(target, C.Name) or target.id not in self.naming.handed \
                or not isinstance(strip(value), C.Call):
            out = self.op(st, op, emit, blk)
            return [out] if out is not None else []
        apart: dict[frozenset, State] = {}
        for s, evs in self.assign_each(st, target, value, op.span, emit, blk,
                                       declaration=op.kind == OpKind.DECL):
            _emit_all(emit, evs)
            joined = join(apart.get(s.partition), s)
            assert joined is not None
            apart[s.partition] = joined
        return list(apart.values())

    def op(self, st: State, op: Op, emit: Emit, blk=-1) -> State | None:
        k = op.kind
        if k == OpKind.EVAL:
            e = op.expr
            if isinstance(e, C.Call) and e.name in self.model.assertions and e.args:
                # WARN_ON(cond) as a statement states the author's belief that cond is false
                if emit:
                    emit(Event(EventKind.CALL, op.span, st, call=e, block=blk))
                return self.refine(st, e.args[0], False, op.span, emit, blk) or st
            return self.eval(st, e, op.span, emit, blk)
        if k == OpKind.DECL:
            assert op.name is not None
            if op.expr is None:
                if self.naming.symbolic:
                    return st
                if op.name in st.vals:
                    st = replace(st, vals={k: v for k, v in st.vals.items() if k != op.name})
                p = ObjPath(op.name)
                return self._declare(self.kill(st, p, op.span.line), op.name,
                                     op.span, emit, blk)
            if isinstance(op.expr, C.Opaque) and op.expr.text.startswith("{"):
                return self.eval(st, op.expr, op.span, emit, blk)
            return self.assign(st, C.Name(op.name), op.expr, op.span, emit, blk,
                               declaration=True)
        if k == OpKind.RETURN:
            s2 = self.eval(st, op.expr, op.span, emit, blk)
            if s2 is not None and emit:
                emit(Event(EventKind.RETURN, op.span, s2, block=blk))
            return s2
        if k == OpKind.ADVANCE:
            if op.expr is not None:
                ck = self.naming.path(op.expr, st)
                if ck is not None:
                    if emit:
                        emit(Event(EventKind.ADVANCE, op.span, st, block=blk, path=ck))
                    if self.naming.symbolic:
                        return self.bind(st, op.expr, None, True, op.span, emit, blk)
                    st = self.kill(st, ck, op.span.line)
                    return replace(st, nonnull=st.nonnull | {ck}, null=st.null - {ck})
            return st
        if k in (OpKind.GUARD_ACQUIRE, OpKind.GUARD_RELEASE):
            gpair = self.model.guard(op.lock_class or "")
            if gpair is None or not op.args:
                return st
            prim = gpair[0] if k == OpKind.GUARD_ACQUIRE else gpair[1]
            call = C.Call(C.Name(prim.name), op.args)
            res = None
            for s, *_, evs in self.call_cases(st, call, op.span, emit, blk):
                _emit_all(emit, evs)
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

    # ------------------------------------------------------------ lock-free functions
    def touches_locks(self, entry: State, calls, guards: bool) -> bool:
        """Whether anything in the function can change a lock state: a primitive, a guard,
        a helper whose summary has lock effects (or whose result says whether it locked), a
        call with unknown effects given an object, a contract, or locks in the entry state.
        Most functions do not (about 70% of mm/)."""
        if entry.locks or self.fn.annotations or guards:
            return True
        return any(self._call_may_lock(c) for c in calls)

    @property
    def _tracked_calls(self) -> frozenset[str]:
        """Calls whose states the checks read beyond locks (a new object's privacy)."""
        alloc = self.model.protected.alloc.allocators
        mods = {m for s in self.model.protected.structures for m in s.modifiers}
        return frozenset(alloc) | frozenset(mods)

    def _call_may_lock(self, c: C.Call) -> bool:
        if isinstance(c.func, C.Call):  # guard(x)(y) in an expression
            return True
        if c.name is None:
            return False
        if c.name in self._tracked_calls:
            return True  # an allocation or a change of protected data: states matter
        if self.model.primitive(c.name) is not None:
            return True
        summ = self.summaries.summary(c.name)
        return summ is not None and summ.has_effects


COND = "?"  # State.vals keys of tested calls: "?" + the call's text


def _address(e: C.Expr | None) -> bool:
    while isinstance(e, C.Cast):
        e = e.expr
    return isinstance(e, C.Unary) and e.op == "&"


def truthiness(tok: str | None) -> bool | None:
    """Whether a tracked value is true in a condition (None: not known)."""
    if tok is None:
        return None
    if tok in (ZERO, "false", "NULL"):
        return False
    if tok.startswith(SYM):
        return None  # a call's result, not tested yet
    if is_nonzero(tok) or tok == "true" or tok.startswith("-") or tok.startswith("ERR_PTR("):
        return True
    if tok.isdigit():
        return tok != "0"
    return None  # a macro constant: its value is not known here


def _same_value(tok: str, want: str) -> bool | None:
    """Whether a tracked value equals a constant (None: cannot tell)."""
    if tok == want:
        return True
    a, b = truthiness(tok), truthiness(want)
    if is_nonzero(tok) or tok.startswith("-" + SYM):
        return False if b is False else None
    if tok.startswith(SYM):
        return None

    def exact(x):
        return x in (ZERO, "false", "NULL", "true") or x.lstrip("-").isdigit()

    if exact(tok) and exact(want):
        return False
    if a is not None and b is not None and a != b:
        return False
    return None


def _out_flag(e: C.Expr) -> str | None:
    """``*p`` as the key of a tracked out-parameter flag."""
    e = strip(e)
    if isinstance(e, C.Unary) and e.op == "*" and isinstance(e.operand, C.Name):
        return "*" + e.operand.id
    return None


def _addr(call: C.Call, p: ObjPath) -> bool:
    """The call is given the address of variable ``p`` (``&x``): it may store to it."""
    return any(isinstance(a, C.Unary) and a.op == "&" and isinstance(a.operand, C.Name)
               and a.operand.id == p.root for a in call.args)


def _emit_all(emit: Emit, evs) -> None:
    if emit:
        for ev in evs:
            emit(ev)


def unify_fresh(st: State, a: ObjPath, b: ObjPath) -> State:
    """Summaries: ``a == b`` where one side is a value the function obtained (``p@12``, a
    call's result) and the other a name of the entry (``victim``): the object has that
    name, so locks taken through the fresh value are the entry object's locks."""
    if a.is_fresh and not b.is_fresh:
        fresh, real = a, b
    elif b.is_fresh and not a.is_fresh:
        fresh, real = b, a
    else:
        return st
    if fresh.steps:
        return st

    def ren(k: ObjPath) -> ObjPath:
        return k.rebase(fresh, real) if k.has_prefix(fresh) else k

    fresh_name = C.Name(f"{fresh.root}@{fresh.version}")
    real_e = real.to_expr() or fresh_name
    env = {v: (real_e if x == fresh_name else x) for v, x in st.env.items()}
    locks = {LockId(ren(k.path), k.cls): f for k, f in st.locks.items()}
    return replace(st, env=env, locks=locks, null=frozenset(ren(k) for k in st.null),
                   nonnull=frozenset(ren(k) for k in st.nonnull))
