"""Lock identity: which object a lock is, as a value.

An :class:`ObjPath` is a canonical access path — a root (a local, a parameter, a global, or
the text of a call whose result is used as an object), the *version* of that root, and the
steps taken from it (``->field``, ``.field``, ``*``, ``[index]``). Canonical means what the
naming stage made of the spelling: casts and ``&`` removed, single-assignment locals replaced
by what they were assigned (``anon_vma = pavc->anon_vma`` ⇒ ``pavc->anon_vma``), so two
spellings of one lock are one path and two objects stay two.

The version says *which value* of a reassigned variable the path goes through: ``None`` is the
variable's current value (or its value at entry), ``N`` the value it had before line ``N``
assigned it again (a lock still held through the old object keeps that name), or, when a
helper is summarised path by path, the value the helper obtained at line ``N``. It renders as
``var@N``.

A :class:`LockId` is the path of a lock together with its class (``anon_vma.rwsem``) when the
types name one. The class is not part of the identity: one path is one lock however its class
was found. Text appears only when a lock is rendered for a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..syntax import tree as C

ARROW, DOT, DEREF = "->", ".", "*"


@dataclass(frozen=True, slots=True)
class ObjPath:
    root: str
    steps: tuple[str, ...] = ()  # "->f", ".f", "*", "[i]"
    version: int | None = None

    @property
    def sort_key(self) -> tuple:
        return (self.root, self.steps, -1 if self.version is None else self.version)

    def __lt__(self, other: ObjPath) -> bool:
        return self.sort_key < other.sort_key

    def __le__(self, other: ObjPath) -> bool:
        return self.sort_key <= other.sort_key

    # ------------------------------------------------------------ structure
    @property
    def base(self) -> ObjPath | None:
        """The path without its last step (the object that owns this one)."""
        if not self.steps:
            return None
        return ObjPath(self.root, self.steps[:-1], self.version)

    @property
    def field(self) -> str | None:
        """The name of the last member step (``rwsem`` of ``x->root->rwsem``)."""
        for s in reversed(self.steps):
            if s.startswith(ARROW):
                return s[2:]
            if s.startswith(DOT):
                return s[1:]
        return None

    @property
    def is_fresh(self) -> bool:
        """Named through another value of a reassigned variable (``x@12``)."""
        return self.version is not None

    @property
    def call_root(self) -> bool:
        """The root is a call's result (``page_folio(page)->mapping``)."""
        return "(" in self.root

    def member(self, name: str, arrow: bool = True) -> ObjPath:
        return ObjPath(self.root, self.steps + ((ARROW if arrow else DOT) + name,),
                       self.version)

    def has_prefix(self, other: ObjPath) -> bool:
        """``other`` is this path or an object this path goes through."""
        return self.root == other.root and self.version == other.version \
            and self.steps[:len(other.steps)] == other.steps

    def strict_prefix(self, other: ObjPath) -> bool:
        return len(self.steps) > len(other.steps) and self.has_prefix(other)

    def rebase(self, prefix: ObjPath, new: ObjPath) -> ObjPath:
        """This path with ``prefix`` (which it must have) replaced by ``new``."""
        return ObjPath(new.root, new.steps + self.steps[len(prefix.steps):], new.version)

    def with_version(self, version: int | None) -> ObjPath:
        return ObjPath(self.root, self.steps, version)

    # ------------------------------------------------------------ text
    def render(self) -> str:
        text = self.root + (f"@{self.version}" if self.version is not None else "")
        simple = True  # a name, member access or index: no parentheses needed after it
        for s in self.steps:
            if s == DEREF:
                text = "*" + text
                simple = False
            elif s.startswith("["):
                text = (text if simple else f"({text})") + s
            else:
                text = (text if simple else f"({text})") + s
                simple = True
        return text

    def __str__(self) -> str:
        return self.render()

    def to_expr(self) -> C.Expr | None:
        """The path as a syntax expression (None for a call's result, whose text is all we
        keep of it, and for a path through an old value of a field: no expression names
        it)."""
        if self.call_root or any("@" in s for s in self.steps):
            return None
        e: C.Expr = C.Name(self.root if self.version is None else f"{self.root}@{self.version}")
        for s in self.steps:
            if s == DEREF:
                e = C.Unary("*", e)
            elif s.startswith(ARROW):
                e = C.Member(e, s[2:], True)
            elif s.startswith(DOT):
                e = C.Member(e, s[1:], False)
            else:
                e = C.Index(e, C.Opaque(s[1:-1]))
        return e


@dataclass(frozen=True, slots=True)
class LockId:
    """A lock: the path of its object and, when the types say, its class."""

    path: ObjPath
    cls: str | None = field(default=None, compare=False, hash=False)

    def render(self) -> str:
        return self.path.render()

    def __str__(self) -> str:
        return self.path.render()

    def describe(self) -> str:
        """``root->rwsem (anon_vma.rwsem)`` for messages."""
        return f"{self.path.render()} ({self.cls})" if self.cls else self.path.render()


def path_of(e: C.Expr | None) -> ObjPath | None:
    """The path of an already canonical expression (casts, ``&`` and aliases dealt with by
    the naming stage); None for what is no object (a literal, NULL, an opaque expression)."""
    if e is None:
        return None
    steps: list[str] = []
    while True:
        match e:
            case C.Cast(expr=x):
                e = x
            case C.Unary(op="&", operand=x) if not steps:
                e = x
            case C.Member(base=b, field=f, arrow=a):
                steps.append((ARROW if a else DOT) + f)
                e = b
            case C.Unary(op="*", operand=x):
                steps.append(DEREF)
                e = x
            case C.Index(base=b, index=i):
                steps.append(f"[{C.render(i)}]")
                e = b
            case C.Name(id=i):
                if C.is_null(e):
                    return None
                root, _, ver = i.partition("@")
                return ObjPath(root, tuple(reversed(steps)), int(ver) if ver.isdigit() else None)
            case C.Call():
                return ObjPath(C.render(e), tuple(reversed(steps)))
            case _:
                return None


def parse_path(text: str) -> ObjPath:
    """``a->b.c`` (optionally ``a@12->b``) as a path: for tests and messages' readers."""
    parts = re.split(r"(->|\.)", text.strip())
    root, _, ver = parts[0].partition("@")
    steps = tuple(parts[i] + parts[i + 1] for i in range(1, len(parts), 2))
    return ObjPath(root, steps, int(ver) if ver else None)
