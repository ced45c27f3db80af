"""lock-dropped-in-loop — a lock held when an iteration starts is released inside the loop
body and taken again before the walk continues.

What it does: for every loop, finds a release of a lock that is held at the loop header (on
some path: the first iteration may run before the lock is first taken), followed on a path
inside the body, before the walk continues, by a re-acquire of the same lock. The region is
release → re-acquire. The message names the iterated list or tree and whether that walk is
protected by the dropped lock or by another one (still held, or unknown).

Why it matters: whatever the dropped lock protects can change while it is not held; if it
protects the list being walked, the cursor may point at a freed entry.

The verdict: *stale* (warning) when a pointer read before the drop is used after the retake;
*revalidated* (note) when nothing is; *safe* (note) when the walked structure's own lock is
another one, held across the drop here or — decided at the call sites by
:mod:`analyzer.driver.context` — by every caller.

Confidence: high for the drop itself (the lock state is must/may-exact); whether it is a bug
depends on what the lock protects — the message says.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

from ..findings.finding import Severity
from ..flow.cfg import LoopKind, OpKind
from ..locks.calls import need_of
from ..locks.events import EventKind
from ..syntax import tree as C
from ..syntax.exprs import assigned_names, strip
from .common import Rule, describe, held_as, match_structure, template, with_context

RULE = Rule("lock-dropped-in-loop", {
    "walk": "{lock} released at {released}{via} and retaken at {retaken}{via2} "
            "while walking {what}{why}; stale: {stale}",
    "loop": "{lock} released at {released}{via} and retaken at {retaken}{via2} inside a "
            "loop; stale: {stale}",
    "revalidated": "{lock} released at {released}{via} and retaken at {retaken}{via2} "
                   "{where}; revalidated: {how}",
    "safe": "{lock} released at {released}{via} and retaken at {retaken}{via2} while walking "
            "{what}; safe: the walk is protected by {protector}, {how}",
})


def check(ctx):
    fn = ctx.fn
    cfg = fn.cfg
    events = ctx.events
    index = {id(ev): i for i, ev in enumerate(events)}
    by_block: dict[int, list] = {}
    for ev in events:
        by_block.setdefault(ev.block, []).append(ev)

    def retake(lp, rel):
        """The re-acquire after which ``lp``'s walk continues, when ``rel`` drops a lock
        held at ``lp``'s header; else None."""
        head = fn.ins[lp.header]
        if head is None or rel.block not in lp.body:
            return None
        start = head.fact(rel.lock)
        if start is None or not start.may:
            return None
        return next((a for a in _reacquires(rel, lp, cfg, by_block, index, events)
                     if _walk_continues(a.block, lp, cfg)), None)

    # one finding per release: the innermost loop that reports it (a backward goto's
    # loop around an iterator drops and retakes at the same lines as the iterator)
    best: dict[tuple, tuple] = {}
    for lp in cfg.loops:
        for rel in events:
            if rel.kind != EventKind.RELEASE or rel.block not in lp.body or rel.lock is None \
                    or rel.annotation:
                continue
            if rel.fact is None or not rel.fact.may:
                continue
            # a loop inside this one that the lock is held around reports it, if anyone
            inner = [o for o in cfg.loops if rel.block in o.body and o.body < lp.body]
            if inner and any((head2 := fn.ins[o.header]) is not None
                             and (f2 := head2.fact(rel.lock)) is not None and f2.may
                             for o in inner):
                continue
            acq = retake(lp, rel)
            if acq is None:
                continue
            key = (rel.lock, rel.span.line)
            if key not in best or len(lp.body) < len(best[key][0].body):
                best[key] = (lp, rel, acq)
    return [_finding(ctx, lp, rel, acq) for lp, rel, acq in best.values()]


def _reacquires(rel, lp, cfg, by_block, index, events):
    """Acquires of the released lock reachable inside the body before the header, nearest
    first."""
    pos = index[id(rel)]
    for ev in by_block.get(rel.block, []):
        if index[id(ev)] > pos and _is_reacquire(ev, rel, events[pos:index[id(ev)]]):
            yield ev
    # along the way, the lock's variable may be rebound to another object (``n = n2``
    # between unlocking the old node's lock and locking the new one's): what is taken after
    # that is that object's lock, not the one dropped
    rebound = any(_rebinds(ev, rel, other=True) for ev in by_block.get(rel.block, [])
                  if index[id(ev)] > pos)
    seen = {(rel.block, rebound)}
    todo = deque((e.target, rebound) for e in cfg.blocks[rel.block].succs)
    while todo:
        b, rebound = todo.popleft()
        if (b, rebound) in seen or b == lp.header or b not in lp.body:
            continue
        seen.add((b, rebound))
        for ev in by_block.get(b, []):
            rebound = rebound or _rebinds(ev, rel, other=True)
            if not rebound and _is_reacquire(ev, rel, ()):
                yield ev
        todo.extend((e.target, rebound) for e in cfg.blocks[b].succs)


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
    return not any(_rebinds(b, rel) for b in between)


def _rebinds(ev, rel, other: bool = False) -> bool:
    """``ev`` assigns the variable (or a pointer on the path) the released lock is named
    through; ``other``: with another variable's object (``n = n2``), not with NULL or what
    a call returns (a lookup may well return the same object again)."""
    if ev.kind != EventKind.ASSIGN or ev.path is None or not rel.lock.path.has_prefix(ev.path):
        return False
    if not other:
        return True
    v = ev.value
    return v is not None and not v.steps and not v.call_root and v.root != ev.path.root


def _finding(ctx, lp, rel, acq):
    nm = ctx.fn.naming
    what = C.render(nm.canon(lp.iterated, rel.state)) if lp.iterated is not None else None
    why = ""
    locks = [rel.lock]
    protector = None  # the walk's own lock when it is not the dropped one
    protector_held = False
    mode = None
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
                    protector, mode = pkey, s.walk
                    if held is not None and held.must:
                        why = f" (protected by {pkey}, which stays held)"
                        protector_held = True
                    else:
                        why = f" (protected by {pkey}, not by this lock)"
                    locks.append(pkey)
    args = dict(lock=describe(rel.lock), released=rel.span.line, retaken=acq.span.line,
                via=f" (in {rel.via}())" if rel.via else "",
                via2=f" (in {acq.via}())" if acq.via else "")
    related = [(lp.span.line, f"loop starts here ({lp.macro or lp.kind})")]
    key = (rel.lock, what or "")
    stale, rechecked = _stale_uses(ctx, lp, rel, acq)
    tested = set().union(*rechecked.values()) if rechecked else set()
    how = None
    if stale and all(v in tested for v, _ in stale):
        checks = "; ".join(f"{', '.join(sorted(vs))} (line {ln})"
                           for ln, vs in sorted(rechecked.items()))
        how = f"after the retake it first tests again what it relies on: {checks}"
        stale = []
    if not stale:
        how = how or ("the walk restarts from its label" if lp.kind == LoopKind.GOTO else
                      _reseated(ctx, lp, rel) or "nothing read before the drop is used "
                      "after the retake before it is read again")
        where = f"while walking {what}" if what is not None else "inside a loop"
        f = RULE.finding(ctx, "revalidated", Severity.NOTE, rel.span.line, acq.span.line,
                         locks, related, key, where=where, how=how, **args)
        return with_context(ctx, f)
    if protector_held:
        f = RULE.finding(ctx, "safe", Severity.NOTE, rel.span.line, acq.span.line, locks,
                         related, key, what=what, protector=protector,
                         how="held across the drop", **args)
        return with_context(ctx, f)
    related += [(ln, f"{v} read before the drop, used after the retake") for v, ln in stale]
    args["stale"] = ", ".join(f"{v} (line {ln})" for v, ln in stale) + \
        " read before the drop and used after the retake"
    if what is not None:
        f = RULE.finding(ctx, "walk", Severity.WARNING, rel.span.line, acq.span.line, locks,
                         related, key, what=what, why=why, **args)
        if protector is not None and mode is not None:
            # held by every caller, the walk is safe (analyzer.driver.context decides)
            f = replace(f, needs=need_of(ctx.fn, protector, mode))
    else:
        f = RULE.finding(ctx, "loop", Severity.WARNING, rel.span.line, acq.span.line, locks,
                         related, key, **args)
    return with_context(ctx, f)


# ------------------------------------------------------------------ the verdict


def _stale_uses(ctx, lp, rel, acq) -> tuple[list[tuple[str, int]], dict[int, set[str]]]:
    """Pointers the loop reads before the drop (assigned in its body, or its cursor) that a
    path from the retake uses — up to and including the loop's own advance and condition —
    before assigning them again: what may be stale after the lock was dropped. A pointer
    handed to a call that pins or re-reads it (``revalidators`` in rules/locks.toml, or a
    helper whose body hands it to one: :class:`~analyzer.locks.retakes.Pins`) before the
    drop, a loop's test included, or re-read after the retake, does not count; nor do the
    pointers the lock calls themselves are given. An iterator whose advance reads its
    object, not its cursor (``xas_for_each``: the position is in the ``xa_state``), carries
    the object instead: it is stale unless paused before the drop or re-seated after the
    retake (``xas_pause()``, ``vma_iter_set()``). A backward-goto loop is read the same way
    up to its label, where the restart reads again whatever it uses.

    Also returns the re-checks: condition line → the pointers it tests first after the
    retake (``if (slab != c->slab) goto reread;``), on every path before any other use of
    them and before any loop's header; a walk whose every stale pointer is so tested
    re-validates the state it relies on. (A loop's own condition, or a test in the next
    iteration, is no re-check: the walk goes on with what it has.)"""
    fn = ctx.fn
    nm = fn.naming
    ptrs = {v for v, t in nm.vartypes.items() if ("*" in t or "[" in t) and not _buffer(t)}
    ops_by_block: dict[int, list] = {}
    for o in fn.ops:
        if o.op.kind != OpKind.COND:
            ops_by_block.setdefault(o.block, []).append(o.op)
    carried: set[str] = set()
    pinned: set[str] = set()
    revalidate = _pins_of(ctx)
    for b in lp.body:
        for op in ops_by_block.get(b, []):
            carried.update(_defs(op, ctx))
            if op.span.start_byte < rel.span.start_byte:
                pinned.update(_pinned(op.expr, revalidate))
        blk = fn.cfg.blocks[b]  # a pin tested before the drop: if (!wb_tryget(wb)) continue;
        if blk.cond is not None and blk.cond_span is not None \
                and blk.cond_span.start_byte < rel.span.start_byte:
            pinned.update(_pinned(blk.cond, revalidate))
    position = None  # where the walk's position lives when it is not a pointer variable
    if lp.from_object and lp.iterated is not None:
        position = _root(lp.iterated)  # an xa_state, a vma iterator: it caches nodes
    elif lp.cursor is not None and (r := _root(lp.cursor)) is not None:
        carried.add(r)
    carried = (carried & ptrs) | ({position} if position else set())
    carried -= pinned
    if not carried:
        return [], {}
    cfg = fn.cfg
    found: dict[str, int] = {}
    used: set[str] = set()  # used after the retake, on some path, before any test of them
    checked: dict[int, set[str]] = {}  # condition line → what it tests first after the retake
    seen: set[int] = set()
    # assigned again on every path from the drop to the retake: not what was read before
    between = frozenset(_assigned_between(cfg, lp, rel, acq, ops_by_block))
    headers = {o.header for o in cfg.loops}
    # (block, killed, the block it came from, no loop header passed since the retake)
    todo: deque[tuple[int, frozenset[str], int, bool]] = deque([(acq.block, between, -1,
                                                                 True)])
    first = True
    while todo:
        b, killed, came, fresh = todo.popleft()
        if not first and (b in seen or b not in lp.body):
            continue
        seen.add(b)
        kill = set(killed)
        for op in ops_by_block.get(b, []):
            if first and op.span.start_byte < acq.span.start_byte:
                continue  # before the retake
            if first and op.span.start_byte == acq.span.start_byte:
                # the retake itself: what it assigns is read under the lock again
                # (``pte = pte_offset_map_lock(mm, pmd, addr, &ptl)``)
                kill.update(_defs(op, ctx))
                continue
            uses = _uses(op, ctx)
            if op.kind == OpKind.ADVANCE and op.loop is not None and op.loop != lp.id \
                    and op.loop < len(cfg.loops) and came not in cfg.loops[op.loop].body:
                # entering a loop inside this one: its iterator starts from its head, and
                # reads no cursor of an earlier pass
                inner = cfg.loops[op.loop]
                r = _root(inner.iterated) if inner.iterated is not None else None
                uses = {r} if r else set()
            for v in uses & carried - kill:
                found.setdefault(v, op.span.line)
                used.add(v)
            kill.update(_defs(op, ctx))
            kill.update(_pinned(op.expr, revalidate))
        cond = cfg.blocks[b].cond
        if cond is not None:
            line = cfg.blocks[b].cond_span.line if cfg.blocks[b].cond_span else acq.span.line
            tested = _names(cond) & carried - kill
            for v in tested:
                found.setdefault(v, line)
            if b in headers or not fresh:
                used.update(tested)  # a loop's own test: the walk goes on with what it has
            else:
                checked.setdefault(line, set()).update(tested)
                kill.update(tested)  # tested again first: what follows the test relies on it
        first = False
        if b == lp.header:
            continue  # the next iteration starts here: what it reads, it read again
        for e in cfg.blocks[b].succs:
            todo.append((e.target, frozenset(kill), b, fresh and b not in headers))
    stale = sorted(found.items(), key=lambda kv: (kv[1], kv[0]))
    rechecked = {ln: vs - used for ln, vs in checked.items() if vs - used}
    return stale, rechecked


def _reseated(ctx, lp, rel) -> str | None:
    """For an iterator whose position lives in its object: the call in the body that
    pauses or re-seats it (``xas_pause(&xas)``), as the verdict names it — the last one
    before the drop, else the first after it."""
    if not lp.from_object or lp.iterated is None or (pos := _root(lp.iterated)) is None:
        return None
    calls = [(o.op.span.start_byte, o.op.span.line, c.name)
             for o in ctx.fn.ops if o.block in lp.body and o.op.expr is not None
             for c in C.calls_in(o.op.expr)
             if c.name in ctx.model.revalidators and any(_root(a) == pos for a in c.args)]
    before = [c for c in calls if c[0] < rel.span.start_byte]
    pick = max(before) if before else min(calls, default=None)
    if pick is None:
        return None
    return f"the walk's position is in {pos}, which {pick[2]}() on line {pick[1]} pauses " \
           "or re-seats"


def _assigned_between(cfg, lp, rel, acq, ops_by_block) -> set[str]:
    """The variables assigned on every path inside the loop from the release to the
    re-acquire (a must-analysis over the body, the header excluded)."""
    def defs(b: int, after: int | None, before: int | None) -> set[str]:
        out: set[str] = set()
        for op in ops_by_block.get(b, []):
            at = op.span.start_byte
            if (after is None or at > after) and (before is None or at < before):
                out |= _defs(op)
        return out

    r0, a0 = rel.span.start_byte, acq.span.start_byte
    if acq.block == rel.block:
        return defs(rel.block, r0, a0) if a0 > r0 else set()
    reach = {rel.block}
    todo = deque([rel.block])
    while todo:
        b = todo.popleft()
        for e in cfg.blocks[b].succs:
            t = e.target
            if t not in reach and t in lp.body and t != lp.header and t != rel.block:
                reach.add(t)
                todo.append(t)
    out_of: dict[int, set[str]] = {rel.block: defs(rel.block, r0, None)}
    preds: dict[int, list[int]] = {b: [] for b in reach}
    for b in reach:
        for e in cfg.blocks[b].succs:
            if e.target in preds and e.target != rel.block:
                preds[e.target].append(b)
    order = sorted(reach - {rel.block})
    changed = True
    rounds = 0
    while changed and rounds < 50:
        changed = False
        rounds += 1
        for b in order:
            ins = [out_of[p] for p in preds[b] if p in out_of]
            if not ins:
                continue
            cur = set.intersection(*ins)
            new = cur if b == acq.block else cur | defs(b, None, None)
            if out_of.get(b) != new:
                out_of[b] = new
                changed = True
    if acq.block not in out_of:
        return set()
    return out_of[acq.block] | defs(acq.block, None, a0)


_BYTES = frozenset(("void", "char", "unsigned char", "signed char", "u8", "__u8", "s8",
                    "uint8_t", "int8_t"))


def _buffer(t: str) -> bool:
    """A pointer into raw memory (``void *buf``, ``char *p``, ``u8 *start``): a position in
    a buffer, moved by arithmetic, not an object another CPU may free or relink while the
    lock is dropped (what a stale verdict is about)."""
    words = [w for w in t.replace("*", " * ").split()
             if w not in ("const", "volatile", "__user", "__iomem", "__rcu", "restrict")]
    return words.count("*") == 1 and words[-1] == "*" and " ".join(words[:-1]) in _BYTES


def _root(e) -> str | None:
    e = strip(e)
    while isinstance(e, (C.Member, C.Index, C.Unary, C.Cast)):
        e = strip(e.base if isinstance(e, (C.Member, C.Index)) else
                  e.operand if isinstance(e, C.Unary) else e.expr)
    return e.id if isinstance(e, C.Name) else None


def _defs(op, ctx=None) -> set[str]:
    if op.kind == OpKind.ADVANCE:  # the cursor, moved on (and a _safe variant's next one)
        lp = _loop_of(op, ctx) if ctx is not None else None
        roots = {_root(x) for x in (op.expr, lp.temp if lp is not None else None)
                 if x is not None}
        return {r for r in roots if r}
    out = set(assigned_names(op.expr)) if op.expr is not None else set()
    if op.kind == OpKind.DECL and op.name:
        out.add(op.name)
    return out


def _loop_of(op, ctx):
    loops = ctx.fn.cfg.loops
    return loops[op.loop] if op.loop is not None and op.loop < len(loops) else None


def _uses(op, ctx) -> set[str]:
    if op.kind == OpKind.ADVANCE:  # what the advance reads: the cursor, its temporary, or
        lp = _loop_of(op, ctx)     # the object
        at = lp.iterated if lp is not None and lp.from_object else \
            lp.temp if lp is not None and lp.temp is not None else op.expr
        r = _root(at) if at is not None else None
        return {r} if r else set()
    e = op.expr
    if e is None:
        return set()
    if isinstance(e, C.Assign):
        return _names(e.value) | (_names(e.target) - {_root(e.target)} if not isinstance(
            strip(e.target), C.Name) else set())
    return _names(e, ctx)


def _names(e, ctx=None) -> set[str]:
    """Variables an expression reads, leaving out the arguments of lock calls."""
    out: set[str] = set()

    def walk(x):
        x = strip(x)
        match x:
            case None:
                return
            case C.Name(id=i):
                out.add(i)
            case C.Call(args=args):
                if ctx is not None and x.name and (ctx.model.primitive(x.name) is not None
                                                   or x.name in ctx.model.wrappers):
                    return
                for a in args:
                    walk(a)
            case C.Member(base=b) | C.Cast(expr=b):
                walk(b)
            case C.Unary(operand=o):
                walk(o)
            case C.Binary(left=l, right=r) | C.Index(base=l, index=r):
                walk(l)
                walk(r)
            case C.Assign(target=t, value=v):
                walk(t)
                walk(v)
            case C.Ternary(test=t, then=a, other=b2):
                walk(t)
                walk(a)
                walk(b2)
    walk(e)
    return out


def _pinned(e, pins) -> set[str]:
    """Pointers a call that pins or re-reads them is given (``folio_get(folio)``, or a
    helper whose body does: ``wb_tryget(wb)``); ``pins(name)``: the argument positions."""
    out: set[str] = set()
    for c in C.calls_in(e) if e is not None else ():
        if not c.name:
            continue
        which = pins(c.name)
        for i, a in enumerate(c.args):
            r = _root(a) if i in which else None
            if r is not None:
                out.add(r)
    return out


def _pins_of(ctx):
    """Which arguments a call pins: the listed revalidators, and the helpers whose bodies
    hand their parameters to one (:class:`~analyzer.locks.retakes.Pins`)."""
    listed = ctx.model.revalidators
    return positions_of(ctx, "pins",
                        lambda name: frozenset(range(8)) if name in listed else frozenset())


def positions_of(ctx, walker: str, absent):
    """A memoised ``name → argument positions`` question of the file's body walker
    ``walker`` (``pins``, ``changes``: :mod:`analyzer.locks.retakes`); ``absent`` answers
    when the analysis has none."""
    w = getattr(ctx.file, walker, None)
    if w is None:
        return absent
    memo: dict[str, frozenset[int]] = {}

    def at(name: str) -> frozenset[int]:
        if name not in memo:
            memo[name] = w.of_call(name, ctx.path)
        return memo[name]

    return at
