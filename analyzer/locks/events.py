"""Events of the lock-state analysis: what happened at an operation, with the state just before
it. Checks read these from a frozen :class:`~analyzer.locks.result.FunctionResult`; nothing
re-runs the transfer function to see them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..model.enums import LockKind, Mode
from ..syntax import tree as C
from .lockid import LockId, ObjPath
from .state import Fact, State


class EventKind(StrEnum):
    ACQUIRE = "acquire"
    RELEASE = "release"
    ASSERT = "assert"
    FORGET = "forget"  # a lock (or the object owning it) handed to code we cannot see
    # a callee took the lock and gave it back (a summary's pair): not held after the call;
    # the callee's own business, so no rule judges it as the caller's acquire or release
    PAIR = "pair"
    CALL = "call"
    RETURN = "return"
    ADVANCE = "advance"  # an iterator loop moves its cursor
    ASSIGN = "assign"  # a variable or field now names another object


class Inexact(StrEnum):
    """How far a summary's effects fall short of what the callee does on every path."""

    JOINED = "joined"  # too many paths: summarised from the joined exit state
    # takes a lock on some paths and not on others that return the same, never releasing it
    # first: a release of it happens out of sight (a fault handler that dropped mmap_lock)
    UNPAIRED = "unpaired"


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    span: C.Span
    state: State
    lock: LockId | None = None
    fact: Fact | None = None  # the lock's value before the event
    mode: Mode | None = None
    call: C.Call | None = None
    via: str | None = None  # the function whose summary produced the event
    block: int = -1
    lock_expr: C.Expr | None = None  # canonical expression of the lock
    lock_kind: LockKind | None = None
    trylock: bool = False
    inexact: frozenset[Inexact] = frozenset()  # of the summary that produced it
    path: ObjPath | None = None  # ADVANCE / ASSIGN / FORGET: the path concerned
    annotation: bool = False  # sparse's __acquire/__release: a state change, never judged
    value: ObjPath | None = None  # ASSIGN: the object assigned, when it is one (``n = n2``)
    primitive: str | None = None  # ACQUIRE / RELEASE / ASSERT of a primitive: its name
