"""Which locks a call takes down the call chain, by the callee's parameters: the evidence of
a double lock through a callee.

A helper that takes and drops a lock (``blk_trace_remove(q)``: lock ``q->debugfs_mutex``,
work, unlock) has no net effect, so its summary says nothing about it; called with that lock
already held it deadlocks all the same. This reads the callee's body as text
(:mod:`analyzer.index.bodies`) and lists its acquires whose lock is named from a parameter
the body never assigns (``&q->debugfs_mutex``: parameter 0, ``->debugfs_mutex``), or from a
file-scope name (a global mutex), down to :data:`MAX_DEPTH` calls below the callee through
arguments passed on unchanged. An acquire preceded in the body by a release of the same
lock (the helper drops the caller's lock and retakes it: the cycle the engine's summaries
carry) is not one; nor is a trylock, which does not wait.

When a name has several definitions every one must take the lock (``#if`` alternatives);
a name with no definition in sight takes nothing that can be shown.

:class:`Touches` reads the same bodies for the engine's unknown calls: which of its
arguments' locks a function the analysis has no summary of may take or release at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..index.bodies import Body, split_args
from ..model.enums import Action, Mode
from ..model.lockmodel import LockModel
from .textchains import BodyWalk, Resolver, Step, nth_arg

MAX_DEPTH = 2  # calls below the callee
MAX_BODIES = 200

_ROOT = re.compile(r"^([A-Za-z_]\w*)")
_PATH = re.compile(r"^[A-Za-z_]\w*(?:(?:->|\.)[A-Za-z_]\w*)*$")


@dataclass(frozen=True, slots=True)
class Retake:
    lock: str  # "p->m.x": rooted at the parameter ``param`` (its name), or a global
    param: int | None  # position of the parameter the lock is named from; None: a global
    mode: Mode
    steps: tuple[Step, ...]  # from the callee down to the acquire

    @property
    def root(self) -> str:
        """The name the lock is rooted at: the parameter's, or the global's."""
        m = _ROOT.match(self.lock)
        return m.group(1) if m else self.lock


def lock_text(arg: str) -> str | None:
    """The lock an argument names, as a path (``&q->m`` → ``q->m``, ``&(x)->m`` → ``x->m``),
    or None when it is no plain member path (a call, an index, arithmetic)."""
    t = arg.replace(" ", "")
    t = re.sub(r"(?<![\w\]])\((\w+)\)", r"\1", t)
    if t.startswith("&"):
        t = t[1:]
    while t.startswith("(") and t.endswith(")"):
        t = t[1:-1]
    return t if _PATH.match(t) else None


def rebase(lock: str, param: str, arg: str) -> str | None:
    """``lock`` (rooted at ``param``) in terms of the argument passed for it, or None."""
    t = arg.replace(" ", "")
    rest = lock[len(param):]
    if t.startswith("&"):  # &s->inner passed for p: p->m is s->inner.m
        base = lock_text(t)
        if base is None or not rest.startswith("->"):
            return None
        return base + "." + rest[2:]
    base = lock_text(t)
    return None if base is None else base + rest


_Effects = tuple[tuple[Retake, ...], tuple[Retake, ...]]


class Retakes(BodyWalk[_Effects]):
    """Answers "which locks may a call of ``name`` from a file take?" (memoised)."""

    budget = MAX_BODIES

    def __init__(self, model: LockModel, resolve: Resolver):
        super().__init__(resolve, ((), ()))
        self.model = model

    def of_call(self, name: str, from_path: str) -> tuple[Retake, ...]:
        self._start()
        return self._effects(name, from_path, 0)[0]

    def _effects(self, name: str, from_path: str, depth: int) -> _Effects:
        """(acquires every definition makes on every path, locks some definition releases
        before taking them) of a call of ``name``."""
        if depth > MAX_DEPTH or self.model.primitive(name) is not None \
                or name in self.model.transparent:
            return (), ()
        defs = self.resolve(name, from_path)
        if not defs:
            return (), ()
        per_def = [self._of_body(p, b, depth) for p, b in defs]
        first = per_def[0][0]
        # every alternative takes it (keyed by lock and parameter; the first's chain shown)
        keep = [r for r in first
                if all(any((o.lock, o.param) == (r.lock, r.param) for o in other[0])
                       for other in per_def[1:])]
        drops = tuple(dict.fromkeys(d for e in per_def for d in e[1]))
        return tuple(keep), drops

    def _judge(self, path: str, body: Body, depth: int) -> _Effects:
        params = list(body.params)
        released: dict[tuple[str, int | None], Retake] = {}
        out: dict[tuple[str, int | None], Retake] = {}

        def keyed(lock: str) -> tuple[str, int | None] | None:
            m = _ROOT.match(lock)
            if m is None:
                return None
            root = m.group(1)
            if root in params:
                if root in body.assigned:
                    return None  # the parameter names another object by then
                return lock, params.index(root)
            if root in body.assigned or root in body.locals:
                return None  # a local: nothing the caller can hold
            return lock, None

        def add(lock: str, mode: Mode, steps: tuple[Step, ...], always: bool) -> None:
            k = keyed(lock)
            if k is None or k in released or not always:
                return  # dropped first: the caller's lock, given back and retaken
            out.setdefault(k, Retake(lock, k[1], mode, steps))

        def drop(lock: str) -> None:
            k = keyed(lock)
            if k is not None and k not in out:
                released.setdefault(k, Retake(lock, k[1], Mode.ANY, ()))

        for call in body.calls:
            prim = self.model.primitive(call.name)
            if prim is not None:
                if prim.annotation or prim.released_with:
                    continue  # a mark that may be set again (vma_start_write())
                lock = lock_text(nth_arg(call.args, prim.arg))
                if lock is None:
                    continue
                if prim.field:
                    lock = f"{lock}->{prim.field}"
                if prim.action == Action.RELEASE:
                    drop(lock)
                elif prim.action == Action.ACQUIRE or (prim.action == Action.TRYLOCK
                                                       and prim.waits):
                    add(lock, prim.mode, (Step(body.name, path, call.line,
                                               f"takes {lock}: {call.name}({call.args})"),),
                        call.always)
                continue
            if call.name == body.name or call.name in self.model.sleepers:
                continue
            below, drops = self._effects(call.name, path, depth + 1)
            if not below and not drops:
                continue
            args = [a.strip() for a in split_args(call.args)]
            for r in drops:
                mine = self._mine(r, args)
                if mine is not None:
                    drop(mine)
            for r in below:
                mine = self._mine(r, args)
                if mine is not None:
                    add(mine, r.mode, (Step(body.name, path, call.line,
                                            f"calls {call.name}()"), *r.steps), call.always)
        return tuple(out.values()), tuple(released.values())

    @staticmethod
    def _mine(r: Retake, args: list[str]) -> str | None:
        """A callee's lock in terms of this body's names, through the call's arguments."""
        if r.param is None:
            return r.lock
        if r.param >= len(args):
            return None
        return rebase(r.lock, r.root, args[r.param])


TOUCH_DEPTH = 3  # calls below the callee read for a lock of its parameters


class Touches(BodyWalk["frozenset[int]"]):
    """Answers "which of its arguments' locks may a call of ``name`` take or release?" for
    a callee the analysis has no summary of (a function of another subsystem), by its body
    read as text: the parameters a lock primitive's lock is named from (``&mm->mmap_lock``:
    ``mm``), directly or through a call that is handed the parameter, down to
    :data:`TOUCH_DEPTH` calls. The argument the call is given for any other parameter keeps
    its locks as they were: the callee cannot reach them by a name of its own.

    ``None`` when it cannot be told: no definition in sight, or more bodies than the budget
    (the call's effects then stay unknown). Below the callee, a name with no definition in
    sight touches nothing: a lock dropped four calls down, in code the tree does not have,
    is the miss this trades for calls that leave their caller's locks alone."""

    budget = MAX_BODIES

    def __init__(self, model: LockModel, resolve: Resolver):
        super().__init__(resolve, frozenset())
        self.model = model

    def of_call(self, name: str, from_path: str) -> frozenset[int] | None:
        if self.model.primitive(name) is not None or name in self.model.transparent:
            return None
        self._start()
        defs = self.resolve(name, from_path)
        if not defs:
            return None
        out = self._touched(name, from_path, 0, defs)
        return out if self._left > 0 else None

    def _touched(self, name: str, from_path: str, depth: int,
                 defs: list[tuple[str, Body]] | None = None) -> frozenset[int]:
        if depth > TOUCH_DEPTH:
            return frozenset()
        if defs is None:
            defs = self.resolve(name, from_path)
        out: frozenset[int] = frozenset()
        for p, b in defs:  # any alternative may be the one built
            out |= self._of_body(p, b, depth)
        return out

    def _judge(self, path: str, body: Body, depth: int) -> frozenset[int]:
        params = list(body.params)
        out: set[int] = set()

        def rooted(text: str) -> set[int]:
            """The parameters an argument's text is named from (unassigned ones only)."""
            return {params.index(w) for w in re.findall(r"[A-Za-z_]\w*", text)
                    if w in params and w not in body.assigned}

        for call in body.calls:
            prim = self.model.primitive(call.name)
            if prim is not None:
                if prim.annotation or prim.action == Action.ASSERT:
                    continue
                out |= rooted(nth_arg(call.args, prim.arg))
                continue
            if call.name == body.name or call.name in self.model.transparent:
                continue
            args = split_args(call.args)
            given = [rooted(a) for a in args]
            if not any(given):
                continue
            for i in self._touched(call.name, path, depth + 1):
                if i < len(given):
                    out |= given[i]
        return frozenset(out)


PIN_DEPTH = 2  # calls below the callee read for a pin of its parameters
RESULT = -1  # Changes: the position that stands for a function's result


class _Positions(BodyWalk["frozenset[int]"]):
    """A question about a call's argument positions, answered from its bodies down to
    :data:`PIN_DEPTH` calls (any ``#if`` alternative may be the one built)."""

    budget = MAX_BODIES

    def __init__(self, model: LockModel, resolve: Resolver):
        super().__init__(resolve, frozenset())
        self.model = model

    def of_call(self, name: str, from_path: str) -> frozenset[int]:
        if self.model.primitive(name) is not None or name in self.model.transparent:
            return frozenset()
        self._start()
        return self._at(name, from_path, 0)

    def _at(self, name: str, from_path: str, depth: int) -> frozenset[int]:
        if depth > PIN_DEPTH:
            return frozenset()
        out: frozenset[int] = frozenset()
        for p, b in self.resolve(name, from_path):
            out |= self._of_body(p, b, depth)
        return out


class Pins(_Positions):
    """Answers "which of its arguments does a call of ``name`` pin or re-read?" by its body
    read as text, for lock-dropped-in-loop: the parameters it hands to a call listed in
    ``revalidators`` (``rules/locks.toml``: ``folio_get()``, ``percpu_ref_tryget()``, …) or
    to a function that pins them in turn, down to :data:`PIN_DEPTH` calls, on any path
    (``wb_tryget(wb)`` → ``percpu_ref_tryget(&wb->refcnt)``; a helper whose pin is
    conditional returns whether it pinned, and its caller tests that). Empty when the body
    is not in sight."""

    def of_call(self, name: str, from_path: str) -> frozenset[int]:
        if name in self.model.revalidators:
            return frozenset(range(8))  # every argument: the call is itself a pin
        return super().of_call(name, from_path)

    def _judge(self, path: str, body: Body, depth: int) -> frozenset[int]:
        params = list(body.params)

        def rooted(text: str) -> set[int]:
            """The parameter an argument is named from: its first name (``&wb->refcnt``),
            when the body never assigns it."""
            m = re.match(r"\W*([A-Za-z_]\w*)", text)
            w = m.group(1) if m else None
            return {params.index(w)} if w in params and w not in body.assigned else set()

        out: set[int] = set()
        for call in body.calls:
            if call.name == body.name or self.model.primitive(call.name) is not None:
                continue
            given = [rooted(a) for a in split_args(call.args)]
            if not any(given):
                continue
            if call.name in self.model.revalidators:
                for g in given:
                    out |= g
                continue
            for i in self._at(call.name, path, depth + 1):
                if i < len(given):
                    out |= given[i]
        return frozenset(out)


class Changes(_Positions):
    """Answers "which of its arguments does a call of ``name`` change?" by its body read as
    text, for used-after-unlock: the parameters it writes through (``pool->next = b->next``),
    hands to a container mutator (``list_del(&p->node)``: ``[guards] mutators`` in
    ``rules/protected.toml``) or to a function that changes them in turn, down to
    :data:`PIN_DEPTH` calls. :data:`RESULT` stands for what it returns, changed or pinned the
    same ways (``entry = search(root, key); if (entry) entry_get(entry); return entry;``), or
    by the function whose result it returns (``return __lookup(tree, key, 1);``). A
    lookup that changes the structure it searches (pops an entry off a free list) hands the
    caller an object taken out of it; one that changes or pins what it returns has taken a
    reference. Empty when the body is not in sight."""

    def _judge(self, path: str, body: Body, depth: int) -> frozenset[int]:
        params = list(body.params)
        # a name → the position it stands for: an unassigned parameter, or the result
        where = {p: i for i, p in enumerate(params) if p not in body.assigned}
        for r in body.returned - set(params):
            where[r] = RESULT
        out = {i for n, i in where.items() if n in body.written}
        # ``return lookup(tree, key);``: what that lookup does to its result, this one does
        if any(RESULT in self._at(c, path, depth + 1) for c in body.returned_calls
               if c != body.name and self.model.primitive(c) is None):
            out.add(RESULT)
        mutator = self.model.protected.guard_rules.is_mutator
        for call in body.calls:
            if call.name == body.name or self.model.primitive(call.name) is not None:
                continue
            given = []
            for a in split_args(call.args):
                m = re.match(r"\W*([A-Za-z_]\w*)", a)
                w = m.group(1) if m else None
                given.append({where[w]} if w in where else set())
            if not any(given):
                continue
            if mutator(call.name) or call.name in self.model.revalidators:
                for g in given:
                    out |= g
                continue
            for i in self._at(call.name, path, depth + 1) - {RESULT}:
                if i < len(given):
                    out |= given[i]
        return frozenset(out)
