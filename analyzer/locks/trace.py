"""What a report shows of one solved function, as a small picklable value.

The HTML report draws a lock-state gutter: per line, the locks held before it (the
:mod:`explain` view) and the lines where a lock is acquired or released. A
:class:`FunctionTrace` keeps exactly that, cut loose from the CFG, the syntax tree and the
states of the solver, so the driver can cache it beside the file's result and a report
reads it without analysing anything again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .events import EventKind
from .explain import Explanation, Held, explain
from .result import FunctionResult

TRACED = (EventKind.ACQUIRE, EventKind.RELEASE)


@dataclass(frozen=True, slots=True)
class TraceEvent:
    line: int
    kind: EventKind  # ACQUIRE or RELEASE
    lock: str  # the lock as rendered (``anon_vma->root->rwsem``)
    via: str | None = None  # the callee whose summary did it


@dataclass(frozen=True)
class FunctionTrace:
    """One function of a file: its span, the explain view of its lines (without the source
    text, which the file's report keeps once) and its acquires and releases."""

    name: str
    start: int
    end: int
    explanation: Explanation
    events: tuple[TraceEvent, ...]


def trace(fa: FunctionResult, text: str) -> FunctionTrace:
    ex = explain(fa, text)
    # one object for each distinct set of held locks: neighbouring lines mostly share it,
    # and a pickle stores a shared object once (the cache entry loads three times faster)
    shared: dict[tuple[Held, ...], tuple[Held, ...]] = {}
    ex = replace(ex, lines=tuple(replace(ln, text="", held=shared.setdefault(ln.held, ln.held))
                                 for ln in ex.lines))
    events = tuple(TraceEvent(ev.span.line, ev.kind, ev.lock.render(), ev.via)
                   for ev in fa.events if ev.kind in TRACED and ev.lock)
    fn = fa.function
    return FunctionTrace(fn.name, fn.span.line, fn.span.end_line, ex, events)
