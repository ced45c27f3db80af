"""One generic worklist solver for every fixpoint of the engine.

``worklist(order, start, visit)`` visits nodes in priority order (their position in
``order``: reverse post-order for the blocks of a CFG, file order for the functions of a file)
until no visit asks for more; ``visit(node)`` does the node's work and returns the nodes whose
input it changed. A node visited more than ``max_visits`` times is not visited again and the
result is marked not converged (the caller says so, it never loops).

Two fixpoints use it: the lock-state dataflow of a function (nodes: blocks; a visit runs the
block's operations and joins its outgoing states into its successors' inputs) and the entry
states of a file's static functions (nodes: functions; a visit re-solves a static helper from
the join of its callers' states at their call sites and, when the result changed, asks for its
own static callees). Summaries are not a fixpoint: a helper is summarised by enumerating its
paths (:mod:`analyzer.locks.summaries`), with the same block transfer.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

N = TypeVar("N", bound=Hashable)


def worklist(order: Sequence[N], start: Iterable[N], visit: Callable[[N], Iterable[N]],
             max_visits: int = 60) -> bool:
    """Run ``visit`` to a fixed point; False when a node hit ``max_visits``."""
    pos = {n: i for i, n in enumerate(order)}
    queued: set[N] = set()
    heap: list[int] = []

    def push(n: N) -> None:
        if n in pos and n not in queued:
            queued.add(n)
            heapq.heappush(heap, pos[n])

    for n in start:
        push(n)
    visits: dict[N, int] = {}
    converged = True
    while heap:
        n = order[heapq.heappop(heap)]
        queued.discard(n)
        visits[n] = visits.get(n, 0) + 1
        if visits[n] > max_visits:
            converged = False
            continue
        for m in visit(n):
            push(m)
    return converged
