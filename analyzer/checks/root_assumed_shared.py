"""root-assumed-shared — the structure of object A is touched while the lock held is another
object B's lock of the same class (B's root rwsem), and nothing in the function shows that A
and B share it.

What it does: for a walk or modification of a structure whose rules name a ``shared`` member
(the anon_vma ``root``), when A's own lock is not known held but a lock of the same class is,
reports the region from B's lock's acquire to the access. Evidence that discharges it: an
assertion or WARN comparing the roots (the state then knows they are equal, and A's lock is
held under B's name), or a helper that locks A's own root.

Kinds: ``assumed`` (warning); ``stated`` (note) — a comment in the function states the
invariant (``rules/protected.toml`` ``[invariant]``: all of its words, one of ``any_of``),
which is a belief, not a check.

Confidence: medium. The code is correct exactly when the roots are equal, which the kernel
often ensures by construction (fork sets a new anon_vma's root to its parent's).
"""

from __future__ import annotations

import re

from ..findings.finding import Severity
from ..syntax import tree as C
from .common import AccessKind, Rule, Verdict, first_acquire_line, template

RULE = Rule("root-assumed-shared", {
    "assumed": "{what} {verb} under {held}, not {lock}: correct only if {a_root} == {b_root}, "
               "which nothing in this function checks",
    "stated": "{what} {verb} under {held}, not {lock}: correct only if {a_root} == {b_root}, "
              "which nothing in this function checks",
})
_DIRECTIVE = re.compile(r"rmaplint:|\b(?:ruleid|todoruleid|ok):")


def check(ctx):
    out = []
    nm = ctx.fn.naming
    for j in ctx.accesses:
        if j.verdict != Verdict.OTHER_ROOT or j.other is None:
            continue
        acc = j.access
        held_key, held_fact = j.other
        obj = C.render(nm.canon(acc.obj, acc.state))
        shared_a = template(acc.structure.shared, acc.obj) if acc.structure.shared else None
        a_root = C.render(nm.canon(shared_a, acc.state)) if shared_a is not None else obj
        base = held_key.path.base
        b_root = base.render() if base is not None else held_key.render()
        start = first_acquire_line(ctx, held_key, before=acc.line, earliest=True) or acc.line
        verb = "walked" if acc.kind == AccessKind.WALK else "modified"
        stated = _states_invariant(ctx)
        out.append(RULE.finding(
            ctx, "stated" if stated else "assumed",
            Severity.NOTE if stated else Severity.WARNING, start, acc.end_line,
            [held_key, acc.lock_key],
            [(start, f"{held_key} taken here"), (acc.line, f"{obj}'s structure {verb} here")],
            (held_key, acc.structure.name), what=acc.what, verb=verb,
            held=held_key.describe(), lock=acc.lock_key, a_root=a_root, b_root=b_root))
    return out


def _states_invariant(ctx) -> bool:
    inv = ctx.model.protected.invariant
    words = [w.lower() for w in inv.words]
    any_of = [w.lower() for w in inv.any_of]
    for _, text in ctx.function.comments:
        t = text.lower()
        if _DIRECTIVE.search(t):
            continue  # an rmaplint directive or a test annotation names rules, not invariants
        if all(w in t for w in words) and (not any_of or any(w in t for w in any_of)):
            return True
    return False
