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
what follows (``cond_resched_lock()``'s shape), and one that leaves an atomic section it did
not enter (``rcu_read_unlock()`` first) its caller's section: it is not counted, nor anything
below it.
When a name has several definitions (``#if`` alternatives, other architectures' files),
every one of them must sleep. A name with no definition in sight does not sleep: the chain
reports what it can show, never what it guesses.

The answer is a chain of :class:`Step`: each function and the line of the call that leads
to the sleep, the last one naming what sleeps.
"""

from __future__ import annotations

import re

from ..index.bodies import Body
from ..model.enums import Action
from ..model.lockmodel import LockModel
from .textchains import BodyWalk, Resolver, Step, nth_arg

MAX_DEPTH = 2  # calls below the caller's callee: deeper, the branch that sleeps is seldom
# the one the caller runs (a debug hook, an error path), and the text does not say
GFP_DEPTH = 1  # a reclaiming GFP flag counts this deep at most: it is weaker evidence (a
# flag handed to a hook that only records it reads the same as one handed to an allocator)
DROP_DEPTH = 3  # how deep a helper is read for a release of its caller's spinning lock
MAX_BODIES = 300  # bodies read for one question before it is given up as "not shown"

_WORD = re.compile(r"\b[A-Z_][A-Z0-9_]*\b")


class SleepChains(BodyWalk["tuple[Step, ...] | None"]):
    """Answers "may ``name``, called from a file, sleep?" for one analysed file (memoised)."""

    budget = MAX_BODIES

    def __init__(self, model: LockModel, resolve: Resolver):
        super().__init__(resolve, None)
        self.model = model
        self._drop_memo: dict[tuple[str, str], bool] = {}
        alloc = model.protected.alloc
        self._reclaim = alloc.reclaim
        self._no_reclaim = alloc.no_reclaim
        self._readers = alloc.flag_readers
        self._sleepers = model.sleepers - model.conditional_sleepers

    def chain(self, name: str, from_path: str) -> tuple[Step, ...] | None:
        """The chain from a call of ``name`` in ``from_path`` down to what sleeps, or None."""
        self._start()
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
        """Whether the body releases a spinning lock it did not take, or leaves an atomic
        section it did not enter: its caller's (a wrapper such as a page-table unlock macro
        counts, read down to DROP_DEPTH)."""
        key = (path, body.name)
        if key in self._drop_memo:
            return self._drop_memo[key]
        self._drop_memo[key] = False  # recursion: no drop assumed while in progress
        taken: set[str] = set()
        opened = [0] * len(self.model.atomic)
        found = False
        for call in body.calls:
            prim = self.model.primitive(call.name)
            arg = nth_arg(call.args, 0)
            if self._leaves_section(call.name, opened):
                found = True
                break
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

    def _leaves_section(self, name: str, opened: list[int]) -> bool:
        """Count ``name`` as an enter or exit of an atomic section (``opened``: how many of
        each kind the body has open so far); True for an exit of one it did not open."""
        for i, k in enumerate(self.model.atomic):
            if name in k.enter:
                opened[i] += 1
            elif name in k.exit:
                if not opened[i]:
                    return True
                opened[i] -= 1
        return False

    def _direct(self, path: str, body: Body, depth: int) -> tuple[int, str] | bool | None:
        """(line, what) of the body's first sleep; False when the body drops a spinning
        lock it did not take (its caller's); None when it neither sleeps nor drops."""
        if self._drops(path, body):
            return False
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
        return None

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
