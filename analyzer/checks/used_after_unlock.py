"""used-after-unlock — an object found through a lock's owner while the lock was held,
dereferenced after the lock was released, with no reference taken.

What it does: a forward dataflow over the CFG tracks the pointers the function *finds under
a lock*: assigned while a lock ``OWNER->lock`` is held on every path where its state is known
(a call the owner was handed to leaves it unknown, not released), from

* a call given the lock's owner or a member of it (``g = gadget_find(t, key)`` under
  ``t->lock``; ``vma = vma_lookup(mm, addr)`` under ``mm->mmap_lock``; ``xa_load(&m->i_pages)``
  under ``m->i_pages.xa_lock``) — a lookup in something the lock protects;
* an iterator's cursor over something the owner has (``list_for_each_entry(g, &t->all,
  node)`` under ``t->lock``);
* an object found so: a member that is a pointer (``pol = vma->vm_policy``), a neighbour
  (``next = rb_next(&g->rb)``, ``g = rb_entry(next, …)``), a copy.

When the lock is released (on a path), every pointer found under it becomes *stale* on that
path, until it is assigned again or a NULL test shows it is NULL there. A dereference of a
stale pointer (``p->f``, ``*p``, ``p[i]``) is reported: another CPU may free or change the
object as soon as the lock is given back (kind ``use``). Taking the lock again does not make
it fresh: used after the retake without being found again or tested first (``if
(!still_there(t, g))``, or a test of the owner's state: ``if (saved != t->gen)``), it is kind
``retaken``. A retake inside a loop that holds the lock at its header is
lock-dropped-in-loop's to judge, and ends the pointer's staleness here. An entry of a list
(``[guards] list_types``) is a note, kind ``listed``: its membership may keep it alive.

Not stale: a pointer handed, while the lock is held, to a call that pins it (a reference:
``revalidators`` in ``rules/locks.toml``, ``atomic_inc(&p->users)``, or a helper whose body
hands it to one) or takes it out of the structure (``list_del(&p->node)``, the container
mutators of ``rules/protected.toml``); one whose object's own lock is taken before the
finder's lock is given back (hand over hand: ``spin_lock(&g->lock); spin_unlock(&t->lock)``);
a release made inside an RCU read-side section, preemption- or irq-off region (objects
freed by RCU outlive it); a use made holding another lock (the code relies on it).
Not found at all: what a lookup returns that changes the structure it searches (pops an
entry off a free list) or changes or pins what it returns (a reference taken inside) — read
from the callee's body (:class:`~analyzer.locks.retakes.Changes`).
Arguments of lock calls are not uses. Locks reached through a pointer member
(``spin_lock(vmf->ptl)``) have no owner here: nothing is found through them.

Confidence: the lookup is a heuristic (a call given the owner), the rest is exact over the
CFG's paths; the message names the lookup, the release and the use.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, replace

from ..findings.finding import Severity
from ..flow.cfg import EdgeKind, OpKind
from ..locks.atomic import open_at_calls
from ..locks.events import EventKind
from ..locks.lockid import LockId, ObjPath
from ..locks.retakes import RESULT
from ..locks.state import State
from ..syntax import tree as C
from ..syntax.exprs import strip, subexprs
from .common import Rule, describe, with_context
from .lock_dropped_in_loop import _buffer, _pins_of, _root, positions_of

RULE = Rule("used-after-unlock", {
    "use": "{var} is dereferenced after {lock} was released at line {released}, but it "
           "was found under that lock ({how}, line {found}) and no reference was taken: "
           "another CPU may free or change it once the lock is given back",
    "retaken": "{var} is dereferenced after {lock} was released at line {released} and "
               "taken again at line {retaken}, but it was found before the drop ({how}, line "
               "{found}) and neither found again nor tested since: another CPU may have freed "
               "or changed it meanwhile",
    "listed": "{var} is dereferenced after {lock} was released at line {released}; it is "
              "an entry of a list found under that lock ({how}, line {found}) and no "
              "reference was taken: what keeps it alive once the lock is given back, its "
              "place on the list?",
})


@dataclass(frozen=True, slots=True)
class Found:
    """A pointer found under ``lock``: ``stale`` once the lock was released (at line
    ``released``)."""

    var: str
    lock: LockId
    line: int  # where it was found
    how: str  # "found by gadget_find()", "read from g->policy"
    released: int = 0  # 0: not released yet
    parent: str | None = None  # the found pointer it was found from (``g`` of g->policy)
    listed: bool = False  # an entry of a list (``list_types``): membership may keep it
    retaken: int = 0  # the line where the lock was taken again after ``released``


Facts = frozenset[Found]


def check(ctx):
    fn = ctx.fn
    if fn.lock_free or not any(ev.kind == EventKind.RELEASE for ev in fn.events):
        return []
    cfg = fn.cfg
    nm = fn.naming
    ptrs = {v for v, t in nm.vartypes.items() if "*" in t and not _buffer(t)}
    if not ptrs:
        return []
    pins = _pins_of(ctx)
    changes = positions_of(ctx, "changes", lambda name: frozenset())
    mutator = ctx.model.protected.guard_rules.is_mutator
    sections = open_at_calls(cfg, ctx.model)
    ops_by_block: dict[int, list] = {}
    for o in fn.ops:
        ops_by_block.setdefault(o.block, []).append(o)
    events_by_block: dict[int, list] = {}
    for ev in fn.events:
        events_by_block.setdefault(ev.block, []).append(ev)

    def pointer_lock(key: LockId) -> bool:
        """``spin_lock(vmf->ptl)``: a lock pointed to by a member, not owned by it."""
        base, field = key.path.base, key.path.field
        if base is None or field is None:
            return True
        e = base.to_expr()
        st = nm.types.struct_of(e, nm.vartypes, nm.aliases) if e is not None else None
        t = nm.types.field_type(st, field) if st else None
        return t is not None and "*" in t

    owners: dict[LockId, ObjPath] = {}

    def owner(key: LockId) -> ObjPath | None:
        if key not in owners:
            owners[key] = None if pointer_lock(key) else key.path.base  # type: ignore
        return owners[key]

    def found_by(v: str, value: C.Expr, st: State, facts: Facts, line: int) -> list[Found]:
        """What ``v = value`` finds under the locks held on every path in ``st``."""
        out = []
        value = strip(value)
        for key, fact in st.held():
            if not fact.may or fact.maybe_not_held:  # held, or unknown after a call
                continue
            o = owner(key)
            if o is None:
                continue
            d = _derived(value, key, o, st, facts, nm, ctx.model, pins, changes)
            if d is not None:
                out.append(Found(v, key, line, d[0], parent=d[1], listed=d[2]))
        return out

    def walked(v: str, op, st: State, facts: Facts) -> list[Found]:
        """The cursor of an iterator over something a held lock's owner has
        (``list_for_each_entry(g, &t->all, node)`` under ``t->lock``), or an object found
        under it has: an entry of that structure."""
        loops = cfg.loops
        lp = loops[op.loop] if op.loop is not None and op.loop < len(loops) else None
        if lp is None or lp.iterated is None:
            return []
        it = strip(lp.iterated)
        r = _root(it)
        p = nm.path(it, st)
        out = []
        for key, fact in st.held():
            if not fact.may or fact.maybe_not_held:
                continue
            o = owner(key)
            if o is None:
                continue
            via = min((f for f in facts if f.var == r and f.lock == key and not f.released),
                      key=_order, default=None)
            if via is not None or p is not None and p.has_prefix(o):
                listed = via.listed if via is not None else _listed(it, nm, ctx.model)
                out.append(Found(v, key, op.span.line, f"the cursor of a walk of {C.render(it)}",
                                 parent=r if via is not None else None, listed=listed))
        return out

    def in_walk(ev) -> bool:
        """``ev`` is inside a loop whose header may hold its lock."""
        for lp in cfg.loops:
            head = fn.ins[lp.header]
            if ev.block in lp.body and head is not None and \
                    (f := head.fact(ev.lock)) is not None and f.may:
                return True
        return False

    def transfer(b: int, facts: Facts, report: list | None) -> Facts:
        evs = events_by_block.get(b, [])
        cur = set(facts)
        for o in ops_by_block.get(b, []):  # the block's condition last
            op = o.op
            if o.state is None:
                continue
            e = op.expr
            if op.kind == OpKind.COND and e is not None and any(f.retaken for f in cur):
                # tested again first after the retake — the pointer itself, or the state of
                # the lock's owner (``if (saved_cnt != buf->cnt) goto again;``): what follows
                # relies on the test
                tested = {x.id for x in subexprs(e) if isinstance(x, C.Name)}
                read = [p for x in subexprs(e) if isinstance(x, C.Member)
                        and (p := nm.path(x, o.state)) is not None]
                cur = {f for f in cur if not (f.retaken and (
                    f.var in tested or (ow := owner(f.lock)) is not None
                    and any(p.has_prefix(ow) for p in read)))}
            if report is not None and e is not None:
                _uses(e, _unguarded(cur, o.state), ctx.model, report, op.span.line)
            # the lock calls of this statement, in order
            for ev in evs:
                if not (op.span.start_byte <= ev.span.start_byte < max(op.span.end_byte,
                                                                       op.span.start_byte + 1)):
                    continue
                if ev.kind == EventKind.RELEASE and ev.lock is not None and not ev.annotation:
                    names = {ev.primitive, ev.call.name if ev.call is not None else None}
                    if any(sections.get((ev.block, ev.span.line, n)) for n in names if n):
                        cur = {f for f in cur if f.lock != ev.lock}
                        continue
                    cur = {replace(f, released=ev.span.line)
                           if f.lock == ev.lock and not f.released else f for f in cur}
                elif ev.kind == EventKind.ACQUIRE and ev.lock is not None:
                    # the lock again; or a found object's own lock (``spin_lock(&g->lock)``),
                    # taken before the finder's lock is given back: hand over hand
                    own = {ev.lock.path.root} | {
                        r for a in (ev.call.args if ev.call is not None else ())
                        if (r := _root(a)) is not None}
                    # a pointer found before the drop stays stale after the retake, unless
                    # the retake is a loop's (lock-dropped-in-loop's verdict judges those)
                    keep = not in_walk(ev)
                    cur = {replace(f, retaken=ev.span.line) if f.lock == ev.lock and keep
                           and f.released and not f.retaken else f for f in cur
                           if f.lock != ev.lock or keep and f.released}
                    for r in own:
                        cur = _kept(cur, r)
            # pins and take-outs, then what the statement assigns
            for c in C.calls_in(e) if e is not None and cur else ():
                if not c.name:
                    continue
                which = pins(c.name)
                for i, a in enumerate(c.args):
                    r = _root(a)
                    if r is not None and (i in which or mutator(c.name)):
                        cur = _kept(cur, r)
            for v, value in _assignments(op):
                facts_now = frozenset(cur)
                cur = {f for f in cur if f.var != v}
                if v in ptrs and value is not None:
                    cur.update(found_by(v, value, o.state, facts_now, op.span.line))
                elif v in ptrs and op.kind == OpKind.ADVANCE:
                    cur.update(walked(v, op, o.state, facts_now))
        return frozenset(cur)

    ins: dict[int, Facts] = {cfg.entry: frozenset()}
    todo = deque([cfg.entry])
    rounds = 0
    while todo and rounds < 20000:
        rounds += 1
        b = todo.popleft()
        if fn.ins[b] is None:
            continue
        out = transfer(b, ins[b], None)
        blk = cfg.blocks[b]
        for e in blk.succs:
            facts = _on_edge(out, blk.cond, e.kind)
            old = ins.get(e.target)
            new = facts if old is None else old | facts
            if new != old:
                ins[e.target] = new
                todo.append(e.target)
    found: list[tuple[int, Found]] = []
    for b in sorted(ins):
        if fn.ins[b] is not None:
            transfer(b, ins[b], found)
    findings = []
    seen = set()
    # a total order (facts come out of sets): the first use, and of the finds reaching it
    # the earliest, whatever the run's hash seed
    for line, f in sorted(found, key=lambda lf: (lf[0], _order(lf[1]))):
        if (f.var, f.lock, f.released) in seen:
            continue
        seen.add((f.var, f.lock, f.released))
        kind = "listed" if f.listed else "retaken" if f.retaken else "use"
        findings.append(with_context(ctx, RULE.finding(
            ctx, kind, Severity.NOTE if f.listed else Severity.WARNING, line, line, [f.lock],
            [(f.line, f"{f.var} found under {describe(f.lock)}"),
             (f.released, f"{describe(f.lock)} released")]
            + ([(f.retaken, f"{describe(f.lock)} taken again")] if f.retaken else []),
            (f.var, f.lock), var=f.var, lock=describe(f.lock), released=f.released,
            retaken=f.retaken, how=f.how, found=f.line)))
    return findings


def _order(f: Found) -> tuple:
    """A total order of facts (they come out of sets, whose order is the run's)."""
    return (f.var, f.released, f.line, f.how, f.retaken, f.parent or "", f.listed,
            f.lock.render())


def _kept(facts: set[Found], var: str) -> set[Found]:
    """``var`` pinned, taken out or locked while its finder's lock is held: it stays alive,
    and so does what was found from it (``zhdr = page_address(page)``, ``pol =
    vma->vm_policy``: a reference on the parent keeps what it owns)."""
    gone = {var}
    while True:
        more = {f.var for f in facts if not f.released and f.parent in gone} - gone
        if not more:
            break
        gone |= more
    return {f for f in facts if f.released or f.var not in gone}


def _unguarded(facts, st: State):
    """The facts whose use here is this rule's: a use made holding another lock — taken
    since (``spin_unlock(&cluster->lock); spin_lock(&ctl->tree_lock); entry->x``), or held
    all along (a global mutex that serialises the objects' removal) — relies on that lock
    for the object. Not the found object's own lock, which does not keep it from being
    freed."""
    others = [k for k, fact in st.held() if fact.must]
    if not others:
        return facts
    return {f for f in facts if not f.released
            or not any(k != f.lock and k.path.root != f.var for k in others)}


Derived = tuple[str, str | None, bool]  # how, the pointer it came from, an entry of a list


def _derived(value: C.Expr, key: LockId, owner: ObjPath, st: State, facts: Facts, nm,
             model, pins, changes) -> Derived | None:
    """How ``value`` was found under ``key`` (whose owner is ``owner``) and the pointer it
    was found from (None: from the owner), or None. A call that changes the owner it is
    given (pops an entry, inserts one) hands over an entry taken out of the structure, or
    one the caller put there: not found."""
    tainted: dict[str, Found] = {}
    for f in sorted((f for f in facts if f.lock == key and not f.released), key=_order):
        tainted.setdefault(f.var, f)  # of several finds of one pointer, the earliest
    match value:
        case C.Name(id=i) if i in tainted:
            return tainted[i].how, i, tainted[i].listed
        case C.Member():
            r = _root(value)
            if r in tainted and r != _root_of_path(owner):
                return f"read from {C.render(value)}", r, tainted[r].listed
            return None
        case C.Ternary(then=a, other=b):
            return _derived(strip(a), key, owner, st, facts, nm, model, pins, changes) or \
                _derived(strip(b), key, owner, st, facts, nm, model, pins, changes)
        case C.Call(args=args) if value.name:
            name = value.name
            if model.primitive(name) is not None or name in model.wrappers \
                    or name in model.protected.alloc.allocators or pins(name):
                return None
            changed = None
            for pos, a in enumerate(args):
                r = _root(a)
                how: Derived | None = None
                if r in tainted:
                    how = f"found by {name}() from {r}", r, tainted[r].listed
                elif (p := nm.path(strip(a), st)) is not None and p.has_prefix(owner):
                    how = f"found by {name}()", None, _listed(strip(a), nm, model)
                if how is None:
                    continue
                if changed is None:
                    changed = changes(name)
                if RESULT in changed:
                    return None  # the lookup changed or pinned what it hands back
                if pos not in changed:
                    return how
            return None
    return None


def _listed(e: C.Expr, nm, model) -> bool:
    """``e`` (``t->all``, ``&t->all``, ``&t->queues[i]``) is a list head (``[guards]
    list_types``)."""
    e = strip(e)
    if isinstance(e, C.Index):  # one of an array of lists
        e = strip(e.base)
    if isinstance(e, C.Member):
        st = nm.types.struct_of(e.base, nm.vartypes, nm.aliases)
        t = nm.types.field_type(st, e.field) if st else None
    elif isinstance(e, C.Name):
        t = nm.vartypes.get(e.id)
    else:
        return False
    return model.protected.guard_rules.is_list_type(re.sub(r"\[[^\]]*\]", "", t or ""))


def _root_of_path(p: ObjPath) -> str | None:
    return p.root if not p.steps else None


def _assignments(op) -> list[tuple[str, C.Expr | None]]:
    """``v = value`` pairs of a statement (a declaration's initialiser included); an
    assignment to a variable with anything else (``v++``, ``v += n``) has value None."""
    out: list[tuple[str, C.Expr | None]] = []
    if op.kind == OpKind.DECL and op.name:
        out.append((op.name, op.expr))
        return out
    if op.kind == OpKind.ADVANCE:
        r = _root(op.expr) if op.expr is not None else None
        if r is not None:
            out.append((r, None))
        return out

    for x in subexprs(op.expr):
        match x:
            case C.Assign(op=o, target=t):
                if isinstance(n := strip(t), C.Name):
                    out.append((n.id, x.value if o == "=" else None))
            case C.Unary(op="++" | "--" | "p++" | "p--", operand=v):
                if isinstance(n := strip(v), C.Name):
                    out.append((n.id, None))
    return out[::-1]  # the innermost (evaluated first) first


def _uses(e: C.Expr, facts, model, report: list, line: int) -> None:
    """Report the dereferences of stale pointers in ``e`` (lock calls' arguments left out)."""
    stale: dict[str, list[Found]] = {}
    for f in facts:
        if f.released:
            stale.setdefault(f.var, []).append(f)
    if not stale:
        return

    def into(x) -> bool:
        return not (isinstance(x, C.Call) and x.name is not None
                    and (model.primitive(x.name) is not None or x.name in model.wrappers))

    for x in subexprs(e, into):
        match x:
            case C.Member(base=b, arrow=True) | C.Index(base=b) | C.Unary(op="*", operand=b):
                if isinstance(n := strip_casts(b), C.Name) and n.id in stale:
                    report.extend((line, f) for f in stale[n.id])


def strip_casts(e):
    while isinstance(e, C.Cast):
        e = e.expr
    return e


def _on_edge(facts: Facts, cond, kind) -> Facts:
    """The facts along an edge out of a block testing ``cond``: a pointer tested NULL
    (``!p`` true, ``p`` false, ``p == NULL`` true, ``p != NULL`` false) is nothing on it."""
    if cond is None or not facts or kind not in (EdgeKind.TRUE, EdgeKind.FALSE):
        return facts
    null = _null_when(cond, kind == EdgeKind.TRUE)
    if null is None:
        return facts
    return frozenset(f for f in facts if f.var != null)


def _null_when(cond, outcome: bool) -> str | None:
    c = strip_casts(cond)
    match c:
        case C.Name(id=i):
            return i if not outcome else None
        case C.Unary(op="!", operand=o):
            return _null_when(o, not outcome)
        case C.Binary(op="==" | "!=", left=a, right=b):
            a, b = strip_casts(a), strip_casts(b)
            if C.is_null(b) and isinstance(a, C.Name):
                return a.id if outcome == (c.op == "==") else None
            if C.is_null(a) and isinstance(b, C.Name):
                return b.id if outcome == (c.op == "==") else None
        case C.Call(args=(a,)) if c.name == "IS_ERR_OR_NULL":
            if outcome and isinstance(strip_casts(a), C.Name):
                return strip_casts(a).id
    return None

