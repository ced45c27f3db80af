"""Mined protection: which lock the code itself keeps held where a member is read or written.

For every member (struct, field) and kind of access (read, write), and every lock that is held
at one of its accesses, the accesses are counted: *held* (the lock is must-held there),
*lacking* (known not held there, or taken by the same function elsewhere and not here) and
*unknown* (a caller may hold it).

Unknown accesses are left out of the count: a caller may hold the lock. But when every
access that holds it is in a function that takes it itself — no caller holds it for them, no
function asserts it — the discipline is *local*, and the writes in functions that do not
take it deviate too, provided the pair still passes with them counted (reads in such
functions are left alone: a racy read, rechecked or harmless, is a common design).

A pair member ← lock is a guard when it is held at ``min_held`` accesses or more, at
``min_confidence`` of those counted, at ``min_share`` of all (a lock held at 6 of 312 reads,
unknown at the rest, is a coincidence), and its z-score reaches ``min_score`` — the statistic
Engler et al. rank "bugs as deviant behaviour" by: ``z = (held/n − p0) / sqrt(p0·(1 − p0)/n)``
with ``p0`` the rate at which a lock would be held at an access by chance (``chance``). A
read pair also needs the member's writes to take the lock (more often than they lack it): a
member only ever written at init is read under whatever lock happens to be held. Init and
teardown accesses (``private``) are never counted. The thresholds are data
(``protected.toml`` ``[guards]``).

A member written at too few sites for a pair of its own can borrow its struct's local
discipline (``scope`` "struct", :func:`_struct_wide`).

The lacking accesses of a guard are its *deviations*: what ``unguarded-access`` reports.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ..model.lockmodel import Access, Guard, GuardRules
from .accesses import FieldAccess


@dataclass(frozen=True)
class Located:
    path: str
    access: FieldAccess

    @property
    def where(self) -> str:
        return f"{self.path}:{self.access.line}"


@dataclass(frozen=True)
class Mined:
    guard: Guard
    unknown: int  # accesses where the lock's state is not known
    local: bool  # every access holding it is in a function that takes it
    passes: bool  # above the thresholds: a guard
    examples: tuple[str, ...]  # path:line of accesses holding it
    deviations: tuple[str, ...]  # path:line of accesses lacking it
    scope: str = "member"  # "struct": the evidence is the writes of all the struct's members

    def to_json(self) -> dict:
        g = self.guard
        return {"struct": g.struct, "field": g.field, "lock": g.lock, "access": str(g.access),
                "source": g.source, "held": g.held, "total": g.total,
                "unknown": self.unknown, "local": self.local, "scope": self.scope,
                "score": round(g.score, 2),
                "examples": list(self.examples), "deviations": list(self.deviations)}


def z_score(held: int, known: int, chance: float) -> float:
    if known <= 0:
        return 0.0
    return (held / known - chance) / math.sqrt(chance * (1 - chance) / known)


def mine(accesses: Iterable[Located], rules: GuardRules, everything: bool = False
         ) -> list[Mined]:
    """The mined guards, best first (``everything``: every candidate pair, guard or not)."""
    groups: dict[tuple, list[Located]] = defaultdict(list)
    for la in accesses:
        a = la.access
        if not a.private:
            groups[(a.struct, a.field, a.access)].append(la)
    out = []
    for (struct, field, access), items in groups.items():
        candidates = sorted({t for la in items for t in la.access.held})
        for lock in candidates:
            held = [la for la in items if la.access.lock_state(lock) is True]
            lacking = [la for la in items if la.access.lock_state(lock) is False]
            untaken = [la for la in items if la.access.never_takes(lock)]
            local = all(la.access.takes(lock) for la in held)
            known = len(held) + len(lacking)
            z = z_score(len(held), known, rules.chance)
            writes = groups.get((struct, field, Access.WRITE), ())
            passes = (is_guard(len(held), known, z, rules)
                      and len(held) >= rules.min_share * len(items)
                      and (access == Access.WRITE or _written_under(writes, lock)))
            # local discipline: the functions that do not take it deviate too, when the
            # pair still holds with them counted
            if passes and local and untaken and access == Access.WRITE and is_guard(
                    len(held), known + len(untaken),
                    z_score(len(held), known + len(untaken), rules.chance), rules):
                lacking += untaken
            if not everything and not passes:
                continue
            g = Guard(struct, field, lock, access, "mined", len(held), known, score=z)
            n = rules.examples
            out.append(Mined(g, len(items) - known, local, passes,
                             tuple(la.where for la in _ordered(held)[:n]),
                             tuple(la.where for la in _ordered(lacking))))
    out += _struct_wide(groups, out, rules, everything)
    out.sort(key=lambda m: (-m.guard.score, -m.guard.held, m.guard.struct, m.guard.field,
                            m.guard.access, m.guard.lock))
    return out


def _struct_wide(groups: dict[tuple, list[Located]], found: list[Mined], rules: GuardRules,
                 everything: bool) -> list[Mined]:
    """Local discipline over a struct's members: where every write of the struct's members
    that holds a lock is in a function that takes it (or is given it by all its in-file
    callers) — twice the support a member needs, at the confidence a member needs with the
    writes of functions that never take it counted — a member written at too few sites for a
    pair of its own deviates where a function that never takes the lock writes it. Known
    "lacking" (the function takes the lock elsewhere: it knows the lock) does not count here:
    that is a choice made by someone who knew the lock."""
    have = {(m.guard.struct, m.guard.field, m.guard.lock) for m in found
            if m.passes and m.guard.access == Access.WRITE}
    members: dict[str, list[tuple[str, list[Located]]]] = defaultdict(list)
    for (struct, field, access), items in groups.items():
        if access == Access.WRITE and struct:
            members[struct].append((field, items))
    out = []
    for struct, fields in members.items():
        if len(fields) < 2:
            continue
        items = [la for _, its in fields for la in its]
        for lock in sorted({t for la in items for t in la.access.held}):
            held = [la for la in items if la.access.lock_state(lock) is True]
            if not all(la.access.takes(lock) for la in held):
                continue
            untaken = [la for la in items if la.access.never_takes(lock)]
            lacking = sum(la.access.lock_state(lock) is False for la in items)
            n = len(held) + lacking + len(untaken)
            z = z_score(len(held), n, rules.chance)
            if not (len(held) >= 2 * rules.min_held and len(held) / n >= rules.min_confidence
                    and z >= rules.min_score):
                continue
            for field, its in fields:
                mh = [la for la in its if la.access.lock_state(lock) is True]
                dev = [la for la in untaken if la.access.field == field]
                if (struct, field, lock) in have or not mh \
                        or any(la.access.lock_state(lock) is False for la in its):
                    continue
                if not dev and not everything:
                    continue
                g = Guard(struct, field, lock, Access.WRITE, "mined", len(held), n, score=z)
                out.append(Mined(g, 0, True, bool(dev),
                                 tuple(la.where for la in _ordered(mh)[:rules.examples]),
                                 tuple(la.where for la in _ordered(dev)), "struct"))
    return out


def _written_under(writes, lock: str) -> bool:
    """A read is guarded by a lock only if the member's writes take it too: a member read
    under a lock but written without it (or only when it is initialised) is guarded by
    something else, or by nothing."""
    held = sum(la.access.lock_state(lock) is True for la in writes)
    lacking = sum(la.access.lock_state(lock) is False for la in writes)
    return held > 0 and held >= lacking


def is_guard(held: int, known: int, z: float, rules: GuardRules) -> bool:
    return held >= rules.min_held and known > 0 and held / known >= rules.min_confidence \
        and z >= rules.min_score


def _ordered(items: list[Located]) -> list[Located]:
    return sorted(items, key=lambda la: (la.path, la.access.line))
