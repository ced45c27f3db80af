"""Findings: what a check reports, as data. Identified by a fingerprint that survives line
shifts, never by message text: see :mod:`analyzer.findings.fingerprint` (rule + function +
locks + the whitespace-folded text of the region).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import StrEnum


class Severity(StrEnum):
    NOTE = "note"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self)


SEVERITIES = (Severity.NOTE, Severity.WARNING, Severity.ERROR)


def severity_rank(s: str) -> int:
    return SEVERITIES.index(Severity(s))


@dataclass(frozen=True, slots=True)
class Related:
    path: str
    line: int
    message: str
    column: int = 1


@dataclass(frozen=True)
class Finding:
    """One finding: a rule, its per-rule *kind* (``modify-unlocked[no-lock-known]``) and the
    arguments of that kind's message format; ``message`` is the format rendered. Tests and
    fixtures compare the rule and kind, never the text."""

    rule: str
    severity: Severity
    path: str
    function: str
    line: int
    end_line: int
    message: str
    locks: tuple[str, ...] = ()
    related: tuple[Related, ...] = ()
    fingerprint: str = ""
    justification: str | None = None
    context: str | None = None  # a plain comment in the region that explains it
    key: tuple[str, ...] = field(default=(), compare=False)  # what the fingerprint hashes
    column: int = 1  # 1-based column (characters) of the region's first line
    end_column: int = 0  # 1-based column just past the region's end on end_line; 0: unknown
    kind: str = ""  # the rule's kind of finding (a key of its MESSAGES)
    args: tuple[tuple[str, str], ...] = ()  # the kind's message arguments
    # a lock the function needs from its callers for this finding to be decided (a
    # :class:`~analyzer.locks.calls.Need`): judged at the call sites by analyzer.driver.context
    needs: object = field(default=None, compare=False, repr=False)

    @property
    def qualified_rule(self) -> str:
        """``rule[kind]``, as fixtures annotate it."""
        return f"{self.rule}[{self.kind}]" if self.kind else self.rule

    def to_json(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "path": self.path,
            "function": self.function,
            "line": self.line,
            "end_line": self.end_line,
            "message": self.message,
            "locks": list(self.locks),
            "related": [{"path": r.path, "line": r.line, "column": r.column,
                         "message": r.message} for r in self.related],
            "fingerprint": self.fingerprint,
            "justification": self.justification,
            "column": self.column,
            "end_column": self.end_column,
            "kind": self.kind,
            "args": dict(self.args),
        }

    @classmethod
    def from_json(cls, d: dict) -> Finding:
        return cls(d["rule"], Severity(d["severity"]), d["path"], d["function"], d["line"],
                   d["end_line"], d["message"], tuple(d.get("locks", ())),
                   tuple(Related(r["path"], r["line"], r["message"], int(r.get("column", 1)))
                         for r in d.get("related", ())),
                   d.get("fingerprint", ""), d.get("justification"),
                   column=int(d.get("column", 1) or 1),
                   end_column=int(d.get("end_column", 0) or 0),
                   kind=d.get("kind", ""), args=tuple(sorted(d.get("args", {}).items())))


def fingerprint_all(findings: list[Finding]) -> list[Finding]:
    """The former, ordinal fingerprint (rule, path, function, key, n-th of that key): kept for
    callers without the file's text. :func:`analyzer.findings.fingerprint.fingerprint_file`
    is what the driver uses."""
    seen: dict[tuple, int] = {}
    out = []
    for f in sorted(findings, key=lambda f: (f.path, f.line, f.end_line, f.rule)):
        base = (f.rule, f.path, f.function) + tuple(f.key or f.locks)
        n = seen.get(base, 0)
        seen[base] = n + 1
        h = hashlib.sha1("\0".join(base + (str(n),)).encode()).hexdigest()[:20]
        out.append(replace(f, fingerprint=h))
    return out


# --------------------------------------------------------------------------- baselines

BASELINE_SCHEMA = "rmaplint-baseline/1"


def write_baseline(path, findings: list[Finding]) -> None:
    """Record findings by fingerprint (with rule, path and function for a reader)."""
    import json
    from pathlib import Path

    doc = {"schema": BASELINE_SCHEMA,
           "findings": sorted(({"fingerprint": f.fingerprint, "rule": f.rule, "path": f.path,
                                "function": f.function} for f in findings),
                              key=lambda d: (d["path"], d["function"], d["rule"],
                                             d["fingerprint"]))}
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")


def read_baseline(path) -> frozenset[str]:
    """The fingerprints of a baseline file; InputError when it is not one."""
    import json
    from pathlib import Path

    from ..errors import InputError

    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"baseline {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"baseline {path}: not a baseline file ({e})") from None
    if not isinstance(doc, dict) or doc.get("schema") != BASELINE_SCHEMA:
        raise InputError(f"baseline {path}: not a {BASELINE_SCHEMA} file")
    return frozenset(d["fingerprint"] for d in doc.get("findings", []) if "fingerprint" in d)
