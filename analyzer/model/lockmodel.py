"""The lock model: every rules file of ``rules/`` read into typed, validated values.

The engine knows no kernel function by name; everything lives in this data: locking
primitives, scope guards, fallback wrappers and lock classes (``locks.toml``), protected
structures and allocation flags (``protected.toml``), the files of the tree the engine reads
(``engine.toml``), the lock hierarchy's fallback (``lockorder.toml``) and the frontend's
rewrite data (``frontend.toml``). ``--rules DIR`` names another folder for all of them.

Loading is strict: an unknown key, a missing key, a value of the wrong type or a misspelt
enum value is an :class:`~analyzer.errors.InputError` naming the file and the key (one line
on the command line, exit status 2), never a silently dropped table.

Summaries derived from function bodies take precedence over the fallback wrappers here: the
tree being analysed is the authority on what its own helpers do.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path

from ..datafile import Table, read_toml
from ..errors import InputError
from ..frontend.rewrite import FrontendData, data_from_toml
from .enums import Action, LockKind, Mode, Success

# files read by load(); any other *.toml in the folder is an error (a misnamed file)
RULE_FILES = ("locks", "protected", "engine", "lockorder", "frontend", "unittests")


@dataclass(frozen=True, slots=True)
class Primitive:
    name: str
    action: Action
    mode: Mode
    kind: LockKind = LockKind.LOCK
    success: Success = Success.NONZERO  # trylock: which return value means acquired
    arg: int = 0
    annotation: bool = False  # sparse's __acquire/__release: state changes, never judged
    field: str | None = None  # the lock is this member of the argument (vma->vm_lock)
    released_with: str | None = None  # class of the lock whose release releases this one
    # a conditional acquire that sleeps for the lock (killable, interruptible): it can
    # deadlock like a plain acquire, where a trylock cannot
    waits: bool = False


@dataclass(frozen=True, slots=True)
class Wrapper:
    """A fallback summary: ``anon_vma_lock_write(x)`` → acquire write ``x->root->rwsem``."""

    name: str
    action: Action
    mode: Mode
    lock: str  # template over {0}, {1}, … and {ret}


@dataclass(frozen=True, slots=True)
class Method:
    """The documented contract of an operations-table method: a function stored in member
    ``member`` of a ``struct <struct>`` initialiser is called with ``holds`` held (a
    template over its parameters, ``&{1}->vm_mm->mmap_lock``; ``folio``: the lock of the
    folio, or of the page's folio, parameter ``{n}`` is) and, with ``releases``, must
    release it on every path."""

    struct: str
    member: str
    holds: str
    mode: Mode = Mode.ANY
    releases: bool = False
    folio: bool = False
    keeps: tuple[str, ...] = ()  # return values with which a releasing method keeps it
    source: str = ""


@dataclass(frozen=True, slots=True)
class LockClass:
    name: str
    struct: str
    field: str
    reclaim: bool = False
    order: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Structure:
    """A structure protected by a lock (``protected.toml`` ``[[structure]]``)."""

    name: str
    field: str
    struct: str | None
    lock: str  # template over {obj}
    shared: str | None
    walk: Mode
    modify: Mode
    modifiers: Mapping[str, int]
    modify_also: str | None = None


@dataclass(frozen=True, slots=True)
class Invariant:
    words: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AllocRules:
    reclaim: frozenset[str] = frozenset()
    no_reclaim: frozenset[str] = frozenset()
    flag_readers: frozenset[str] = frozenset()
    allocators: frozenset[str] = frozenset()


class Access(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class Guard:
    """A lock that guards a struct member's reads or writes (``protected.toml``
    ``[[guard]]``, a member's comment in the tree, or mined from the code)."""

    struct: str
    field: str
    lock: str  # a template over {obj} ("{obj}->lock"), or a global's name
    access: Access
    source: str = "declared"  # "declared" | "mined"
    held: int = 0  # mined: accesses holding the lock, of `total` whose lock state is known
    total: int = 0
    where: str = ""  # declared: "include/linux/mm_types.h:786"; rules: "rules/protected.toml"
    score: float = 0.0


@dataclass(frozen=True)
class GuardRules:
    declared: tuple[str, ...] = ()
    annotations: tuple[str, ...] = ()
    mutators: tuple[str, ...] = ()
    marked: frozenset[str] = frozenset()
    lockless_types: tuple[str, ...] = ()
    freers: frozenset[str] = frozenset()
    alone: frozenset[str] = frozenset()
    min_held: int = 4
    min_confidence: float = 0.85
    min_score: float = 2.0
    min_share: float = 0.25
    chance: float = 0.5
    examples: int = 5
    list_types: tuple[str, ...] = ()

    @cached_property
    def mutator_re(self) -> re.Pattern[str] | None:
        return re.compile("|".join(f"(?:{m})" for m in self.mutators)) if self.mutators \
            else None

    def is_mutator(self, name: str | None) -> bool:
        r = self.mutator_re
        return bool(name and r is not None and r.search(name))

    def is_list_type(self, t: str | None) -> bool:
        return bool(t) and " ".join(t.split()) in self.list_types  # type: ignore[union-attr]

    def is_lockless_type(self, t: str | None) -> bool:
        if not t:
            return False
        words = " ".join(t.split())
        return any(words == lt or words.startswith(lt + " ") for lt in self.lockless_types)


@dataclass(frozen=True, slots=True)
class Protected:
    structures: tuple[Structure, ...] = ()
    invariant: Invariant = Invariant()
    alloc: AllocRules = AllocRules()
    guards: tuple[Guard, ...] = ()  # [[guard]]
    guard_rules: GuardRules = GuardRules()


@dataclass(frozen=True, slots=True)
class EngineFiles:
    """Which files of the analysed tree the engine reads besides the file being checked."""

    iterator_headers: tuple[str, ...] = ()
    summary_headers: tuple[str, ...] = ()
    type_headers: tuple[str, ...] = ()
    summary_dirs: tuple[str, ...] = ()
    index_headers: tuple[str, ...] = ()
    # folders (recursive) whose C files are searched for the callers of a function
    caller_dirs: tuple[str, ...] = ()
    # folders (recursive) whose C files' non-static definitions a call chain may follow
    definition_dirs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TreeComment:
    path: str
    marker: str


@dataclass(frozen=True, slots=True)
class LockOrderRules:
    pairs: tuple[tuple[str, str], ...] = ()
    tree_comment: TreeComment | None = None


@dataclass(frozen=True, slots=True)
class AtomicSection:
    """A region the kernel runs atomically without a lock object: an RCU read-side critical
    section, preemption or interrupts disabled. ``enter``/``exit`` are the calls that open
    and close one (they nest: each enter needs its exit), ``guards`` the ``guard(cls)()``
    classes that open one for their scope; ``what`` names it in messages."""

    what: str
    enter: frozenset[str]
    exit: frozenset[str]
    guards: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LockModel:
    primitives: Mapping[str, Primitive]
    guards: Mapping[str, tuple[str, str]]
    wrappers: Mapping[str, Wrapper]
    classes: tuple[LockClass, ...]
    structs: Mapping[str, Mapping[str, str]]
    transparent: frozenset[str]
    digest: str = ""
    assertions: frozenset[str] = frozenset()
    queries: frozenset[str] = frozenset()  # read or initialise a lock, change nothing
    lock_types: tuple[str, ...] = ()  # C types of lock objects
    noreturn: frozenset[str] = frozenset()  # the compiler's own never-returning builtins
    # calls that may sleep (besides acquiring a sleeping lock, which the primitives say)
    sleepers: frozenset[str] = frozenset()
    # sleepers that sleep only when an argument says so (might_sleep_if(blocking)): a call
    # chain does not follow the argument, so deeper down they are not evidence
    conditional_sleepers: frozenset[str] = frozenset()
    # interrupt state (irq-enable-under-lock): acquires named with one of these suffixes
    # disable interrupts, releases named with one of those enable them, and these calls
    # enable them
    irq_off_suffixes: tuple[str, ...] = ()
    irq_on_suffixes: tuple[str, ...] = ()
    irq_restore_suffixes: tuple[str, ...] = ()
    irq_on: frozenset[str] = frozenset()
    # atomic sections with no lock object (RCU readers, preemption and interrupts off)
    atomic: tuple[AtomicSection, ...] = ()
    # calls that pin an object or re-validate an iterator across a lock drop
    revalidators: frozenset[str] = frozenset()
    # contracts of operations-table methods (what a ->mmap or ->writepage is called with)
    methods: tuple[Method, ...] = ()
    protected: Protected = Protected()
    engine: EngineFiles = EngineFiles()
    lockorder: LockOrderRules = LockOrderRules()
    frontend: FrontendData | None = field(default=None, compare=False)
    rules_dir: Path | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ lookups
    def primitive(self, name: str | None) -> Primitive | None:
        return self.primitives.get(name) if name else None

    def guard(self, cls: str) -> tuple[Primitive, Primitive] | None:
        pair = self.guards.get(cls)
        if pair is None:
            return None
        return self.primitives[pair[0]], self.primitives[pair[1]]

    def class_named(self, struct: str | None, field_name: str) -> str | None:
        """The class of lock field ``field_name`` of ``struct``; None when the struct is not
        known (a field name alone never names a class: two structs may both have one)."""
        if not struct:
            return None
        for c in self.classes:
            if c.struct == struct and c.field == field_name:
                return c.name
        return f"{struct}.{field_name}"

    def is_lock_type(self, t: str | None) -> bool:
        """Whether a C type is a lock or a pointer to one (``spinlock_t **``)."""
        if not t:
            return False
        words = " ".join(t.replace("*", " ").split())
        return any(words == lt or words.endswith(" " + lt) for lt in self.lock_types)

    @cached_property
    def tied_classes(self) -> Mapping[str, str]:
        """Lock class → the class whose release releases it too: a mark such as
        vma_start_write()'s (``released_with``), however it was taken (a helper's summary
        carries only the acquire)."""
        out: dict[str, str] = {}
        for prim in self.primitives.values():
            if prim.released_with and prim.field:
                for c in self.classes:
                    if c.field == prim.field:
                        out[c.name] = prim.released_with
        return out

    def lock_class(self, name: str | None) -> LockClass | None:
        for c in self.classes:
            if c.name == name:
                return c
        return None

    def tree_comments(self) -> tuple[TreeComment, ...]:
        """Comments of the analysed tree that rules read (results depend on them)."""
        tc = self.lockorder.tree_comment
        return (tc,) if tc is not None else ()


def default_rules_dir() -> Path:
    """rules/ as installed (package ``analyzer.rules``) or next to analyzer/ in a checkout."""
    try:
        return Path(str(resources.files("analyzer.rules")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "rules"


# --------------------------------------------------------------------------- loading


def load(rules_dir: Path | None = None) -> LockModel:
    rules_dir = rules_dir or default_rules_dir()
    if not rules_dir.is_dir():
        raise InputError(f"rules folder not found: {rules_dir}")
    docs: dict[str, dict] = {}
    h = hashlib.sha1()
    for p in sorted(rules_dir.glob("*.toml")):
        if p.stem not in RULE_FILES:
            raise InputError(f"{p}: not a rules file (known: "
                             f"{', '.join(f + '.toml' for f in RULE_FILES)})")
        doc, raw = read_toml(p)
        h.update(p.name.encode() + b"\0" + raw)
        docs[p.stem] = doc
    if "locks" not in docs:
        raise InputError(f"{rules_dir}: locks.toml missing")

    def name(stem: str) -> str:
        return str(rules_dir / f"{stem}.toml")

    model = _locks(Table(name("locks"), "", docs["locks"]))
    protected = _protected(Table(name("protected"), "", docs.get("protected", {})))
    engine = _engine(Table(name("engine"), "", docs.get("engine", {})))
    order = _lockorder(Table(name("lockorder"), "", docs.get("lockorder", {})))
    if "frontend" in docs:
        frontend = data_from_toml(docs["frontend"], name("frontend"))
    else:
        from ..frontend.rewrite import load_data

        frontend = load_data()
    # unittests.toml belongs to the companion (analyzer.unittests), which validates it
    return LockModel(**model, digest=h.hexdigest(), protected=protected, engine=engine,
                     lockorder=order, frontend=frontend, rules_dir=rules_dir)


def _locks(t: Table) -> dict:
    prims: dict[str, Primitive] = {}
    for e in t.tables("primitive"):
        names = e.strs("names")
        action = e.enum("action", Action)
        mode = e.enum("mode", Mode, Mode.WRITE)
        kind = e.enum("kind", LockKind, LockKind.LOCK)
        success = e.enum("success", Success, Success.NONZERO)
        arg = e.int("arg", 0)
        annotation = e.bool("annotation", False)
        member = e.str("field", None)
        released_with = e.str("released_with", None)
        waits = e.bool("waits", False)
        e.done()
        if action not in (Action.ACQUIRE, Action.RELEASE, Action.TRYLOCK, Action.ASSERT,
                          Action.DOWNGRADE, Action.COND_ACQUIRE):
            e.fail(f"{action.value!r} is not an action of a primitive", "action")
        for n in names:
            prims[n] = Primitive(n, action, mode, kind, success, arg, annotation, member,
                                 released_with, waits)
    guards: dict[str, tuple[str, str]] = {}
    for e in t.tables("guard"):
        names = e.strs("names")
        pair = (e.str("acquire"), e.str("release"))
        e.done()
        for p in pair:
            if p not in prims:
                e.fail(f"{p!r} is no [[primitive]]", "acquire" if p == pair[0] else "release")
        for n in names:
            guards[n] = pair
    wrappers: dict[str, Wrapper] = {}
    for e in t.tables("wrapper"):
        w = Wrapper(e.str("name"), e.enum("action", Action), e.enum("mode", Mode, Mode.WRITE),
                    e.str("lock"))
        e.done()
        wrappers[w.name] = w
    classes = []
    for e in t.tables("class"):
        classes.append(LockClass(e.str("name"), e.str("struct"), e.str("field"),
                                 e.bool("reclaim", False), e.strs("order", ())))
        e.done()
    structs: dict[str, dict[str, str]] = {}
    for sname, fields in t.mapping("structs").items():
        st = Table(t.file, f"[structs.{sname}]", fields)
        structs[sname] = {f: st.str(f) for f in list(fields)}
        st.done()
    transparent = frozenset(t.strs("transparent", ()))
    assertions = frozenset(t.strs("assertions", ()))
    queries = frozenset(t.strs("queries", ()))
    lock_types = t.strs("lock_types", ())
    noreturn = frozenset(t.strs("noreturn", ()))
    sleepers = frozenset(t.strs("sleepers", ()))
    conditional_sleepers = frozenset(t.strs("conditional_sleepers", ()))
    irq_off_suffixes = tuple(t.strs("irq_off_suffixes", ()))
    irq_on_suffixes = tuple(t.strs("irq_on_suffixes", ()))
    irq_restore_suffixes = tuple(t.strs("irq_restore_suffixes", ()))
    irq_on = frozenset(t.strs("irq_on", ()))
    revalidators = frozenset(t.strs("revalidators", ()))
    atomic = []
    for e in t.tables("atomic"):
        atomic.append(AtomicSection(e.str("what"), frozenset(e.strs("enter")),
                                    frozenset(e.strs("exit")),
                                    frozenset(e.strs("guards", ()))))
        e.done()
    methods = []
    for e in t.tables("method"):
        methods.append(Method(e.str("struct"), e.str("member"), e.str("holds"),
                              e.enum("mode", Mode, Mode.ANY), e.bool("releases", False),
                              e.bool("folio", False), e.strs("keeps", ()),
                              e.str("source", "")))
        e.done()
    t.done()
    return dict(primitives=prims, guards=guards, wrappers=wrappers, classes=tuple(classes),
                structs=structs, transparent=transparent, assertions=assertions,
                queries=queries, lock_types=lock_types, noreturn=noreturn, sleepers=sleepers,
                conditional_sleepers=conditional_sleepers, revalidators=revalidators,
                irq_off_suffixes=irq_off_suffixes, irq_on_suffixes=irq_on_suffixes,
                irq_restore_suffixes=irq_restore_suffixes,
                irq_on=irq_on, atomic=tuple(atomic), methods=tuple(methods))


def _protected(t: Table) -> Protected:
    structures = []
    for e in t.tables("structure"):
        modifiers: dict[str, int] = {}
        for i, m in enumerate(e.data.get("modifiers", [])):
            mt = Table(e.file, f"{e.where} modifiers {i + 1}", m)
            modifiers[mt.str("name")] = mt.int("arg")
            mt.done()
        e.used.add("modifiers")
        structures.append(Structure(e.str("name"), e.str("field"), e.str("struct", None),
                                    e.str("lock"), e.str("shared", None),
                                    e.enum("walk", Mode, Mode.READ),
                                    e.enum("modify", Mode, Mode.WRITE), modifiers,
                                    e.str("modify_also", None)))
        e.done()
    inv_t = t.table("invariant", {})
    invariant = Invariant(inv_t.strs("words", ()), inv_t.strs("any_of", ()))
    inv_t.done()
    a = t.table("alloc", {})
    alloc = AllocRules(frozenset(a.strs("reclaim", ())), frozenset(a.strs("no_reclaim", ())),
                       frozenset(a.strs("flag_readers", ())),
                       frozenset(a.strs("allocators", ())))
    a.done()
    guards = []
    for g in t.tables("guard"):
        guards.append(Guard(g.str("struct"), g.str("field"), g.str("lock"),
                            g.enum("access", Access, Access.WRITE),
                            g.str("source", "declared"), g.int("held", 0), g.int("total", 0),
                            f"{Path(t.file).name}: {g.where}", g.number("score", 0.0)))
        g.done()
    r = t.table("guards", {})
    rules = GuardRules(r.strs("declared", ()), r.strs("annotations", ()),
                       r.strs("mutators", ()), frozenset(r.strs("marked", ())),
                       r.strs("lockless_types", ()), frozenset(r.strs("freers", ())),
                       frozenset(r.strs("alone", ())),
                       r.int("min_held", 4), r.number("min_confidence", 0.85),
                       r.number("min_score", 2.0), r.number("min_share", 0.25),
                       r.number("chance", 0.5), r.int("examples", 5),
                       r.strs("list_types", ()))
    for m in rules.mutators:
        try:
            re.compile(m)
        except re.error as e:
            r.fail(f"mutators: {m!r} is not a regular expression ({e})")
    r.done()
    t.done()
    return Protected(tuple(structures), invariant, alloc, tuple(guards), rules)


def _engine(t: Table) -> EngineFiles:
    out = EngineFiles(t.strs("iterator_headers", ()), t.strs("summary_headers", ()),
                      t.strs("type_headers", ()), t.strs("summary_dirs", ()),
                      t.strs("index_headers", ()), t.strs("caller_dirs", ()),
                      t.strs("definition_dirs", ()))
    t.done()
    return out


def _lockorder(t: Table) -> LockOrderRules:
    pairs = []
    raw = t.data.get("pairs", [])
    t.used.add("pairs")
    if not isinstance(raw, list):
        t.fail("expected a list of [outer, inner] pairs", "pairs")
    for p in raw:
        if not (isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)):
            t.fail(f"expected [outer, inner], got {p!r}", "pairs")
        pairs.append((p[0], p[1]))
    tc = None
    if "tree_comment" in t.data:
        tct = t.table("tree_comment")
        tc = TreeComment(tct.str("path"), tct.str("marker"))
        tct.done()
    t.done()
    return LockOrderRules(tuple(pairs), tc)
