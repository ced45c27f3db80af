"""A small, frontend-neutral C syntax tree: what the CFG builder reads.

Both frontends (tree-sitter, libclang) produce these frozen values, so the CFG, the lock-state
dataflow and every rule are independent of the parser. Expressions keep only what lock analysis
needs (names, member access, address-of, calls, assignments, comparisons); anything else is an
``Opaque`` carrying its text. Every statement carries its line span in the original file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Name:
    id: str


@dataclass(frozen=True, slots=True)
class Member:
    base: Expr
    field: str
    arrow: bool  # True for ->, False for .


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # & * ! - ~ ++ -- (prefix) and "p++" "p--" (postfix)
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Assign:
    op: str  # "=" "+=" ...
    target: Expr
    value: Expr


@dataclass(frozen=True, slots=True)
class Call:
    func: Expr
    args: tuple[Expr, ...]

    @property
    def name(self) -> str | None:
        return self.func.id if isinstance(self.func, Name) else None


@dataclass(frozen=True, slots=True)
class Ternary:
    test: Expr
    then: Expr
    other: Expr


@dataclass(frozen=True, slots=True)
class Cast:
    type: str
    expr: Expr


@dataclass(frozen=True, slots=True)
class Index:
    base: Expr
    index: Expr


@dataclass(frozen=True, slots=True)
class Comma:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Literal:
    text: str  # numbers, strings, chars


@dataclass(frozen=True, slots=True)
class Opaque:
    """An expression the analysis does not look into (sizeof, compound literal, ...).

    ``calls`` keeps the calls found inside it, so their effects are not lost."""

    text: str
    calls: tuple[Call, ...] = ()


Expr = (Name | Member | Unary | Binary | Assign | Call | Ternary | Cast | Index | Comma | Literal
        | Opaque)

NULL_NAMES = frozenset({"NULL", "0", "nullptr"})


def is_null(e: Expr) -> bool:
    if isinstance(e, Name):
        return e.id in NULL_NAMES
    if isinstance(e, Literal):
        return e.text == "0"
    if isinstance(e, Cast):
        return is_null(e.expr)
    return False


def render(e: Expr | None) -> str:
    """C-like text of an expression, normalised (no whitespace differences)."""
    if e is None:
        return ""
    match e:
        case Name(id=i):
            return i
        case Member(base=b, field=f, arrow=a):
            inner = render(b)
            if not isinstance(b, (Name, Member, Call, Index)):
                inner = f"({inner})"
            return f"{inner}{'->' if a else '.'}{f}"
        case Unary(op=op, operand=o):
            inner = render(o)
            if not isinstance(o, (Name, Member, Call, Index, Literal)):
                inner = f"({inner})"
            if op in ("p++", "p--"):
                return inner + op[1:]
            return op + inner
        case Binary(op=op, left=l, right=r):
            return f"{render(l)} {op} {render(r)}"
        case Assign(op=op, target=t, value=v):
            return f"{render(t)} {op} {render(v)}"
        case Call(func=f, args=a):
            return f"{render(f)}({', '.join(render(x) for x in a)})"
        case Ternary(test=t, then=a, other=b):
            return f"{render(t)} ? {render(a)} : {render(b)}"
        case Cast(type=t, expr=x):
            return f"({t}){render(x)}"
        case Index(base=b, index=i):
            return f"{render(b)}[{render(i)}]"
        case Comma(items=items):
            return ", ".join(render(x) for x in items)
        case Literal(text=t):
            return t
        case Opaque(text=t):
            return t
    raise TypeError(e)


def calls_in(e: Expr | None):
    """Every call in an expression, innermost (argument) calls first: evaluation order."""
    if e is None:
        return
    match e:
        case Call(args=a):
            for x in a:
                yield from calls_in(x)
            yield e
        case Member(base=b) | Unary(operand=b) | Cast(expr=b):
            yield from calls_in(b)
        case Binary(left=l, right=r) | Assign(target=l, value=r) | Index(base=l, index=r):
            yield from calls_in(l)
            yield from calls_in(r)
        case Ternary(test=t, then=a, other=b):
            yield from calls_in(t)
            yield from calls_in(a)
            yield from calls_in(b)
        case Comma(items=items):
            for x in items:
                yield from calls_in(x)
        case Opaque(calls=cs):
            for c in cs:
                yield from calls_in(c)


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True)
class Span:
    line: int  # 1-based, first line
    end_line: int
    start_byte: int = 0
    end_byte: int = 0


@dataclass(frozen=True, slots=True)
class ExprStmt:
    span: Span
    expr: Expr | None  # None: empty statement


@dataclass(frozen=True, slots=True)
class Decl:
    """``type name = init;`` — one per declarator."""

    span: Span
    name: str
    type: str  # e.g. "struct anon_vma *"
    init: Expr | None


@dataclass(frozen=True, slots=True)
class Return:
    span: Span
    value: Expr | None


@dataclass(frozen=True, slots=True)
class Goto:
    span: Span
    label: str


@dataclass(frozen=True, slots=True)
class Break:
    span: Span


@dataclass(frozen=True, slots=True)
class Continue:
    span: Span


@dataclass(frozen=True, slots=True)
class Label:
    span: Span
    name: str
    body: Stmt | None


@dataclass(frozen=True, slots=True)
class Compound:
    span: Span
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class If:
    span: Span
    cond: Expr
    then: Stmt
    other: Stmt | None


@dataclass(frozen=True, slots=True)
class While:
    span: Span
    cond: Expr
    body: Stmt


@dataclass(frozen=True, slots=True)
class DoWhile:
    span: Span
    body: Stmt
    cond: Expr


@dataclass(frozen=True, slots=True)
class For:
    span: Span
    init: tuple[Stmt, ...]  # Decl or ExprStmt
    cond: Expr | None
    step: Expr | None
    body: Stmt


@dataclass(frozen=True, slots=True)
class IterLoop:
    """A for-each macro: ``list_for_each_entry(pos, &head, member) { ... }``."""

    span: Span
    macro: str
    args: tuple[Expr, ...]
    cursor: Expr | None  # the variable advanced by the macro
    iterated: Expr | None  # the list/tree/object walked
    body: Stmt
    # the advance computes the cursor from the iterated object alone (xas_for_each): the
    # walk's position is in the object
    from_object: bool = False
    temp: Expr | None = None  # a _safe variant's next entry, which the advance moves to


@dataclass(frozen=True, slots=True)
class Switch:
    span: Span
    cond: Expr
    body: Stmt


@dataclass(frozen=True, slots=True)
class Case:
    span: Span
    value: Expr | None  # None: default
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class ScopedGuard:
    """``scoped_guard(class, args) { body }``: lock held for the body only."""

    span: Span
    lock_class: str
    args: tuple[Expr, ...]
    body: Stmt


@dataclass(frozen=True, slots=True)
class Guard:
    """``guard(class)(args);``: lock held until the end of the enclosing block."""

    span: Span
    lock_class: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Unparsed:
    """A statement the frontend could not read (parse error region)."""

    span: Span
    text: str


Stmt = (
    ExprStmt | Decl | Return | Goto | Break | Continue | Label | Compound | If | While | DoWhile
    | For | IterLoop | Switch | Case | ScopedGuard | Guard | Unparsed
)


# --------------------------------------------------------------------------- functions


class ContractKind(StrEnum):
    """Sparse-style contracts on a function (rules/frontend.toml ``[contracts]`` maps the
    macro names, shared/reader variants included, onto these)."""

    ACQUIRES = "acquires"
    RELEASES = "releases"
    MUST_HOLD = "must_hold"
    COND_ACQUIRES = "cond_acquires"
    COND_RELEASES = "cond_releases"
    ACQUIRES_SHARED = "acquires_shared"
    RELEASES_SHARED = "releases_shared"
    MUST_HOLD_SHARED = "must_hold_shared"
    COND_ACQUIRES_SHARED = "cond_acquires_shared"

    @property
    def caller_holds(self) -> bool:
        """The caller holds the lock when calling (the function releases or needs it)."""
        return self in (ContractKind.MUST_HOLD, ContractKind.RELEASES,
                        ContractKind.MUST_HOLD_SHARED, ContractKind.RELEASES_SHARED)


@dataclass(frozen=True, slots=True)
class Annotation:
    """A sparse-style contract on a function: ``__acquires(x)``, ``__releases(x)``,
    ``__must_hold(x)``."""

    kind: str  # a ContractKind value
    expr: Expr
    # a contract the lock model gives an operations-table method (not written in the code):
    # what it is, as messages name it ("->writepage of address_space_operations"), and the
    # return values with which a releasing method may keep the lock (AOP_WRITEPAGE_ACTIVATE)
    method: str = ""
    keeps: tuple[str, ...] = ()

    @property
    def caller_holds(self) -> bool:
        try:
            return ContractKind(self.kind).caller_holds
        except ValueError:
            return False


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: str


@dataclass(frozen=True, slots=True)
class ParseError:
    """Where and why a frontend could not read a function (or file-level text): the first
    parse error, 1-based line and column, and a one-line reason; ``count`` parse errors in
    all."""

    line: int
    column: int
    message: str
    count: int = 1

    def describe(self) -> str:
        more = f" (and {self.count - 1} more parse error{'s' if self.count > 2 else ''})" \
            if self.count > 1 else ""
        return self.message + more


@dataclass(frozen=True)
class Function:
    name: str
    path: str
    span: Span
    params: tuple[Param, ...]
    return_type: str
    body: Compound
    is_static: bool = False
    is_inline: bool = False
    annotations: tuple[Annotation, ...] = ()
    degraded: bool = False
    comments: tuple[tuple[int, str], ...] = field(default=(), compare=False)  # (line, text)
    # with ``degraded``: the first parse error inside it (None: the frontend gave no reason)
    parse_error: ParseError | None = field(default=None, compare=False)
    # attribute words of its head the frontend read past (``__init``, ``__meminit``)
    attributes: tuple[str, ...] = field(default=(), compare=False)


def children(s: Stmt):
    """The statements directly inside a statement."""
    match s:
        case If():
            return tuple(x for x in (s.then, s.other) if x is not None)
        case While() | IterLoop() | Switch() | ScopedGuard() | DoWhile():
            return (s.body,)
        case For():
            return s.init + (s.body,)
        case Case():
            return s.body
        case Label():
            return (s.body,) if s.body is not None else ()
        case Compound():
            return s.body
    return ()


def stmt_calls(s: Stmt | None):
    """Every call in a statement and the statements inside it (guards as ``guard`` /
    ``scoped_guard`` pseudo-calls are not included)."""
    if s is None:
        return
    match s:
        case ExprStmt(expr=e) | Return(value=e):
            yield from calls_in(e)
        case Decl(init=e):
            yield from calls_in(e)
        case If(cond=c) | While(cond=c) | DoWhile(cond=c) | Switch(cond=c):
            yield from calls_in(c)
        case For(cond=c, step=st):
            yield from calls_in(c)
            yield from calls_in(st)
        case IterLoop(args=a) | Guard(args=a) | ScopedGuard(args=a):
            for y in a:
                yield from calls_in(y)
    for child in children(s):
        yield from stmt_calls(child)


METHOD = "->"  # the callee key of a call through a member: "->flush" for ops->flush(x)


def callee_key(c: Call) -> str | None:
    """What a call calls, as the call tables name it: the function's name, or for a call
    through a member (``ops->flush(x)``, ``(*s.fn)(x)``) ``->`` and the member's name."""
    if isinstance(c.func, Name):
        return c.func.id
    f = _callee(c)
    return METHOD + f.field if isinstance(f, Member) else None


def method_base(c: Call) -> Expr | None:
    """The object a call through a member reads the member from (``ops`` of
    ``ops->flush(x)``)."""
    f = _callee(c)
    return f.base if isinstance(f, Member) else None


def _callee(c: Call) -> Expr:
    """The called expression without the ``*`` and casts around it."""
    f: Expr = c.func
    while isinstance(f, (Unary, Cast)):
        f = f.operand if isinstance(f, Unary) else f.expr
    return f


def called_names(s) -> set[str]:
    """Names of the functions a statement calls (``guard``/``scoped_guard`` for scope
    guards)."""
    names: set[str] = set()
    for c in stmt_calls(s):
        if c.name:
            names.add(c.name)
        elif isinstance(c.func, Call) and c.func.name:
            names.add(c.func.name)

    def guards(x):
        if isinstance(x, ScopedGuard):
            names.add("scoped_guard")
        elif isinstance(x, Guard):
            names.add("guard")
        for child in children(x):
            guards(child)

    if s is not None:
        guards(s)
    return names
