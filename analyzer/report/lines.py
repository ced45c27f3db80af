"""One finding, one way, in every text report (check, review, history, hooks, b4 details).

The line is what gcc and sparse print, so every editor and CI log parser reads it::

    mm/rmap.c:295:3: warning: anon_vma->root->rwsem is dropped ... [lock-dropped-in-loop]
      mm/rmap.c:302:4: note: the region ends here
      mm/rmap.c:280:2: note: loop starts here

The region's end, the related locations and a justification are indented ``note:`` lines of
the same shape. ``--terse`` gives checkpatch's one-line form instead
(``FILE:LINE: SEVERITY:RULE: message``, SEVERITY one of ERROR, WARNING, CHECK), which b4's
``prep``/``am`` per-patch check commands read.

Paths are printed as git prints them: relative to the current directory when it is inside
the tree (``rmap.c`` from ``mm/``, ``../include/linux/rmap.h``), else relative to the top of
the tree. Machine formats (JSON, SARIF) always keep the tree-relative path.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ..findings.finding import Finding, Severity

TERSE_SEVERITY = {Severity.ERROR: "ERROR", Severity.WARNING: "WARNING", Severity.NOTE: "CHECK"}


@dataclass(frozen=True)
class PathStyle:
    """Tree-relative paths → what the user sees. ``prefix``: the current directory's path
    inside the tree ("" at the top, None when outside it)."""

    prefix: str | None = None

    @classmethod
    def for_tree(cls, root: Path | str | None, cwd: Path | str | None = None) -> PathStyle:
        if root is None:
            return cls(None)
        cwd = Path(cwd) if cwd is not None else Path.cwd()
        try:
            rel = os.path.relpath(os.path.realpath(cwd), os.path.realpath(root))
        except ValueError:
            return cls(None)
        if rel == ".":
            return cls("")
        if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
            return cls(None)
        return cls(rel.replace(os.sep, "/"))

    def show(self, path: str) -> str:
        if not self.prefix or path.startswith("/"):
            return path
        return os.path.relpath(path, self.prefix).replace(os.sep, "/")


PLAIN = PathStyle(None)


def finding_lines(f: Finding, paths: PathStyle = PLAIN, lead: str = "",
                  suffix: str = "") -> list[str]:
    """The finding's line and its indented notes. ``lead`` goes before the message
    (``"new: "``), ``suffix`` after it, before the rule id."""
    p = paths.show(f.path)
    out = [f"{p}:{f.line}:{f.column}: {f.severity}: {lead}{f.message}{suffix} [{f.rule}]"]
    if f.end_line != f.line:
        out.append(f"  {p}:{f.end_line}:{_end_col(f)}: note: the region ends here")
    for r in f.related:
        out.append(f"  {paths.show(r.path)}:{r.line}:{r.column}: note: {r.message}")
    if f.justification:
        out.append(f"  {p}:{f.line}:{f.column}: note: justified: {f.justification}")
    return out


def _end_col(f: Finding) -> int:
    # the column of the region's last character (end_column is one past it)
    return max(1, f.end_column - 1) if f.end_column else 1


def finding_text(f: Finding, paths: PathStyle = PLAIN, lead: str = "") -> str:
    return "\n".join(finding_lines(f, paths, lead))


def terse_line(f: Finding, paths: PathStyle = PLAIN) -> str:
    """checkpatch's ``--terse --show-types`` form: ``FILE:LINE: WARNING:rule-id: message``."""
    just = f" (justified: {f.justification})" if f.justification else ""
    return (f"{paths.show(f.path)}:{f.line}: {TERSE_SEVERITY.get(f.severity, 'WARNING')}:"
            f"{f.rule}: {f.message}{just}")


# --------------------------------------------------------------------------- colour

# basic ANSI colours only (bold + one of the 8), so a finding is readable on a light or a
# dark background and on an 8-colour terminal: gcc's choice of colours, no background
_SGR = {"error": "1;31", "warning": "1;35", "note": "1;36", "ERROR": "1;31",
        "WARNING": "1;35", "CHECK": "1;36"}
_LINE = re.compile(r"^(\s*)(\S.*?:\d+(?::\d+)?:)( )(error|warning|note|ERROR|WARNING|CHECK)"
                   r"(:)(.*?)( \[[\w-]+\])?$")


def colorize(text: str) -> str:
    """Colour the finding lines of a text report (location bold, severity in its colour)."""
    out = []
    for line in text.split("\n"):
        m = _LINE.match(line)
        if not m:
            out.append(line)
            continue
        ind, loc, sp, sev, colon, rest, rule = m.groups()
        out.append(f"{ind}\x1b[1m{loc}\x1b[0m{sp}\x1b[{_SGR[sev]}m{sev}{colon}\x1b[0m{rest}"
                   + (f"\x1b[2m{rule}\x1b[0m" if rule else ""))
    return "\n".join(out)


def color_wanted(choice: str | None, stream=None) -> bool:
    """``--color`` auto|always|never; under auto, ``NO_COLOR`` turns colour off and
    ``FORCE_COLOR`` on (https://no-color.org, https://force-color.org), else a terminal
    that is not ``TERM=dumb`` gets colour."""
    choice = choice or "auto"
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = stream if stream is not None else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and os.environ.get("TERM", "") != "dumb"
