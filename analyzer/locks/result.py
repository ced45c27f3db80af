"""The frozen results of analysing a function and a file: everything checks and reports read.

Computed once by :func:`analyzer.locks.dataflow.solve_function`: the state before every
operation and condition, every event with the state before it, every exit with the state the
function leaves in and the value it returns. Nothing downstream runs the transfer function
again or rebuilds a CFG.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from ..flow.cfg import Cfg, Op
from ..source.reader import SourceFile
from ..syntax import tree as C
from .events import Event
from .naming import Naming
from .state import State

if TYPE_CHECKING:
    from ..frontend.treesitter import ParsedFile
    from ..model.lockmodel import LockModel


def event_key(ev: Event) -> tuple:
    return (ev.kind, ev.span.line, ev.span.start_byte, ev.lock, ev.via)


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
    returned: str | None = None  # the value on this path: "0", "-EINVAL", "nonzero", …


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
    # the fact before a lock event on each path partition reaching it (when more than one
    # reaches it): a may-fact of the joined state that is "not held" on one partition is
    # not held on a feasible path (the partitions keep the tracked values apart)
    path_facts: Mapping[tuple, tuple] = field(default_factory=dict)

    def facts_on_paths(self, ev: Event) -> tuple:
        """The facts of ``ev``'s lock before ``ev`` on each partition reaching it (empty:
        one partition, the joined fact is all there is)."""
        return self.path_facts.get(event_key(ev), ())

    @property
    def entry(self) -> State | None:
        return self.ins[self.cfg.entry]

    def exit_state(self) -> State | None:
        return self.ins[self.cfg.exit]

    def state_at_block(self, block: int) -> State | None:
        return self.ins[block]


# --------------------------------------------------------------------------- a file


@dataclass(frozen=True)
class Deps:
    """What an analysis read beyond its own file and the headers its cache key names: every
    name it looked up in the tree's definitions index (→ where it is defined and how, or
    None) and the blob of each file it read a body from. A cached result is valid while
    these still hold, so adding a function to one file does not invalidate every other."""

    lookups: tuple[tuple[str, str | None], ...] = ()  # name → "path:kind" or None
    blobs: tuple[tuple[str, str], ...] = ()


class FileStatus(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"  # some function had a parse error
    ERROR = "error"  # not analysed


@dataclass
class FileAnalysis:
    path: str
    status: FileStatus
    error: str | None = None
    parsed: ParsedFile | None = None
    functions: list[FunctionResult] = field(default_factory=list)
    source: SourceFile | None = None
    seconds: float = 0.0
    model: LockModel | None = field(default=None, repr=False, compare=False)
    # comments of the tree that rules read, (path, marker) → the comment (None: missing)
    tree_comments: Mapping[tuple[str, str], str | None] = field(default_factory=dict)
    deps: Deps = Deps()
    # the summary provider the analysis used: for tools and tests (checks read results only)
    summaries: object = field(default=None, repr=False, compare=False)
    # what the struct definitions it reads (its headers', its own) say guards their members:
    # the :class:`~analyzer.model.lockmodel.Guard` values, and the mentions left unresolved
    declared: tuple = ()
    mentions: tuple = ()
    # may a callee the file does not define sleep (analyzer.locks.sleeps.SleepChains, for
    # sleep-in-atomic): reads other files' bodies as text, recorded in ``final_deps``
    sleeps: object = field(default=None, repr=False, compare=False)
    # which locks a callee takes down the chain (analyzer.locks.retakes.Retakes, for
    # double-lock through a callee), read the same way
    retakes: object = field(default=None, repr=False, compare=False)
    # which arguments a callee pins or re-reads (analyzer.locks.retakes.Pins, for
    # lock-dropped-in-loop), read the same way
    pins: object = field(default=None, repr=False, compare=False)
    # which arguments a callee changes (analyzer.locks.retakes.Changes, for
    # used-after-unlock: a lookup that changes what it searches takes the entry out)
    changes: object = field(default=None, repr=False, compare=False)
    # the deps once the checks have run (the sleep chains read files on demand)
    final_deps: Callable[[], Deps] | None = field(default=None, repr=False, compare=False)

    @property
    def degraded_functions(self) -> int:
        return sum(fa.function.degraded for fa in self.functions)

    def read_deps(self) -> Deps:
        """What the analysis (and the checks run on it) read from other files."""
        return self.final_deps() if self.final_deps is not None else self.deps

    def function(self, name: str) -> FunctionResult | None:
        for fa in self.functions:
            if fa.function.name == name:
                return fa
        return None


