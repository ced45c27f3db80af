"""Reading a rules file into typed values: every key is known, every required key present.

A rules file is data a rule author edits by hand, so a typo must not silently drop findings:
``Table`` hands out the keys a loader asks for, and ``done()`` refuses whatever is left. Every
problem is an :class:`~analyzer.errors.InputError` naming the file, the table and the key, which
the command line prints as one line (exit status 2).
"""

from __future__ import annotations

import builtins
import tomllib
from enum import Enum
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from .errors import InputError

E = TypeVar("E", bound=Enum)
_MISSING = object()


def read_toml(path: Path) -> tuple[dict, bytes]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        return tomllib.loads(raw.decode()), raw
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: invalid TOML: {e}") from None


class Table:
    """One TOML table of a rules file; ``where`` names it in messages (``[[primitive]] 3``)."""

    def __init__(self, file: str, where: str, data: Any):
        self.file = file
        self.where = where
        if not isinstance(data, dict):
            self.fail(f"expected a table, got {type(data).__name__}")
        self.data = data
        self.used: set[str] = set()

    def fail(self, msg: str, key: str | None = None) -> NoReturn:
        at = f"{self.where}" + (f" key '{key}'" if key else "")
        raise InputError(f"{self.file}: {at.strip()}: {msg}")

    def _get(self, key: str, default: Any) -> Any:
        self.used.add(key)
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            self.fail("missing", key)
        return default

    def str(self, key: str, default: Any = _MISSING) -> str:
        v = self._get(key, default)
        if v is not default and not isinstance(v, str):
            self.fail(f"expected a string, got {v!r}", key)
        return v

    def int(self, key: builtins.str, default: Any = _MISSING) -> builtins.int:
        v = self._get(key, default)
        if v is not default and (not isinstance(v, int) or isinstance(v, bool)):
            self.fail(f"expected an integer, got {v!r}", key)
        return v

    def bool(self, key: builtins.str, default: Any = _MISSING) -> builtins.bool:
        v = self._get(key, default)
        if v is not default and not isinstance(v, bool):
            self.fail(f"expected true or false, got {v!r}", key)
        return v

    def number(self, key: builtins.str, default: Any = _MISSING) -> float:
        """An integer or a float (``1200`` or ``0.5``)."""
        v = self._get(key, default)
        if v is not default and (not isinstance(v, int | float) or isinstance(v, bool)):
            self.fail(f"expected a number, got {v!r}", key)
        return v

    def strs(self, key: builtins.str, default: Any = _MISSING) -> tuple[builtins.str, ...]:
        v = self._get(key, default)
        if v is default:
            return tuple(v) if v is not _MISSING else ()
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            self.fail(f"expected a list of strings, got {v!r}", key)
        return tuple(v)

    def enum(self, key: builtins.str, kind: type[E], default: Any = _MISSING) -> E:
        v = self._get(key, default)
        if v is default:
            return v
        try:
            return kind(v)
        except ValueError:
            allowed = " | ".join(m.value for m in kind)
            self.fail(f"{v!r} is not one of {allowed}", key)
            raise  # unreachable

    def table(self, key: builtins.str, default: Any = _MISSING) -> Table:
        v = self._get(key, default)
        if v is default and v is not _MISSING:
            v = {}
        return Table(self.file, f"{self.where} [{key}]".strip(), v)

    def tables(self, key: builtins.str) -> list[Table]:
        v = self._get(key, [])
        if not isinstance(v, list):
            self.fail("expected an array of tables", key)
        return [Table(self.file, f"[[{key}]] {i + 1}", x) for i, x in enumerate(v)]

    def mapping(self, key: builtins.str) -> dict[builtins.str, Any]:
        """A table whose keys are names the author chooses (not checked here)."""
        v = self._get(key, {})
        if not isinstance(v, dict):
            self.fail("expected a table", key)
        return dict(v)

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            self.fail(f"unknown key (known: {', '.join(sorted(self.used))})", unknown[0])
