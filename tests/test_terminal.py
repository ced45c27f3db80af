"""The terminal output of ``check``: rich and grouped on a terminal (findings by file and
function, each region with context and line numbers, one line per rule), plain
``path:line: severity: rule: message`` when piped or with ``--plain``.

The terminal is a real pseudo-terminal (``pty``) for the CLI runs.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.driver.run import SourceSpec, check_paths

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = REPO_ROOT / "corpus"
DROP = "rules/lock-dropped-in-loop.c"
WALK = "rules/walk-unlocked.c"
PLAIN = re.compile(r"^(\S+):(\d+):(\d+): (error|warning|note): .+ \[([\w-]+)\]$")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def run():
    spec = SourceSpec(str(CORPUS), None, None, None, None)
    return spec, check_paths(spec, [DROP, WALK])


def rich_text(run, color=None, width=100) -> str:
    from analyzer.report.terminal import check_rich

    spec, r = run
    with spec.open() as src:
        return check_rich(r, lambda p: src.read(p).text, width=width, color_system=color)


def test_grouped_by_file_then_function(run):
    out = rich_text(run)
    lines = out.splitlines()
    heads = [i for i, ln in enumerate(lines) if re.match(r"^\S+\.c  \d+ finding\(s\) ", ln)]
    assert [lines[i].split()[0] for i in heads] == [DROP, WALK]
    # each function once, under its file, with its lines
    fn_heads = [ln.strip() for ln in lines if re.match(r"^  \w+\(\)  lines \d+-\d+$", ln)]
    names = [h.split("()")[0] for h in fn_heads]
    assert len(names) == len(set(names))
    assert "clone_with_helpers" in names and "count_after_unlock" in names
    assert names.index("clone_with_helpers") < names.index("count_after_unlock")


def test_region_with_context_and_line_numbers(run):
    _, r = run
    out = rich_text(run)
    src = (CORPUS / DROP).read_text().split("\n")
    f = next(f for f in r.findings if f.rule == "lock-dropped-in-loop"
             and f.function == "clone_with_helpers")
    block = out[out.index(f"{f.rule} {f.path}:{f.line}-{f.end_line}"):]
    w = len(str(f.end_line + 2))
    for n in range(f.line - 2, f.end_line + 3):
        marker = "\u258c" if f.line <= n <= f.end_line else " "
        text = src[n - 1].expandtabs(8)
        want = f"  {marker} {n:>{w}} \u2502 {text}".rstrip()
        assert want in [ln.rstrip() for ln in block.splitlines()], n
    assert f" {f.line - 3:>{w}} \u2502" not in block.split("note:")[0]  # 2 lines of context
    assert f"note: {f.related[0].path}:{f.related[0].line}: loop starts here" in block


def test_long_region_is_cut_in_the_middle(run):
    _, r = run
    out = rich_text(run)
    f = next(f for f in r.findings if f.end_line - f.line + 1 > 12)
    block = out[out.index(f"{f.rule} {f.path}:{f.line}-{f.end_line}"):]
    block = block[:block.index("note:")]
    assert "\u22ee" in block
    assert f"{f.line} \u2502" in block and f"{f.end_line} \u2502" in block


def test_one_summary_line_per_rule(run):
    _, r = run
    out = rich_text(run)
    summary = out[out.index("Summary per rule"):].splitlines()[1:]
    rules = {f.rule for f in r.findings}
    lines = [ln for ln in summary if ln.startswith("  ")]
    assert sorted(ln.split()[0] for ln in lines) == sorted(rules)
    for ln in lines:
        rule, count = ln.split()[:2]
        assert int(count) == sum(f.rule == rule for f in r.findings)
        assert len(ln) <= 100
    assert summary[-1].startswith("rmaplint: 2 files")


def test_justified_is_marked(run):
    out = rich_text(run)
    assert "justified: widgets are pinned by wl->users" in out
    assert re.search(r"warning lock-dropped-in-loop \S+:\d+-\d+  justified", out)


def test_colours_only_when_asked(run):
    assert not ANSI.search(rich_text(run))
    coloured = rich_text(run, color="standard")
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured).splitlines()[:5] == rich_text(run).splitlines()[:5]


# --------------------------------------------------------------------------- the CLI


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    e.update(PYTHONPATH=str(REPO_ROOT), COLUMNS="100", TERM="xterm")
    e.pop("NO_COLOR", None)
    return e


def cli_args(*extra: str) -> list[str]:
    return [sys.executable, "-m", "analyzer.cli", "check", "--repo", str(CORPUS), DROP, WALK,
            "--no-cache", "-q", *extra]


def on_a_terminal(args: list[str]) -> str:
    """Run with stdout on a pseudo-terminal; what it printed there."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdout=slave, stderr=subprocess.PIPE, env=env(),
                            cwd=REPO_ROOT)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    assert proc.returncode == 1, proc.stderr.read()
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def test_piped_output_is_plain():
    proc = subprocess.run(cli_args(), capture_output=True, env=env(), cwd=REPO_ROOT, timeout=120)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout.decode()
    assert not ANSI.search(out)
    lines = out.splitlines()
    findings = [ln for ln in lines if not ln.startswith(("  ", "rmaplint:"))]
    assert findings and all(PLAIN.match(ln) for ln in findings), findings
    assert lines[-1].startswith("rmaplint: 2 files")
    plain = subprocess.run(cli_args("--format", "text", "--plain"), capture_output=True,
                           env=env(), cwd=REPO_ROOT, timeout=120)
    assert re.sub(r"in \d+\.\ds", "", plain.stdout.decode()) == re.sub(r"in \d+\.\ds", "", out)


def test_terminal_gets_the_rich_view():
    out = on_a_terminal(cli_args())
    assert ANSI.search(out)
    text = ANSI.sub("", out)
    assert "Summary per rule" in text and "\u2502" in text
    assert re.search(r"^  clone_with_helpers\(\)  lines \d+-\d+", text, re.M)


def test_plain_on_a_terminal():
    coloured = on_a_terminal(cli_args("--plain"))  # gcc's colours on the severity only
    assert "\x1b[1;35mwarning:\x1b[0m" in coloured
    out = on_a_terminal(cli_args("--plain", "--color", "never"))
    assert not ANSI.search(out)
    timing = re.compile(r"in \d+\.\ds")
    assert timing.sub("", ANSI.sub("", coloured)) == timing.sub("", out)
    findings = [ln for ln in out.splitlines() if ln and not ln.startswith(("  ", "rmaplint:"))]
    assert findings and all(PLAIN.match(ln) for ln in findings), findings
