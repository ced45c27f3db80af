"""Struct field types, to name lock classes (``root->rwsem`` → ``anon_vma.rwsem``).

A :class:`TypeInfo` is a value built for one analysed file from exactly what its result's cache
key covers: the rules' fallback struct table, the configured type headers, the headers the
file includes, and the file itself — never from whatever else the process happened to read,
so a file's findings do not depend on which files were analysed before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..syntax import tree as C


@dataclass(frozen=True)
class TypeInfo:
    structs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def build(cls, *layers: Iterable[tuple[str, Mapping[str, str]]]) -> TypeInfo:
        """Struct definitions in order; a later definition of a field wins (the file's own
        over its headers', the headers' over the rules' fallback table)."""
        structs: dict[str, dict[str, str]] = {}
        for layer in layers:
            for name, fields in layer:
                structs.setdefault(name, {}).update(fields)
        return cls(structs)

    def field_type(self, struct: str, field_name: str) -> str | None:
        return self.structs.get(struct, {}).get(field_name)

    def struct_of(self, e: C.Expr, vartypes: Mapping[str, str],
                  aliases: Mapping[str, C.Expr] | None = None, depth: int = 0) -> str | None:
        """The struct an object expression points to or is, when the types say."""
        if depth > 12:
            return None
        e = strip(e)
        if isinstance(e, C.Name):
            t = vartypes.get(e.id)
            if t is None and aliases and e.id in aliases:
                return self.struct_of(aliases[e.id], vartypes, aliases, depth + 1)
            return struct_name(t)
        if isinstance(e, C.Member):
            base = self.struct_of(e.base, vartypes, aliases, depth + 1)
            if base is None:
                return None
            return struct_name(self.field_type(base, e.field))
        if isinstance(e, C.Unary) and e.op in ("*", "&"):
            return self.struct_of(e.operand, vartypes, aliases, depth + 1)
        return None


def struct_name(t: str | None) -> str | None:
    if not t:
        return None
    words = t.replace("*", " ").split()
    for i, w in enumerate(words):
        if w in ("struct", "union") and i + 1 < len(words):
            return words[i + 1]
    return None


def strip(e: C.Expr) -> C.Expr:
    """Remove casts and ``&`` around an object expression."""
    while True:
        if isinstance(e, C.Cast):
            e = e.expr
        elif isinstance(e, C.Unary) and e.op == "&":
            e = e.operand
        else:
            return e
