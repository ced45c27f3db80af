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

from ..syntax import tree as C
from ..locks.dataflow import _has_prefix
from .common import describe_lock, finding, held_as, match_structure, region_comments, template

RULE = "lock-dropped-in-loop"


def check(ctx):
    fa = ctx.fa
    cfg = fa.cfg
    an = fa.analysis
    events = ctx.events
    index = {id(ev): i for i, ev in enumerate(events)}
    by_block: dict[int, list] = {}
    for ev in events:
        by_block.setdefault(ev.block, []).append(ev)
    out = []
    reported: set[tuple] = set()
    for lp in cfg.loops:
        head = fa.result.ins[lp.header]
        if head is None:
            continue
        for rel in events:
            if rel.kind != "release" or rel.block not in lp.body or rel.lock is None:
                continue
            if rel.fact is None or not rel.fact.may:
                continue
            start = head.locks.get(rel.lock)
            if start is None or not start.may:
                continue
            # the innermost loop containing the release reports it
            inner = [o for o in cfg.loops if rel.block in o.body and o.body < lp.body]
            if inner and any((head2 := fa.result.ins[o.header]) is not None
                             and (f2 := head2.locks.get(rel.lock)) is not None and f2.may
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
            out.append(_finding(ctx, lp, rel, acq, an))
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
    if ev.kind != "acquire" or ev.lock != rel.lock:
        return False
    # a helper that switches objects in one call (release the old root, rebind the variable,
    # take the new root) is not a drop of one lock mid-walk: the name was rebound in between
    return not any(b.kind == "assign" and b.lock and _has_prefix(rel.lock, b.lock)
                   for b in between)


def _finding(ctx, lp, rel, acq, an):
    what = C.render(an.canon(lp.iterated, rel.state)) if lp.iterated is not None else None
    lock_desc = describe_lock(rel.lock, rel.fact)
    why = ""
    locks = [rel.lock]
    if what is not None:
        m = match_structure(lp.iterated, an, ctx.model)
        if m is not None:
            s, obj = m
            plock = template(s.lock, obj)
            pkey = an.key(plock, rel.state) if plock is not None else None
            if pkey is not None:
                if held_as(rel.state, pkey) is not None and pkey == rel.lock:
                    why = f" ({s.name}, protected by this lock: the walk resumes on a list " \
                          "that may have changed)"
                else:
                    f = held_as(rel.state, pkey)
                    if f is not None and f.must:
                        why = f" (protected by {pkey}, which stays held)"
                    else:
                        why = f" (protected by {pkey}, not by this lock)"
                    locks.append(pkey)
        walk = f"while walking {what}{why}"
    else:
        walk = "inside a loop"
    via = f" (in {rel.via}())" if rel.via else ""
    via2 = f" (in {acq.via}())" if acq.via else ""
    msg = (f"{lock_desc} released at {rel.span.line}{via} and retaken at "
           f"{acq.span.line}{via2} {walk}")
    f = finding(ctx, RULE, "warning", rel.span.line, acq.span.line, msg, locks,
                related=[(lp.span.line, f"loop starts here ({lp.macro or lp.kind})")],
                key=(rel.lock, what or ""))
    if f.justification is None:
        ctxt = [c for c in region_comments(ctx, rel.span.line, acq.span.line) if c]
        if ctxt:
            from dataclasses import replace

            f = replace(f, context=ctxt[0])
    return f
