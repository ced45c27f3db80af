"""Fingerprints from what a finding is about, not where it is or how many came before it.

A fingerprint hashes the rule, the function's name, the finding's key (its locks and the
object it is about, as the check gives them) and the **whitespace-folded source text of its
region** (lines ``line``..``end_line``). So:

- it survives line shifts and re-indentation (the region's text does not change);
- a new loop does not inherit an old loop's identity (its text differs), which an ordinal
  within the function would give it;
- it does not contain the path: a function moved to another file (mm/mmap.c → mm/vma.c)
  keeps its findings' fingerprints, so history and review can say "moved" instead of
  "removed" + "introduced".

Two findings with the same rule, function, key and region text in one file (two identical
loops) are told apart by their order among *those* findings only.

Columns are filled here too when the check left the defaults: the first non-blank column of
the first line, and the column past the last non-blank character of the last line.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from .finding import Finding

__all__ = ["region_text", "fingerprint", "fingerprint_file", "with_columns"]


def _lines(text: str) -> list[str]:
    return text.split("\n")  # only \n counts lines, as everywhere in the pipeline


def region_text(f: Finding, text: str) -> str:
    """The region's source text with every run of whitespace folded to one space."""
    lines = _lines(text)
    lo, hi = max(1, f.line), max(f.line, f.end_line)
    return " ".join(" ".join(lines[lo - 1:hi]).split())


def fingerprint(f: Finding, text: str, n: int = 0) -> str:
    """The fingerprint of ``f`` in a file whose text is ``text`` (``n``: its order among
    findings that hash alike in that file)."""
    parts = (f.rule, f.function, *(f.key or f.locks), "\1", region_text(f, text))
    if n:
        parts += (f"#{n}",)
    return hashlib.sha1("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:20]


def _first_column(lines: list[str], line: int) -> int:
    if 0 < line <= len(lines) and lines[line - 1].strip():
        s = lines[line - 1]
        return len(s) - len(s.lstrip()) + 1
    return 1


def with_columns(f: Finding, text: str) -> Finding:
    """``f`` with its columns taken from the source where the check left the defaults (and
    those of its related locations in the same file)."""
    lines = _lines(text)
    col, end = f.column, f.end_column
    if col == 1:
        col = _first_column(lines, f.line)
    if not end and 0 < f.end_line <= len(lines):
        last = lines[f.end_line - 1].rstrip()
        end = len(last) + 1 if last else 0
    related = tuple(replace(r, column=_first_column(lines, r.line))
                    if r.column == 1 and r.path == f.path else r for r in f.related)
    return replace(f, column=col, end_column=end, related=related)


def fingerprint_file(findings: list[Finding], text: str) -> list[Finding]:
    """The findings of one file, with fingerprints and columns, in line order."""
    seen: dict[str, int] = {}
    out = []
    for f in sorted(findings, key=lambda f: (f.path, f.line, f.end_line, f.rule)):
        base = fingerprint(f, text)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append(with_columns(replace(f, fingerprint=fingerprint(f, text, n) if n else base),
                                text))
    return out
