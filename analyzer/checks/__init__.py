"""Rule registry: one module per rule, each exposing ``RULE`` (its id) and
``check(ctx) -> Iterable[Finding]``. A check reads a solved function (CFG, lock states, event
replay) through ``CheckContext`` and never prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from importlib import import_module

from ..engine import FileAnalysis, FunctionAnalysis
from ..lockmodel import LockModel
from ..lockstate import Event

# one line per rule: module name under analyzer.checks
RULE_MODULES: tuple[str, ...] = ()


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


def rule_ids() -> list[str]:
    return [m.RULE for m in load_checks()]


def run_checks(file: FileAnalysis, model: LockModel, only: set[str] | None = None):
    findings = []
    checks = [c for c in load_checks() if only is None or c.RULE in only]
    for fa in file.functions:
        ctx = CheckContext(file, fa, model)
        for c in checks:
            findings.extend(c.check(ctx))
    return findings
