"""The results of the kernel's userland unit tests as plain values: what reports format.

:mod:`analyzer.unittests.runner` builds and runs the suites; what it finds is returned as
the values below, and :mod:`analyzer.report.unittests` formats them. This module runs
nothing and imports nothing that does (a test holds it to that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

SCHEMA = "rmaplint-unittest/1"


class UnitStatus(StrEnum):
    """How one suite ended."""

    PASSED = "passed"  # built and ran, every test passed (with counts)
    TESTS_FAILED = "tests-failed"  # built; some tests failed
    BUILD_FAILED = "build-failed"  # the build stopped (the first error and file:line)
    MISSING_DEPENDENCY = "missing-dependency"  # a header, library or program is missing
    NOT_PRESENT = "not-present"  # the tree has no such suite (an older kernel)
    TIMED_OUT = "timed-out"  # the build or the run took longer than its timeout

    @property
    def ok(self) -> bool:
        """Not a failure of the tree (exit code 0)."""
        return self in OK_STATUSES


STATUSES = tuple(UnitStatus)
#: statuses that are not a failure of the tree (exit code 0)
OK_STATUSES = (UnitStatus.PASSED, UnitStatus.NOT_PRESENT)


class PrepareMethod(StrEnum):
    """Where the suites were built."""

    IN_PLACE = "in-place"
    WORKTREE = "worktree"  # a temporary git worktree at a revision
    HARDLINK = "hardlink"  # a temporary copy, hard links (tools/ copied)
    COPY = "copy"  # a temporary copy
    NONE = "none"  # nothing built

    @property
    def temporary(self) -> bool:
        return self in (PrepareMethod.HARDLINK, PrepareMethod.COPY, PrepareMethod.WORKTREE)


@dataclass
class Failure:
    """One failing test, or (as ``first_error``) the first error of a build."""

    test: str | None
    message: str
    location: str | None = None  # tree-relative "path:line" where known

    def to_json(self) -> dict:
        return {"test": self.test, "message": self.message, "location": self.location}


@dataclass
class SuiteResult:
    suite: str
    status: UnitStatus
    tests_run: int | None = None
    passed: int | None = None
    failed: int | None = None
    failures: list[Failure] = field(default_factory=list)
    first_error: Failure | None = None
    package: str | None = None  # missing-dependency: the Debian package to install
    detail: str = ""  # one line: why this status (timeouts, missing things, crashes)
    build_log: Path | None = None
    run_log: Path | None = None
    build_seconds: float | None = None
    run_seconds: float | None = None

    @property
    def log(self) -> Path | None:
        """The log that tells about the status: the run's once the suite has run."""
        return self.run_log if self.run_log is not None else self.build_log

    def to_json(self) -> dict:
        return {"suite": self.suite, "status": self.status, "tests_run": self.tests_run,
                "passed": self.passed, "failed": self.failed,
                "failures": [f.to_json() for f in self.failures],
                "first_error": self.first_error.to_json() if self.first_error else None,
                "log": str(self.log) if self.log else None,
                "package": self.package, "detail": self.detail,
                "logs": {"build": str(self.build_log) if self.build_log else None,
                         "run": str(self.run_log) if self.run_log else None},
                "seconds": {"build": _round(self.build_seconds),
                            "run": _round(self.run_seconds)}}


@dataclass
class Prepared:
    """How the tree was made ready to build: where, how, and what it cost."""

    method: PrepareMethod
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"method": self.method, "seconds": _round(self.seconds)}


@dataclass
class UnittestRun:
    tree: str
    rev: str | None
    suites: list[SuiteResult]
    prepared: Prepared

    def to_json(self) -> dict:
        return {"schema": SCHEMA, "tree": self.tree, "rev": self.rev,
                "prepared": self.prepared.to_json(),
                "suites": [s.to_json() for s in self.suites]}

    @property
    def ok(self) -> bool:
        return all(s.status in OK_STATUSES for s in self.suites)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)
