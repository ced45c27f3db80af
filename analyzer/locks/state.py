"""The lock-state lattice: what a lock can be on the paths reaching a point, and the join.

A lock's value is the set of what it can be on those paths: held for ``READ`` or ``WRITE``,
held in a mode nobody stated (``ANY``: an assertion or a contract that does not say),
``NOT_HELD`` (known), ``UNKNOWN`` (as the caller left it, or handed to code we cannot see).
*Must* held is a non-empty subset of {READ, WRITE, ANY}; *may* held meets it. A function starts
with every lock unknown — precision first: "unknown" is never reported as "not held".

**NULL vacuity.** A lock reached through a pointer known NULL on a path does not exist there:
that path contributes nothing to the lock's value at a merge (the conditional
``unlock_anon_vma_root(root)`` reads as "not held" afterwards).

States are immutable values; ``None`` is the unreachable bottom.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ..model.enums import LockKind, Mode
from ..syntax import tree as C
from .lockid import LockId, ObjPath


class Poss(StrEnum):
    READ = "R"
    WRITE = "W"
    ANY = "A"
    NOT_HELD = "N"
    UNKNOWN = "U"


HELD = frozenset({Poss.READ, Poss.WRITE, Poss.ANY})
UNKNOWN = frozenset({Poss.UNKNOWN})
NOT_HELD = frozenset({Poss.NOT_HELD})


def held_as(mode: Mode) -> frozenset[Poss]:
    return {Mode.WRITE: frozenset({Poss.WRITE}), Mode.READ: frozenset({Poss.READ}),
            Mode.NONE: NOT_HELD}.get(mode, frozenset({Poss.ANY}))


@dataclass(frozen=True, slots=True)
class Fact:
    poss: frozenset[Poss]
    kind: LockKind = LockKind.LOCK
    vacuous: bool = False  # on some paths the lock's base pointer was NULL
    tied: str | None = None  # released with the lock of this class (vma_start_write)
    # known held only because an assertion says so (``lockdep_assert_held()``, here or in a
    # callee), under a spelling that may name a lock the state knows by another one
    asserted: bool = False

    @property
    def must(self) -> bool:
        return bool(self.poss) and self.poss <= HELD

    @property
    def may(self) -> bool:
        return bool(self.poss & HELD)

    @property
    def not_held(self) -> bool:
        """Known not held on every path."""
        return self.poss == NOT_HELD

    @property
    def maybe_not_held(self) -> bool:
        """Known not held on some path."""
        return Poss.NOT_HELD in self.poss

    @property
    def read_somewhere(self) -> bool:
        """Held only for read on some path."""
        return Poss.READ in self.poss

    @property
    def only_read(self) -> bool:
        return bool(self.poss) and self.poss <= {Poss.READ}

    @property
    def mode(self) -> Mode:
        held = self.poss & HELD
        if held == {Poss.WRITE}:
            return Mode.WRITE
        if held == {Poss.READ}:
            return Mode.READ
        return Mode.ANY  # asserted held in an unstated mode, or read here and write there

    @property
    def certainty(self) -> str:
        return "must" if self.must else "may"


@dataclass(frozen=True)
class State:
    locks: Mapping[LockId, Fact] = field(default_factory=dict)
    null: frozenset[ObjPath] = frozenset()
    nonnull: frozenset[ObjPath] = frozenset()
    env: Mapping[str, C.Expr] = field(default_factory=dict)  # summaries: symbolic values
    eq: frozenset[tuple[ObjPath, ObjPath]] = frozenset()  # paths known to be one object
    # summaries: objects handed to calls whose effects are unknown (their locks are unknown)
    forgotten: frozenset[ObjPath] = frozenset()
    # the values of the function's tracked variables (those it returns, flags it tests):
    # a constant's text ("0", "-EINVAL", "NULL", "true") or ZERO / NONZERO from a test
    vals: Mapping[str, str] = field(default_factory=dict)
    # objects allocated here, on every path, and not published since (others cannot see
    # them: their locks need not be held yet)
    private: frozenset[ObjPath] = frozenset()
    # summaries: conditions on the helper's own parameters that the cases of the helpers it
    # called were chosen by (``mode & FOO_EXCL`` when it hands ``mode`` on), with the outcome
    when: frozenset[tuple[C.Expr, bool]] = frozenset()

    @property
    def partition(self) -> frozenset[tuple[object, str]]:
        """What keeps this state apart from others at a merge: its tracked values and the
        locks it holds for sure (property simulation, as in ESP: a path that holds a lock
        never merges with one that does not, so an exit knows which it is)."""
        return frozenset(self.vals.items()) | self.held_key

    @property
    def held_key(self) -> frozenset[tuple[object, str]]:
        return frozenset((k, "held") for k, f in self.locks.items() if f.must)

    def held(self) -> list[tuple[LockId, Fact]]:
        return sorted(((k, f) for k, f in self.locks.items() if f.may),
                      key=lambda kf: kf[0].path)

    def fact(self, lock: LockId) -> Fact | None:
        return self.locks.get(lock)

    def by_text(self) -> dict[str, tuple[LockId, Fact]]:
        """Locks by their rendered name (for tests and debugging views)."""
        return {k.render(): (k, f) for k, f in self.locks.items()}

    def lock_named(self, path: ObjPath) -> LockId | None:
        """The key of the lock at ``path`` (carrying its class), if the state has it."""
        probe = LockId(path)
        for k in self.locks:
            if k == probe:
                return k
        return None

    def with_lock(self, key: LockId, fact: Fact | None) -> State:
        locks = dict(self.locks)
        locks.pop(key, None)  # a new key object: its class may be better known
        if fact is not None:
            locks[key] = fact
        return replace(self, locks=locks)

    def null_rooted(self, path: ObjPath) -> bool:
        return any(path.has_prefix(n) for n in self.null)


ZERO, NONZERO = "0", "nonzero"
# a call's result, known only by where it came from: "$990" (the call on line 990), "-$990"
# (tested negative), "nonzero$990" (tested non-zero). Paths whose returned variable came from
# different calls stay apart, so an error exit that keeps a lock is not joined with one that
# does not.
SYM = "$"


def symbolic(line: int) -> str:
    return f"{SYM}{line}"


def is_nonzero(token: str | None) -> bool:
    return token is not None and (token == NONZERO or token.startswith(NONZERO + SYM))


def describe_token(token: str) -> str:
    """A tracked value as a message reads it."""
    if SYM not in token:
        return token
    head, _, line = token.partition(SYM)
    what = {"": "", "-": "negative ", NONZERO: "non-zero "}.get(head, "")
    if not line:
        return f"a {what}value" if what else "a value"
    return f"the {what}result of the call on line {line}"


def value_class(token: str | None) -> str | None:
    """How a returned value reads in the kernel's conventions: ``error`` (a negative errno,
    or non-zero from a test of an int), ``null``, ``zero`` (0, false), ``true`` (a positive
    constant, true, non-NULL), or None (not known)."""
    if token is None:
        return None
    if token in (ZERO, "false"):
        return "zero"
    if token == "NULL":
        return "null"
    if is_nonzero(token):
        return "nonzero"
    if token.startswith(SYM):
        return None
    if token.startswith("-"):
        return "error"
    if token == "true" or token.isdigit():
        return "true"
    if token.startswith("ERR_PTR("):
        return "error"
    return None


def same_object(st: State, a: ObjPath, b: ObjPath, depth: int = 3) -> bool:
    """Whether paths ``a`` and ``b`` name one object, using the equalities the state knows
    (``root == anon_vma->root`` makes ``root->rwsem`` and ``anon_vma->root->rwsem`` one)."""
    if a == b:
        return True
    if depth == 0:
        return False
    for x, y in st.eq:
        for p, q in ((x, y), (y, x)):
            if a.has_prefix(p) and same_object(st, a.rebase(p, q), b, depth - 1):
                return True
    return False


def pair(a: ObjPath, b: ObjPath) -> tuple[ObjPath, ObjPath]:
    return (a, b) if a <= b else (b, a)


def join(a: State | None, b: State | None) -> State | None:
    """Merge two paths. None is the unreachable bottom; a lock through a pointer NULL on one
    side takes the other side's value (vacuous)."""
    if a is None:
        return b
    if b is None:
        return a
    if a is b:
        return a
    locks: dict[LockId, Fact] = {}
    # the keys that know their lock's class win (the class is no part of the identity)
    named = {k: k for k in b.locks if k.cls is not None}
    named.update((k, k) for k in a.locks if k.cls is not None)
    for k in a.locks.keys() | b.locks.keys():
        fa, fb = a.locks.get(k), b.locks.get(k)
        if fa is None and a.null_rooted(k.path):
            assert fb is not None
            f = replace(fb, vacuous=True)
        elif fb is None and b.null_rooted(k.path):
            assert fa is not None
            f = replace(fa, vacuous=True)
        else:
            pa = fa.poss if fa is not None else UNKNOWN
            pb = fb.poss if fb is not None else UNKNOWN
            base = fa if fa is not None else fb
            assert base is not None
            f = Fact(pa | pb, base.kind,
                     (fa.vacuous if fa else False) or (fb.vacuous if fb else False),
                     base.tied,
                     (fa.asserted if fa else False) or (fb.asserted if fb else False))
        if f.poss != UNKNOWN:
            locks[named.get(k, k)] = f
    env = {k: v for k, v in a.env.items() if b.env.get(k) == v} if a.env or b.env else {}
    vals = {k: v for k, v in a.vals.items() if b.vals.get(k) == v} if a.vals or b.vals else {}
    return State(locks, a.null & b.null, a.nonnull & b.nonnull, env, a.eq & b.eq,
                 a.forgotten | b.forgotten, vals, a.private & b.private, a.when & b.when)
