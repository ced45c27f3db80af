"""modify-unlocked — insert into or remove from a protected structure without its lock held
for write.

What it does: at every call of a structure's modifier (``rules/protected.toml``: e.g.
``anon_vma_interval_tree_insert(avc, &anon_vma->rb_root)``), looks at the lock state just
before the call. The structure's lock must be held in its ``modify`` mode (write), or for read
together with the structure's ``modify_also`` lock.

Kinds: ``read-only`` (error) — held only for read on some path; ``not-held`` (error) — known
not held on some path; ``no-lock-known`` (warning) — no lock known held and no contract says
the caller holds it (the kernel usually asserts such a precondition). An object allocated in
the function and not yet published is not reported.

A ``no-lock-known`` modification is then judged at the call sites, as walk-unlocked's is:
held by every caller, it is no finding; known not held at one, it is ``caller-lacks``
(error) naming the chain.

Confidence: high for the first two; ``no-lock-known`` is often a caller holding the lock
under a spelling the callee's parameters cannot express.
"""

from __future__ import annotations

from ..findings.finding import Severity
from .common import AccessKind, Rule, Verdict, access_finding

RULE = Rule("modify-unlocked", {
    "read-only": "{structure} {what} modified without {lock} held for {mode}: held only for "
                 "read on some path",
    "not-held": "{structure} {what} modified without {lock} held for {mode}: not held on "
                "some path",
    "no-lock-known": "{structure} {what} modified without {lock} held for {mode}: no lock "
                     "known held and no contract says the caller holds it",
    "caller-lacks": "{structure} {what} modified without {lock} held for {mode}: {callers}",
})

_KINDS = {Verdict.READ_ONLY: ("read-only", Severity.ERROR),
          Verdict.NOT_HELD: ("not-held", Severity.ERROR),
          Verdict.NO_LOCK_KNOWN: ("no-lock-known", Severity.WARNING)}


def check(ctx):
    out = []
    for j in ctx.accesses:
        acc = j.access
        if (acc.kind == AccessKind.WALK and j.verdict != Verdict.READ_ONLY
                or j.verdict not in _KINDS):
            continue
        kind, sev = _KINDS[j.verdict]
        out.append(access_finding(ctx, RULE, kind, sev, acc, acc.structure.modify))
    return out
