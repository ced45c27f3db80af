"""The three rules about touching a protected structure (rules/protected.toml):

* ``walk-unlocked``: a protected list or tree is iterated with its lock not held on some path
  (error); with no lock known held and no contract, a note.
* ``modify-unlocked``: insert/remove on a protected structure without its lock held for write
  (error when not held or held for read on some path; warning when nothing is known, since the
  kernel usually asserts such preconditions).
* ``root-assumed-shared``: the structure of object A is touched while the lock held is another
  object B's lock of the same class (B's root rwsem), and nothing in the function shows that A
  and B share it (an assert/WARN comparing the roots, or a helper that locks A's own root).

They share one pass over the accesses, so one module holds all three.
"""

from __future__ import annotations

import re

from ..syntax import tree as C
from ..locks.dataflow import HELD
from .common import Access, accesses, describe_lock, finding, first_acquire_line, held_as, private_object, template

RULES = ("walk-unlocked", "modify-unlocked", "root-assumed-shared")
_DIRECTIVE = re.compile(r"rmaplint:|\b(?:ruleid|todoruleid|ok):")


def check(ctx):
    an = ctx.fa.analysis
    out = []
    for acc in accesses(ctx):
        fact = held_as(acc.state, acc.lock_key)
        need = acc.structure.walk if acc.kind == "walk" else acc.structure.modify
        not_held = fact is not None and "N" in fact.poss
        if fact is not None and fact.may and not not_held:
            if need == "write" and "R" in fact.poss and not _also_held(acc, an):
                out.append(_modify(ctx, acc, "held only for read on some path", "error"))
            continue
        if private_object(ctx, acc.obj, acc.state):
            continue
        other = None if not_held else _other_root(ctx, acc, an)
        if other is not None:
            out.append(_root_shared(ctx, acc, other, an))
        elif acc.kind == "walk":
            if not_held:
                out.append(_walk(ctx, acc, "not held on some path", "error"))
            elif not _contract_mentions(ctx, acc):
                out.append(_walk(ctx, acc, "no lock known held and no contract says the "
                                 "caller holds it", "note"))
        elif not_held:
            out.append(_modify(ctx, acc, "not held on some path", "error"))
        else:
            out.append(_modify(ctx, acc, "no lock known held and no contract says the "
                               "caller holds it", "warning"))
    return out


def _also_held(acc: Access, an) -> bool:
    """The structure allows modification under the lock for read plus another lock."""
    if acc.structure.modify_also is None:
        return False
    also = template(acc.structure.modify_also, acc.obj)
    key = an.key(also, acc.state) if also is not None else None
    f = held_as(acc.state, key) if key else None
    return f is not None and f.must


def _contract_mentions(ctx, acc: Access) -> bool:
    return any(ann.kind in ("must_hold", "releases") for ann in ctx.fa.function.annotations)


def _other_root(ctx, acc: Access, an):
    """A held lock of the protecting lock's class that belongs to another object."""
    if acc.structure.shared is None:
        return None
    want_cls = an.lock_class(acc.lock, acc.state)
    for k, f in acc.state.held():
        if k == acc.lock_key:
            continue
        if f.cls == want_cls and want_cls not in ("?", "") and not want_cls.startswith("?."):
            return k, f
    return None


def _walk(ctx, acc: Access, why: str, severity: str):
    msg = (f"{acc.structure.name} {acc.what} walked without {acc.lock_key} "
           f"(needs {acc.structure.walk}): {why}")
    return finding(ctx, "walk-unlocked", severity, acc.line, acc.end_line, msg,
                   [acc.lock_key], key=(acc.lock_key, acc.what))


def _modify(ctx, acc: Access, why: str, severity: str):
    msg = (f"{acc.structure.name} {acc.what} modified without {acc.lock_key} held for "
           f"{acc.structure.modify}: {why}")
    return finding(ctx, "modify-unlocked", severity, acc.line, acc.end_line, msg,
                   [acc.lock_key], key=(acc.lock_key, acc.what))


def _root_shared(ctx, acc: Access, other, an):
    held_key, held_fact = other
    obj = C.render(an.canon(acc.obj, acc.state))
    shared_a = template(acc.structure.shared, acc.obj)
    a_root = C.render(an.canon(shared_a, acc.state)) if shared_a is not None else obj
    b_root = held_key.rsplit("->", 1)[0] if "->" in held_key else held_key
    start = first_acquire_line(ctx, held_key, before=acc.line, earliest=True) or acc.line
    verb = "walked" if acc.kind == "walk" else "modified"
    msg = (f"{acc.what} {verb} under {describe_lock(held_key, held_fact)}, not {acc.lock_key}: "
           f"correct only if {a_root} == {b_root}, which nothing in this function checks")
    severity = "note" if _states_invariant(ctx) else "warning"
    return finding(ctx, "root-assumed-shared", severity, start, acc.end_line, msg,
                   [held_key, acc.lock_key],
                   related=[(start, f"{held_key} taken here"),
                            (acc.line, f"{obj}'s structure {verb} here")],
                   key=(held_key, acc.structure.name))


def _states_invariant(ctx) -> bool:
    inv = ctx.model.extra.get("protected", {}).get("invariant", {})
    words = [w.lower() for w in inv.get("words", [])]
    any_of = [w.lower() for w in inv.get("any_of", [])]
    for _, text in ctx.fa.function.comments:
        t = text.lower()
        if _DIRECTIVE.search(t):
            continue  # an rmaplint directive or a test annotation names rules, not invariants
        if all(w in t for w in words) and (not any_of or any(w in t for w in any_of)):
            return True
    return False
