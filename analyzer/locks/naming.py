"""Naming: from a spelling in the source to the object it denotes.

Built once per function from its CFG, before any state is computed:

* the variables' declared types (to name lock classes through the struct types);
* **aliases** — a local assigned exactly once from a stable access path
  (``anon_vma = pavc->anon_vma``) is replaced by that path everywhere, so
  ``anon_vma->root->rwsem`` and ``pavc->anon_vma->root->rwsem`` are one lock;
* the cursors of iterator loops, and which variables are assigned more than once (those keep
  their own name, and the dataflow renames what was held through them when they change).

Two strategies share this: :class:`AliasNaming` for the dataflow of a function, and
:class:`SymbolicNaming` for summarising a helper path by path, where every variable is tracked
in the state as an expression over the helper's entry values (``State.env``).
"""

from __future__ import annotations

from typing import Callable

from ..flow.cfg import Cfg, OpKind
from ..model.lockmodel import LockModel
from ..syntax import tree as C
from ..syntax.exprs import assigned_names, is_pure_path, root_name, strip
from .lockid import LockId, ObjPath, path_of
from .state import State
from .types import TypeInfo


class Naming:
    symbolic = False

    def __init__(self, fn: C.Function, cfg: Cfg, model: LockModel, types: TypeInfo,
                 is_function: Callable[[str], bool] | None = None):
        self.fn = fn
        self.model = model
        self.types = types
        self._is_function = is_function or (lambda name: False)
        self.vartypes: dict[str, str] = {p.name: p.type for p in fn.params}
        counts: dict[str, int] = {p.name: 0 for p in fn.params}
        rhs: dict[str, C.Expr] = {}
        cursors: set[str] = set()
        self.decl_lines: dict[str, set[int]] = {}
        for b in cfg.blocks:
            for op in b.ops:
                if op.kind == OpKind.DECL:
                    assert op.name is not None
                    self.vartypes.setdefault(op.name, op.type or "")
                    self.decl_lines.setdefault(op.name, set()).add(op.span.line)
                    if op.expr is not None:
                        counts[op.name] = counts.get(op.name, 0) + 1
                        rhs[op.name] = op.expr
                    else:
                        counts.setdefault(op.name, 0)
                elif op.kind == OpKind.ADVANCE and isinstance(op.expr, C.Name):
                    cursors.add(op.expr.id)
                    counts[op.expr.id] = counts.get(op.expr.id, 0) + 2
                e = op.expr
                for v in assigned_names(e):
                    counts[v] = counts.get(v, 0) + 1
                    if isinstance(e, C.Assign) and isinstance(e.target, C.Name) \
                            and e.target.id == v:
                        rhs[v] = e.value
            for v in assigned_names(b.cond):
                counts[v] = counts.get(v, 0) + 2
        self.cursors = frozenset(cursors)
        self.params = frozenset(p.name for p in fn.params)
        self.locals = frozenset(self.vartypes) - self.params
        self.aliases: dict[str, C.Expr] = {}
        self._find_aliases(counts, rhs)
        self.multi = frozenset(v for v, n in counts.items() if n >= 1 and v not in self.aliases)

    def _find_aliases(self, counts, rhs) -> None:
        pass

    # ------------------------------------------------------------ naming
    def canon(self, e: C.Expr | None, st: State) -> C.Expr | None:
        """Canonical object expression: casts, &, parentheses removed; aliases substituted."""
        if e is None:
            return None
        e = strip(e)
        match e:
            case C.Name():
                return self._name(e, st)
            case C.Member(base=b, field=f, arrow=arrow):
                cb = self.canon(b, st)
                if cb is None:
                    return None
                if isinstance(cb, C.Unary) and cb.op == "&" and arrow:
                    return C.Member(cb.operand, f, False)
                if isinstance(cb, C.Unary) and cb.op == "*" and not arrow:
                    return C.Member(cb.operand, f, True)
                return C.Member(cb, f, arrow)
            case C.Unary(op="*", operand=o):
                co = self.canon(o, st)
                return C.Unary("*", co) if co is not None else None
            case C.Index(base=b, index=i):
                cb = self.canon(b, st)
                return C.Index(cb, i) if cb is not None else None
        return e

    def _name(self, e: C.Name, st: State) -> C.Expr | None:
        return e

    def path(self, e: C.Expr | None, st: State) -> ObjPath | None:
        """The object an expression denotes; None for what is no object (a literal, NULL,
        an opaque expression, a bare function name)."""
        ce = self.canon(e, st)
        if ce is None or isinstance(ce, (C.Literal, C.Opaque)) or C.is_null(ce):
            return None
        p = path_of(ce)
        if p is not None and not p.steps and p.version is None and self._is_function(p.root):
            return None  # a function's name: a parameter list read short shifted an argument
        return p

    def lock(self, e: C.Expr | None, st: State) -> LockId | None:
        p = self.path(e, st)
        if p is None:
            return None
        return LockId(p, self.lock_class(e))

    def lock_class(self, e: C.Expr | None) -> str | None:
        """The lock's class, from the struct type of its owner (None: not known)."""
        if e is None:
            return None
        e = strip(e)
        if isinstance(e, C.Member):
            struct = self.types.struct_of(e.base, self.vartypes, self.aliases)
            return self.model.class_named(struct, e.field)
        return None

    def is_global(self, name: str) -> bool:
        """A name that is neither a parameter nor a local: a file-scope or global object."""
        return name not in self.vartypes and "@" not in name

    def is_declaration(self, name: str, line: int) -> bool:
        return line in self.decl_lines.get(name, ())


class AliasNaming(Naming):
    """The dataflow of a function: stable single-assignment locals are replaced by what they
    were assigned."""

    def _find_aliases(self, counts, rhs) -> None:
        def stable_root(e: C.Expr) -> bool:
            r = root_name(e)
            if r is None:
                return False
            if r in self.params and counts.get(r, 0) == 0:
                return True
            if r in self.cursors:
                return True
            return r in self.aliases

        changed = True
        while changed:
            changed = False
            for v, n in counts.items():
                if n != 1 or v in self.aliases or v in self.params or v not in rhs:
                    continue
                e = strip(rhs[v])
                if is_pure_path(e) and not isinstance(e, C.Name) and stable_root(e):
                    self.aliases[v] = e
                    changed = True
                elif isinstance(e, C.Name) and e.id != v and stable_root(e):
                    self.aliases[v] = e
                    changed = True

    def _name(self, e: C.Name, st: State) -> C.Expr | None:
        a = self.aliases.get(e.id)
        return self.canon(a, st) if a is not None else e


class SymbolicNaming(Naming):
    """Summarising a helper: a variable stands for the expression the path gave it, over the
    helper's entry values (``State.env``); an unknown value is fresh (``v@line``)."""

    symbolic = True

    def _name(self, e: C.Name, st: State) -> C.Expr | None:
        return st.env.get(e.id, e)


def owner_root(e: C.Expr) -> str | None:
    return root_name(e)
