"""Which lock states and events the lock-pairing rules can take at their word.

The dataflow is exact about what it sees; these are the places where what it sees is known to
be partial, found from the code's shape (never from a function's name).

How far a lock event produced by a helper's summary says what the helper does: a summary
derived path by path is exact. Two kinds are not, and the lock-pairing rules (double-lock,
unlock-unheld, lock-order, lock-imbalance) must not read them as plain acquires or releases:

* ``joined``: a helper with too many paths is summarised from its joined exit state, where
  "asserted held" reads as acquired, "released and retaken" as acquired, and "taken and
  released" as released. (Loops are followed once round and summarised path by path.)
* ``trylock``: a helper whose body tries a lock (directly or through a helper that does)
  acquires only on success; the summary forks on the outcome when it reaches the returned
  value (``return trylock()``, ``ret = trylock() != 0; return ret``). When it does not (the
  result is stored elsewhere), the acquire reads as unconditional.

A helper with no body in the tree (a fallback wrapper from rules/locks.toml) is ``exact``.

Lock names that cannot be taken at their word: a name whose root is a function (a parameter
list the frontend read short shifted an argument into the lock's place), and a name renamed
at the declaration of its own root variable (a contract or a caller's state named a local
before it existed; the real lock lives on under the plain name).
"""

from __future__ import annotations

import re
import weakref

from ..syntax import tree as C
from ..flow.cfg import build_cfg
from ..locks.dataflow import Analysis

JOINED, TRYLOCK = "joined", "trylock"
EXACT: frozenset[str] = frozenset()

MAX_DEPTH = 6
# per Summaries object (one per analysed file): helper name → flags
_memo: "weakref.WeakKeyDictionary[object, dict[str, frozenset[str]]]" = \
    weakref.WeakKeyDictionary()


def helper_kind(ctx, name: str | None) -> frozenset[str]:
    """What is inexact about the summary of helper ``name``: a set of JOINED and TRYLOCK
    (empty: exact)."""
    if not name:
        return EXACT
    return _kind_memo(ctx, ctx.fa.analysis.summaries, name, 0)


def _kind_memo(ctx, summaries, name: str, depth: int) -> frozenset[str]:
    try:
        memo = _memo.setdefault(summaries, {})
    except TypeError:  # not weakly referenceable: no memo
        return _kind(ctx, summaries, name, depth)
    if name not in memo:
        memo[name] = EXACT  # recursion guard
        memo[name] = _kind(ctx, summaries, name, depth)
    return memo[name]


def _kind(ctx, summaries, name: str, depth: int) -> frozenset[str]:
    """The helper's own flaws, and those of the helpers it calls that have lock effects (an
    inexact summary makes every summary built on it inexact)."""
    index = getattr(summaries, "index", None)
    fn = index.find(name) if index is not None else None
    if fn is None:
        return EXACT
    cfg = build_cfg(fn)
    calls = list(cfg.calls())
    flags: set[str] = set()
    for c in calls:
        prim = ctx.model.primitive(c.name)
        w = ctx.model.wrappers.get(c.name or "")
        if prim is not None and prim.action == "trylock" or \
                w is not None and w.action in ("trylock", "acquire_or_null") \
                and index.find(c.name) is None:
            # even when the summary forks on the outcome (``splits``), code that takes a
            # lock conditionally is code whose failure paths (a lock dropped in another
            # file and reported through an out-parameter, as GUP's *locked) we may not see
            flags.add(TRYLOCK)
            break
    if _joined(ctx, summaries, fn, cfg):
        flags.add(JOINED)
    if depth < MAX_DEPTH:
        for name2 in dict.fromkeys(c.name for c in calls if c.name and c.name != name):
            if len(flags) == 2:
                break
            if ctx.model.primitive(name2) is not None or index.find(name2) is None:
                continue
            summ = summaries.summary(name2)
            if summ is None or not summ.has_effects:
                continue
            flags |= _kind_memo(ctx, summaries, name2, depth + 1)
    return frozenset(flags)


def suspect_locks(ctx) -> set[str]:
    """Locks this function takes through a trylock helper: on the helper's failure path the
    lock may read as held, so a later blocking lock of it is the usual fallback, not a
    second acquire."""
    return {ev.lock for ev in ctx.events
            if ev.kind == "acquire" and ev.lock and ev.via
            and TRYLOCK in helper_kind(ctx, ev.via)}


def _joined(ctx, summaries, fn: C.Function, cfg) -> bool:
    from ..locks.summaries import _enumerate  # the summariser's own test for "one case per path"

    an = Analysis(fn, cfg, ctx.model, summaries, getattr(summaries, "types", None),
                  mode="path")
    return _enumerate(an, cfg) is None


def releases_unseen_lock(ctx, name: str | None) -> bool:
    """The helper releases a lock whose pointer it had a callee store (``&vmf->ptl`` given to
    pte_offset_map_lock()): it took that lock itself, unseen, so its summary's release is half
    of a pair, not a release of the caller's lock."""
    if not name:
        return False
    summaries = ctx.fa.analysis.summaries
    index = getattr(summaries, "index", None)
    fn = index.find(name) if index is not None else None
    summ = summaries.summary(name) if fn is not None else None
    if summ is None:
        return False
    released = {C.render(e.lock) for c in summ.cases for e in c.effects
                if e.action in ("release", "cycle")}
    if not released:
        return False
    cfg = build_cfg(fn)
    for b in cfg.blocks:
        for op in b.ops:
            for c in C.calls_in(op.expr):
                if ctx.model.primitive(c.name) is not None:
                    continue  # up_write(&x->rwsem) names the lock it releases
                for a in c.args:
                    if isinstance(a, C.Unary) and a.op == "&" and C.render(a.operand) in released:
                        return True
    return False


def names_a_function(ctx, key: str | None) -> bool:
    """The lock's root identifier is a function of the tree: not a lock."""
    if not key:
        return False
    root = re.match(r"[A-Za-z_]\w*", key)
    if root is None or "->" in key or "." in key:
        return False
    index = getattr(ctx.fa.analysis.summaries, "index", None)
    return index is not None and index.find(root.group(0)) is not None


def renamed_at_declaration(ctx, key: str) -> bool:
    """``v@L->lock`` where line L declares ``v``: the lock was named through ``v`` before
    the declaration (a contract such as ``__releases(fi->lock)`` on a local)."""
    m = re.match(r"([A-Za-z_]\w*)@(\d+)", key)
    if m is None:
        return False
    name, line = m.group(1), int(m.group(2))
    return any(op.kind == "decl" and op.name == name and op.span.line == line
               for b in ctx.fa.cfg.blocks for op in b.ops)
