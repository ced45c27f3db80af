"""Findings: what a check reports, as data. Identified by a fingerprint that survives line
shifts (rule + function + normalised lock/object expressions + ordinal), never by message text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

SEVERITIES = ("note", "warning", "error")


def severity_rank(s: str) -> int:
    return SEVERITIES.index(s)


@dataclass(frozen=True, slots=True)
class Related:
    path: str
    line: int
    message: str


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # error | warning | note
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
            "related": [{"path": r.path, "line": r.line, "message": r.message}
                        for r in self.related],
            "fingerprint": self.fingerprint,
            "justification": self.justification,
        }

    @classmethod
    def from_json(cls, d: dict) -> "Finding":
        return cls(d["rule"], d["severity"], d["path"], d["function"], d["line"],
                   d["end_line"], d["message"], tuple(d.get("locks", ())),
                   tuple(Related(r["path"], r["line"], r["message"])
                         for r in d.get("related", ())),
                   d.get("fingerprint", ""), d.get("justification"))


def fingerprint_all(findings: list[Finding]) -> list[Finding]:
    """Give each finding a fingerprint from its key, numbering equal keys in line order."""
    seen: dict[tuple, int] = {}
    out = []
    for f in sorted(findings, key=lambda f: (f.path, f.line, f.end_line, f.rule)):
        base = (f.rule, f.path, f.function) + tuple(f.key or f.locks)
        n = seen.get(base, 0)
        seen[base] = n + 1
        h = hashlib.sha1("\0".join(base + (str(n),)).encode()).hexdigest()[:20]
        out.append(replace(f, fingerprint=h))
    return out
