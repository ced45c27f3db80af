"""Integer constant expressions, as far as the text decides them.

A helper that takes its locks by the bits of a flags argument (``if (lock_flags &
XFS_IOLOCK_EXCL) down_write(…)``) is summarised with the conditions each path tested; at a
call the conditions are read with the caller's arguments (``lock_flags`` is
``XFS_IOLOCK_EXCL``) and a case whose condition is false there is not what the call does.
This module gives such a condition's value: literals, names the caller's file defines as
object-like macros (``lookup``), the arithmetic, bitwise, comparison and logical operators,
casts and ``?:``. Anything else — a variable, a call, a ``sizeof`` — is unknown (None), and an
unknown condition never rules a case out.
"""

from __future__ import annotations

from collections.abc import Callable

from . import tree as C
from .exprs import subexprs

Lookup = Callable[[str], "int | None"]

_MASK = (1 << 64) - 1  # the widest kernel integer: ~ and << wrap here, as unsigned long


def literal(text: str) -> int | None:
    """The value of an integer literal (``0x10``, ``1u``, ``07``, ``'a'`` is not one)."""
    t = text.rstrip("uUlL")
    try:
        if len(t) > 1 and t[0] == "0" and t[1] in "0123456789":
            return int(t, 8)
        return int(t, 0)
    except ValueError:
        return None


def value(e: C.Expr | None, lookup: Lookup, transparent: frozenset[str] = frozenset()
          ) -> int | None:
    """The integer value of ``e``, or None when the text does not decide it. ``transparent``
    names calls that return their first argument (``likely``, ``unlikely``). A callee's
    condition is read in the caller's terms once ``exprs.substitute`` has bound it."""
    match e:
        case None:
            return None
        case C.Literal(text=t):
            return literal(t)
        case C.Name(id=i):
            if i in ("true", "false"):
                return int(i == "true")
            if i == "NULL":
                return 0
            return lookup(i)
        case C.Cast(expr=x):
            return value(x, lookup, transparent)
        case C.Call(args=(a, *_)) if e.name in transparent:
            return value(a, lookup, transparent)
        case C.Unary(op=op, operand=o):
            v = value(o, lookup, transparent)
            if v is None:
                return None
            if op == "!":
                return int(v == 0)
            if op == "-":
                return -v
            if op == "+":
                return v
            if op == "~":
                return ~v & _MASK
            return None
        case C.Ternary(test=t, then=a, other=b):
            tv = value(t, lookup, transparent)
            return None if tv is None else value(a if tv else b, lookup, transparent)
        case C.Binary(op=op, left=lft, right=rgt):
            return _binary(op, lft, rgt, lookup, transparent)
    return None


def tests_only(cond: C.Expr, tested: frozenset[str] | set[str],
               transparent: frozenset[str] = frozenset()) -> bool:
    """A condition on some of ``tested`` and constants only (``flags & FOO_EXCL``,
    ``mode == 2``), made of operators and ``transparent`` calls (``likely``): its value is
    known wherever the values of ``tested`` are."""
    if not tested:
        return False
    seen = False
    for x in subexprs(cond, lambda x: not isinstance(x, C.Call) or x.name in transparent):
        match x:
            case C.Call() if x.name in transparent:
                continue
            case C.Name(id=i) if i in transparent:
                continue  # the function of such a call
            case C.Name(id=i):
                if i in tested:
                    seen = True
                elif not _constant_name(x):
                    return False
            case C.Literal() | C.Unary() | C.Binary() | C.Cast():
                continue
            case _:
                return False
    return seen


def _constant_name(e: C.Name) -> bool:
    """A name that stands for a constant: an upper-case macro name (``FOO_EXCL``)."""
    return e.id in ("true", "false") or e.id.isupper() and not e.id.startswith("_")


def _binary(op: str, lft: C.Expr, rgt: C.Expr, lookup: Lookup,
            transparent: frozenset[str]) -> int | None:
    a = value(lft, lookup, transparent)
    if op in ("&&", "||"):
        if a is not None and (a == 0) == (op == "&&"):
            return int(op == "||")  # decided by the left side alone
        b = value(rgt, lookup, transparent)
        if b is not None and (b == 0) == (op == "&&"):
            return int(op == "||")
        if a is None or b is None:
            return None
        return int(bool(a) and bool(b)) if op == "&&" else int(bool(a) or bool(b))
    b = value(rgt, lookup, transparent)
    if op == "&" and (a == 0 or b == 0):
        return 0  # whatever the other side is
    if a is None or b is None:
        return None
    match op:
        case "+":
            return a + b
        case "-":
            return a - b
        case "*":
            return a * b
        case "/" | "%" if b != 0:
            q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)  # C truncates
            return q if op == "/" else a - q * b
        case "<<" if 0 <= b < 64:
            return (a << b) & _MASK
        case ">>" if 0 <= b < 64:
            return a >> b
        case "&":
            return a & b
        case "|":
            return a | b
        case "^":
            return a ^ b
        case "==":
            return int(a == b)
        case "!=":
            return int(a != b)
        case "<":
            return int(a < b)
        case ">":
            return int(a > b)
        case "<=":
            return int(a <= b)
        case ">=":
            return int(a >= b)
    return None
