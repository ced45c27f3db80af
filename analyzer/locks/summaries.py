"""Function summaries derived from the callee's own body (see :mod:`analyzer.locks.summary`
for the values).

A helper is summarised path by path: its paths are enumerated (loops followed once round, a
block at most ``MAX_VISITS`` times on a path) with the same transfer function as the dataflow,
its variables tracked symbolically over its entry values, and each path's net lock effects,
returned value, NULL conditions, equalities and forgotten objects become one case. A value
decided by a trylock (``return down_write_trylock(…)``, ``ret = trylock() != 0``) forks the
path on its outcome. A helper with more than ``MAX_PATHS`` paths is summarised from its joined
exit state instead, lock by lock, and its summary says so (``Inexact.JOINED``). A call of a
helper whose cases differ in what they do to locks (or, assigned, in the value they return)
forks the path, as a statement, an assignment or a branch's condition: joined on one path,
one case's acquire would read as every path's. A lock taken and given back on a path is a
*pair* (not held after the call); each path's effects are in the order of their locks' last
events.

A path that tests a parameter holding a plain value (``if (lock_flags & XFS_IOLOCK_EXCL)``,
never assigned in the body) keeps that condition and its outcome (``SumCase.when``); the
conditions every path to an outcome shares stay, the others are dropped. At a call, a case
whose condition is false for the arguments given — constants, object-like macros of the
caller's file and headers, a local holding a constant on the path — is not what the call
does (``Transfer._may_run``), so ``xfs_ilock(ip, XFS_IOLOCK_EXCL)`` takes the one lock its
flag names. A flag the path stores through a pointer parameter (``*dropped = 1``) is a
case's ``sets``: the caller's ``&dropped`` holds it after the call.

Bodies come from the file being analysed (its static helpers), the tree's headers (static
inline wrappers such as ``anon_vma_lock_write``), the non-static functions of the C files
in ``summary_dirs`` and of the analysed file's own folder (a subsystem's helpers, such as
fs/xfs/xfs_inode.c's for fs/xfs/xfs_pnfs.c); ``rules/`` wrappers are the fallback when the
tree has no body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import cast

from ..flow.cfg import Cfg, EdgeKind, OpKind, build_cfg
from ..frontend.treesitter import parse_expression
from ..model.enums import Action, LockKind, Mode
from ..model.lockmodel import LockModel, Wrapper
from ..syntax import tree as C
from ..syntax.consteval import tests_only
from ..syntax.exprs import assigned_names, replace_prefix, root_name, strip, subexprs
from .dataflow import make_transfer, solve_function
from .events import Event, EventKind, Inexact
from .lockid import ObjPath, path_of
from .naming import SymbolicNaming, const_token
from .state import UNKNOWN, Poss, State
from .summary import RET, Effect, SumCase, Summary
from .transfer import Transfer, truthiness
from .types import TypeInfo

RETVAL = "__retval"  # a path's returned value when it returns a call's result
MAX_PATHS = 48
MAX_FORK = 4  # a path forks on a call's cases when they bind different values, up to this
MAX_STEPS = 2000  # path enumeration gives up (and joins instead) past this many block visits
MAX_VISITS = 2
MAX_DEPTH = 8
# helpers defined in other C files of the tree are read this many calls deep (each is in a
# file the whole-tree run parses anyway; a one-file run parses a few more)
FAR_DEPTH = 3


@dataclass
class FunctionIndex:
    """Where to find a function body by name, nearest first."""

    lookups: list[Callable[[str], C.Function | None]] = field(default_factory=list)
    # lookups that read other files of the tree: used for calls made by the analysed file's
    # own functions, not for the helpers' helpers (each would parse another whole file)
    far: list[Callable[[str], C.Function | None]] = field(default_factory=list)
    _memo: dict[tuple[str, bool], C.Function | None] = field(default_factory=dict)
    # every definition of a name, when the frontend read every #if branch: a header's
    # !CONFIG stub beside the .c file's real body are both what the call may run
    alternatives: Callable[[str, bool], list[C.Function]] | None = None

    def find_all(self, name: str, far: bool = True) -> list[C.Function]:
        first = self.find(name, far)
        if self.alternatives is None:
            return [first] if first is not None else []
        out = [first] if first is not None else []
        for f in self.alternatives(name, far):
            if all(f is not g for g in out):
                out.append(f)
        return out

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
    """The summary provider of one analysed file (memoised; never shared between files)."""

    def __init__(self, model: LockModel, index: FunctionIndex, types: TypeInfo,
                 declared: Callable[[str], bool] | None = None,
                 defined: Callable[[str], bool] | None = None,
                 declared_noreturn: Callable[[str], bool] | None = None,
                 touches: Callable[[str], frozenset[int] | None] | None = None,
                 far_defined: Callable[[str], bool] | None = None,
                 constant: Callable[[str], int | None] | None = None):
        self.model = model
        self.index = index
        self.types = types
        self._declared = declared or (lambda name: False)
        # the tree defines it somewhere (a body we may not read): its effects are taken as
        # none rather than unknown, as for a body read and found lock-free
        self._defined = defined or (lambda name: False)
        self._declared_noreturn = declared_noreturn or (lambda name: False)
        # for a callee with no summary: which arguments' locks its text may take or release
        # (None: not known; analyzer.locks.retakes.Touches)
        self._touches = touches or (lambda name: None)
        # defined in another C file of the tree: a body summaries read only FAR_DEPTH deep
        self._far_defined = far_defined or (lambda name: False)
        # the value of a constant name (an object-like macro) where the analysed file is
        self._constant = constant or (lambda name: None)
        self.noreturn_memo: dict[str, bool] = {}
        self.memo: dict[tuple[str, bool], Summary | None] = {}
        self.active: list[str] = []
        self.effects_memo: dict[str, bool] = {}

    # ------------------------------------------------------------ provider API
    def summary(self, name: str) -> Summary | None:
        far = len(self.active) < FAR_DEPTH  # other files' bodies, a few calls deep
        key = (name, far)
        if key in self.memo:
            return self.memo[key]
        if not far and (name, True) in self.memo:
            return self.memo[(name, True)]  # a fuller answer is already known
        if name in self.active or len(self.active) > MAX_DEPTH:
            return None  # recursion: unknown while in progress (see known())
        fns = [f for f in self.index.find_all(name, far=far) if self._may_lock(f, 0)]
        result: Summary | None = None
        if fns:
            self.active.append(name)
            try:
                result = self.from_body(fns[0])
                for other in fns[1:]:  # #if alternatives: any of them may be the one built
                    result = _merged(result, self.from_body(other))
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

    def constant(self, name: str) -> int | None:
        return self._constant(name)

    def conditioned_args(self, name: str) -> frozenset[int]:
        summ = self.summary(name)
        if summ is None or not any(c.when for c in summ.cases):
            return frozenset()
        names = {x.id for c in summ.cases for cond, _ in c.when for x in subexprs(cond)
                 if isinstance(x, C.Name)}
        return frozenset(i for i, p in enumerate(summ.params) if p in names)

    def touches(self, name: str) -> frozenset[int] | None:
        """The positions of the arguments whose locks a call of ``name`` with no summary may
        change, read from its text across the tree; None when that is not known."""
        return self._touches(name)

    def known(self, name: str) -> bool:
        if name in self.model.wrappers:
            return True
        if name in self.active or len(self.active) > MAX_DEPTH:
            # a call back into a summary in progress (recursion), or past the depth read:
            # its effects are unknown (the text says which arguments' locks it may touch),
            # never "none"
            return False
        far = len(self.active) < FAR_DEPTH
        if self.index.find(name, far=far) is not None:
            return True
        if not far and self._far_defined(name):
            return False  # a body in another file, past the depth read: unknown, not none
        return self._defined(name)

    def noreturn(self, name: str, depth: int = 0) -> bool:
        """Whether a call of ``name`` never returns: a compiler builtin the rules name, a
        function declared ``__noreturn``, or a body (a macro's too: ``BUG()``) whose every
        path ends in such a call."""
        if name in self.noreturn_memo:
            return self.noreturn_memo[name]
        if name in self.model.noreturn or self._declared_noreturn(name):
            self.noreturn_memo[name] = True
            return True
        self.noreturn_memo[name] = False  # recursion guard
        # a body in another file of the tree too, as far as summaries read them
        fn = self.index.find(name, far=len(self.active) < FAR_DEPTH) \
            if depth < MAX_DEPTH else None
        result = fn is not None and self._never_returns(fn, depth)
        self.noreturn_memo[name] = result
        return result

    def _never_returns(self, fn: C.Function, depth: int) -> bool:
        """No path from the entry to the exit of the body avoids a call that never returns."""
        def ends(name: str) -> bool:
            return name != fn.name and self.noreturn(name, depth + 1)

        cfg = build_cfg(fn)
        seen = {cfg.entry}
        todo = [cfg.entry]
        while todo:
            b = todo.pop()
            if b == cfg.exit:
                return False
            block = cfg.blocks[b]
            if any(_ends(op, ends) for op in block.ops) or _cond_ends(block.cond, ends):
                continue
            const = truthiness(const_token(block.cond)) if block.cond is not None else None
            for e in block.succs:
                if const is not None and (e.kind == EdgeKind.FALSE and const
                                          or e.kind == EdgeKind.TRUE and not const):
                    continue  # while (1) has no way out through its condition
                if e.target not in seen:
                    seen.add(e.target)
                    todo.append(e.target)
        return True

    def lock_wrapper(self, name: str, depth: int = 0) -> bool:
        """Whether ``name`` only takes, drops or checks locks (``anon_vma_lock_write()``): its
        body calls nothing but lock primitives, rules wrappers and other such wrappers."""
        if name in self.model.wrappers:
            return True
        fn = self.index.find(name, far=False)
        if fn is None or depth > 3:
            return False
        names = C.called_names(fn.body)
        return bool(names) and all(
            n in self.model.primitives or n in self.model.queries
            or n in self.model.assertions or n in self.model.transparent
            or n != name and self.lock_wrapper(n, depth + 1) for n in names)

    def may_lock(self, name: str) -> bool:
        """Whether the body of ``name`` (when the tree has one in sight) touches locks."""
        fn = self.index.find(name, far=len(self.active) < FAR_DEPTH)
        return fn is not None and self._may_lock(fn, 0)

    def is_function(self, name: str) -> bool:
        return self._declared(name) or self.index.find(name) is not None

    def _may_lock(self, fn: C.Function, depth: int) -> bool:
        """Cheap pre-filter: does the body call anything that touches locks?"""
        if fn.name in self.effects_memo:
            return self.effects_memo[fn.name]
        if fn.annotations:
            self.effects_memo[fn.name] = True
            return True
        self.effects_memo[fn.name] = False  # recursion guard
        found = self._hands_to_unknown(fn)
        for name in () if found else C.called_names(fn.body):
            if name in self.model.primitives or name in self.model.wrappers \
                    or name in ("guard", "scoped_guard"):
                found = True
                break
            if depth < MAX_DEPTH:
                callee = self.index.find(name, far=depth < FAR_DEPTH)
                if callee is not None and callee is not fn and self._may_lock(callee, depth + 1):
                    found = True
                    break
        self.effects_memo[fn.name] = found
        return found

    def _hands_to_unknown(self, fn: C.Function) -> bool:
        """The body gives code whose effects are unknown a lock of its caller's, or an object
        that may own one (``__pte_offset_map_lock(…, ptlp)`` with no body in sight): the
        caller's locks reached through it may change in that call, and the summary must
        say so."""
        params = {p.name: p.type for p in fn.params}
        for call in C.stmt_calls(fn.body):
            for a in call.args:  # a callback that may lock, given to any call
                if isinstance(a, C.Name) and a.id not in params and a.id != fn.name \
                        and self.is_function(a.id) and not self.model.primitive(a.id):
                    callee = self.index.find(a.id, far=False)
                    if callee is None and not self.known(a.id) or callee is not None \
                            and callee is not fn and self._may_lock(callee, 1):
                        return True
            if call.name is None or self.model.primitive(call.name) is not None \
                    or call.name in self.model.queries or call.name in self.model.transparent \
                    or call.name in self.model.assertions or self.known(call.name):
                continue
            for a in call.args:
                r = root_name(a)
                if r in params and _owner_type(params[r], strip(a)):
                    return True
        return False

    # ------------------------------------------------------------ from a body
    def from_body(self, fn: C.Function) -> Summary:
        cfg = build_cfg(fn)
        tr = make_transfer(fn, cfg, self.model, self, self.types, SymbolicNaming)
        params = tuple(p.name for p in fn.params)
        paths = enumerate_paths(tr, cfg, _value_params(fn, cfg))
        cases: list[SumCase] = []
        inexact: set[Inexact] = set()
        if paths is None:
            cases = self._joined_cases(tr, cfg, params)
            inexact.add(Inexact.JOINED)
        else:
            for st, log, ret, when in paths:
                # and the conditions the helpers it called were chosen by (State.when)
                when += tuple(c for c in sorted(st.when, key=lambda c: (C.render(c[0]), c[1]))
                              if c not in when)
                for case in self._cases(tr, st, log, ret, params):
                    cases.append(replace(case, when=when) if when else case)
            cases = _conditioned(cases)
        inexact |= self._inherited_inexact(fn, cfg)
        if _unpaired(cases):
            inexact.add(Inexact.UNPAIRED)
        contract = tuple(f"{a.kind} {C.render(a.expr)}" for a in fn.annotations)
        return Summary(fn.name, params, tuple(cases), "body", contract, frozenset(inexact))

    def _inherited_inexact(self, fn: C.Function, cfg: Cfg) -> set[Inexact]:
        """Whatever is inexact about the summaries of the helpers it calls (an inexact
        summary makes every summary built on it inexact)."""
        out: set[Inexact] = set()
        for c in cfg.calls():
            if c.name and c.name != fn.name and self.model.primitive(c.name) is None:
                s = self.memo.get((c.name, False)) or self.memo.get((c.name, True))
                if s is not None and s.has_effects:
                    out |= s.inexact
        return out

    def _cases(self, tr: Transfer, st: State, log: list[Event], ret: C.Expr | None,
               params) -> list[SumCase]:
        outs: list[tuple[State, list[Event], bool | None, C.Expr | None]] = []
        if ret is not None and decided_by_try(tr, ret):
            # a returned call decides the result: split on its outcome (trylock wrappers)
            span = C.Span(0, 0)
            for outcome in (True, False):
                ev: list[Event] = []
                if isinstance(strip(ret), C.Call):
                    # a returned helper's result is ours: what it does to it, we do
                    for s2, ev2 in tr.assign_each(st, C.Name(RETVAL), ret, span, ev.append,
                                                  only_truth=outcome):
                        outs.append((s2, log + ev + list(ev2), outcome, C.Name(RETVAL)))
                    continue
                s3 = tr.refine(st, ret, outcome, span, ev.append)
                if s3 is not None:
                    outs.append((s3, log + ev, outcome, None))
            if len(outs) == 2 and _net(outs[0][1]) == _net(outs[1][1]):
                # one case for both outcomes: its value is neither's (no truth, no value)
                outs = [(outs[0][0], outs[0][1], None, None)]
        else:
            outs.append((st, log, None, ret))
        cases = []
        for s, events, truth, r in outs:
            rexpr = tr.naming.canon(r, s) if r is not None else None
            if rexpr is not None and not isinstance(rexpr, C.Unary) and (
                    _addr_of(r) or isinstance(r, C.Name) and _addr_of(s.env.get(r.id))):
                rexpr = C.Unary("&", rexpr)  # returns &x->member: RET points to the member
            if truth is None and r is not None:
                truth = _truth_of(r, rexpr, s)
            cases.append(self._make_case(tr, s, events, rexpr, truth, params))
        return cases

    def _make_case(self, tr: Transfer, st: State, events, rexpr, truth, params) -> SumCase:
        events = _rename_fresh(events, st)
        allowed = set(params) | {RET}
        locals_ = set(tr.naming.vartypes) - set(params)
        ret_ok = rexpr is not None and (_root_ok(rexpr, allowed, locals_)
                                        or "@" in C.render(rexpr))
        effects = []
        for action, mode, expr, kind, annotation, trylock in _net(events):
            e = expr
            if ret_ok and rexpr is not None:
                e = _ret_relative(e, rexpr)
            if not _root_ok(e, allowed, locals_):
                continue
            effects.append(Effect(action, mode, e, kind, annotation, trylock))
        requires = []
        for k in sorted(st.null | st.nonnull):
            pe = k.to_expr()
            if pe is None or not _root_ok(pe, set(params), locals_):
                continue
            requires.append((pe, k in st.null))
        equal = []
        for a, b in sorted(st.eq):
            pa, pb = a.to_expr(), b.to_expr()
            if pa is not None and pb is not None and _root_ok(pa, set(params), locals_) \
                    and _root_ok(pb, set(params), locals_):
                equal.append((pa, pb))
        forgets = []
        for obj in sorted(st.forgotten):
            if obj.root in params and not obj.is_fresh and _may_own_locks(tr, obj):
                oe = obj.to_expr()
                if oe is not None:
                    forgets.append(oe)
        ret_out = rexpr if rexpr is not None and _root_ok(rexpr, set(params), locals_) else None
        sets = tuple((C.Unary("*", C.Name(k[1:])), v) for k, v in sorted(st.vals.items())
                     if k.startswith("*") and k[1:] in params and const_token(_const_expr(v)))
        return SumCase(tuple(effects), ret_out, truth, tuple(requires), tuple(equal),
                       tuple(forgets), sets=sets)

    def _joined_cases(self, tr: Transfer, cfg: Cfg, params) -> list[SumCase]:
        """The cases of a helper summarised from its joined exit state, lock by lock: held
        on every path (acquire), not held on every path (release), taken in one mode on
        some paths and untouched on the others (two cases, no effect and an acquire: the
        cases' join is a may-held, not unknown); anything else is unknown after the call
        (forget). A join that mixes "not held" with "held", or "asserted" with "untouched",
        mostly stands for a lock the helper dropped out of sight (a fault handler's
        mmap_lock) or for the join's loss of which path is which (a flag tested twice)."""
        res = solve_function(tr, cfg)
        ex = res.exit_state()
        if ex is None:
            return [SumCase(())]
        locals_ = set(tr.naming.vartypes) - set(params)
        alternatives: list[list[Effect | None]] = []
        for k, f in ex.locks.items():
            pe = k.path.to_expr()
            if pe is None or not _root_ok(pe, set(params), locals_):
                continue
            held = sorted(f.poss - {Poss.UNKNOWN})
            if f.not_held:
                alternatives.append([Effect(Action.RELEASE, Mode.WRITE, pe, f.kind)])
            elif f.must:
                alternatives.append([Effect(Action.ACQUIRE, f.mode, pe, f.kind)])
            elif held in ([Poss.READ], [Poss.WRITE]):
                # taken on some paths, untouched on the others (not merely asserted there).
                # Of a lock the caller holds, the join cannot tell a take from a drop and
                # retake: held after the call either way
                alternatives.append([None, Effect(Action.ACQUIRE, _MODE_OF[held[0]], pe,
                                                  f.kind)])
            elif f.poss != UNKNOWN:
                alternatives.append([Effect(Action.FORGET, Mode.ANY, pe, f.kind)])
        # objects handed on to code that may take or drop their locks
        common = []
        for obj in sorted(ex.forgotten):
            pe = obj.to_expr()
            if pe is not None and _root_ok(pe, set(params), locals_):
                common.append(Effect(Action.FORGET, Mode.ANY, pe))
        width = max((len(a) for a in alternatives), default=1)
        cases = []
        for i in range(width):
            effects = [a[min(i, len(a) - 1)] for a in alternatives]
            case = SumCase(tuple(e for e in effects if e is not None) + tuple(common))
            if case not in cases:
                cases.append(case)
        return cases


_MODE_OF = {Poss.READ: Mode.READ, Poss.WRITE: Mode.WRITE}


# --------------------------------------------------------------------------- helpers


def _ret_relative(e: C.Expr, rexpr: C.Expr) -> C.Expr:
    """A lock expression in terms of the returned value: ``x->lock`` when ``x`` is returned
    is ``RET->lock``; when ``&x->member`` is returned, ``x->member.lock`` is ``RET->lock``."""
    if isinstance(rexpr, C.Unary) and rexpr.op == "&":
        target = rexpr.operand

        def walk(x: C.Expr) -> C.Expr:
            if x == target:
                return C.Unary("*", C.Name(RET))
            if isinstance(x, C.Member):
                if x.base == target and not x.arrow:
                    return C.Member(C.Name(RET), x.field, True)
                nb = walk(x.base)
                return C.Member(nb, x.field, x.arrow) if nb is not x.base else x
            return x

        return walk(e)
    return replace_prefix(e, rexpr, C.Name(RET))


def _addr_of(e: C.Expr | None) -> bool:
    while isinstance(e, C.Cast):
        e = e.expr
    return isinstance(e, C.Unary) and e.op == "&"


def _owner_type(t: str, e: C.Expr) -> bool:
    """A parameter (or a path from it) that can be or own a lock: not a number or flag."""
    return not isinstance(e, C.Name) or "*" in t or "struct" in t or "union" in t


def _may_own_locks(tr: Transfer, obj: ObjPath) -> bool:
    """A parameter's path that can be or reach a lock: not a plain number or flag."""
    if obj.steps:
        return True
    t = tr.naming.vartypes.get(obj.root, "")
    return "*" in t or "struct" in t or "union" in t


def _unpaired(cases: list[SumCase]) -> bool:
    """Some path acquires a lock it never releases first, and another path returning the
    same and run by the same arguments (so the caller cannot tell them apart) does not
    acquire it."""
    def takes(c: SumCase) -> set[str]:
        return {C.render(e.lock) for e in c.effects if e.action == Action.ACQUIRE}

    def changes(c: SumCase) -> set[str]:
        return {C.render(e.lock) for e in c.effects
                if e.action in (Action.ACQUIRE, Action.RELEASE, Action.CYCLE, Action.FORGET)}

    def apart(a: SumCase, b: SumCase) -> bool:
        """The caller tells the cases apart by the arguments it gives (``SumCase.when``)."""
        return any((cond, not took) in b.when for cond, took in a.when)

    for a in cases:
        for lock in takes(a):
            if any(lock not in changes(b) and b.truth == a.truth and not apart(a, b)
                   for b in cases):
                return True
    return False


def _merged(a: Summary, b: Summary) -> Summary:
    """The summary of a function with two definitions (#if branches): both's cases."""
    if a.params != b.params:
        return a  # different parameter lists: not alternatives of one function
    cases = list(a.cases) + [c for c in b.cases if c not in a.cases]
    return Summary(a.name, a.params, tuple(cases), a.origin, a.contract,
                   a.inexact | b.inexact)


def from_wrapper(w: Wrapper) -> Summary:
    text = w.lock
    nparams = 0
    for i in range(8):
        if f"{{{i}}}" in text:
            nparams = i + 1
            text = text.replace(f"{{{i}}}", f"__p{i}")
    text = text.replace("{ret}", RET)
    lock = parse_expression(text)
    params = tuple(f"__p{i}" for i in range(nparams))
    if w.action == Action.TRYLOCK:
        cases: tuple[SumCase, ...] = (SumCase((Effect(Action.ACQUIRE, w.mode, lock,
                                                      trylock=True),),
                                              truth=True), SumCase((), truth=False))
    elif w.action == Action.ACQUIRE_OR_NULL:
        cases = (SumCase((Effect(Action.ACQUIRE, w.mode, lock),), truth=True),
                 SumCase((), ret=C.Name("NULL"), truth=False))
    else:
        cases = (SumCase((Effect(w.action, w.mode, lock),)),)
    return Summary(w.name, params, cases, "rules")


def _rename_fresh(events: list[Event], st: State) -> list[Event]:
    """Events named through a value the path later found equal to an entry name
    (``p == victim``) are about the entry object: name them so, like the state does."""
    ren: dict[ObjPath, ObjPath] = {}
    for a, b in st.eq:
        if a.is_fresh and not b.is_fresh and not a.steps:
            ren[a] = b
        elif b.is_fresh and not a.is_fresh and not b.steps:
            ren[b] = a
    if not ren:
        return events
    out = []
    for ev in events:
        if ev.lock is not None:
            for fresh, real in ren.items():
                if ev.lock.path.has_prefix(fresh):
                    new = ev.lock.path.rebase(fresh, real)
                    fe, re_ = fresh.to_expr(), real.to_expr()
                    ev = replace(ev, lock=replace(ev.lock, path=new),
                                 lock_expr=replace_prefix(ev.lock_expr, fe, re_)
                                 if ev.lock_expr is not None and fe is not None
                                 and re_ is not None else ev.lock_expr)
                    break
        out.append(ev)
    return out


def _net(events: list[Event]) -> list[tuple[Action, Mode, C.Expr, LockKind, bool, bool]]:
    """Net lock effects per lock over one path, in the order of each lock's last event:
    acquire, release, cycle, pair or assert — preceded
    by forget when the lock was handed to code whose effects are unknown (after that, the
    entry state no longer matters: a release then is of a lock that code may have taken)."""
    seq: dict[ObjPath, list[Event]] = {}
    last_at: dict[ObjPath, int] = {}  # where each lock's last event is on the path
    for i, ev in enumerate(events):
        if ev.lock is not None:
            last_at[ev.lock.path] = i
        if ev.kind == EventKind.PAIR and ev.lock is not None and ev.lock_expr is not None:
            # a callee's take and give back, in this path's order
            seq.setdefault(ev.lock.path, []).extend(
                (replace(ev, kind=EventKind.ACQUIRE), replace(ev, kind=EventKind.RELEASE)))
        elif ev.kind in (EventKind.ACQUIRE, EventKind.RELEASE, EventKind.ASSERT,
                         EventKind.FORGET) and ev.lock is not None and ev.lock_expr is not None:
            seq.setdefault(ev.lock.path, []).append(ev)
    out: list[tuple[Action, Mode, C.Expr | None, LockKind, bool, bool]] = []
    # in the order of each lock's last event: what the path left last comes last (a cycle's
    # release is applied before every effect, see Transfer._apply_case)
    for _path, evs in sorted(seq.items(), key=lambda kv: last_at[kv[0]]):
        forgot = [i for i, e in enumerate(evs) if e.kind == EventKind.FORGET]
        if forgot:
            out.append((Action.FORGET, Mode.ANY, evs[forgot[-1]].lock_expr, LockKind.LOCK,
                        False, False))
            evs = evs[forgot[-1] + 1:]
            if not evs:
                continue
        changes = [e for e in evs if e.kind != EventKind.ASSERT]
        if not changes:
            last = evs[-1]
            out.append((Action.ASSERT, last.mode or Mode.ANY, last.lock_expr, LockKind.LOCK,
                        False, False))
            continue
        first, last = changes[0], changes[-1]
        kind = last.lock_kind or LockKind.LOCK
        annotation = all(e.annotation for e in changes)
        if last.kind == EventKind.RELEASE:
            if first.kind == EventKind.RELEASE:
                out.append((Action.RELEASE, last.mode or Mode.WRITE, last.lock_expr, kind,
                            annotation, False))
            else:  # taken and given back: not held after the call, whatever it was before
                out.append((Action.PAIR, first.mode or Mode.WRITE, last.lock_expr, kind,
                            annotation, first.trylock))
        else:
            act = Action.CYCLE if first.kind == EventKind.RELEASE else Action.ACQUIRE
            out.append((act, last.mode or Mode.WRITE, last.lock_expr, kind, annotation,
                        act == Action.ACQUIRE and last.trylock))
    # every event in seq has a lock_expr (the filter above)
    return cast("list[tuple[Action, Mode, C.Expr, LockKind, bool, bool]]", out)


def enumerate_paths(tr: Transfer, cfg: Cfg, tested: frozenset[str] = frozenset()):
    """All paths entry → exit with their end state, event log, returned expression and the
    conditions on the parameters in ``tested`` that the path took (see ``SumCase.when``), or
    None when the function has too many paths (the caller falls back to a join)."""
    results: list[tuple[State, list[Event], C.Expr | None, tuple[tuple[C.Expr, bool], ...]]] \
        = []
    entry = tr.entry_state()
    budget = [MAX_STEPS]  # blocks visited over all paths, finished or not
    conds: list[tuple[tuple[C.Expr, bool], ...]] = [()]

    def run(bid: int, st: State, log: list[Event], visits: dict[int, int], ret, first=0):
        budget[0] -= 1
        if len(results) > MAX_PATHS or budget[0] < 0:
            raise _TooMany
        if bid == cfg.exit:
            results.append((st, log, ret, conds[-1]))
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
            if op.kind == OpKind.RETURN and op.expr is not None and decided_by_try(tr, op.expr):
                ret = op.expr  # _cases splits on it, from the state before it runs
                continue
            forks = _cases_of(tr, cur, op, bid, ev)
            if forks is not None:
                # a call whose summary has several cases: each goes on as its own path
                for s4, ev4 in forks:
                    if s4 is not None:
                        run(bid, s4, ev + list(ev4), visits, ret, i + 1)
                return
            if op.kind == OpKind.EVAL and not isinstance(op.expr, C.Assign) \
                    and op.expr is not None and decided_by_try(tr, op.expr):
                # a try whose result is dropped: the lock is taken on one outcome only
                for truth in (True, False):
                    ev2: list[Event] = []
                    s2 = tr.refine(cur, op.expr, truth, op.span, ev2.append, bid)
                    if s2 is not None:
                        run(bid, s2, ev + ev2, visits, ret, i + 1)
                return
            target, value = _assignment(op)
            if target is not None and value is not None and decided_by_try(tr, value):
                for truth in (True, False):
                    ev3: list[Event] = []
                    if isinstance(strip(value), C.Call):
                        s3 = tr.assign(cur, target, value, op.span, ev3.append, bid,
                                       only_truth=truth)
                    else:  # trylock() != 0 and the like: the comparison decides
                        s3 = tr.refine(cur, value, truth, op.span, ev3.append, bid)
                        if s3 is not None:
                            s3 = tr.bind(s3, target, None, truth, op.span, ev3.append, bid)
                    if s3 is None:
                        continue
                    run(bid, s3, ev + ev3, visits, ret, i + 1)
                return
            if op.kind == OpKind.RETURN and isinstance(strip(op.expr), C.Ternary):
                # return c ? a : b — each outcome of c is its own path and value
                tern = strip(op.expr)
                assert isinstance(tern, C.Ternary)
                for truth, branch in ((True, tern.then), (False, tern.other)):
                    ev5: list[Event] = []
                    s5 = tr.refine(cur, tern.test, truth, op.span, ev5.append, bid)
                    if s5 is None:
                        continue
                    if isinstance(strip(branch), C.Call):
                        for s6, ev6 in tr.assign_each(s5, C.Name(RETVAL), branch, op.span,
                                                      ev5.append, bid):
                            run(cfg.exit, s6, ev + ev5 + list(ev6), visits, C.Name(RETVAL))
                    else:
                        run(cfg.exit, s5, ev + ev5, visits, branch)
                return
            if op.kind == OpKind.RETURN and isinstance(strip(op.expr), C.Call):
                # return f(…): what f does to the object it returns is done to ours, case
                # by case (joined, two cases' acquires of one lock would read as two)
                for s7, ev7 in tr.assign_each(cur, C.Name(RETVAL), op.expr, op.span,
                                              ev.append, bid):
                    run(bid, s7, ev + list(ev7), visits, C.Name(RETVAL), i + 1)
                return
            cur = tr.op(cur, op, ev.append, bid)
            if op.kind == OpKind.RETURN:
                ret = op.expr
        if cur is None:
            return
        for e in block.succs:
            cases = _edge_cases(tr, cur, block, e)
            if cases is not None:  # a helper's result tested: each case its own path
                for s9, ev9 in cases:
                    run(e.target, s9, ev + ev9, visits, ret)
                continue
            ev8: list[Event] = []
            out = tr.edge(cur, block, e, ev8.append)
            if out is None:
                continue
            took = e.kind == EdgeKind.TRUE
            if e.kind in (EdgeKind.TRUE, EdgeKind.FALSE) and block.cond is not None \
                    and tests_only(block.cond, tested, tr.model.transparent):
                conds.append(conds[-1] + ((block.cond, took),))
                try:
                    run(e.target, out, ev + ev8, visits, ret)
                finally:
                    conds.pop()
                continue
            run(e.target, out, ev + ev8, visits, ret)

    try:
        run(cfg.entry, entry, [], {}, None)
    except (_TooMany, RecursionError):
        return None
    return results


def _value_params(fn: C.Function, cfg: Cfg) -> frozenset[str]:
    """The parameters holding plain values (not pointers or aggregates) that the body never
    changes: a condition on them is a condition on the caller's arguments."""
    out = {p.name for p in fn.params
           if p.name and not any(t in p.type for t in ("*", "[", "struct ", "union "))}
    for b in cfg.blocks:
        if not out:
            break
        for e in [op.expr for op in b.ops] + [b.cond]:
            out.difference_update(assigned_names(e))
            for x in subexprs(e):
                if isinstance(x, C.Unary) and x.op == "&" and isinstance(x.operand, C.Name):
                    out.discard(x.operand.id)
        out.difference_update(op.name for op in b.ops if op.kind == OpKind.DECL)
    return frozenset(out)


def _conditioned(cases: list[SumCase]) -> list[SumCase]:
    """One case per distinct outcome (first-seen order), its conditions those that every
    path to it shares: a condition that did not decide the outcome is no condition of it."""
    first: dict[SumCase, tuple[tuple[C.Expr, bool], ...]] = {}
    shared: dict[SumCase, set[tuple[C.Expr, bool]]] = {}
    for c in cases:
        key = replace(c, when=())
        if key not in first:
            first[key], shared[key] = c.when, set(c.when)
        else:
            shared[key] &= set(c.when)
    return [replace(key, when=tuple(x for x in w if x in shared[key])) if shared[key] else key
            for key, w in first.items()]


def _ends(op, noreturn) -> bool:
    """An operation that is a call (statement or initialiser) of a never-returning function."""
    e = op.expr
    if op.kind not in (OpKind.EVAL, OpKind.DECL, OpKind.RETURN) or e is None:
        return False
    e = strip(e.value) if isinstance(e, C.Assign) else strip(e)
    return isinstance(e, C.Call) and e.name is not None and noreturn(e.name)


def _cond_ends(cond: C.Expr | None, noreturn) -> bool:
    """A branch whose condition is (the negation of) a call that never returns."""
    cond = strip(cond) if cond is not None else None
    while isinstance(cond, C.Unary) and cond.op == "!":
        cond = strip(cond.operand)
    return isinstance(cond, C.Call) and cond.name is not None and noreturn(cond.name)


def _cases_of(tr: Transfer, st: State, op, bid: int, log: list[Event]):
    """The per-case outcomes of an operation that is a call of a function whose summary has
    more than one case (``x = f(…);``, ``f(…);``), or None (follow it as one path)."""
    target, value = _assignment(op)
    call = strip(value) if target is not None and value is not None else \
        op.expr if op.kind == OpKind.EVAL and isinstance(op.expr, C.Call) else None
    if not isinstance(call, C.Call) or call.name is None:
        return None
    # cases that differ in what they do to locks each go on as a path of their own (joined,
    # one case's acquire would read as every path's); cases that give the variable
    # different values do too, a few of them
    if not _forks(tr, call) and (target is None or not _binds_apart(tr, call)):
        return None
    if target is None:
        return tr.call_each(st, call, op.span, log.append, bid)
    return tr.assign_each(st, target, value, op.span, log.append, bid,
                          declaration=op.kind == OpKind.DECL)


def _binds_apart(tr: Transfer, call: C.Call) -> bool:
    """A call of a helper whose few cases return different values (with plain arguments)."""
    summ = tr.summaries.summary(call.name) if call.name is not None else None
    return summ is not None and 1 < len(summ.cases) <= MAX_FORK \
        and len({(C.render(c.ret) if c.ret is not None else None, c.truth)
                 for c in summ.cases}) > 1 and _plain_args(call)


def _edge_cases(tr: Transfer, st: State, block, e) -> list[tuple[State, list[Event]]] | None:
    """The outcomes, one per case, of a branch on ``helper(…)`` or ``!helper(…)`` whose
    cases differ in what they do to locks: the cases whose result agrees with the edge
    (joined, one case's acquire would read as every path's). None: follow the edge."""
    cond, negated = block.cond, False
    while True:
        cond = strip(cond) if cond is not None else None
        if isinstance(cond, C.Unary) and cond.op == "!":
            cond, negated = cond.operand, not negated
        else:
            break
    if e.kind not in (EdgeKind.TRUE, EdgeKind.FALSE) or not _forks(tr, cond):
        return None
    assert isinstance(cond, C.Call) and cond.name is not None
    want = (e.kind == EdgeKind.TRUE) != negated
    span = block.cond_span or C.Span(0, 0)
    shared: list[Event] = []
    out = []
    for s, ret, truth, reteffs, subst, evs in tr.call_cases(st, cond, span, shared.append,
                                                           block.id):
        if truth is not None and truth != want:
            continue
        more: list[Event] = list(evs)
        s = tr.ret_effects(s, reteffs, subst, ret, span, more.append, cond.name, block.id)
        out.append((s, shared + more))
    return out


def _forks(tr: Transfer, call: C.Expr | None) -> bool:
    """A call of a helper whose summary's cases differ in what they do to locks (with plain
    arguments): a path goes on per case."""
    if not isinstance(call, C.Call) or call.name is None:
        return False
    summ = tr.summaries.summary(call.name)  # how many: MAX_PATHS bounds the paths
    return summ is not None and len({c.effects for c in summ.cases}) > 1 \
        and _plain_args(call)


def _plain_args(call: C.Call) -> bool:
    """No argument is itself a call or an assignment: a call with such arguments is
    followed as one path, as it always was."""
    return not any(isinstance(a, (C.Call, C.Assign)) for a in call.args)


def _assignment(op) -> tuple[C.Expr | None, C.Expr | None]:
    """(variable, value) of ``v = value`` / ``type v = value``."""
    if op.kind == OpKind.DECL and op.expr is not None:
        return C.Name(op.name), op.expr
    if op.kind == OpKind.EVAL and isinstance(op.expr, C.Assign) and op.expr.op == "=" \
            and isinstance(strip(op.expr.target), C.Name):
        return strip(op.expr.target), op.expr.value
    return None, None


def decided_by_try(tr: Transfer, e: C.Expr | None) -> bool:
    """Whether the truth of ``e`` is the outcome of a trylock (or of a helper whose cases
    differ by their result): ``trylock()``, ``!trylock()``, ``trylock() != 0``, casts."""
    while True:
        e = strip(e) if e is not None else None
        if isinstance(e, C.Unary) and e.op == "!":
            e = e.operand
        elif isinstance(e, C.Binary) and e.op in ("==", "!=") and C.is_null(strip(e.right)):
            e = e.left
        elif isinstance(e, C.Call) and e.name in tr.model.transparent and e.args:
            e = e.args[0]
        else:
            break
    if not isinstance(e, C.Call) or e.name is None:
        return False
    prim = tr.model.primitive(e.name)
    if prim is not None:
        return prim.action in (Action.TRYLOCK, Action.COND_ACQUIRE)
    summ = tr.summaries.summary(e.name)
    return summ is not None and len({c.truth for c in summ.cases}) > 1


class _TooMany(Exception):
    pass


def _truth_of(r: C.Expr, rexpr: C.Expr | None, st: State) -> bool | None:
    r = strip(r)
    if C.is_null(r):
        return False
    if isinstance(r, C.Literal):
        try:
            return int(r.text.rstrip("uUlL"), 0) != 0
        except ValueError:
            return None
    if isinstance(r, C.Name) and r.id in ("true", "false"):
        return r.id == "true"
    if _addr_of(r) or isinstance(rexpr, C.Unary) and rexpr.op == "&":
        return True  # &x, &x->member: an object's address is never NULL
    if rexpr is not None:
        if isinstance(rexpr, C.Name) and C.is_null(rexpr):
            return False
        k = path_of(rexpr)
        if k is not None and k in st.null:
            return False
        if k is not None and k in st.nonnull:
            return True
    return None


def _const_expr(text: str) -> C.Expr:
    """A tracked value's text as an expression (``"1"``, ``"-EAGAIN"``, ``"true"``)."""
    if text.startswith("-"):
        return C.Unary("-", _const_expr(text[1:]))
    return C.Literal(text) if text[:1].isdigit() else C.Name(text)


def _root(e: C.Expr) -> C.Expr:
    """What a path is rooted at: ``x`` of ``&x->a[i].b``, ``f(p)`` of ``f(p)->m``."""
    x = strip(e)
    while isinstance(x, (C.Member, C.Index, C.Unary)):
        x = strip(x.base if isinstance(x, (C.Member, C.Index)) else x.operand)
    return x


def _root_ok(e: C.Expr, allowed: set[str], locals_: set[str]) -> bool:
    x = _root(e)
    if isinstance(x, C.Call) and isinstance(x.func, C.Name) and x.args:
        # an accessor of parameters: page_folio(page), the lock of a page's folio
        return all(isinstance(r := _root(a), C.Name) and r.id in allowed for a in x.args)
    if not isinstance(x, C.Name) or "@" in x.id:
        return False
    if x.id in allowed:
        return True
    return x.id not in locals_ and not C.is_null(x)  # a global lock
