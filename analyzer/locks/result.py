"""The frozen result of analysing one function: everything the checks and reports read.

Computed once by :func:`analyzer.locks.dataflow.solve_function`: the state before every
operation and condition, every event with the state before it, every exit with the state the
function leaves in and the value it returns. Nothing downstream runs the transfer function
again or rebuilds a CFG.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..flow.cfg import Cfg, Op
from ..syntax import tree as C
from .events import Event
from .naming import Naming
from .state import State


@dataclass(frozen=True, slots=True)
class OpState:
    op: Op
    state: State | None  # before the operation; None: unreachable
    block: int


@dataclass(frozen=True, slots=True)
class Exit:
    """A way out of the function: ``return value;`` (or the end of a void body)."""

    value: C.Expr | None
    line: int
    state: State  # after the return value is evaluated and the scope guards released
    block: int


@dataclass(frozen=True)
class FunctionResult:
    function: C.Function
    cfg: Cfg
    naming: Naming
    ins: tuple[State | None, ...]  # the fixed point, per block
    ops: tuple[OpState, ...]
    events: tuple[Event, ...]
    exits: tuple[Exit, ...]
    converged: bool
    lock_free: bool = False  # solved without a dataflow: nothing in it touches a lock
    entry_from_callers: bool = False  # a static function's entry: the join of its callers'

    @property
    def entry(self) -> State | None:
        return self.ins[self.cfg.entry]

    def exit_state(self) -> State | None:
        return self.ins[self.cfg.exit]

    def state_at_block(self, block: int) -> State | None:
        return self.ins[block]
