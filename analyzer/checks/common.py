"""What several rules share: the context a check reads, protected structures from
``rules/protected.toml`` and where a function walks or modifies them, lock lookups in a state,
justification comments, and building a finding from a rule's message formats.

Nothing here knows a kernel function by name: structures, modifier functions and flags all
come from the rules data. A check reads a frozen
:class:`~analyzer.locks.result.FunctionResult` and never runs the transfer function itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cached_property

from ..findings.finding import Finding, Related, Severity
from ..flow.cfg import Loop, LoopKind
from ..locks.calls import need_of
from ..locks.events import Event, EventKind
from ..locks.lockid import LockId, ObjPath
from ..locks.result import FileAnalysis, FunctionResult
from ..locks.state import Fact, State, same_object
from ..model.enums import Mode
from ..model.lockmodel import LockModel, Structure
from ..syntax import tree as C
from ..syntax.exprs import strip


@dataclass(frozen=True)
class CheckContext:
    file: FileAnalysis
    fn: FunctionResult
    model: LockModel

    @property
    def path(self) -> str:
        return self.file.path

    @cached_property
    def accesses(self) -> list[Judged]:
        """The function's walks and modifications of protected data, judged once for the
        three rules that read them."""
        out = []
        for a in accesses(self):
            v = judge(self, a)
            out.append(Judged(a, v[0], v[1]) if isinstance(v, tuple) else Judged(a, v))
        return out

    @property
    def events(self) -> tuple[Event, ...]:
        return self.fn.events

    @property
    def function(self) -> C.Function:
        return self.fn.function


# --------------------------------------------------------------------------- protected data


class AccessKind(StrEnum):
    WALK = "walk"  # an iterator loop over the structure
    MODIFY = "modify"  # a modifier call (insert, remove)


@dataclass(frozen=True)
class Access:
    """A walk or a modification of a protected structure, with the state before it."""

    kind: AccessKind
    structure: Structure
    obj: C.Expr  # the object whose structure is touched (OBJ in &OBJ->field)
    lock: C.Expr  # the lock that protects it
    lock_key: LockId
    state: State
    line: int
    end_line: int
    what: str  # "pavc->anon_vma->rb_root"
    loop: Loop | None = None

    @property
    def need(self) -> Mode:
        return self.structure.walk if self.kind == AccessKind.WALK else self.structure.modify


def match_structure(e: C.Expr | None, fn: FunctionResult,
                    model: LockModel) -> tuple[Structure, C.Expr] | None:
    if e is None:
        return None
    e = strip(e)
    if not isinstance(e, C.Member):
        return None
    nm = fn.naming
    for s in model.protected.structures:
        if e.field != s.field:
            continue
        if s.struct:
            st = nm.types.struct_of(e.base, nm.vartypes, nm.aliases)
            if st is not None and st != s.struct:
                continue
        return s, e.base
    return None


def template(t: str, obj: C.Expr) -> C.Expr | None:
    """A rules template over ``{obj}`` (``{obj}->root->rwsem``) applied to ``obj``."""
    parts = re.split(r"(->|\.)", t)
    if not parts or parts[0] != "{obj}":
        return None
    e: C.Expr = obj
    for i in range(1, len(parts), 2):
        if not re.fullmatch(r"[A-Za-z_]\w*", parts[i + 1]):
            return None
        e = C.Member(e, parts[i + 1], parts[i] == "->")
    return e


def accesses(ctx: CheckContext) -> list[Access]:
    """Every walk (iterator loop over a protected structure) and modification (a modifier
    call on one) in the function, with the lock state before it."""
    fn = ctx.fn
    nm = fn.naming
    model = ctx.model
    out: list[Access] = []
    for lp in fn.cfg.loops:
        if lp.kind != LoopKind.ITER or lp.iterated is None:
            continue
        st = fn.ins[lp.header]  # the first entry joined with every later iteration
        if st is None:
            continue
        m = match_structure(lp.iterated, fn, model)
        if m is None:
            continue
        s, obj = m
        lock = template(s.lock, obj)
        key = nm.lock(lock, st) if lock is not None else None
        if key is None or lock is None:
            continue
        out.append(Access(AccessKind.WALK, s, obj, lock, key, st, lp.span.line, lp.span.line,
                          C.render(nm.canon(lp.iterated, st)), lp))
    for ev in ctx.events:
        if ev.kind != EventKind.CALL or ev.call is None or ev.call.name is None:
            continue
        for s in model.protected.structures:
            arg = s.modifiers.get(ev.call.name)
            if arg is None or arg >= len(ev.call.args):
                continue
            m = match_structure(ev.call.args[arg], fn, model)
            if m is None or m[0] is not s:
                continue
            obj = m[1]
            lock = template(s.lock, obj)
            key = nm.lock(lock, ev.state) if lock is not None else None
            if key is None or lock is None:
                continue
            out.append(Access(AccessKind.MODIFY, s, obj, lock, key, ev.state, ev.span.line,
                              ev.span.end_line,
                              C.render(nm.canon(ev.call.args[arg], ev.state))))
    return out


class Verdict(StrEnum):
    HELD = "held"  # the lock is held as needed
    READ_ONLY = "read-only"  # needs write, held only for read on some path
    PRIVATE = "private"  # the object was allocated here and is not visible yet
    OTHER_ROOT = "other-root"  # another object's lock of the same class is held
    NOT_HELD = "not-held"  # known not held on some path
    NO_LOCK_KNOWN = "no-lock-known"  # nothing known either way


@dataclass(frozen=True)
class Judged:
    access: Access
    verdict: Verdict
    other: tuple[LockId, Fact] | None = None  # OTHER_ROOT: the lock that is held


def judge(ctx: CheckContext, acc: Access) -> Verdict | tuple[Verdict, tuple[LockId, Fact]]:
    fact = held_as(acc.state, acc.lock_key)
    not_held = fact is not None and fact.maybe_not_held
    if fact is not None and fact.may and not not_held:
        if acc.need == Mode.WRITE and fact.read_somewhere and not _also_held(ctx, acc):
            return Verdict.READ_ONLY
        return Verdict.HELD
    if private_object(ctx, acc.obj, acc.state):
        return Verdict.PRIVATE
    other = None if not_held else _other_root(ctx, acc)
    if other is not None:
        return Verdict.OTHER_ROOT, other
    return Verdict.NOT_HELD if not_held else Verdict.NO_LOCK_KNOWN


def _also_held(ctx: CheckContext, acc: Access) -> bool:
    """The structure allows modification under the lock for read plus another lock."""
    if acc.structure.modify_also is None:
        return False
    also = template(acc.structure.modify_also, acc.obj)
    key = ctx.fn.naming.lock(also, acc.state) if also is not None else None
    f = held_as(acc.state, key) if key else None
    return f is not None and f.must


def _other_root(ctx: CheckContext, acc: Access) -> tuple[LockId, Fact] | None:
    """A held lock of the protecting lock's class that belongs to another object."""
    if acc.structure.shared is None:
        return None
    want = ctx.fn.naming.lock_class(acc.lock)
    if want is None:
        return None
    for k, f in acc.state.held():
        if k != acc.lock_key and k.cls == want:
            return k, f
    return None


def held_as(st: State, key: LockId) -> Fact | None:
    """The fact of the lock ``key`` or of a lock known to be the same object."""
    f = st.fact(key)
    if f is not None and f.may:
        return f
    for k, fact in st.locks.items():
        if fact.may and k != key and same_object(st, k.path, key.path):
            return fact
    return f


def private_object(ctx: CheckContext, obj: C.Expr, st: State) -> bool:
    """OBJ is private to the function at this point: allocated here on every path reaching
    it, and not published since (stored elsewhere, handed to a call)."""
    p = ctx.fn.naming.path(obj, st)
    return p is not None and p in st.private


# --------------------------------------------------------------------------- describing


def describe(key: LockId | ObjPath, fact: Fact | None = None) -> str:
    if isinstance(key, ObjPath):
        return key.render()
    return key.describe()


def first_acquire_line(ctx: CheckContext, key: LockId, before: int | None = None,
                       earliest: bool = False) -> int | None:
    """Line of an acquire (or assertion) of ``key`` at or before ``before``: the nearest one,
    or the earliest with ``earliest``."""
    lines = [ev.span.line for ev in ctx.events
             if ev.kind in (EventKind.ACQUIRE, EventKind.ASSERT) and ev.lock == key
             and (before is None or ev.span.line <= before)]
    if not lines:
        return None
    return min(lines) if earliest or before is None else max(lines)


# --------------------------------------------------------------------------- comments

_ALLOW = re.compile(r"rmaplint:\s*allow\s+([\w-]+)\s*(?:[-—–:]+\s*)?(.*)", re.S)


def justification(ctx: CheckContext, rule: str, line: int, end_line: int) -> str | None:
    """``/* rmaplint: allow <rule> — why */`` inside the region (or on the line before)."""
    for ln, text in ctx.function.comments:
        if line - 1 <= ln <= end_line:
            m = _ALLOW.search(comment_body(text))
            if m and m.group(1) == rule:
                why = " ".join(m.group(2).split())
                return why or "justified without a reason"
    return None


def region_comments(ctx: CheckContext, line: int, end_line: int) -> list[str]:
    return [" ".join(comment_body(t).split()) for ln, t in ctx.function.comments
            if line - 1 <= ln <= end_line]


def comment_body(text: str) -> str:
    t = text.strip()
    if t.startswith("/*"):
        t = t[2:]
    if t.endswith("*/"):
        t = t[:-2]
    if t.startswith("//"):
        t = t[2:]
    return "\n".join(line.strip().lstrip("*").strip() for line in t.splitlines())


# --------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Rule:
    """A rule's identity and its message formats, one per kind of finding (pyflakes style:
    a finding is a kind and its arguments; the text is rendered from them)."""

    id: str
    messages: Mapping[str, str]

    def finding(self, ctx: CheckContext, kind: str, severity: Severity, line: int,
                end_line: int, locks: Iterable[LockId | str] = (),
                related: Iterable[tuple[int, str]] = (), key: Iterable[object] = (),
                **args: object) -> Finding:
        texts = {k: (v.render() if isinstance(v, (LockId, ObjPath)) else str(v))
                 for k, v in args.items()}
        message = self.messages[kind].format(**texts)
        just = justification(ctx, self.id, line, end_line)
        return Finding(self.id, severity, ctx.path, ctx.function.name, line,
                       max(line, end_line), message, tuple(str(k) for k in locks),
                       tuple(Related(ctx.path, ln, msg) for ln, msg in related),
                       justification=just, key=tuple(str(k) for k in key), kind=kind,
                       args=tuple(sorted(texts.items())))


def via_text(ev: Event) -> str:
    """`` (in helper())`` when a helper's summary made the event, for messages."""
    return f" (in {ev.via}())" if ev.via else ""


def access_finding(ctx: CheckContext, rule: Rule, kind: str, severity: Severity,
                   acc: Access, mode: Mode) -> Finding:
    """The finding of a walk or a modification of a protected structure; a
    ``no-lock-known`` one carries the need its callers decide (analyzer.driver.context)."""
    f = rule.finding(ctx, kind, severity, acc.line, acc.end_line, [acc.lock_key],
                     key=(acc.lock_key, acc.what), structure=acc.structure.name,
                     what=acc.what, lock=acc.lock_key, mode=mode)
    if kind == "no-lock-known":
        f = replace(f, needs=need_of(ctx.fn, acc.lock_key, mode))
    return f


def with_context(ctx: CheckContext, f: Finding) -> Finding:
    """A plain comment inside the region that explains it (shown with the finding)."""
    if f.justification is None:
        found = [c for c in region_comments(ctx, f.line, f.end_line) if c]
        if found:
            return replace(f, context=found[0])
    return f
