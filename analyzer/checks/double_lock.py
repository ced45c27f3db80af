"""double-lock and unlock-unheld — acquiring a lock already held, releasing one not held.

* ``double-lock``: an acquire (not a trylock) of a lock that is held on every path reaching
  it. Read after read counts for an rwsem (a writer queued between the two readers blocks the
  second one: lockdep reports it as recursive locking) but not for an rwlock_t, whose readers
  may nest.
* ``unlock-unheld``: a release of a lock known not held on every path reaching it (the lock
  state is exactly "not held"; a lock whose state is unknown, as the caller left it, never
  counts).

Both read the acquire/release events of the lock-state replay (including those produced by
the summaries of helpers) and report the call, except where the state is known to be partial
(``_judge_acquire``/``_judge_release``, and ``trust``). Confidence: high; the lock state is
per path and NULL-aware, and "unknown" is never taken for "not held".
"""

from __future__ import annotations

from ..syntax import tree as C
from ..flow.cfg import EdgeKind
from ..locks.dataflow import same_object
from .common import describe_lock, finding, first_acquire_line
from .trust import JOINED, helper_kind, names_a_function, releases_unseen_lock, suspect_locks

RULES = ("double-lock", "unlock-unheld")


def check(ctx):
    if ctx.fa.function.degraded:  # parse errors: paths are missing, states unreliable
        return []
    out = []
    seen: set[tuple] = set()
    # a lock taken while it may already be held nests: the analysis does not count depth, so
    # releases of it are not judged (rwlock_t readers, or after a reported double-lock)
    nested = {ev.lock for ev in ctx.events
              if ev.kind == "acquire" and ev.fact is not None and ev.fact.may}
    suspect = suspect_locks(ctx)
    released = {ev.lock for ev in ctx.events if ev.kind == "release"}
    for i, ev in enumerate(ctx.events):
        if ev.lock is None or ev.fact is None or names_a_function(ctx, ev.lock):
            continue
        if ev.kind == "acquire" and not ev.trylock and ev.fact.must:
            if _judge_acquire(ctx, i, suspect, released):
                key = ("double-lock", ev.span.line, ev.lock)
                if key not in seen:
                    seen.add(key)
                    out.append(_double(ctx, ev))
        elif ev.kind == "release" and ev.fact.not_held and ev.lock not in nested:
            if _judge_release(ctx, ev):
                key = ("unlock-unheld", ev.span.line, ev.lock)
                if key not in seen:
                    seen.add(key)
                    out.append(_unheld(ctx, ev))
    return out


def _judge_acquire(ctx, i: int, suspect: set[str], released: set[str]) -> bool:
    """Whether the must-held state before this acquire can be taken at its word."""
    ev = ctx.events[i]
    if _nests(ev) or helper_kind(ctx, ev.via) or ev.lock in suspect:
        return False
    if _guarded_by_out_param(ctx, ev) or _after_unseen_call(ctx, i):
        return False
    if _released_under_another_name(ctx, ev.lock):
        return False
    if ev.via is not None and _acquires_on_some_paths_only(ctx, ev.via):
        # a helper that takes the lock on some of its paths only (a retry after a drop in
        # code we do not follow: fixup_user_fault() after the fault handler dropped it)
        return False
    if ev.lock not in released and ev.via is not None and all(
            e.via == ev.via for e in ctx.events if e.kind == "acquire" and e.lock == ev.lock):
        # one helper called again and again takes it, and nothing here releases it: a helper
        # whose release the analysis cannot see (in another file)
        return False
    return True


def _acquires_on_some_paths_only(ctx, name: str) -> bool:
    summ = ctx.fa.analysis.summaries.summary(name)
    if summ is None or summ.origin != "body":
        return False
    takes = [any(e.action == "acquire" for e in c.effects) for c in summ.cases]
    return any(takes) and not all(takes)


def _judge_release(ctx, ev) -> bool:
    """Whether the not-held state before this release can be taken at its word."""
    return JOINED not in helper_kind(ctx, ev.via) and not _stored_by_call(ctx, ev.lock) \
        and not releases_unseen_lock(ctx, ev.via)


def _nests(ev) -> bool:
    """Read on read of an rwlock_t: readers of rwlock_t may nest."""
    kind = ev.lock_kind or ev.fact.kind
    return kind == "rwlock" and ev.mode == "read" and ev.fact.poss <= {"R"}


def _guarded_by_out_param(ctx, ev) -> bool:
    """The acquire runs on a branch of a flag a callee reports through (``&locked``, or
    ``*locked`` of a pointer parameter): the GUP convention for "I dropped your lock", which
    the lock state does not model."""
    cfg = ctx.fa.cfg
    escaped = set()
    for b in cfg.blocks:
        for op in b.ops:
            for c in C.calls_in(op.expr):
                for a in c.args:
                    if isinstance(a, C.Unary) and a.op == "&" and isinstance(a.operand, C.Name):
                        escaped.add(a.operand.id)
    pointers = {p.name for p in ctx.fa.function.params if "*" in p.type}
    for pb, edge in cfg.preds().get(ev.block, ()):
        cond = cfg.blocks[pb].cond
        if cond is None or edge.kind not in (EdgeKind.TRUE, EdgeKind.FALSE):
            continue
        if _flag_names(cond, escaped, pointers):
            return True
    return False


def _released_under_another_name(ctx, key: str) -> bool:
    """Somewhere the lock is released through a name the state knows to be the same object
    (``locked_pool = caller_pool; … unlock(&locked_pool->lock)``): the state tracks names, so
    that release did not clear this one."""
    return any(e.kind == "release" and e.lock and e.lock != key
               and same_object(e.state, e.lock, key) for e in ctx.events)


def _after_unseen_call(ctx, i: int) -> bool:
    """The acquire (or the helper call that makes it) comes right after a call with no known
    lock effects: typically a wait function in another file that drops the lock and returns
    with it released, so the caller takes it again."""
    events = ctx.events
    ev = events[i]
    j = i - 1
    while j >= 0 and events[j].span == ev.span and events[j].block == ev.block \
            and (events[j].kind != "call" or events[j].call is None
                 or events[j].call.name == ev.via):
        j -= 1  # the helper's own call event and its other effects
    if j < 0 or events[j].block != ev.block or events[j].kind != "call" \
            or events[j].call is None:
        return False
    name = events[j].call.name
    if name is None or name in ctx.model.assertions or name in ctx.model.transparent:
        return False
    summ = ctx.fa.analysis.summaries.summary(name)
    return summ is None or not summ.has_effects


def _stored_by_call(ctx, key: str) -> bool:
    """A call is given the address of the lock pointer (``&vmf->ptl``): it may take the lock
    and store it there (pte_offset_map_lock()), which the lock state does not see."""
    an = ctx.fa.analysis
    for ev in ctx.events:
        if ev.kind != "call" or ev.call is None:
            continue
        summ = an.summaries.summary(ev.call.name) if ev.call.name else None
        if summ is not None and summ.has_effects:
            continue  # its lock effects are known
        for a in ev.call.args:
            if isinstance(a, C.Unary) and a.op == "&" and an.key(a.operand, ev.state) == key:
                return True
    return False


def _flag_names(e, escaped: set[str], pointers: set[str]) -> bool:
    match e:
        case C.Name(id=i):
            return i in escaped
        case C.Unary(op="*", operand=C.Name(id=i)):
            return i in pointers or i in escaped
        case C.Unary(operand=o) | C.Cast(expr=o):
            return _flag_names(o, escaped, pointers)
        case C.Binary(left=l, right=r):
            return _flag_names(l, escaped, pointers) or _flag_names(r, escaped, pointers)
    return False


def _via(ev) -> str:
    return f" (in {ev.via}())" if ev.via else ""


def _double(ctx, ev):
    prev = first_acquire_line(ctx, ev.lock, before=ev.span.line - 1)
    how = "held" if ev.fact.mode == "any" else f"held for {ev.fact.mode}"
    mode = f" for {ev.mode}" if ev.mode in ("read", "write") else ""
    extra = ""
    if ev.mode == "read" and ev.fact.poss <= {"R"}:
        extra = " (read after read: deadlocks if a writer queues between the two)"
    where = "on every path"
    if prev is None and ctx.fa.entry_from_callers:
        where = "by every caller of this static function"
    msg = (f"{describe_lock(ev.lock, ev.fact)} acquired{mode}{_via(ev)} while already {how} "
           f"{where}{extra}")
    related = [(prev, "first acquired here")] if prev is not None else []
    return finding(ctx, "double-lock", "error", ev.span.line, ev.span.end_line, msg,
                   [ev.lock], related=related, key=(ev.lock,))


def _unheld(ctx, ev):
    rel = [e.span.line for e in ctx.events
           if e.kind == "release" and e.lock == ev.lock and e.span.line < ev.span.line]
    msg = (f"{describe_lock(ev.lock, ev.fact)} released{_via(ev)} but it is not held on any "
           "path reaching here")
    related = [(max(rel), "released here before")] if rel else []
    return finding(ctx, "unlock-unheld", "error", ev.span.line, ev.span.end_line, msg,
                   [ev.lock], related=related, key=(ev.lock,))
