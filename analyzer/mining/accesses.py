"""Every read and write of a struct member in a solved function, with the locks held there.

An access is ``OBJ->field`` (or ``OBJ.field``) whose struct the types know, or a use of a
file-scope object of the file itself (struct "", field its name):

* a *write*: the target of an assignment, ``++``/``--``, or ``&OBJ->field`` handed to a call
  that changes a container (``protected.toml`` ``[guards] mutators``: ``list_add``, an
  interval tree's ``_insert``);
* a *read*: any other use of its value, a walk of it (an iterator loop), ``&OBJ->field``
  handed to any other call.

Not counted: lock members and members of self-synchronising types (``atomic_t``…), accesses
marked lockless (``READ_ONCE``, ``data_race``…), the arguments of lock primitives.

Each access says which locks are held there, as templates over the access's object (the
expression before ``->``): a lock held on that object or one it leads to (``{obj}->lock``,
``{obj}->vm_mm->mmap_lock``), or a global (``hugetlb_lock``). It also says which it *lacks*:
a lock known not held on some path there, or one the function takes on the same object
elsewhere and does not hold here — the function manages that lock itself, so not holding it
is a choice, not a caller's business. A lock neither held nor lacking is unknown at that
access (a caller may hold it).

An access to an object the function allocated and has not published, or frees (an argument
of a ``freers`` call), is init or teardown, and so is every access of a function of the init
or exit sections (``[guards] alone``: ``__init``, ``__meminit``…); one to a struct the file
keeps in a local variable is a descriptor of one operation (``struct kasan_report_info
info;`` handed down by pointer). All are kept, marked ``private``, and never counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from ..flow.cfg import LoopKind, OpKind
from ..locks.events import EventKind
from ..locks.lockid import ARROW, DOT, ObjPath
from ..locks.result import FileAnalysis, FunctionResult
from ..locks.state import State
from ..model.lockmodel import Access, LockModel
from ..syntax import tree as C


@dataclass(frozen=True, slots=True)
class FieldAccess:
    struct: str
    field: str
    access: Access
    function: str
    line: int
    what: str  # the access as written, canonical: "h->resv_huge_pages"
    held: tuple[str, ...]  # templates of the locks must-held there, sorted
    lacking: tuple[str, ...]  # templates known not held there, or managed elsewhere
    private: bool = False  # init or teardown: never counted
    # templates of the locks the function acquires or asserts itself, or its in-file callers
    # all hold
    taken: tuple[str, ...] = ()
    # in a header's function: called from other files, whose locks this file cannot see
    elsewhere: bool = False

    def takes(self, lock: str) -> bool:
        return lock in self.taken

    def never_takes(self, lock: str) -> bool:
        """Its function never takes ``lock``, and its callers are this file's to judge."""
        return self.lock_state(lock) is None and lock not in self.taken and not self.elsewhere

    def lock_state(self, lock: str) -> bool | None:
        """True: ``lock`` held here; False: known lacking; None: unknown."""
        if lock in self.held:
            return True
        if lock in self.lacking:
            return False
        return None


def template(lock: ObjPath, base: ObjPath | None, is_global) -> str | None:
    """``lock`` as a template over ``base`` (``{obj}->root->rwsem``), or a global lock's name
    (``hugetlb_lock``, ``init_mm.page_table_lock``: no pointer followed, so it is one object
    wherever it is named); None when it is neither (a lock of another object)."""
    if base is not None and lock.root == base.root and lock.version == base.version \
            and len(lock.steps) > len(base.steps) \
            and lock.steps[:len(base.steps)] == base.steps:
        rest = lock.steps[len(base.steps):]
        if all(s.startswith((ARROW, DOT)) for s in rest):
            return "{obj}" + "".join(rest)
        return None
    if lock.version is None and not lock.call_root and is_global(lock.root) \
            and all(s.startswith(DOT) for s in lock.steps) \
            and (base is None or base.root != lock.root):
        return lock.render()
    return None


def _variants(p: ObjPath, st: State) -> Iterator[ObjPath]:
    """``p``, and ``p`` with a prefix replaced by a path known to be the same object."""
    yield p
    for a, b in st.eq:
        for x, y in ((a, b), (b, a)):
            if p.root == x.root and p.version == x.version \
                    and p.steps[:len(x.steps)] == x.steps:
                yield ObjPath(y.root, y.steps + p.steps[len(x.steps):], y.version)


class _Collector:
    def __init__(self, fn: FunctionResult, model: LockModel,
                 globals_: dict[str, str] | None = None):
        self.fn = fn
        self.nm = fn.naming
        # the types of names: the function's own over the file's objects
        self.globals = globals_ or {}
        self.vartypes = {**self.globals, **self.nm.vartypes}
        self.model = model
        self.rules = model.protected.guard_rules
        # boot-time init or module exit code runs alone: all its accesses are private
        self.alone = bool(set(fn.function.attributes) & self.rules.alone)
        # a header's function is called from other files: the local discipline of the file
        # (every access holding the lock takes it here) says nothing of its callers
        self.header = fn.function.path.endswith(".h")
        self.out: list[FieldAccess] = []
        self.managed: list[ObjPath] = []  # locks the function takes or asserts itself
        self.freed: set[ObjPath] = set()
        for ev in fn.events:
            if ev.kind in (EventKind.ACQUIRE, EventKind.ASSERT) and ev.lock is not None:
                self.managed.extend(_variants(ev.lock.path, ev.state))
            if ev.kind == EventKind.CALL and ev.call is not None \
                    and ev.call.name in self.rules.freers:
                for a in ev.call.args:
                    p = self.nm.path(a, ev.state)
                    if p is not None:
                        self.freed.add(p)
        # … and, for a static function whose callers are all in the file, those every caller
        # holds at its entry: the file holds them there, no caller elsewhere is relied on
        # without saying so
        self.taken = list(self.managed)
        entry = fn.entry
        if fn.entry_from_callers and entry is not None:
            for k, fact in entry.locks.items():
                if fact.must:
                    self.taken.extend(_variants(k.path, entry))
        # locals a declaring macro introduces (``LIST_HEAD(pages);``): an upper-case call of
        # one bare name, as a statement of this function
        self.locals = set(self.nm.locals)
        for o in fn.ops:
            e = o.op.expr
            if o.op.kind == OpKind.EVAL and isinstance(e, C.Call) and e.name \
                    and e.name.isupper() and len(e.args) == 1 \
                    and isinstance(e.args[0], C.Name):
                self.locals.add(e.args[0].id)
        self._skip = (set(model.primitives) | set(model.guards) | set(model.wrappers)
                      | model.assertions | model.queries | self.rules.marked)

    # ------------------------------------------------------------ one access
    def record(self, m: C.Member, access: Access, line: int, st: State,
               private: bool = False) -> None:
        nm = self.nm
        struct = nm.types.struct_of(m.base, self.vartypes, nm.aliases)
        if struct is None:
            return
        ftype = nm.types.field_type(struct, m.field)
        if ftype is not None and (self.model.is_lock_type(ftype)
                                  or self.rules.is_lockless_type(ftype)):
            return
        base = nm.path(m.base, st)
        what = C.render(nm.canon(m, st) or m)
        self._add(struct, m.field, access, line, st, base, what, private)

    def record_global(self, name: str, access: Access, line: int, st: State,
                      private: bool = False) -> None:
        """An access of a file-scope object itself (``nr_swapfiles++``)."""
        t = self.globals.get(name)
        if t is None or name in self.nm.vartypes or self.model.is_lock_type(t) \
                or self.rules.is_lockless_type(t):
            return
        self._add("", name, access, line, st, ObjPath(name), name, private)

    def _add(self, struct: str, field: str, access: Access, line: int, st: State,
             base: ObjPath | None, what: str, private: bool) -> None:
        nm = self.nm
        held: set[str] = set()
        lacking: set[str] = set()
        unknown: set[str] = set()  # a fact says "unknown" on some path (a caller's lock)
        for k, fact in st.locks.items():
            for v in _variants(k.path, st):
                t = template(v, base, nm.is_global)
                if t is None:
                    continue
                if fact.must:
                    held.add(t)
                elif fact.maybe_not_held:
                    lacking.add(t)
                else:
                    unknown.add(t)
        for p in self.managed:  # taken here elsewhere, absent here: not held here
            t = template(p, base, nm.is_global)
            if t is not None and t not in held and t not in unknown:
                lacking.add(t)
        private = private or self.alone or base is not None and (
            any(_within(base, q) for q in st.private)
            or any(_within(base, q) for q in self.freed))
        taken = {t for p in self.taken if (t := template(p, base, nm.is_global)) is not None}
        # a lock some path holds (a caller's, joined at a static function's entry) is
        # handled here, if not everywhere: the function is not one that never takes it
        taken |= unknown - held - lacking
        self.out.append(FieldAccess(struct, field, access, self.fn.function.name, line,
                                    what, tuple(sorted(held)), tuple(sorted(lacking - held)),
                                    private, tuple(sorted(taken)), self.header))

    # ------------------------------------------------------------ expressions
    def expr(self, e: C.Expr | None, line: int, st: State) -> None:
        match e:
            case None:
                return
            case C.Name(id=ident):
                self.record_global(ident, Access.READ, line, st)
            case C.Member():
                self.record(e, Access.READ, line, st)
                self.base(e.base, line, st)
            case C.Assign(target=t, value=v):
                tt = _nocast(t)
                while isinstance(tt, C.Index) and isinstance(_nocast(tt.base),
                                                             (C.Member, C.Name)):
                    self.expr(tt.index, line, st)  # X->arr[i] = v writes X->arr's content
                    tt = _nocast(tt.base)
                if isinstance(tt, C.Member):
                    self.record(tt, Access.WRITE, line, st)
                    self.base(tt.base, line, st)
                elif isinstance(tt, C.Name):
                    self.record_global(tt.id, Access.WRITE, line, st)
                else:
                    self.base(tt, line, st)
                self.expr(v, line, st)
            case C.Unary(op=op, operand=o):
                oo = _nocast(o)
                if op in ("++", "--", "p++", "p--") and isinstance(oo, C.Member):
                    self.record(oo, Access.WRITE, line, st)
                    self.base(oo.base, line, st)
                elif op in ("++", "--", "p++", "p--") and isinstance(oo, C.Name):
                    self.record_global(oo.id, Access.WRITE, line, st)
                elif op == "&":
                    self.base(oo, line, st)  # an address alone reads nothing
                else:
                    self.expr(o, line, st)
            case C.Call(func=f, args=args):
                name = e.name
                if name in self._skip:
                    return
                if not isinstance(f, C.Name):
                    self.expr(f, line, st)
                mutator = self.rules.is_mutator(name)
                # a container on the stack (list_add(&page->lru, &local_list)): what the
                # call links into it or out of it is the function's own business
                own = mutator and any(isinstance(x := _nocast(a), C.Unary) and x.op == "&"
                                      and isinstance(x.operand, C.Name)
                                      and x.operand.id in self.locals for a in args)
                for a in args:
                    aa = _nocast(a)
                    if isinstance(aa, C.Unary) and aa.op == "&" \
                            and isinstance(_nocast(aa.operand), C.Member):
                        m = _nocast(aa.operand)
                        assert isinstance(m, C.Member)
                        self.record(m, Access.WRITE if mutator else Access.READ, line, st,
                                    private=own)
                        self.base(m.base, line, st)
                    elif isinstance(aa, C.Unary) and aa.op == "&" \
                            and isinstance(g := _nocast(aa.operand), C.Name):
                        self.record_global(g.id, Access.WRITE if mutator else Access.READ,
                                           line, st, private=own)
                    else:
                        self.expr(a, line, st)
            case C.Binary(left=a, right=b):
                self.expr(a, line, st)
                self.expr(b, line, st)
            case C.Ternary(test=t, then=a, other=b):
                self.expr(t, line, st)
                self.expr(a, line, st)
                self.expr(b, line, st)
            case C.Cast(expr=x):
                self.expr(x, line, st)
            case C.Index(base=b, index=i):
                self.expr(b, line, st)
                self.expr(i, line, st)
            case C.Comma(items=items):
                for x in items:
                    self.expr(x, line, st)
            case C.Opaque(calls=calls):
                for c in calls:
                    self.expr(c, line, st)

    def base(self, e: C.Expr | None, line: int, st: State) -> None:
        """The object an access goes through: pointer chasing is no access of its own, but
        what it computes on the way (an index, a call) is."""
        match e:
            case C.Member(base=b):
                self.base(b, line, st)
            case C.Index(base=b, index=i):
                self.base(b, line, st)
                self.expr(i, line, st)
            case C.Unary(operand=o) | C.Cast(expr=o):
                self.base(o, line, st)
            case C.Call() | C.Ternary() | C.Binary() | C.Comma() | C.Opaque():
                self.expr(e, line, st)

    def run(self) -> list[FieldAccess]:
        for o in self.fn.ops:
            if o.state is None or o.op.kind not in (OpKind.EVAL, OpKind.DECL, OpKind.RETURN,
                                                    OpKind.COND):
                continue
            self.expr(o.op.expr, o.op.span.line, o.state)
        for lp in self.fn.cfg.loops:
            st = self.fn.ins[lp.header]
            if lp.kind != LoopKind.ITER or lp.iterated is None or st is None:
                continue
            m = _nocast(lp.iterated)
            if isinstance(m, C.Unary) and m.op == "&":
                m = _nocast(m.operand)
            if isinstance(m, C.Member):
                self.record(m, Access.READ, lp.span.line, st)
        return self.out


def _nocast(e: C.Expr | None) -> C.Expr | None:
    while isinstance(e, C.Cast):
        e = e.expr
    return e


def _within(p: ObjPath, q: ObjPath) -> bool:
    """``p`` is ``q`` or reached from it."""
    return p.root == q.root and p.version == q.version and p.steps[:len(q.steps)] == q.steps


def function_accesses(fn: FunctionResult, model: LockModel,
                      globals_: dict[str, str] | None = None) -> list[FieldAccess]:
    return _Collector(fn, model, globals_).run()


def stack_structs(fa: FileAnalysis) -> frozenset[str]:
    """The structs the file keeps in a function's local variable (not behind a pointer):
    descriptors of one operation (``struct kasan_report_info info;``), private to it however
    many functions the pointer to them is passed down."""
    out = set()
    for fn in fa.functions:
        nm = fn.naming
        for name in nm.locals:
            m = _STACK_STRUCT.fullmatch(" ".join((nm.vartypes.get(name) or "").split()))
            if m:
                out.add(m.group(1))
    return frozenset(out)


_STACK_STRUCT = re.compile(r"(?:const\s+)?struct\s+(\w+)")


def file_accesses(fa: FileAnalysis, model: LockModel) -> tuple[FieldAccess, ...]:
    out: list[FieldAccess] = []
    globals_ = dict(fa.parsed.globals) if fa.parsed is not None else {}
    stack = stack_structs(fa)
    for fn in fa.functions:
        out.extend(replace(a, private=True) if a.struct in stack else a
                   for a in function_accesses(fn, model, globals_))
    return tuple(sorted(out, key=lambda a: (a.line, a.struct, a.field, a.access)))
