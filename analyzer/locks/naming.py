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

from collections.abc import Callable

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
                 is_function: Callable[[str], bool] | None = None,
                 conditioned: Callable[[str], frozenset[int]] | None = None):
        self.fn = fn
        self.model = model
        self.types = types
        self._is_function = is_function or (lambda name: False)
        # which arguments of a call of a name its summary's cases depend on
        self._conditioned = conditioned or (lambda name: frozenset())
        self._contracts: tuple[C.Annotation, ...] | None = None
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
        self.tracked = self._tracked(cfg)
        self.tracked_conds = self._tracked_conds(cfg)

    def _tracked_conds(self, cfg: Cfg) -> dict[str, frozenset[str]]:
        """Calls the function tests twice or more as conditions (``if
        (folio_test_swapcache(folio))`` before a lock and again before the unlock): the same
        unchanged test gives the same answer, so the paths of the two tests correlate. Text
        → the variables it reads (a new value of one of them makes it another test)."""
        seen: dict[str, int] = {}
        reads: dict[str, frozenset[str]] = {}
        for b in cfg.blocks:
            for c in _tested_calls(b.cond):
                names = _names_in(c)
                if not c.args or not names or not names <= set(self.vartypes):
                    continue  # a test of time or of global state (cond(), signal_pending
                    # (current)) may answer otherwise the second time
                text = C.render(c)
                seen[text] = seen.get(text, 0) + 1
                reads[text] = frozenset(names)
        return {t: reads[t] for t, n in seen.items() if n >= 2}

    def _tracked(self, cfg: Cfg) -> frozenset[str]:
        """Variables whose values keep paths apart at merges: those the function returns
        (``err = -EAGAIN; goto out; … out: return err;``) and flags it sets to a constant
        and tests (``locked = true; … if (locked) unlock(…)``)."""
        returned: set[str] = set()
        tested: set[str] = set()
        constant: set[str] = set()
        for b in cfg.blocks:
            for op in b.ops:
                if op.kind == OpKind.RETURN and isinstance(op.expr, C.Name) \
                        and op.expr.id in self.vartypes:
                    returned.add(op.expr.id)
                e = op.expr
                if op.kind == OpKind.DECL and e is not None and const_token(e) is not None:
                    constant.add(op.name or "")
                elif isinstance(e, C.Assign) and e.op == "=" and isinstance(e.target, C.Name) \
                        and const_token(e.value) is not None:
                    constant.add(e.target.id)
            tested.update(_tested_names(b.cond))
        flags = {v for v in tested & constant if v in self.vartypes}
        self.handed = frozenset(self._handed_flags(cfg) - set(self.aliases))
        return frozenset((returned | flags | self._out_flags(cfg) | self.handed)
                         - set(self.aliases))

    def _handed_flags(self, cfg: Cfg) -> set[str]:
        """Local values handed to a helper whose cases depend on that argument's value
        (``mode = lock_for_read(g); … unlock(g, mode)``, the unlock's locks chosen by the
        mode's bits): kept apart by value, each path gives the unlock the mode it took."""
        values = {v for v, t in self.vartypes.items()
                  if v not in self.params and not any(c in t for c in ("*", "[", "struct ",
                                                                        "union "))}
        out: set[str] = set()
        if not values:
            return out
        for b in cfg.blocks:
            for op in b.ops:
                for c in C.calls_in(op.expr):
                    names = [(i, a.id) for i, a in enumerate(map(strip, c.args))
                             if isinstance(a, C.Name) and a.id in values and a.id not in out]
                    if names and c.name is not None:
                        pos = self._conditioned(c.name)
                        out.update(v for i, v in names if i in pos)
        return out

    def _out_flags(self, cfg: Cfg) -> set[str]:
        """Flags the function hands back through a pointer parameter (``*locked = 1``):
        tracked as ``*locked``, they tell the caller which state it is in."""
        params = {p.name for p in self.fn.params}
        out: set[str] = set()
        for b in cfg.blocks:
            for op in b.ops:
                e = op.expr
                if isinstance(e, C.Assign) and e.op == "=" and const_token(e.value) is not None:
                    t = strip(e.target)
                    if isinstance(t, C.Unary) and t.op == "*" and isinstance(t.operand, C.Name) \
                            and t.operand.id in params:
                        out.add("*" + t.operand.id)
        return out

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

    @property
    def contracts(self) -> tuple[C.Annotation, ...]:
        """The function's contracts that name a lock: not one whose expression names a
        member its struct does not have (``__releases(rq->lock)`` where struct rq's lock is
        ``__lock``). Sparse only counts such a context, it never names a lock: it balances
        the ``__acquire()``/``__release()`` marks of the body, while the locks taken are
        other objects (``rq->__lock`` through ``rq_lockp(rq)``), so it is no fact a path
        can keep or break."""
        if self._contracts is None:
            self._contracts = tuple(a for a in self.fn.annotations
                                    if not self.names_no_member(a.expr))
        return self._contracts

    def names_no_member(self, e: C.Expr) -> bool:
        """``p->m`` where the types know p's struct and it has no member ``m``."""
        e = strip(e)
        if not isinstance(e, C.Member):
            return False
        struct = self.types.struct_of(e.base, self.vartypes, self.aliases)
        fields = self.types.structs.get(struct) if struct is not None else None
        return e.field not in fields if fields else False

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


def const_token(e: C.Expr | None) -> str | None:
    """The text of a constant value (``0``, ``-EINVAL``, ``NULL``, ``true``, ``VM_FAULT_OOM``),
    or None when the expression is not one."""
    match e:
        case C.Literal(text=t):
            t = t.rstrip("uUlL")
            try:
                return str(int(t, 0))
            except ValueError:
                return None
        case C.Name(id=i):
            if i in ("NULL", "true", "false"):
                return i
            return i if i.isupper() and not i.startswith("_") else None
        case C.Unary(op="-", operand=o):
            inner = const_token(o)
            return f"-{inner}" if inner is not None and not inner.startswith("-") else None
        case C.Cast(expr=x):
            return const_token(x)
        case C.Call(args=(a,)) if e.name == "ERR_PTR":
            inner = const_token(a)
            return f"ERR_PTR({inner})" if inner is not None else None
    return None


def _tested_calls(e: C.Expr | None) -> list[C.Call]:
    """Calls a condition tests directly (``f(x)``, ``!f(x)``, ``a && f(x)``)."""
    match e:
        case C.Call(args=args) if e.name in ("likely", "unlikely") and args:
            return _tested_calls(args[0])
        case C.Call():
            return [e] if e.name is not None else []
        case C.Unary(op="!", operand=o):
            return _tested_calls(o)
        case C.Binary(op=("&&" | "||"), left=l, right=r):
            return _tested_calls(l) + _tested_calls(r)
    return []


def _names_in(e: C.Expr) -> set[str]:
    out: set[str] = set()
    match e:
        case C.Name(id=i):
            out.add(i)
        case C.Call(args=args):
            for a in args:
                out |= _names_in(a)
        case C.Member(base=b) | C.Unary(operand=b) | C.Cast(expr=b):
            out |= _names_in(b)
        case C.Binary(left=l, right=r) | C.Index(base=l, index=r):
            out |= _names_in(l) | _names_in(r)
    return out


def _tested_names(e: C.Expr | None) -> set[str]:
    """Variables a condition tests directly: ``v``, ``!v``, ``v == C``, ``a && v``."""
    out: set[str] = set()
    match e:
        case C.Name(id=i):
            out.add(i)
        case C.Unary(op="!", operand=o):
            out |= _tested_names(o)
        case C.Binary(op=("&&" | "||"), left=l, right=r):
            out |= _tested_names(l) | _tested_names(r)
        case C.Binary(op=("==" | "!="), left=C.Name(id=i), right=r) if const_token(r) is not None:
            out.add(i)
        case C.Call(args=args) if args and e.name in ("likely", "unlikely"):
            out |= _tested_names(args[0])
    return out
