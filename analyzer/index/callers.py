"""Which C files of the tree call a name: the callers index.

A function's call sites are where the locks it needs are held or not. The index records, for
every C file of the engine's ``caller_dirs`` (recursive), the names it writes in call
position (``name(``), read by a regular expression: it says where a call may be, and the
analysis of that file says what the call site holds. Each file's names are cached under the
file's identity (the blob id, or for a work tree its size, mtime and inode, as git's index
does), and the whole index under the digest of all of them, so a warm run reads one entry.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

CALLERS_VERSION = "3"  # 3: definitions read apart (their own folders, their own entries)

_CALL = re.compile(rb"\b([A-Za-z_]\w*)\s*\(")
_NOT_CALLS = frozenset((b"if", b"while", b"for", b"switch", b"return", b"sizeof", b"typeof",
                        b"__typeof__", b"defined", b"do", b"case", b"else", b"__attribute__",
                        b"asm", b"__asm__", b"alignof", b"_Alignof", b"__builtin_expect"))


def called_names(data: bytes) -> tuple[str, ...]:
    """The names a file writes in call position, sorted, once each."""
    return tuple(sorted(n.decode("ascii", "replace") for n in set(_CALL.findall(data))
                        if n not in _NOT_CALLS))


@dataclass(frozen=True)
class CallerIndex:
    """Name → the C files that call it (path order)."""

    files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    scope: tuple[str, ...] = ()  # the folders indexed
    digest: str = ""

    @classmethod
    def build(cls, per_file: Iterable[tuple[str, tuple[str, ...]]], scope: tuple[str, ...],
              digest: str) -> CallerIndex:
        return cls(_inverted(per_file), scope, digest)

    def calling(self, name: str) -> tuple[str, ...]:
        return self.files.get(name, ())

    def covers(self, path: str) -> bool:
        return any(path == d or path.startswith(d.rstrip("/") + "/") for d in self.scope)


@dataclass(frozen=True)
class TreeDefinitions:
    """Name → the C files of the engine's ``definition_dirs`` that define it, not static
    (path order): where a call of another file's function may go, tree-wide (the
    definitions index of :mod:`analyzer.index.definitions` covers only ``summary_dirs``)."""

    files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    digest: str = ""

    @classmethod
    def build(cls, per_file: Iterable[tuple[str, tuple[str, ...]]],
              digest: str) -> TreeDefinitions:
        return cls(_inverted(per_file), digest)

    def get(self, name: str) -> tuple[str, ...]:
        return self.files.get(name, ())


def _inverted(per_file: Iterable[tuple[str, tuple[str, ...]]]) -> dict[str, tuple[str, ...]]:
    """Per file its names → per name its files (path order)."""
    out: dict[str, list[str]] = {}
    for path, names in sorted(per_file):
        for n in names:
            out.setdefault(n, []).append(path)
    return {n: tuple(v) for n, v in out.items()}


def digest_of(identities: Iterable[tuple[str, str]]) -> str:
    h = hashlib.sha1(CALLERS_VERSION.encode())
    for path, ident in identities:
        h.update(f"{path}\0{ident}\n".encode())
    return h.hexdigest()
