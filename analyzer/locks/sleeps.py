"""Whether a call may sleep, down the call chain, across the tree: the evidence of
sleep-in-atomic for callees the analysed file does not define.

A function may sleep when its body (read as text, :mod:`analyzer.index.bodies`) calls

* a sleeping acquire: a lock primitive of ``rules/locks.toml`` whose kind sleeps (mutex,
  rwsem, folio lock), not a trylock, or a conditional acquire that waits (killable);
* a function listed in ``sleepers`` that sleeps unconditionally (``might_sleep_if()`` and
  the other ``conditional_sleepers`` depend on an argument the chain does not follow);
* any function given a GFP flag that may enter direct reclaim (``rules/protected.toml``
  ``[alloc]``), not masked and not with a no-reclaim flag, down to :data:`GFP_DEPTH`;
* a function that may sleep, the same way, up to :data:`MAX_DEPTH` calls deep.

A body that releases a spinning lock it did not take itself drops its caller's lock around
what follows (``cond_resched_lock()``'s shape): it is not counted, nor anything below it.
When a name has several definitions (``#if`` alternatives, other architectures' files),
every one of them must sleep. A name with no definition in sight does not sleep: the chain
reports what it can show, never what it guesses.

The answer is a chain of :class:`Step`: each function and the line of the call that leads
to the sleep, the last one naming what sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ..index.bodies import Body, split_args
from ..model.enums import Action
from ..model.lockmodel import LockModel

MAX_DEPTH = 2  # calls below the caller's callee: deeper, the branch that sleeps is seldom
# the one the caller runs (a debug hook, an error path), and the text does not say
GFP_DEPTH = 1  # a reclaiming GFP flag counts this deep at most: it is weaker evidence (a
# flag handed to a hook that only records it reads the same as one handed to an allocator)
DROP_DEPTH = 3  # how deep a helper is read for a release of its caller's spinning lock
MAX_BODIES = 300  # bodies read for one question before it is given up as "not shown"

_WORD = re.compile(r"\b[A-Z_][A-Z0-9_]*\b")


@dataclass(frozen=True, slots=True)
class Step:
    function: str
    path: str
    line: int  # the call (or the sleep) in ``function``'s body
    what: str  # "calls g()" / "takes a mutex: mutex_lock(&m->lock)"


# name, the file asking → the definitions it may run, each (path, body)
Resolver = Callable[[str, str], list[tuple[str, Body]]]


class SleepChains:
    """Answers "may ``name``, called from a file, sleep?" for one analysed file (memoised)."""

    def __init__(self, model: LockModel, resolve: Resolver):
        self.model = model
        self.resolve = resolve
        self.memo: dict[tuple[str, str], tuple[Step, ...] | None] = {}
        self._drop_memo: dict[tuple[str, str], bool] = {}
        self._active: set[tuple[str, str]] = set()
        self._budget = 0
        alloc = model.protected.alloc
        self._reclaim = alloc.reclaim
        self._no_reclaim = alloc.no_reclaim
        self._readers = alloc.flag_readers
        self._sleepers = model.sleepers - model.conditional_sleepers

    def chain(self, name: str, from_path: str) -> tuple[Step, ...] | None:
        """The chain from a call of ``name`` in ``from_path`` down to what sleeps, or None."""
        self._budget = MAX_BODIES
        return self._chain(name, from_path, 0)

    def _chain(self, name: str, from_path: str, depth: int) -> tuple[Step, ...] | None:
        defs = self.resolve(name, from_path)
        if not defs or depth > MAX_DEPTH:
            return None
        found: tuple[Step, ...] | None = None
        for path, body in defs:
            c = self._of_body(path, body, depth)
            if c is None:
                return None  # one alternative that does not sleep: not shown
            found = found or c
        return found

    def _of_body(self, path: str, body: Body, depth: int) -> tuple[Step, ...] | None:
        key = (path, body.name)
        if key in self.memo:
            return self.memo[key]
        if key in self._active or self._budget <= 0:
            return None
        self._budget -= 1
        self._active.add(key)
        try:
            result = self._judge(path, body, depth)
        finally:
            self._active.discard(key)
        if self._budget > 0:  # an answer cut by the budget is not the body's answer
            self.memo[key] = result
        return result

    def _judge(self, path: str, body: Body, depth: int) -> tuple[Step, ...] | None:
        direct = self._direct(path, body, depth)
        if direct is False:
            return None
        if isinstance(direct, tuple):
            return (Step(body.name, path, direct[0], direct[1]),)
        for call in body.calls:
            if not self._follows(call.name, body.name):
                continue
            below = self._chain(call.name, path, depth + 1)
            if below is not None:
                return (Step(body.name, path, call.line, f"calls {call.name}()"), *below)
        return None

    def _follows(self, name: str, own: str) -> bool:
        m = self.model
        return name != own and m.primitive(name) is None and name not in m.sleepers \
            and name not in m.transparent and name not in m.noreturn \
            and name not in self._readers

    def _drops(self, path: str, body: Body, depth: int = 0) -> bool:
        """Whether the body releases a spinning lock it did not take: its caller's (a
        wrapper such as a page-table unlock macro counts, read down to DROP_DEPTH)."""
        key = (path, body.name)
        if key in self._drop_memo:
            return self._drop_memo[key]
        self._drop_memo[key] = False  # recursion: no drop assumed while in progress
        taken: set[str] = set()
        found = False
        for call in body.calls:
            prim = self.model.primitive(call.name)
            arg = first_arg(call.args)
            if prim is not None:
                if prim.action == Action.RELEASE and prim.kind.spins and arg not in taken:
                    found = True
                    break
                if prim.kind.spins and prim.action in (Action.ACQUIRE, Action.TRYLOCK):
                    taken.add(arg)
            elif depth < DROP_DEPTH and self._follows(call.name, body.name) and any(
                    self._drops(p, b, depth + 1) for p, b in self.resolve(call.name, path)):
                found = True
                break
        self._drop_memo[key] = found
        return found

    def _direct(self, path: str, body: Body, depth: int) -> tuple[int, str] | bool | None:
        """(line, what) of the body's first sleep; False when the body drops a spinning
        lock it did not take (its caller's); None when it neither sleeps nor drops."""
        if self._drops(path, body):
            return False
        first: tuple[int, str] | None = None
        for call in body.calls:
            prim = self.model.primitive(call.name)
            if prim is not None:
                if prim.kind.sleeps and (
                        prim.action == Action.ACQUIRE
                        or prim.action == Action.TRYLOCK and prim.waits) \
                        and not prim.annotation:
                    return (call.line, f"takes a {prim.kind}: {call.name}({call.args})")
                continue
            if call.name in self._sleepers:
                return (call.line, f"calls {call.name}()")
            if depth <= GFP_DEPTH and call.name not in self._readers \
                    and (flag := self._reclaims(call.args)):
                return (call.line, f"calls {call.name}() with {flag}, which may enter "
                                   f"direct reclaim")
        return first

    def _reclaims(self, args: str) -> str | None:
        if "~" in args:
            return None
        args = _without_calls(args, self._readers)  # gfp_zone(GFP_KERNEL) only reads
        words = set(_WORD.findall(args))
        if words & self._no_reclaim:
            return None
        return next((w for w in sorted(words) if w in self._reclaim), None)


def _without_calls(text: str, names: frozenset[str]) -> str:
    """``text`` with every call of one of ``names`` cut out, its arguments included."""
    out = []
    i = 0
    for m in re.finditer(r"\b(\w+)\s*\(", text):
        if m.start() < i or m.group(1) not in names:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return " ".join(out)


def first_arg(args: str) -> str:
    parts = split_args(args)
    return parts[0].strip() if parts else ""


def render(chain: tuple[Step, ...]) -> str:
    """``g() (kernel/x.c:12) → h() (kernel/x.c:40) takes a mutex: mutex_lock(&m)``."""
    parts = [f"{s.function}() ({s.path}:{s.line})" for s in chain]
    return " → ".join(parts) + f" {chain[-1].what}"
