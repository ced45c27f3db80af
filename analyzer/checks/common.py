"""What several rules share: protected structures from ``rules/protected.toml``, where a
function walks or modifies them, lock descriptions, and justification comments.

Nothing here knows a kernel function by name: structures, modifier functions and flags all
come from the rules data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..syntax import tree as C
from ..flow.cfg import Loop
from ..findings.finding import Finding, Related
from ..model.lockmodel import LockModel
from ..locks.dataflow import Analysis, Fact, State, _strip, same_object
from ..locks.summaries import _parse_path


@dataclass(frozen=True)
class Structure:
    name: str
    field: str
    struct: str | None
    lock: str  # template over {obj}
    shared: str | None
    walk: str
    modify: str
    modifiers: dict[str, int]
    modify_also: str | None = None


@lru_cache(maxsize=8)
def _structures(model_digest: str, data: tuple) -> tuple[Structure, ...]:
    out = []
    for s in data:
        out.append(Structure(s["name"], s["field"], s.get("struct"), s["lock"], s.get("shared"),
                             s.get("walk", "read"), s.get("modify", "write"),
                             {m["name"]: m["arg"] for m in s.get("modifiers", [])},
                             s.get("modify_also")))
    return tuple(out)


def structures(model: LockModel) -> tuple[Structure, ...]:
    raw = model.extra.get("protected", {}).get("structure", [])
    return _structures(model.digest, tuple(_freeze(s) for s in raw))


def _freeze(d):
    return _FrozenDict(d)


class _FrozenDict(dict):
    def __hash__(self):  # for the lru_cache key only; contents never change
        return hash(tuple(sorted(self.keys())))


@dataclass(frozen=True)
class Access:
    """A walk or a modification of a protected structure, with the state before it."""

    kind: str  # walk | modify
    structure: Structure
    obj: C.Expr  # the object whose structure is touched (OBJ in &OBJ->field)
    lock: C.Expr  # the lock that protects it
    lock_key: str
    state: State
    line: int
    end_line: int
    what: str  # "pavc->anon_vma->rb_root"
    loop: Loop | None = None


def match_structure(e: C.Expr | None, an: Analysis,
                    model: LockModel) -> tuple[Structure, C.Expr] | None:
    if e is None:
        return None
    e = _strip(e)
    if not isinstance(e, C.Member):
        return None
    for s in structures(model):
        if e.field != s.field:
            continue
        if s.struct:
            st = an.types.struct_of(e.base, an.vartypes, an.aliases)
            if st is not None and st != s.struct:
                continue
        return s, e.base
    return None


def template(t: str, obj: C.Expr) -> C.Expr | None:
    path = t.replace("{obj}", "__obj")
    pe = _parse_path(path)
    if pe is None:
        return None
    return _subst_obj(pe, obj)


def _subst_obj(e: C.Expr, obj: C.Expr) -> C.Expr:
    if isinstance(e, C.Name) and e.id == "__obj":
        return obj
    if isinstance(e, C.Member):
        return C.Member(_subst_obj(e.base, obj), e.field, e.arrow)
    return e


def accesses(ctx) -> list[Access]:
    """Every walk (iterator loop over a protected structure) and modification (a modifier
    call on one) in the function, with the lock state before it."""
    fa = ctx.fa
    an = fa.analysis
    model = ctx.model
    out: list[Access] = []
    for lp in fa.cfg.loops:
        if lp.kind != "iter" or lp.iterated is None:
            continue
        st = _loop_entry_state(fa, lp)
        if st is None:
            continue
        m = match_structure(lp.iterated, an, model)
        if m is None:
            continue
        s, obj = m
        lock = template(s.lock, obj)
        key = an.key(lock, st) if lock is not None else None
        if key is None:
            continue
        out.append(Access("walk", s, obj, lock, key, st, lp.span.line, lp.span.line,
                          C.render(an.canon(lp.iterated, st)), lp))
    for ev in ctx.events:
        if ev.kind != "call" or ev.call is None or ev.call.name is None:
            continue
        for s in structures(model):
            arg = s.modifiers.get(ev.call.name)
            if arg is None or arg >= len(ev.call.args):
                continue
            m = match_structure(ev.call.args[arg], an, model)
            if m is None or m[0] is not s:
                continue
            obj = m[1]
            lock = template(s.lock, obj)
            key = an.key(lock, ev.state) if lock is not None else None
            if key is None:
                continue
            out.append(Access("modify", s, obj, lock, key, ev.state, ev.span.line,
                              ev.span.end_line,
                              C.render(an.canon(ev.call.args[arg], ev.state))))
    return out


def _loop_entry_state(fa, lp: Loop) -> State | None:
    """The state at the loop header: first entry joined with every later iteration."""
    return fa.result.ins[lp.header]


def held_as(st: State, key: str) -> Fact | None:
    """The fact of the lock ``key`` or of a lock known to be the same object."""
    f = st.locks.get(key)
    if f is not None and f.may:
        return f
    for k, fact in st.locks.items():
        if fact.may and k != key and same_object(st, k, key):
            return fact
    return f


def private_object(ctx, obj: C.Expr, st: State) -> bool:
    """OBJ was allocated in this function (it is not visible to others yet)."""
    allocators = set(ctx.model.extra.get("protected", {}).get("alloc", {}).get("allocators", ()))
    root = obj
    while isinstance(root, C.Member):
        root = root.base
    if not isinstance(root, C.Name) or root is not obj:
        return False
    for b in ctx.fa.cfg.blocks:
        for op in b.ops:
            val = None
            if op.kind == "decl" and op.name == root.id:
                val = op.expr
            elif op.kind == "eval" and isinstance(op.expr, C.Assign) \
                    and isinstance(_strip(op.expr.target), C.Name) \
                    and _strip(op.expr.target).id == root.id:
                val = op.expr.value
            if isinstance(val, C.Call) and val.name in allocators:
                return True
    return False


# --------------------------------------------------------------------------- describing


def describe_lock(key: str, fact: Fact | None) -> str:
    cls = fact.cls if fact is not None and fact.cls not in ("?", "") else None
    if cls and cls.startswith("?."):
        cls = None
    return f"{key} ({cls})" if cls else key


def first_acquire_line(ctx, key: str, before: int | None = None,
                       earliest: bool = False) -> int | None:
    """Line of an acquire (or assertion) of ``key`` at or before ``before``: the nearest one,
    or the earliest with ``earliest``."""
    lines = [ev.span.line for ev in ctx.events
             if ev.kind in ("acquire", "assert") and ev.lock == key
             and (before is None or ev.span.line <= before)]
    if not lines:
        return None
    return min(lines) if earliest or before is None else max(lines)


# --------------------------------------------------------------------------- comments

_ALLOW = re.compile(r"rmaplint:\s*allow\s+([\w-]+)\s*(?:[-—–:]+\s*)?(.*)", re.S)


def justification(ctx, rule: str, line: int, end_line: int) -> str | None:
    """``/* rmaplint: allow <rule> — why */`` inside the region (or on the line before)."""
    for ln, text in ctx.fa.function.comments:
        if line - 1 <= ln <= end_line:
            m = _ALLOW.search(_comment_body(text))
            if m and m.group(1) == rule:
                why = " ".join(m.group(2).split())
                return why or "justified without a reason"
    return None


def region_comments(ctx, line: int, end_line: int) -> list[str]:
    return [" ".join(_comment_body(t).split()) for ln, t in ctx.fa.function.comments
            if line - 1 <= ln <= end_line]


def _comment_body(text: str) -> str:
    t = text.strip()
    if t.startswith("/*"):
        t = t[2:]
    if t.endswith("*/"):
        t = t[:-2]
    if t.startswith("//"):
        t = t[2:]
    return "\n".join(l.strip().lstrip("*").strip() for l in t.splitlines())


def finding(ctx, rule: str, severity: str, line: int, end_line: int, message: str,
            locks=(), related=(), key=()) -> Finding:
    just = justification(ctx, rule, line, end_line)
    return Finding(rule, severity, ctx.path, ctx.fa.function.name, line, max(line, end_line),
                   message, tuple(locks),
                   tuple(Related(ctx.path, ln, msg) for ln, msg in related),
                   justification=just, key=tuple(key))
