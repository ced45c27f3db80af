"""walk-unlocked — a protected list or tree is iterated without its lock.

What it does: for every iterator loop over a structure of ``rules/protected.toml`` (the
anon_vma interval tree, a file's i_mmap tree, a VMA's anon_vma_chain list), looks at the lock
state at the loop header (the first entry joined with every later iteration). The walk needs
the structure's lock held at least in the mode the rules give (``walk``).

Kinds: ``not-held`` (error) — the lock is known not held on some path reaching the walk;
``no-lock-known`` (note) — no lock is known held and no contract (``__must_hold``,
``__releases``) says the caller holds it. A walk of an object allocated in the function and
not yet visible, or under another object's lock of the same class (``root-assumed-shared``
reports that), is not reported here.

A ``no-lock-known`` walk is then judged at the function's call sites, found through the
tree's callers index and up the call chain while a caller passes the object on from its own
parameters: held by every caller, it is no finding (``--verbose`` and ``explain`` say "held
by all N callers"); known not held at a call site, it becomes ``caller-lacks`` (error), naming
the chain; otherwise the note says which callers hold it and which are unknown.

Confidence: high for ``not-held``; ``no-lock-known`` usually means the callers hold the lock
and nothing in the function says so.
"""

from __future__ import annotations

from ..findings.finding import Severity
from .common import AccessKind, Rule, Verdict, access_finding

RULE = Rule("walk-unlocked", {
    "not-held": "{structure} {what} walked without {lock} (needs {mode}): not held on some "
                "path",
    "no-lock-known": "{structure} {what} walked without {lock} (needs {mode}): no lock known "
                     "held and no contract says the caller holds it",
    "caller-lacks": "{structure} {what} walked without {lock} (needs {mode}): {callers}",
})


def check(ctx):
    out = []
    for j in ctx.accesses:
        acc = j.access
        if acc.kind != AccessKind.WALK:
            continue
        if j.verdict == Verdict.NOT_HELD:
            kind, sev = "not-held", Severity.ERROR
        elif j.verdict == Verdict.NO_LOCK_KNOWN and not _contract(ctx):
            kind, sev = "no-lock-known", Severity.NOTE
        else:
            continue
        out.append(access_finding(ctx, RULE, kind, sev, acc, acc.structure.walk))
    return out


def _contract(ctx) -> bool:
    return any(a.caller_holds for a in ctx.function.annotations)
