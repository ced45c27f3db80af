"""The lock model: locking primitives, guards, fallback wrappers and lock classes, read from
``rules/*.toml``. The engine knows no kernel function by name; everything lives in this data.

Summaries derived from function bodies (``summaries.py``) take precedence over the fallback
wrappers here: the tree being analysed is the authority on what its own helpers do.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import InputError


@dataclass(frozen=True, slots=True)
class Primitive:
    name: str
    action: str  # acquire | release | trylock | assert | downgrade
    mode: str  # read | write | any | none
    kind: str = "lock"  # rwsem | mutex | spinlock | rwlock
    success: str = "nonzero"  # trylock: which return value means acquired
    arg: int = 0


@dataclass(frozen=True, slots=True)
class Wrapper:
    """A fallback summary: ``anon_vma_lock_write(x)`` → acquire write ``x->root->rwsem``."""

    name: str
    action: str  # acquire | release | trylock | assert | downgrade | acquire_or_null
    mode: str
    lock: str  # template over {0}, {1}, … and {ret}


@dataclass(frozen=True, slots=True)
class LockClass:
    name: str
    struct: str
    field: str
    reclaim: bool = False
    order: tuple[str, ...] = ()


@dataclass(frozen=True)
class LockModel:
    primitives: dict[str, Primitive]
    guards: dict[str, tuple[str, str]]
    wrappers: dict[str, Wrapper]
    classes: tuple[LockClass, ...]
    structs: dict[str, dict[str, str]]
    transparent: frozenset[str]
    digest: str = ""
    assertions: frozenset[str] = frozenset()
    extra: dict = field(default_factory=dict, compare=False)  # other rules/*.toml tables

    # ------------------------------------------------------------------ lookups
    def primitive(self, name: str | None) -> Primitive | None:
        return self.primitives.get(name) if name else None

    def guard(self, cls: str) -> tuple[Primitive, Primitive] | None:
        pair = self.guards.get(cls)
        if pair is None:
            return None
        return self.primitives[pair[0]], self.primitives[pair[1]]

    def class_named(self, struct: str | None, field_name: str) -> str:
        """The class of lock field ``field_name`` of ``struct`` (struct may be unknown)."""
        if struct:
            for c in self.classes:
                if c.struct == struct and c.field == field_name:
                    return c.name
            return f"{struct}.{field_name}"
        matches = [c for c in self.classes if c.field == field_name]
        if len(matches) == 1:
            return matches[0].name
        return f"?.{field_name}"

    def lock_class(self, name: str) -> LockClass | None:
        for c in self.classes:
            if c.name == name:
                return c
        return None


def default_rules_dir() -> Path:
    """rules/ as installed (package ``analyzer.rules``) or next to analyzer/ in a checkout."""
    try:
        return Path(str(resources.files("analyzer.rules")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "rules"


def load(rules_dir: Path | None = None) -> LockModel:
    rules_dir = rules_dir or default_rules_dir()
    if not rules_dir.is_dir():
        raise InputError(f"rules folder not found: {rules_dir}")
    tables: dict[str, dict] = {}
    h = hashlib.sha1()
    for p in sorted(rules_dir.glob("*.toml")):
        raw = p.read_bytes()
        h.update(p.name.encode() + b"\0" + raw)
        try:
            tables[p.stem] = tomllib.loads(raw.decode())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{p}: invalid TOML: {e}") from None
    locks = tables.get("locks")
    if locks is None:
        raise InputError(f"{rules_dir}: locks.toml missing")
    prims: dict[str, Primitive] = {}
    for entry in locks.get("primitive", []):
        for n in entry["names"]:
            prims[n] = Primitive(n, entry["action"], entry.get("mode", "write"),
                                 entry.get("kind", "lock"), entry.get("success", "nonzero"),
                                 entry.get("arg", 0))
    guards: dict[str, tuple[str, str]] = {}
    for entry in locks.get("guard", []):
        for n in entry["names"]:
            guards[n] = (entry["acquire"], entry["release"])
    wrappers = {w["name"]: Wrapper(w["name"], w["action"], w.get("mode", "write"), w["lock"])
                for w in locks.get("wrapper", [])}
    classes = tuple(LockClass(c["name"], c["struct"], c["field"], c.get("reclaim", False),
                              tuple(c.get("order", ()))) for c in locks.get("class", []))
    structs = {k: dict(v) for k, v in locks.get("structs", {}).items()}
    extra = {k: v for k, v in tables.items() if k != "locks"}
    return LockModel(prims, guards, wrappers, classes, structs,
                     frozenset(locks.get("transparent", ())), h.hexdigest(),
                     frozenset(locks.get("assertions", ())), extra)
