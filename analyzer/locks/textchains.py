"""What the questions asked of callee bodies read as text share (:mod:`analyzer.locks.sleeps`:
may it sleep; :mod:`analyzer.locks.retakes`: which locks does it take): the steps of a chain
and how it is shown, how a name is resolved to bodies, and one walk over bodies that
memoises each body's answer, stops at recursion and gives up past a budget of bodies read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..index.bodies import Body, split_args

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Step:
    function: str
    path: str
    line: int  # the call (or what the chain ends on) in ``function``'s body
    what: str  # "calls g()" / "takes a mutex: mutex_lock(&m->lock)"


# name, the file asking → the definitions it may run, each (path, body)
Resolver = Callable[[str, str], list[tuple[str, Body]]]


def render(chain: tuple[Step, ...]) -> str:
    """``g() (kernel/x.c:12) → h() (kernel/x.c:40) takes a mutex: mutex_lock(&m)``."""
    parts = [f"{s.function}() ({s.path}:{s.line})" for s in chain]
    return " → ".join(parts) + f" {chain[-1].what}"


def nth_arg(args: str, n: int) -> str:
    """The ``n``-th argument of a call's argument text, stripped ("" when it has fewer)."""
    parts = split_args(args)
    return parts[n].strip() if n < len(parts) else ""


class BodyWalk(Generic[T]):
    """A question answered per body: ``_judge`` says it for one body; ``_of_body`` memoises
    it, answers ``empty`` for a body already being judged (recursion) or once ``budget``
    bodies have been read for one question (and then memoises nothing: a cut answer is not
    the body's)."""

    budget = 300

    def __init__(self, resolve: Resolver, empty: T):
        self.resolve = resolve
        self.empty = empty
        self.memo: dict[tuple[str, str], T] = {}
        self._active: set[tuple[str, str]] = set()
        self._left = 0

    def _start(self) -> None:
        self._left = self.budget

    def _of_body(self, path: str, body: Body, depth: int) -> T:
        key = (path, body.name)
        if key in self.memo:
            return self.memo[key]
        if key in self._active or self._left <= 0:
            return self.empty
        self._left -= 1
        self._active.add(key)
        try:
            result = self._judge(path, body, depth)
        finally:
            self._active.discard(key)
        if self._left > 0:
            self.memo[key] = result
        return result

    def _judge(self, path: str, body: Body, depth: int) -> T:
        raise NotImplementedError
