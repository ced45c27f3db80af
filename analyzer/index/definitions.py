"""Which names the analysed tree defines, and where: the definitions index.

A call to a name the tree defines is a call whose effects can be known; a call to a name it
does not define (a function pointer, a function of a tree we do not have) has unknown effects,
and the lock-state dataflow treats it so (the locks it is given become unknown). The index
records, per file, the functions and function-like macros it defines:

* in headers (``include/**``, the configured architecture's ``arch/*/include/**``, and the
  headers of the engine's folders): ``static inline`` functions and function-like macros;
* in the C files of the engine's ``summary_dirs``: functions that are not ``static``.

It is read by regular expressions, not parsed: it says that a definition exists and where,
and the engine parses the file only when it needs the body. Each file's entries are cached
by blob id, so a second run reads only what changed; the index's digest is part of every
result's cache key (a name that gains or loses a definition changes what a call means).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# a function definition's head at column 0, not static: "struct anon_vma *name(" … "{", the
# return type also on the line before ("struct vm_area_struct *\nfind_vma_prev(" … "{")
_C_DEFINITION = re.compile(r"^(?!static\b)(?:[A-Za-z_][\w ]*[\s*]|[A-Za-z_][\w \t*]*\n)"
                           r"(\w+)\([^;{]*\)\s*\n\{", re.M)
# "static inline … name(params)\n{" or on one line; params may span lines, no ';' inside
_INLINE = re.compile(r"^static\s+(?:[\w\s]*?\b)?(?:inline|__always_inline|__inline__)\b"
                     r"[^;{}()=]*?\b(\w+)\s*\([^;{}]*\)[\w\s()]*\{", re.M)
_MACRO = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)\(", re.M)
# a function declared never to return: "void __noreturn panic(const char *fmt, ...);"
_NORETURN = re.compile(r"^[^#\n;{}]*\b__noreturn\b[^;{}()=]*?\b(\w+)\s*\(", re.M)

INDEX_VERSION = "4"


class DefKind(StrEnum):
    FUNCTION = "function"  # a non-static function of a C file
    INLINE = "inline"  # a static inline function of a header
    MACRO = "macro"  # a function-like macro
    NORETURN = "noreturn"  # declared __noreturn (recorded apart: not a definition)


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    path: str
    kind: DefKind


def scan(path: str, text: str) -> tuple[tuple[str, DefKind], ...]:
    """The definitions of one file, in text order."""
    out: list[tuple[str, DefKind]] = []
    if "__noreturn" in text:
        out.extend((m.group(1), DefKind.NORETURN) for m in _NORETURN.finditer(text)
                   if m.group(1) != "__noreturn")
    if path.endswith(".c"):
        out.extend((m.group(1), DefKind.FUNCTION) for m in _C_DEFINITION.finditer(text))
        return tuple(out)
    if "inline" in text:
        out.extend((m.group(1), DefKind.INLINE) for m in _INLINE.finditer(text))
    if "define" in text:
        out.extend((m.group(1), DefKind.MACRO) for m in _MACRO.finditer(text))
    return tuple(out)


@dataclass(frozen=True)
class DefinitionIndex:
    """Name → its definitions (files in path order; within a file, an inline function
    before a macro of the same name). The first is *the* definition; the others are the
    alternatives of #if branches (a header's !CONFIG stub, the .c file's real body)."""

    entries: Mapping[str, tuple[Definition, ...]] = field(default_factory=dict)
    digest: str = ""
    noreturn: frozenset[str] = frozenset()  # functions declared __noreturn

    @classmethod
    def build(cls, files: Iterable[tuple[str, tuple[tuple[str, DefKind], ...]]]
              ) -> DefinitionIndex:
        entries: dict[str, list[Definition]] = {}
        noreturn: set[str] = set()
        h = hashlib.sha1(INDEX_VERSION.encode())
        for path, defs in sorted(files, key=lambda pd: pd[0]):
            ordered = sorted(defs, key=lambda d: d[1] == DefKind.MACRO)
            for name, kind in ordered:
                if kind == DefKind.NORETURN:
                    noreturn.add(name)
                    h.update(f"{name}\0noreturn\n".encode())
                    continue
                have = entries.setdefault(name, [])
                if not any(d.path == path and d.kind == kind for d in have):
                    have.append(Definition(name, path, kind))
                    h.update(f"{name}\0{path}\0{kind}\n".encode())
        return cls({n: tuple(v) for n, v in entries.items()}, h.hexdigest(),
                   frozenset(noreturn))

    def get(self, name: str) -> Definition | None:
        found = self.entries.get(name)
        return found[0] if found else None

    def all(self, name: str) -> tuple[Definition, ...]:
        return self.entries.get(name, ())

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def functions_in(self, kind: DefKind) -> dict[str, str]:
        """Name → the first file defining it so (a non-static function of a C file)."""
        out: dict[str, str] = {}
        for n, defs in self.entries.items():
            for d in defs:
                if d.kind == kind:
                    out[n] = d.path
                    break
        return out
