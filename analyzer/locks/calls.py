"""What a function's call sites know about locks: the input of the analysis across callers.

A :class:`CallTable` lists, for every function of a file, each call of another function by
name with the callee's arguments as object paths (in the caller's canonical naming) and the
locks known at the call: held for read, for write, in an unstated mode, or known not held.
It is a value computed from the frozen results of one file and cached with the file's
report, so a function's callers can be consulted without analysing their files again.

:func:`need_of` turns a lock a function needs into a :class:`Need`: the lock's path with
its root named by parameter position (or a global, the same name at every caller), so a
caller's site can rebase it on the argument it passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..model.enums import LockKind, Mode
from ..model.lockmodel import LockModel
from ..syntax import tree as C
from .atomic import Key, Open, open_at_calls
from .events import Event, EventKind
from .irqs import irq_events, irqs_off_at
from .lockid import LockId, ObjPath
from .result import FunctionResult
from .state import HELD, Fact, Poss
from .types import TypeInfo


@dataclass(frozen=True, slots=True)
class LockAt:
    """A lock's fact at a call site: ``poss`` are the letters of :class:`Poss`."""

    path: ObjPath
    cls: str | None
    poss: str
    # held only where the pointer the lock lives in is not NULL (``if (locked)
    # lock(locked)``): it proves its own object's need, not another object's of its class
    vacuous: bool = False

    @property
    def must(self) -> bool:
        return bool(self.poss) and set(self.poss) <= HELD

    @property
    def not_held(self) -> bool:
        return self.poss == Poss.NOT_HELD

    def same_class(self, cls: str | None, path: ObjPath) -> bool:
        """Of the class ``cls``; or, its own class unknown (``current->mm``: no type for
        ``current``), named by the same member as ``path``'s lock."""
        if self.cls is not None:
            return cls is not None and self.cls == cls
        return self.path.field is not None and self.path.field == path.field

    def serves(self, mode: str) -> bool:
        """Held on every path in a mode that serves a need of ``mode``."""
        if not self.must:
            return False
        return mode != Mode.WRITE or set(self.poss) <= {Poss.WRITE, Poss.ANY}


@dataclass(frozen=True, slots=True)
class CallSite:
    callee: str
    line: int
    args: tuple[ObjPath | None, ...]
    locks: tuple[LockAt, ...]
    # why interrupts are off on every path at the call ("" when not known off):
    # :func:`analyzer.locks.irqs.irqs_off_at`
    irqs_off: str = ""
    # why the call runs in atomic context on every path ("" when not known to): a spinning
    # lock held there, or an atomic section open (:func:`atomic_at`)
    atomic: str = ""
    # a call through a member (``callee`` "->flush"): the struct the member is read from,
    # when the types say ("" when not known)
    struct: str = ""


@dataclass(frozen=True, slots=True)
class FunctionCalls:
    name: str
    line: int
    static: bool
    params: tuple[str, ...]
    sites: tuple[CallSite, ...]


@dataclass(frozen=True, slots=True)
class Need:
    """A lock a function needs held when it is called (to walk or keep a structure):
    ``param`` is the position of the parameter the path starts from, or None for a global
    (``root`` is then the same object at every caller)."""

    function: str
    path: ObjPath
    param: int | None
    cls: str | None
    mode: str
    # the object could not be followed up the chain (a caller's own local, a lookup's
    # result): from there on, any lock of the class serves
    any_object: bool = False

    def at(self, site: CallSite) -> ObjPath | None:
        """The needed lock in the caller's naming at ``site``: rebased on the argument."""
        if self.any_object:
            return None
        if self.param is None:
            return self.path
        if self.param >= len(site.args) or site.args[self.param] is None:
            return None
        arg = site.args[self.param]
        assert arg is not None
        return self.path.rebase(ObjPath(self.path.root), arg)


@dataclass(frozen=True, slots=True)
class IrqsOff:
    """A function that turns interrupts on whatever its caller had (a ``spin_lock_irq()``
    … ``spin_unlock_irq()`` pair of its own): a bug at every call made with them off,
    which only its callers' sites can show."""

    function: str


@dataclass(frozen=True, slots=True)
class Sleeps:
    """A function that may sleep where nothing of its own makes the context atomic: a bug
    at every call made with a spinning lock held or an atomic section open, which only its
    callers' sites (up the call chain) can show."""

    function: str


CLAIMS = (IrqsOff, Sleeps)  # the needs decided only by the callers' sites

CallTable = tuple[FunctionCalls, ...]


def call_table(results: Iterable[FunctionResult], model: LockModel) -> CallTable:
    out = []
    for r in results:
        fn = r.function
        irq = irq_events(r.events, model)  # None: nothing here turns interrupts off
        sections = open_at_calls(r.cfg, model)
        sites = []
        for ev in r.events:
            c = ev.call
            if ev.kind != EventKind.CALL or c is None:
                continue
            callee = C.callee_key(c)
            if not callee or callee == fn.name:
                continue
            struct = ""
            if callee.startswith(C.METHOD):  # through a member: the struct it is read from
                base = C.method_base(c)
                struct = (r.naming.types.struct_of(base, r.naming.vartypes) or "") \
                    if base is not None else ""
            args = tuple(r.naming.path(a, ev.state) for a in c.args)
            locks = tuple(LockAt(k.path, k.cls, "".join(sorted(f.poss)), f.vacuous)
                          for k, f in sorted(ev.state.locks.items(), key=lambda kf: kf[0].path)
                          if f.must or f.not_held)
            site = CallSite(callee, ev.span.line, args, locks,
                            irqs_off_at(ev, irq, model) if locks and irq else "",
                            atomic_at(ev, r, sections, model), struct)
            if site not in sites:  # a call in a condition is evaluated once per branch
                sites.append(site)
        out.append(FunctionCalls(fn.name, fn.span.line, fn.is_static,
                                 tuple(p.name for p in fn.params), tuple(sites)))
    return tuple(out)


def atomic_at(ev: Event, r: FunctionResult, sections: Mapping[Key, tuple[Open, ...]],
              model: LockModel) -> str:
    """Why the context is atomic on every path at the call ``ev`` ("" when not known): a
    spinning lock held there, or an atomic section open (``sections``: the function's
    :func:`~analyzer.locks.atomic.open_at_calls`)."""
    for k, f in ev.state.held():
        kind = lock_kind(k, f, r.naming.types)
        if f.must and kind is not None and kind.spins:
            return f"with {k.describe()} held (a {kind})"
    name = ev.call.name if ev.call is not None else None
    opened = sections.get((ev.block, ev.span.line, name or "")) if sections else None
    if opened:
        return "in " + " and ".join(o.section.what for o in opened)
    return ""


def lock_kind(k: LockId, f: Fact, types: TypeInfo) -> LockKind | None:
    """What kind of lock a held fact is: the primitive's, or, asserted or stated by a
    contract (no primitive kind), the one its field's type tells."""
    if f.kind != LockKind.LOCK:
        return f.kind
    if not k.cls or "." not in k.cls:
        return None
    struct, field = k.cls.split(".", 1)
    t = types.field_type(struct, field) or ""
    if "rwlock_t" in t:
        return LockKind.RWLOCK
    if "spinlock_t" in t:
        return LockKind.SPINLOCK
    return None


def need_of(r: FunctionResult, lock: LockId, mode: str) -> Need | None:
    """The lock as a need of the function ``r`` analysed; None when it is named through a
    local (nothing a caller passes) or an old value of a variable."""
    p = lock.path
    if p.version is not None or p.call_root:
        return None
    params = [q.name for q in r.function.params]
    if p.root in params:
        return Need(r.function.name, p, params.index(p.root), lock.cls, str(mode))
    if p.root in r.naming.vartypes:
        return None  # a local
    return Need(r.function.name, p, None, lock.cls, str(mode))
