"""Small questions about expressions that several stages ask: what an object expression is
rooted at, whether it is a plain access path, which names an expression assigns, which calls
it makes at its outermost level, and substitution of names."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import cast, overload

from . import tree as C


@overload
def strip(e: C.Expr) -> C.Expr: ...
@overload
def strip(e: C.Expr | None) -> C.Expr | None: ...


def strip(e: C.Expr | None) -> C.Expr | None:
    """Remove casts and ``&`` around an object expression (None stays None)."""
    while True:
        if isinstance(e, C.Cast):
            e = e.expr
        elif isinstance(e, C.Unary) and e.op == "&":
            e = e.operand
        else:
            return e


def root_name(e: C.Expr | None) -> str | None:
    """The variable an access path starts from (``a`` of ``a->b.c``)."""
    if e is None:
        return None
    e = strip(e)
    while True:
        if isinstance(e, C.Name):
            return e.id
        if isinstance(e, C.Member):
            e = strip(e.base)
        elif isinstance(e, C.Unary) and e.op == "*":
            e = strip(e.operand)
        else:
            return None


def is_pure_path(e: C.Expr) -> bool:
    """A name or member accesses from a name (no call, no arithmetic)."""
    e = strip(e)
    if isinstance(e, C.Name):
        return not C.is_null(e)
    if isinstance(e, C.Member):
        return is_pure_path(e.base)
    return False


def assigned_names(e: C.Expr | None) -> Iterable[str]:
    """Variables an expression assigns (``x = …``, ``x++``), in evaluation order."""
    if e is None:
        return
    match e:
        case C.Assign(target=t, value=v):
            t = strip(t)
            if isinstance(t, C.Name):
                yield t.id
            yield from assigned_names(v)
        case C.Unary(op=("++" | "--" | "p++" | "p--"), operand=o):
            o = strip(o)
            if isinstance(o, C.Name):
                yield o.id
        case C.Call(args=args):
            for a in args:
                yield from assigned_names(a)
        case C.Comma(items=items):
            for x in items:
                yield from assigned_names(x)
        case C.Binary(left=l, right=r):
            yield from assigned_names(l)
            yield from assigned_names(r)
        case C.Ternary(test=t, then=a, other=b):
            for x in (t, a, b):
                yield from assigned_names(x)
        case C.Unary(operand=o) | C.Cast(expr=o) | C.Member(base=o):
            yield from assigned_names(o)


def outer_calls(e: C.Expr | None) -> list[C.Expr]:
    """The outermost calls/assignments/short-circuits in an expression, left to right."""
    out: list[C.Expr] = []

    def walk(x):
        match x:
            case C.Call() | C.Assign():
                out.append(x)
            case C.Binary(op=("&&" | "||")):
                out.append(x)
            case C.Ternary():
                out.append(x)
            case C.Member(base=b) | C.Unary(operand=b) | C.Cast(expr=b):
                walk(b)
            case C.Binary(left=l, right=r) | C.Index(base=l, index=r):
                walk(l)
                walk(r)
            case C.Comma(items=items):
                for i in items:
                    walk(i)
            case C.Opaque(calls=cs):
                out.extend(cs)

    walk(e)
    return out


def mentions(e: C.Expr | None, name: str) -> bool:
    """Whether the access path ``e`` starts from ``name``."""
    return root_name(e) == name if e is not None else False


def substitute(e: C.Expr | None, subst: Mapping[str, C.Expr]) -> C.Expr | None:
    """``e`` with names replaced (a callee's parameters by the caller's arguments)."""
    if e is None:
        return None
    match e:
        case C.Name(id=i):
            if i in subst:
                return subst[i]
            return e
        case C.Member(base=b, field=f, arrow=a):
            nb = substitute(b, subst)
            if nb is None:
                return None
            if a and isinstance(nb, C.Unary) and nb.op == "&":
                return C.Member(nb.operand, f, False)  # (&x)->f is x.f
            return C.Member(nb, f, a)
        case C.Unary(op=op, operand=o):
            no = substitute(o, subst)
            if no is None:
                return None
            if op == "*" and isinstance(no, C.Unary) and no.op == "&":
                return no.operand  # *&x is x: a helper's *ptlp given &ptl
            return C.Unary(op, no)
        case C.Index(base=b, index=i):
            nb = substitute(b, subst)
            return C.Index(nb, i) if nb is not None else None
        case C.Cast(type=t, expr=x):
            nx = substitute(x, subst)
            return C.Cast(t, nx) if nx is not None else None
        case C.Binary(op=op, left=lft, right=rgt):  # a condition on parameters
            nl, nr = substitute(lft, subst), substitute(rgt, subst)
            return C.Binary(op, nl, nr) if nl is not None and nr is not None else None
        case C.Ternary(test=t, then=a, other=b):
            parts = (substitute(t, subst), substitute(a, subst), substitute(b, subst))
            if any(x is None for x in parts):
                return None
            return C.Ternary(*cast("tuple[C.Expr, C.Expr, C.Expr]", parts))
        case C.Call(func=f, args=args) if args:
            # an accessor of parameters: the lock of VFS_I(ip) is the argument's inode's
            nargs = tuple(substitute(a, subst) for a in args)
            if any(a is None for a in nargs):
                return None
            return C.Call(f, cast("tuple[C.Expr, ...]", nargs))
    return e


def replace_prefix(e: C.Expr, prefix: C.Expr, new: C.Expr) -> C.Expr:
    """``e`` with the sub-path ``prefix`` it starts from replaced by ``new``."""
    if e == prefix:
        return new
    if isinstance(e, C.Member):
        nb = replace_prefix(e.base, prefix, new)
        return C.Member(nb, e.field, e.arrow) if nb is not e.base else e
    if isinstance(e, C.Unary) and e.op in ("*", "&"):
        no = replace_prefix(e.operand, prefix, new)
        return C.Unary(e.op, no) if no is not e.operand else e
    return e


def subexprs(e: C.Expr | None, into: Callable[[C.Expr], bool] | None = None
             ) -> Iterator[C.Expr]:
    """Every subexpression of ``e``, ``e`` first (pre-order); ``into(x)`` false: ``x`` is
    yielded but not entered (a lock call's arguments, say)."""
    todo = [e] if e is not None else []
    while todo:
        x = todo.pop()
        yield x
        if into is not None and not into(x):
            continue
        match x:
            case C.Member(base=b) | C.Cast(expr=b):
                kids: tuple = (b,)
            case C.Unary(operand=o):
                kids = (o,)
            case C.Binary(left=a, right=b) | C.Index(base=a, index=b):
                kids = (a, b)
            case C.Assign(target=t, value=v):
                kids = (t, v)
            case C.Call(func=f, args=args):
                kids = (f, *args)
            case C.Ternary(test=t, then=a, other=b):
                kids = (t, a, b)
            case C.Comma(items=items):
                kids = items
            case _:
                kids = ()
        todo.extend(reversed(kids))
