"""What a kernel developer expects of a linter, tried for real:

- every finding line of ``check mm/`` on Debian's 6.12 tree (and of the corpus) is read by
  Vim's default errorformat (``%f:%l:%c: %m``) and VS Code's ``$gcc`` problem matcher, and
  points at a real line and column;
- ``--terse`` is checkpatch's shape; b4-check --terse is what b4's prep/am checks read;
- the pre-commit framework (the real ``pre-commit`` from PyPI, offline, ``repo: local``)
  fails on a bug already committed when it passes file names, and reviews a range;
- ``--help`` has examples and exit codes, every option has a help text; ``rule`` prints a
  doc; ``explain`` suggests a near name and shows a function defined twice under #if;
  paths are relative to the current folder; ``--color``/``NO_COLOR``/``FORCE_COLOR``;
  ``cache prune``; the clang frontend says in one line how to get libclang.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.workflow.corpus import build_history

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = REPO_ROOT / "corpus"

# Vim's default 'errorformat' entry for gcc, as a regular expression: %f a file name, %l and
# %c numbers, %m the rest
VIM = re.compile(r"^(?P<f>[^:\s][^:]*):(?P<l>\d+):(?P<c>\d+): (?P<m>.+)$")
# VS Code's $gcc problem matcher (vscode-cpptools), verbatim
VSCODE = re.compile(r"^(.*?):(\d+):(\d*):?\s+(?:fatal\s+)?(warning|error|note):\s+(.*)$")
TERSE = re.compile(r"^(?P<f>[^:\s]+):(?P<l>\d+): (?P<s>ERROR|WARNING|CHECK):(?P<r>[a-z-]+): .+$")


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "PRE_COMMIT")) and k not in (
               "RMAPLINT_DEBUG", "NO_COLOR", "FORCE_COLOR")}
    env.update(PYTHONPATH=str(REPO_ROOT), HOME=str(home),
               XDG_CACHE_HOME=str(home / "xdg-cache"), GIT_CONFIG_NOSYSTEM="1",
               GIT_CONFIG_GLOBAL=os.devnull, GIT_CEILING_DIRECTORIES=str(home.parent),
               GIT_AUTHOR_NAME="T", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="T",
               GIT_COMMITTER_EMAIL="t@example.org", **extra)
    return env


def cli(home: Path, *args: str, cwd: Path | None = None, env: dict | None = None,
        input: bytes | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzer.cli", *args], cwd=cwd or home,
                          env={**clean_env(home), **(env or {})}, capture_output=True,
                          input=input, timeout=timeout)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


def finding_lines(text: str) -> list[str]:
    """The lines that are findings or their notes: everything but the summary and blanks."""
    return [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("rmaplint:")]


def assert_editor_lines(text: str, root: Path) -> int:
    """Every finding line parses with both editors' patterns and points into a real file."""
    lines = finding_lines(text)
    assert lines, text[:2000]
    heads = 0
    for ln in lines:
        v, c = VIM.match(ln.lstrip()), VSCODE.match(ln.lstrip())
        assert v and c, ln
        path, line, col = root / v["f"], int(v["l"]), int(v["c"])
        assert (c.group(1), c.group(2), c.group(3)) == (v["f"], v["l"], v["c"]), ln
        assert path.is_file(), ln
        src = path.read_bytes().decode("utf-8", "surrogateescape").split("\n")
        assert 1 <= line <= len(src), ln
        assert 1 <= col <= len(src[line - 1]) + 1, (ln, src[line - 1])
        if not ln.startswith(" "):
            heads += 1
            assert re.search(r" \[[a-z-]+\]$", ln), ln
            assert c.group(4) in ("error", "warning", "note")
            # the column is the first character of the code, not its indentation
            assert src[line - 1][col - 1:col].strip(), (ln, src[line - 1])
    return heads


@pytest.mark.kernel
def test_editor_formats_read_every_finding_of_check_mm(kernel_tree, kernel_mm_cache, home):
    # the session's mm/ cache (filled by the first check of mm/): what is under test is
    # the printing of every finding, not the analysis again
    cache = kernel_mm_cache
    proc = cli(home, "check", "mm", "--repo", str(kernel_tree), "-j", "2",
               "--cache-dir", str(cache), "-q")
    assert proc.returncode in (0, 1), proc.stderr.decode(errors="replace")
    out = proc.stdout.decode("utf-8", "surrogateescape")
    assert assert_editor_lines(out, kernel_tree) > 5
    terse = cli(home, "check", "mm", "--repo", str(kernel_tree), "-j", "2", "--terse",
                "--cache-dir", str(cache), "-q")
    lines = terse.stdout.decode("utf-8", "surrogateescape").splitlines()
    assert lines and all(TERSE.match(ln) for ln in lines), lines[:5]
    assert len(lines) == sum(1 for ln in finding_lines(out) if not ln.startswith(" "))


def test_editor_formats_read_every_finding_of_the_corpus(home, tmp_path):
    proc = cli(home, "check", "rules", "--repo", str(CORPUS), "--no-cache")
    assert proc.returncode == 1
    assert assert_editor_lines(proc.stdout.decode(), CORPUS) >= 10
    # review and history print the same lines (in the version of the file they name)
    corpus = build_history(tmp_path / "repo")
    subprocess.run(["git", "checkout", "-q", "series"], cwd=corpus.path, check=True)
    rv = cli(home, "review", "main..series", "--repo", str(corpus.path), "--no-cache")
    heads = [ln for ln in rv.stdout.decode().splitlines()
             if re.match(r"^\S+:\d+:\d+: ", ln)]
    assert heads and all(VIM.match(ln) and VSCODE.match(ln) for ln in heads)
    remaining = rv.stdout.decode().split("\nverdict: ")[1]
    assert_editor_lines("\n".join(ln for ln in remaining.splitlines()[1:]
                                  if ": transient: " not in ln), corpus.path)


# --------------------------------------------------------------------------- pre-commit


WORK_H = """\
struct work_item {
	struct list_head node;
	int val;
};

struct work_list {
	spinlock_t lock;
	struct list_head items;
};
"""

CLEAN = """\
#include "work.h"

int work_sum(struct work_list *wl)
{
	struct work_item *it;
	int sum = 0;

	spin_lock(&wl->lock);
	list_for_each_entry(it, &wl->items, node)
		sum += it->val;
	spin_unlock(&wl->lock);
	return sum;
}
"""

BUG = CLEAN.replace("""\
	list_for_each_entry(it, &wl->items, node)
		sum += it->val;
""", """\
	list_for_each_entry(it, &wl->items, node) {
		sum += it->val;
		spin_unlock(&wl->lock);
		cond_resched();
		spin_lock(&wl->lock);
	}
""")


def pre_commit_config(repo: Path) -> None:
    """Our shipped hook definition, as a ``repo: local`` hook (the framework makes no
    environment for ``language: system``: offline, and this very checkout)."""
    yaml = pytest.importorskip("yaml")
    (hook,) = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["pass_filenames"] is True and hook["entry"].startswith("rmaplint hook run")
    local = {k: v for k, v in hook.items() if k not in ("minimum_pre_commit_version",)}
    local.update(language="system",
                 entry=f"{sys.executable} -m analyzer.cli " + hook["entry"].split(" ", 1)[1]
                 + " --no-cache")
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(
        {"repos": [{"repo": "local", "hooks": [local]}]}))


def pre_commit(home: Path, repo: Path, *args: str) -> subprocess.CompletedProcess:
    pytest.importorskip("pre_commit")
    return subprocess.run([sys.executable, "-m", "pre_commit", "run", *args], cwd=repo,
                          env=clean_env(home, PRE_COMMIT_HOME=str(home / "pre-commit")),
                          capture_output=True, timeout=600)


def git(repo: Path, home: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=clean_env(home), check=True,
                          capture_output=True).stdout.decode().strip()


def test_pre_commit_framework_fails_on_a_committed_bug(home, tmp_path):
    repo = tmp_path / "proj"
    (repo / "mm").mkdir(parents=True)
    (repo / "mm" / "work.h").write_text(WORK_H)
    (repo / "mm" / "work.c").write_text(CLEAN)
    (repo / "mm" / "other.c").write_text(CLEAN.replace("work_sum", "other_sum"))
    git(repo, home, "init", "-q", "-b", "main")
    pre_commit_config(repo)
    git(repo, home, "add", "-A")
    git(repo, home, "commit", "-q", "-m", "clean")
    clean = git(repo, home, "rev-parse", "HEAD")
    ok = pre_commit(home, repo, "--files", "mm/work.c")
    assert ok.returncode == 0, ok.stdout.decode()
    assert b"Passed" in ok.stdout
    # the bug is committed: the index equals HEAD, and the framework passes the file name
    (repo / "mm" / "work.c").write_text(BUG)
    git(repo, home, "commit", "-q", "-am", "drop the lock in the walk")
    bug = git(repo, home, "rev-parse", "HEAD")
    for args in (["--files", "mm/work.c"], ["--all-files"]):
        proc = pre_commit(home, repo, *args)
        out = proc.stdout.decode()
        assert proc.returncode == 1, out
        assert "Failed" in out and re.search(
            r"^mm/work\.c:\d+:\d+: warning: .* \[lock-dropped-in-loop\]$", out, re.M), out
    # another file only: it passes
    assert pre_commit(home, repo, "--files", "mm/other.c").returncode == 0
    # a range: the one that adds the bug fails, an empty one passes
    rng = pre_commit(home, repo, "--from-ref", clean, "--to-ref", bug)
    assert rng.returncode == 1 and b"[lock-dropped-in-loop]" in rng.stdout, rng.stdout
    assert pre_commit(home, repo, "--from-ref", bug, "--to-ref", bug).returncode == 0
    # a baseline in .rmaplint.toml makes the known finding quiet
    base = cli(home, "check", "mm", "--no-cache", "--write-baseline",
               str(repo / ".rmaplint-baseline.json"), cwd=repo)
    assert base.returncode == 1
    (repo / ".rmaplint.toml").write_text('baseline = ".rmaplint-baseline.json"\n')
    assert pre_commit(home, repo, "--files", "mm/work.c").returncode == 0
    assert git(repo, home, "status", "--porcelain") == \
        "?? .rmaplint-baseline.json\n?? .rmaplint.toml"


# --------------------------------------------------------------------------- b4 --terse


def test_b4_check_terse_for_prep_and_am(home, tmp_path):
    corpus = build_history(tmp_path / "repo")
    patch = git(corpus.path, home, "format-patch", "-1", "--stdout", corpus.commits[0])
    proc = cli(home, "b4-check", "--terse", "--no-cache", cwd=corpus.path,
               input=patch.encode())
    lines = proc.stdout.decode().splitlines()
    assert proc.returncode == 1 and lines, proc.stderr
    assert all(TERSE.match(ln) for ln in lines), lines
    assert any(":lock-dropped-in-loop: " in ln and ": WARNING:" in ln for ln in lines)
    # patch 2 adds nothing: nothing printed, exit 0
    patch2 = git(corpus.path, home, "format-patch", "-1", "--stdout", corpus.commits[1])
    git(corpus.path, home, "checkout", "-q", "--detach", corpus.commits[0])
    quiet = cli(home, "b4-check", "--terse", "--no-cache", cwd=corpus.path,
                input=patch2.encode())
    assert quiet.returncode == 0 and quiet.stdout == b"", quiet.stdout


# --------------------------------------------------------------------------- habits


def test_help_has_examples_exit_codes_and_every_option_a_text(home):
    from analyzer.cli.main import build_parser

    top = cli(home, "--help")
    out = top.stdout.decode()
    assert top.returncode == 0
    assert "examples:" in out and "exit status:" in out and "rmaplint rule" in out
    for cmd in ("demo", "check", "review", "history", "rule", "cache"):
        assert re.search(rf"^\s+{cmd}\s", out, re.M), cmd

    def walk(parser, where):
        for action in parser._actions:
            if action.dest in ("help",) or action.help == "==SUPPRESS==":
                continue
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                for name, sub in action.choices.items():
                    walk(sub, f"{where} {name}")
                continue
            assert action.help, f"{where}: {action.option_strings or action.dest} has no help"

    walk(build_parser(), "rmaplint")


def test_rule_prints_its_doc(home):
    proc = cli(home, "rule", "lock-dropped-in-loop")
    assert proc.returncode == 0
    assert proc.stdout.decode() == (REPO_ROOT / "rules/docs/lock-dropped-in-loop.md").read_text()
    every = cli(home, "rule", "--all").stdout.decode()
    for doc in (REPO_ROOT / "rules" / "docs").glob("*.md"):
        assert doc.read_text().split("\n", 1)[0] in every
    listing = cli(home, "rule").stdout.decode()
    assert re.search(r"^walk-unlocked\s+error\s+Finds ", listing, re.M), listing
    bad = cli(home, "rule", "lock-dropped-in-lop")
    assert bad.returncode == 2 and b"did you mean 'lock-dropped-in-loop'" in bad.stderr


TWICE = """\
#include "work.h"

#ifdef CONFIG_WORK_LOCKED
int work_peek(struct work_list *wl)
{
	int n;

	spin_lock(&wl->lock);
	n = 1;
	spin_unlock(&wl->lock);
	return n;
}
#else
int work_peek(struct work_list *wl)
{
	return 0;
}
#endif
"""


def test_explain_suggests_and_shows_both_definitions(home, tmp_path):
    tree = tmp_path / "t"
    (tree / "mm").mkdir(parents=True)
    (tree / "mm" / "work.h").write_text(WORK_H)
    (tree / "mm" / "work.c").write_text(TWICE + CLEAN)
    bad = cli(home, "explain", "mm/work.c", "work_summ", "--repo", str(tree))
    err = bad.stderr.decode()
    assert bad.returncode == 2 and len(err.splitlines()) == 1
    assert "did you mean 'work_sum'" in err
    both = cli(home, "explain", "mm/work.c", "work_peek", "--repo", str(tree))
    out = both.stdout.decode()
    assert both.returncode == 0, both.stderr
    assert "work_peek is defined 2 times" in out.splitlines()[0]
    assert len(re.findall(r"^mm/work\.c: work_peek$", out, re.M)) == 2  # one head each
    assert "spin_lock(&wl->lock);" in out and "return 0;" in out
    doc = json.loads(cli(home, "explain", "mm/work.c", "work_peek", "--repo", str(tree),
                         "--format", "json").stdout)
    assert doc["definitions"] == 2 and len(doc["also_defined"]) == 1


def test_paths_relative_to_the_current_folder(home, tmp_path):
    corpus = build_history(tmp_path / "repo")
    top = cli(home, "check", "--no-cache", cwd=corpus.path).stdout.decode()
    sub = cli(home, "check", "--no-cache", cwd=corpus.path / "mm").stdout.decode()
    assert re.search(r"^mm/anon\.c:\d+:\d+: ", top, re.M)
    assert re.search(r"^anon\.c:\d+:\d+: ", sub, re.M) and "mm/anon.c" not in sub
    # machine formats keep the tree's paths
    doc = json.loads(cli(home, "check", "--no-cache", "--format", "json",
                         cwd=corpus.path / "mm").stdout)
    assert {f["path"] for f in doc["findings"]} == {"mm/anon.c"}


def test_color_choice(home):
    args = ("check", "rules/lock-dropped-in-loop.c", "--repo", str(CORPUS), "--no-cache")
    plain = cli(home, *args).stdout
    assert b"\x1b[" not in plain
    always = cli(home, *args, "--color", "always").stdout
    assert b"\x1b[1;35mwarning:\x1b[0m" in always  # bold magenta: gcc's, no background
    assert b";4" not in always and b"\x1b[40" not in always  # no background colour at all
    assert b"\x1b[" in cli(home, *args, env={"FORCE_COLOR": "1"}).stdout
    assert b"\x1b[" not in cli(home, *args, "--color", "never",
                               env={"FORCE_COLOR": "1"}).stdout
    strip = re.sub(rb"\x1b\[[0-9;]*m", b"", always)
    took = re.compile(rb"findings in [0-9.]+s")  # the runs' own durations differ
    assert took.sub(b"", strip) == took.sub(b"", plain)


def test_rich_view_has_no_background_on_8_colour_terminals(tmp_path):
    from analyzer.driver.run import SourceSpec, check_paths
    from analyzer.report.terminal import check_rich

    spec = SourceSpec(str(CORPUS), None, None, None, None)
    run = check_paths(spec, ["rules/lock-dropped-in-loop.c"])
    with spec.open() as src:
        out = check_rich(run, lambda p: src.read(p).text, width=100, color_system="standard")
    assert "\x1b[" in out
    backgrounds = re.findall(r"\x1b\[([0-9;]*)m", out)
    assert not [s for s in backgrounds if re.search(r"(^|;)(4\d|10\d)(;|$)", s)], backgrounds


def test_cache_prune_bounds_the_cache(home, tmp_path):
    cache = tmp_path / "cache"
    assert cli(home, "check", "rules", "--repo", str(CORPUS), "--cache-dir",
               str(cache)).returncode == 1
    stale = cache / "0123456789abcdef01234567" / "result" / "ab"
    stale.mkdir(parents=True)
    (stale / ("ab" * 20)).write_bytes(b"x" * 4096)
    old = 1_000_000_000
    os.utime(stale.parents[1], (old, old))
    (cache / "kernel").mkdir()
    (cache / "kernel" / "keep").write_text("the test suite's tree")
    info = cli(home, "cache", "info", "--cache-dir", str(cache)).stdout.decode()
    assert "(current)" in info and "0123456789abcdef01234567" in info
    proc = cli(home, "cache", "prune", "--cache-dir", str(cache))
    assert proc.returncode == 0 and b"removed 1 entries" in proc.stdout, proc.stdout
    assert not stale.exists() and (cache / "kernel" / "keep").exists()
    hit = cli(home, "check", "rules", "--repo", str(CORPUS), "--cache-dir", str(cache),
              "--format", "json")
    assert json.loads(hit.stdout)["summary"]["cache_hits"] > 0  # the current one stays
    cli(home, "cache", "prune", "--max-size", "0", "--cache-dir", str(cache))
    assert (cache / "kernel" / "keep").exists()
    left = [p for p in cache.rglob("*") if p.is_file() and "kernel" not in p.parts]
    assert left == []


def test_clang_frontend_without_libclang_is_one_line(home, tmp_path):
    shim = tmp_path / "shim" / "clang"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("")  # a clang package without cindex: not installed
    tree = tmp_path / "t"
    (tree / "mm").mkdir(parents=True)
    (tree / "mm" / "work.c").write_text(CLEAN)
    (tree / "Makefile").write_text("")
    (tree / "include" / "generated").mkdir(parents=True)
    (tree / "include" / "generated" / "autoconf.h").write_text("")
    proc = cli(home, "check", "mm", "--repo", str(tree), "--frontend", "clang", "--no-cache",
               env={"PYTHONPATH": f"{shim.parent}{os.pathsep}{REPO_ROOT}"})
    err = proc.stderr.decode()
    assert proc.returncode == 2 and len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert "rmaplint[clang]" in err or "kernel source tree" in err, err
