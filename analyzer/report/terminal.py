"""The terminal view of a check: findings grouped by file and function, each flagged region
shown with a few lines of context and line numbers, then one line per rule.

Used when the output is a terminal; piped, or with ``--plain``, ``check`` prints the plain
``path:line: severity: rule: message`` lines of ``report.text`` instead (what editors, CI
logs and grep read).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from ..findings.finding import SEVERITIES, Finding, Severity, severity_rank
from ..locks.result import FileStatus
from .text import finding_line  # noqa: F401 - re-exported

CONTEXT = 2  # lines shown before and after a region
MAX_REGION = 12  # a longer region shows its first and last lines only
_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow",
          Severity.NOTE: "bold blue"}
# no background colours: a dark one under the terminal's own (dark) text is unreadable on
# a light terminal, and an 8-colour terminal turns it into black on black. The region is
# marked by the gutter bar in the severity's colour and bold line numbers instead.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(s: str) -> str:
    s = _SURROGATE.sub("\ufffd", s.rstrip("\r"))
    return "".join(c if c == "\t" or ord(c) >= 32 else "\ufffd" for c in s)


def _excerpt(lines: list[str], f: Finding) -> list[int | None]:
    """Line numbers to show for a finding (None: lines left out)."""
    lo = max(1, f.line - CONTEXT)
    hi = min(len(lines), f.end_line + CONTEXT)
    if f.end_line - f.line + 1 <= MAX_REGION:
        return list(range(lo, hi + 1))
    half = MAX_REGION // 2
    return list(range(lo, f.line + half)) + [None] + \
        list(range(f.end_line - half + 1, hi + 1))


def _region_text(lines: list[str], f: Finding, width: int):
    from rich.text import Text

    shown = _excerpt(lines, f)
    numw = len(str(max((n for n in shown if n), default=1)))
    out = Text()
    for n in shown:
        if n is None:
            out.append(" " * (numw + 4) + "\u22ee\n", style="dim")
            continue
        inside = f.line <= n <= f.end_line
        src = _clean(lines[n - 1]).expandtabs(8) if 0 < n <= len(lines) else ""
        if width > numw + 8 and len(src) > width - numw - 8:
            src = src[:width - numw - 9] + "\u2026"
        out.append("  \u258c " if inside else "    ", style=_STYLE[f.severity] if inside else "")
        out.append(f"{n:>{numw}} ", style="bold" if inside else "dim")
        out.append("\u2502 ", style="dim")
        out.append(src, style="" if inside else "dim")
        out.append("\n")
    return out


def check_rich(run, read: Callable[[str], str | None], width: int | None = None,
               color_system: Literal["auto", "standard", "256", "truecolor", "windows"] | None
               = "auto") -> str:
    """The rich view as a string with the terminal's escape sequences (none with
    ``color_system=None``). ``read(path)`` gives a file's text (None when unreadable)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.padding import Padding
    from rich.text import Text

    from .sarif import rule_doc

    console = Console(force_terminal=color_system is not None, color_system=color_system,
                      width=width, highlight=False, emoji=False, soft_wrap=False)
    w = console.width
    with console.capture() as cap:
        for r in run.reports:
            if r.status == FileStatus.ERROR:
                console.print(Text(f"{r.path}: error: {r.error}", style="bold red"))
        for r in sorted((r for r in run.reports if r.findings), key=lambda r: r.path):
            try:
                text = read(r.path)
            except Exception:  # noqa: BLE001 - the findings are shown without their source
                text = None
            lines = text.split("\n") if text is not None else []
            worst = max(r.findings, key=lambda f: severity_rank(f.severity)).severity
            console.print()
            console.rule(Text.assemble((r.path, "bold"), f"  {len(r.findings)} finding(s)"),
                         align="left", style=_STYLE[worst].split()[-1])
            by_fn: dict[str, list[Finding]] = {}
            for f in sorted(r.findings, key=lambda f: (f.line, f.end_line, f.rule)):
                by_fn.setdefault(f.function, []).append(f)
            spans = {name: (a, b) for name, a, b in r.spans}
            for fn, fs in by_fn.items():
                where = f"lines {spans[fn][0]}-{spans[fn][1]}" if fn in spans else ""
                console.print(Text.assemble("  ", (f"{fn}()", "bold cyan"), "  ",
                                            (where, "dim")))
                for f in fs:
                    region = f"{f.line}" if f.line == f.end_line else f"{f.line}-{f.end_line}"
                    head = Text.assemble("    ", (f.severity, _STYLE[f.severity]), " ",
                                         (f.rule, "bold"), " ", (f"{r.path}:{region}", "dim"))
                    if f.justification:
                        head.append("  justified", style="green")
                    console.print(head)
                    console.print(Padding(Text(f.message), (0, 0, 0, 6), expand=False))
                    if lines:
                        console.print(_region_text(lines, f, w), end="")
                    for rel in f.related:
                        console.print(Text(f"      note: {rel.path}:{rel.line}: {rel.message}",
                                           style="blue"))
                    if f.justification:
                        console.print(Text(f"      justified: {f.justification}",
                                           style="green"))
        console.print()
        by_rule: dict[str, list[Finding]] = {}
        for f in run.findings:
            by_rule.setdefault(f.rule, []).append(f)
        if by_rule:
            console.print(Text("Summary per rule", style="bold"))
            rw = max(len(k) for k in by_rule)
            for rule, fs in sorted(by_rule.items(), key=lambda kv: (-len(kv[1]), kv[0])):
                sev = {s: sum(f.severity == s for f in fs) for s in reversed(SEVERITIES)}
                counts = ", ".join(f"{n} {s}" for s, n in sev.items() if n)
                summary = rule_doc(rule).summary
                line = Text.assemble("  ", (f"{rule:<{rw}}", "bold"), f" {len(fs):>4}  ",
                                     (f"({counts})", "dim"), "  ", summary)
                line.truncate(w, overflow="ellipsis")
                console.print(line, no_wrap=True)
        s = run.summary()
        console.print(escape(
            f"rmaplint: {s['files']} files ({s['files_ok']} ok, {s['files_degraded']} degraded, "
            f"{s['files_error']} error), {s['functions']} functions, "
            f"{s['findings']} findings in {s['seconds']:.1f}s"
            + (f" ({s['cache_hits']} files from cache)" if s["cache_hits"] else "")
            + (f", {s['baselined']} silenced by the baseline" if s.get("baselined") else "")),
            style="dim")
    return cap.get()


__all__ = ["check_rich", "finding_line"]
