"""lock-dropped-in-loop — a lock held when an iteration starts is released inside the loop
body and taken again before the walk continues.

What it does: for every loop, finds a release of a lock that is held at the loop header (on
some path: the first iteration may run before the lock is first taken), followed on a path
inside the body, before the walk continues, by a re-acquire of the same lock. The region is
release → re-acquire. The message names the iterated list or tree and whether that walk is
protected by the dropped lock or by another one (still held, or unknown).

Why it matters: whatever the dropped lock protects can change while it is not held; if it
protects the list being walked, the cursor may point at a freed entry.

Confidence: high for the drop itself (the lock state is must/may-exact); whether it is a bug
depends on what the lock protects — the message says.
"""

from __future__ import annotations

from collections import deque

from ..findings.finding import Severity
from ..locks.events import EventKind
from ..syntax import tree as C
from .common import Rule, describe, held_as, match_structure, template, with_context

RULE = Rule("lock-dropped-in-loop", {
    "walk": "{lock} released at {released}{via} and retaken at {retaken}{via2} "
            "while walking {what}{why}",
    "loop": "{lock} released at {released}{via} and retaken at {retaken}{via2} inside a loop",
})


def check(ctx):
    fn = ctx.fn
    cfg = fn.cfg
    events = ctx.events
    index = {id(ev): i for i, ev in enumerate(events)}
    by_block: dict[int, list] = {}
    for ev in events:
        by_block.setdefault(ev.block, []).append(ev)
    out = []
    reported: set[tuple] = set()
    for lp in cfg.loops:
        head = fn.ins[lp.header]
        if head is None:
            continue
        for rel in events:
            if rel.kind != EventKind.RELEASE or rel.block not in lp.body or rel.lock is None \
                    or rel.annotation:
                continue
            if rel.fact is None or not rel.fact.may:
                continue
            start = head.fact(rel.lock)
            if start is None or not start.may:
                continue
            # the innermost loop containing the release reports it
            inner = [o for o in cfg.loops if rel.block in o.body and o.body < lp.body]
            if inner and any((head2 := fn.ins[o.header]) is not None
                             and (f2 := head2.fact(rel.lock)) is not None and f2.may
                             for o in inner):
                continue
            acq = next((a for a in _reacquires(rel, lp, cfg, by_block, index, events)
                        if _walk_continues(a.block, lp, cfg)), None)
            if acq is None:
                continue
            key = (lp.id, rel.lock, rel.span.line)
            if key in reported:
                continue
            reported.add(key)
            out.append(_finding(ctx, lp, rel, acq))
    return out


def _reacquires(rel, lp, cfg, by_block, index, events):
    """Acquires of the released lock reachable inside the body before the header, nearest
    first."""
    pos = index[id(rel)]
    for ev in by_block.get(rel.block, []):
        if index[id(ev)] > pos and _is_reacquire(ev, rel, events[pos:index[id(ev)]]):
            yield ev
    seen = {rel.block}
    todo = deque(e.target for e in cfg.blocks[rel.block].succs)
    while todo:
        b = todo.popleft()
        if b in seen or b == lp.header or b not in lp.body:
            continue
        seen.add(b)
        for ev in by_block.get(b, []):
            if _is_reacquire(ev, rel, ()):
                yield ev
        todo.extend(e.target for e in cfg.blocks[b].succs)


def _walk_continues(block: int, lp, cfg) -> bool:
    """Whether the loop goes round again after this block (not: retake, then break out)."""
    seen = set()
    todo = deque([block])
    while todo:
        b = todo.popleft()
        if b in seen or b not in lp.body:
            continue
        seen.add(b)
        for e in cfg.blocks[b].succs:
            if e.target == lp.header:
                return True
            todo.append(e.target)
    return False


def _is_reacquire(ev, rel, between) -> bool:
    if ev.kind != EventKind.ACQUIRE or ev.lock != rel.lock or ev.annotation:
        return False
    # a helper that switches objects in one call (release the old root, rebind the variable,
    # take the new root) is not a drop of one lock mid-walk: the name was rebound in between
    return not any(b.kind == EventKind.ASSIGN and b.path is not None
                   and rel.lock.path.has_prefix(b.path) for b in between)


def _finding(ctx, lp, rel, acq):
    nm = ctx.fn.naming
    what = C.render(nm.canon(lp.iterated, rel.state)) if lp.iterated is not None else None
    why = ""
    locks = [rel.lock]
    if what is not None:
        m = match_structure(lp.iterated, ctx.fn, ctx.model)
        if m is not None:
            s, obj = m
            plock = template(s.lock, obj)
            pkey = nm.lock(plock, rel.state) if plock is not None else None
            if pkey is not None:
                if held_as(rel.state, pkey) is not None and pkey == rel.lock:
                    why = f" ({s.name}, protected by this lock: the walk resumes on a list " \
                          "that may have changed)"
                else:
                    held = held_as(rel.state, pkey)
                    if held is not None and held.must:
                        why = f" (protected by {pkey}, which stays held)"
                    else:
                        why = f" (protected by {pkey}, not by this lock)"
                    locks.append(pkey)
    args = dict(lock=describe(rel.lock), released=rel.span.line, retaken=acq.span.line,
                via=f" (in {rel.via}())" if rel.via else "",
                via2=f" (in {acq.via}())" if acq.via else "")
    related = [(lp.span.line, f"loop starts here ({lp.macro or lp.kind})")]
    key = (rel.lock, what or "")
    if what is not None:
        f = RULE.finding(ctx, "walk", Severity.WARNING, rel.span.line, acq.span.line, locks,
                         related, key, what=what, why=why, **args)
    else:
        f = RULE.finding(ctx, "loop", Severity.WARNING, rel.span.line, acq.span.line, locks,
                         related, key, **args)
    return with_context(ctx, f)
