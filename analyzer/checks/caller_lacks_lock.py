"""caller-lacks-lock — a call to a function that requires a lock, made without it.

What it does: a function *requires* a lock when it asserts it (``lockdep_assert_held()``,
``mmap_assert_locked()``, ``__must_hold()``… — the ``assert`` primitives of
``rules/locks.toml``) on its paths, itself or through the functions it calls: its summary
then asserts the lock, in the caller's terms. At each call of such a function, the caller's
lock state before the call is judged: held — proved; unknown (the caller's own caller may
hold it) — the requirement moves up, into the caller's summary, and is judged at its callers;
known not held on every path reaching the call (released before it, or never taken where the
function takes it elsewhere), or on some feasible path — reported. An assertion of the
function's own that the lock state contradicts is reported the same way.

Kinds: ``not-held`` (error) — not held on any path reaching the call; ``some-paths`` (error)
— not held on a feasible path (the path partitions keep the tracked values apart, as for
double-lock) and known on every path (held or not: where one path's state is unknown, a
callee's out-flag read inexactly, say, the "not held" of another is no evidence).

Not reported: ``lockdep_assert_not_held()`` (a requirement that it is *not* held), a
requirement from a summary of joined paths (too many paths to tell which one asserts), and
functions with parse errors.

Confidence: high; "unknown" is never taken for "not held".
"""

from __future__ import annotations

from ..findings.finding import Severity
from ..locks.events import EventKind, Inexact
from ..locks.state import Poss
from ..model.enums import Mode
from .common import Rule

RULE = Rule("caller-lacks-lock", {
    "not-held": "{callee} requires {lock}{how}, but it is not held on any path reaching "
                "this call",
    "some-paths": "{callee} requires {lock}{how}, but it is not held on some paths reaching "
                  "this call",
})


def check(ctx):
    if ctx.function.degraded:
        return []
    out = []
    seen: set[tuple] = set()
    for ev in ctx.events:
        if ev.kind != EventKind.ASSERT or ev.lock is None or ev.fact is None \
                or ev.mode == Mode.NONE or Inexact.JOINED in ev.inexact:
            continue
        # some paths: not held on a feasible one, and known on all (a path where the
        # analysis lost track — a callee's out-flag it reads inexactly — is no evidence)
        some = not ev.fact.not_held and ev.fact.maybe_not_held \
            and Poss.UNKNOWN not in ev.fact.poss and any(
                f is not None and f.not_held for f in ctx.fn.facts_on_paths(ev))
        if not ev.fact.not_held and not some:
            continue
        key = (ev.span.line, ev.lock, ev.via)
        if key in seen:
            continue
        seen.add(key)
        released = [e.span.line for e in ctx.events
                    if e.kind == EventKind.RELEASE and e.lock == ev.lock
                    and e.span.line <= ev.span.line]
        related = [(max(released), "released here before")] if released else []
        mode = {Mode.WRITE: " for write", Mode.READ: " for read"}.get(ev.mode or Mode.ANY, "")
        callee = f"{ev.via}()" if ev.via else f"{ctx.function.name}()'s own assertion"
        how = f"{mode} (it asserts it is held)" if ev.via else mode
        out.append(RULE.finding(ctx, "some-paths" if some else "not-held", Severity.ERROR,
                                ev.span.line, ev.span.end_line, [ev.lock], related,
                                (ev.lock, ev.via or ""), callee=callee,
                                lock=ev.lock.describe(), how=how))
    return out
