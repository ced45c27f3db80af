"""Function summaries as values: what a call does to locks, per path through the callee.

A summary is a set of *cases*, one per path (``lock_anon_vma_root`` has three: switch roots,
first lock, same root). Each case lists the net lock effects in terms of the parameters and
``RET`` (the returned object), the returned value's truth, the conditions on the arguments
under which the path runs, equalities it establishes, and the objects it hands to code whose
effects are unknown (their locks are unknown after the call). A summary also says how exact
it is (:class:`~analyzer.locks.events.Inexact`): a rule that pairs acquires with releases reads
an inexact one with care.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..model.enums import Action, LockKind, Mode
from ..syntax import tree as C
from .events import Inexact

RET = "__ret"


@dataclass(frozen=True, slots=True)
class Effect:
    action: Action  # ACQUIRE | RELEASE | CYCLE | PAIR | ASSERT | DOWNGRADE | FORGET
    mode: Mode
    lock: C.Expr  # in terms of the callee's parameters and RET
    kind: LockKind = LockKind.LOCK
    annotation: bool = False  # made only by sparse's __acquire/__release: never judged
    trylock: bool = False  # an acquire that does not wait (the helper's trylock succeeded)


@dataclass(frozen=True, slots=True)
class SumCase:
    effects: tuple[Effect, ...]
    ret: C.Expr | None = None  # returned value, in terms of parameters (None: unknown)
    truth: bool | None = None  # returned value non-zero / zero (None: unknown)
    requires: tuple[tuple[C.Expr, bool], ...] = ()  # (param path, is NULL) on this path
    equal: tuple[tuple[C.Expr, C.Expr], ...] = ()  # param paths equal on this path
    # objects handed to code whose effects are unknown: their locks may have changed
    forgets: tuple[C.Expr, ...] = ()
    # conditions on the parameters' values the path tested, with the outcome it took
    # (``lock_flags & XFS_IOLOCK_EXCL``, True): at a call whose arguments make one false,
    # the case is not what the call does
    when: tuple[tuple[C.Expr, bool], ...] = ()
    # flags the path stores through pointer parameters, with the constant's text
    # (``*dropped = 1`` → ``(*dropped, "1")``): the caller's variable given as ``&dropped``
    # holds that value after the call
    sets: tuple[tuple[C.Expr, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Summary:
    name: str
    params: tuple[str, ...]
    cases: tuple[SumCase, ...]
    origin: str = "body"  # body | rules
    contract: tuple[str, ...] = ()  # e.g. ("releases root->rwsem",) for messages
    inexact: frozenset[Inexact] = frozenset()

    @property
    def has_effects(self) -> bool:
        return any(c.effects or c.forgets for c in self.cases) \
            or len({c.truth for c in self.cases}) > 1


class SummaryProvider(Protocol):
    def summary(self, name: str) -> Summary | None:
        """The summary of ``name``, None when it has no lock effects or is not known."""

    def known(self, name: str) -> bool:
        """Whether the effects of ``name`` are known (a body, a wrapper, a primitive): a
        known callee without a summary has no lock effects; an unknown one may have any."""

    def is_function(self, name: str) -> bool:
        """Whether ``name`` is a function of the tree (so not a lock's root)."""

    def touches(self, name: str) -> frozenset[int] | None:
        """For a callee that is not known: the argument positions whose locks it may take
        or release (read from its text elsewhere in the tree); None when not known."""

    def may_lock(self, name: str) -> bool:
        """Whether the body of ``name``, when one is in sight, touches locks."""

    def noreturn(self, name: str) -> bool:
        """Whether a call of ``name`` never returns (the path ends there)."""

    def lock_wrapper(self, name: str) -> bool:
        """Whether ``name`` only takes, drops or checks locks."""

    def constant(self, name: str) -> int | None:
        """The integer value of a constant name (a macro) where the analysis is, or None."""

    def conditioned_args(self, name: str) -> frozenset[int]:
        """The argument positions of a call of ``name`` whose values its summary's cases
        depend on (``SumCase.when``)."""


class NoSummaries:
    """No helper bodies: every call but the lock model's own names is unknown."""

    def summary(self, name: str) -> Summary | None:
        return None

    def known(self, name: str) -> bool:
        return False

    def touches(self, name: str) -> frozenset[int] | None:
        return None

    def is_function(self, name: str) -> bool:
        return False

    def may_lock(self, name: str) -> bool:
        return False

    def noreturn(self, name: str) -> bool:
        return False

    def lock_wrapper(self, name: str) -> bool:
        return False

    def constant(self, name: str) -> int | None:
        return None

    def conditioned_args(self, name: str) -> frozenset[int]:
        return frozenset()
