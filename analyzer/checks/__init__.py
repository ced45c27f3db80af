"""Rule registry: one module per rule, one line per rule below. A rule module exposes
``RULE`` (a :class:`~analyzer.checks.common.Rule`: its id and message formats) and
``check(ctx) -> Iterable[Finding]`` (a rule over the whole file also ``check_file(file,
model)``); it reads a solved function (CFG, lock states, events)
through :class:`~analyzer.checks.common.CheckContext` and never prints.
"""

from __future__ import annotations

from importlib import import_module

from ..findings.finding import Finding
from ..locks.result import FileAnalysis
from ..model.lockmodel import LockModel
from .common import CheckContext

# one line per rule: module name under analyzer.checks
RULE_MODULES: tuple[str, ...] = (
    "lock_dropped_in_loop",
    "walk_unlocked",
    "modify_unlocked",
    "root_assumed_shared",
    "reclaim_under_lock",
    "sleep_in_atomic",
    "lock_imbalance",
    "double_lock",
    "unlock_unheld",
    "lock_order",
    "unguarded_access",
    "caller_lacks_lock",
    "irq_enable_under_lock",
    "used_after_unlock",
)


def load_checks():
    return [import_module(f"{__name__}.{m}") for m in RULE_MODULES]


def rule_ids() -> list[str]:
    return [m.RULE.id for m in load_checks()]


def rule_kinds() -> dict[str, tuple[str, ...]]:
    """Each rule's kinds of finding (what a fixture may name as ``rule[kind]``)."""
    return {m.RULE.id: tuple(m.RULE.messages) for m in load_checks()}


def run_checks(file: FileAnalysis, model: LockModel,
               only: set[str] | None = None) -> list[Finding]:
    findings: list[Finding] = []
    checks = [c for c in load_checks() if only is None or c.RULE.id in only]
    for fn in file.functions:
        ctx = CheckContext(file, fn, model)
        for c in checks:
            findings.extend(c.check(ctx))
    for c in checks:  # rules over the whole file (its accesses counted together)
        if hasattr(c, "check_file"):
            findings.extend(c.check_file(file, model))
    return findings
