"""unguarded-access — a struct member read or written without the lock that guards it.

What it does: takes every access of a struct member in the file
(:mod:`analyzer.mining.accesses`) and the guards known for that member:

* *declared* — a comment on the member in the tree (``/* protected by mm->page_table_lock
  */``, kernel-doc, ``__guarded_by()``), or a ``[[guard]]`` in ``rules/protected.toml``;
* *mined* — the lock the file's own code holds at most of the member's accesses
  (:mod:`analyzer.mining.guards`, thresholds in ``protected.toml`` ``[guards]``).

An access whose guard is *lacking* there — known not held on some path, or taken by the
same function elsewhere and not held here, or (a write, where every access holding the lock
is in a function taking it itself) in a function that never takes it — is reported; one
where the lock's state is otherwise unknown (a caller may hold it; a static function's
callers are already joined into its entry) is not. Init and teardown of a private object, accesses
marked lockless (``READ_ONCE``…) and members of self-synchronising types are never reported.
Members of the structures ``[[structure]]`` describes belong to walk-unlocked and
modify-unlocked.

An access whose lock state is unknown (its function never takes the lock: the local
discipline) is then judged at its call sites, as walk-unlocked's is: held by every caller,
it is no finding; known not held at one, it is ``caller-lacks`` (error) naming the chain.

Kinds: ``declared`` (error) — with where it is declared; ``mined`` (warning) — with the
evidence ("held at 37 of 39 other writes in this file"); ``mined-struct`` (warning) — a member
with too few writes of its own, under its struct's local discipline.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..findings.finding import Finding, Severity
from ..locks.calls import Need, need_of
from ..locks.lockid import LockId, parse_path
from ..locks.result import FileAnalysis, FunctionResult
from ..mining.accesses import FieldAccess, file_accesses
from ..mining.guards import Located, Mined, mine
from ..model.enums import Mode
from ..model.lockmodel import Access, Guard, LockModel
from .common import CheckContext, Rule

RULE = Rule("unguarded-access", {
    "declared": "{what} {verb} without {lock}, which guards {member}: declared at "
                "{where}{how}",
    "mined": "{what} {verb} without {lock}, which guards {member}: held at {held} of "
             "{others} other {accesses} in this file{how}",
    "mined-struct": "{what} written without {lock}, which guards the writes of struct "
                    "{struct}'s members: held at {held} of {others} other writes of them in "
                    "this file, each in a function that takes it; this function never does",
    "caller-lacks": "{what} {verb} without {lock}, which guards {member}: {callers}",
})


def check(ctx: CheckContext) -> list[Finding]:
    return []  # a file-level rule: see check_file


def guards_for(fa: FileAnalysis, model: LockModel, accesses: tuple[FieldAccess, ...]
               ) -> tuple[list[tuple[Guard, str]], dict[tuple, Mined]]:
    """The guards that apply in this file, declared first: (guard, kind); and the file's
    counts for every member and lock (for the local-discipline test). A declared guard
    covers the member's writes always, its reads only where the code guards its reads (a
    mined read pair for that lock): the kernel reads many declared-protected members
    locklessly on purpose (a racy pre-check rechecked under the lock, a pointer set once)."""
    rules = model.protected.guard_rules
    counts: dict[tuple, Mined] = {}
    for m in mine((Located(fa.path, a) for a in accesses), rules, everything=True):
        key = (m.guard.struct, m.guard.field, m.guard.access, m.guard.lock)
        if key not in counts or m.passes and not counts[key].passes:
            counts[key] = m  # a member's own pair first, its struct's where it has none
    mined = [m for m in counts.values() if m.passes]
    read_guarded = {(m.guard.struct, m.guard.field, m.guard.lock) for m in mined
                    if m.guard.access == Access.READ}
    # a [[guard]] of rules/ is what a maintainer kept: it applies as written
    out: list[tuple[Guard, str]] = [(g, "declared") for g in model.protected.guards]
    out += [(g, "declared") for g in fa.declared
            if g.access == Access.WRITE or (g.struct, g.field, g.lock) in read_guarded]
    out += [(m.guard, "mined") for m in sorted(mined, key=lambda m: -m.guard.score)]
    return out, counts


def deviates(a: FieldAccess, path: str, g: Guard, counts: dict[tuple, Mined]) -> bool:
    """``a`` lacks ``g``'s lock: known not held there (or taken elsewhere in the function),
    or — where every access that holds it takes it itself — not taken by its function."""
    state = a.lock_state(g.lock)
    if state is not None:
        return not state
    m = counts.get((a.struct, a.field, a.access, g.lock))
    return m is not None and m.local and f"{path}:{a.line}" in m.deviations


def check_file(fa: FileAnalysis, model: LockModel) -> list[Finding]:
    accesses = file_accesses(fa, model)
    if not accesses:
        return []
    owned = {(s.struct, s.field) for s in model.protected.structures}
    by_member: dict[tuple, list[tuple[Guard, str]]] = {}
    guards, counts = guards_for(fa, model, accesses)
    for g, kind in guards:
        if (g.struct, g.field) not in owned:
            by_member.setdefault((g.struct, g.field, g.access), []).append((g, kind))
    fns = {f.function.name: f for f in fa.functions}
    out: list[Finding] = []
    for a in accesses:
        if a.private:
            continue
        for g, kind in by_member.get((a.struct, a.field, a.access), ()):
            if not deviates(a, fa.path, g, counts):
                continue
            fn = fns.get(a.function)
            if fn is None:
                continue
            ctx = CheckContext(fa, fn, model)
            verb = "written" if a.access == Access.WRITE else "read"
            accesses_word = "writes" if a.access == Access.WRITE else "reads"
            lock = render_lock(g.lock, a.what)
            m = counts.get((a.struct, a.field, a.access, g.lock))
            unknown = a.lock_state(g.lock) is None  # the callers may hold it
            local = m is not None and m.local and unknown
            how = "; every other access that holds it takes it itself, this function " \
                  "does not" if local else ""
            if kind == "declared":
                found = RULE.finding(ctx, "declared", Severity.ERROR, a.line, a.line, [lock],
                                     key=(a.struct, a.field, a.access, g.lock), what=a.what,
                                     verb=verb, lock=lock, member=_member(a), where=g.where,
                                     how=how)
            elif m is not None and m.scope == "struct":
                found = RULE.finding(ctx, "mined-struct", Severity.WARNING, a.line, a.line,
                                     [lock], key=(a.struct, a.field, a.access, g.lock),
                                     what=a.what, lock=lock, struct=a.struct, held=g.held,
                                     others=g.total - 1, verb=verb, member=_member(a))
            else:
                found = RULE.finding(ctx, "mined", Severity.WARNING, a.line, a.line, [lock],
                                     key=(a.struct, a.field, a.access, g.lock), what=a.what,
                                     verb=verb, lock=lock, member=_member(a), held=g.held,
                                     others=(g.held + len(m.deviations) - 1) if m
                                     else g.total - 1,
                                     accesses=accesses_word, how=how)
            if unknown:  # the callers decide it
                found = replace(found, needs=_need(fn, lock))
            out.append(found)
            break  # one finding per access: its first guard lacking
    return out


def _need(fn: FunctionResult, lock: str) -> Need | None:
    """The guard's lock, rendered over the access, as a need of the function's callers
    (held in any mode, as the mining counts it); None for a lock no path names."""
    if not _PATH.fullmatch(lock):
        return None
    path = parse_path(lock)
    return need_of(fn, LockId(path, fn.naming.lock_class(path.to_expr())), str(Mode.ANY))


_PATH = re.compile(r"[A-Za-z_]\w*(?:(?:->|\.)[A-Za-z_]\w*)*")


def _member(a: FieldAccess) -> str:
    return f"{a.struct}.{a.field}" if a.struct else f"the file-scope {a.field}"


def render_lock(template: str, what: str) -> str:
    """A guard's template over the access's object: ``{obj}->lock`` for ``h->count`` is
    ``h->lock``."""
    if "{obj}" not in template:
        return template
    m = re.match(r"(.*?)(?:->|\.)\w+$", what)
    obj = m.group(1) if m else what
    if not re.fullmatch(r"[\w>.\-\[\]]+", obj):
        obj = f"({obj})"
    return template.replace("{obj}", obj)
