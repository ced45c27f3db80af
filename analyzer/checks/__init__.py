"""Rule registry: one module per rule (or per family of rules sharing one pass), each
exposing ``RULE`` or ``RULES`` (ids) and ``check(ctx) -> Iterable[Finding]``. A check reads a
solved function (CFG, lock states, event replay) through ``CheckContext`` and never prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from importlib import import_module

from ..driver.project import FileAnalysis, FunctionAnalysis
from ..model.lockmodel import LockModel
from ..locks.dataflow import Event

# one line per rule: module name under analyzer.checks
RULE_MODULES: tuple[str, ...] = (
    "lock_dropped_in_loop",
    "protected_access",
    "reclaim_under_lock",
    "lock_imbalance",
    "double_lock",
    "lock_order",
)


@dataclass
class CheckContext:
    file: FileAnalysis
    fa: FunctionAnalysis
    model: LockModel

    @property
    def path(self) -> str:
        return self.file.path

    @cached_property
    def events(self) -> list[Event]:
        return self.fa.result.replay()


def load_checks():
    return [import_module(f"{__name__}.{m}") for m in RULE_MODULES]


def ids_of(module) -> tuple[str, ...]:
    return tuple(getattr(module, "RULES", None) or (module.RULE,))


def rule_ids() -> list[str]:
    return [r for m in load_checks() for r in ids_of(m)]


def run_checks(file: FileAnalysis, model: LockModel, only: set[str] | None = None):
    findings = []
    checks = [c for c in load_checks() if only is None or set(ids_of(c)) & only]
    for fa in file.functions:
        ctx = CheckContext(file, fa, model)
        for c in checks:
            findings.extend(f for f in c.check(ctx) if only is None or f.rule in only)
    return findings
