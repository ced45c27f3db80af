"""``rmaplint b4-check``: b4's per-patch check protocol on the corpus series.

The corpus history (corpus/history) is built in tmp_path and its series written out with
``git format-patch``, one file per patch, as b4 hands them over. Every run gets --cache-dir
under tmp_path or --no-cache, HOME and XDG_CACHE_HOME point into tmp_path, and after every
run the user's repository is compared with a snapshot taken before it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.workflow.corpus import build_history

REPO_ROOT = Path(__file__).resolve().parents[1]
KEYS = {"tool", "status", "summary", "details", "url"}
# the one finding line of every report: path:line:col: severity: message [rule-id]
FINDING_LINE = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+):(?P<col>\d+): "
                          r"(?P<sev>error|warning|note): (?!fixed: ).+ \[(?P<rule>[a-z-]+)\]$")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("GIT_") and k not in ("RMAPLINT_DEBUG", "B4_TRACKING_FILE")}
    e.update(
        HOME=str(tmp_path),
        PYTHONPATH=str(REPO_ROOT),
        XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
        GIT_CEILING_DIRECTORIES=str(tmp_path.parent),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
    )
    return e


def run(args, cwd: Path, env: dict, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, input=input, capture_output=True,
                          timeout=600)


def git(env, cwd: Path, *args: str, check: bool = True) -> str:
    out = run(["git", *args], cwd, env)
    if check:
        assert out.returncode == 0, (args, out.stderr.decode(errors="replace"))
    return out.stdout.decode()


def snapshot(env, repo: Path) -> dict:
    return {
        "head": git(env, repo, "rev-parse", "HEAD"),
        "symbolic": git(env, repo, "symbolic-ref", "-q", "HEAD", check=False),
        "refs": git(env, repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "index": git(env, repo, "ls-files", "-s"),
        "cached_clean": run(["git", "diff", "--cached", "--quiet"], repo, env).returncode,
        "status": git(env, repo, "status", "--porcelain", "--untracked-files=all"),
        "stash": git(env, repo, "stash", "list"),
        "worktrees": git(env, repo, "worktree", "list", "--porcelain"),
    }


@pytest.fixture
def corpus(tmp_path, env):
    c = build_history(tmp_path / "repo")
    out = tmp_path / "patches"
    git(env, c.path, "format-patch", "-q", "-o", str(out), f"{c.base}..series")
    patches = sorted(out.glob("*.patch"))
    assert len(patches) == len(c.commits) == 3
    return c, patches


def b4_check(env, cwd: Path, data: bytes, *args: str, cache: Path | None = None):
    cache_args = ["--cache-dir", str(cache)] if cache else ["--no-cache"]
    return run([sys.executable, "-m", "analyzer.cli", "b4-check", *args, *cache_args],
               cwd, env, input=data)


def verdict(proc) -> dict:
    """b4's protocol: a JSON array on stdout; ours has one object, and the exit status is 0."""
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    doc = json.loads(proc.stdout)
    assert isinstance(doc, list) and len(doc) == 1
    v = doc[0]
    assert set(v) == KEYS and all(isinstance(v[k], str) for k in KEYS)
    assert v["tool"] == "rmaplint"
    assert v["status"] in ("pass", "warn", "fail")
    assert v["summary"] and "\n" not in v["summary"]
    return v


def details_findings(v: dict) -> list[tuple[str, int, str, str]]:
    """The new findings listed in details (not the ``fixed:`` ones)."""
    out = []
    for line in v["details"].splitlines():
        m = FINDING_LINE.match(line)
        if m:
            out.append((m["path"], int(m["line"]), m["sev"], m["rule"]))
    return out


def one_error_line(proc, *needles: str) -> str:
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, (proc.returncode, err)
    assert proc.stdout == b"", proc.stdout[:300]
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rmaplint: error:"), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.fixture
def expected(corpus, env, tmp_path):
    """What ``rmaplint review`` says each patch adds: [(path, line, severity, rule)] each."""
    c, _ = corpus
    proc = run([sys.executable, "-m", "analyzer.cli", "review", f"{c.base}..series",
                "--repo", str(c.path), "--format", "json", "--cache-dir",
                str(tmp_path / "cache")], tmp_path, env)
    assert proc.returncode in (0, 1), proc.stderr.decode(errors="replace")
    doc = json.loads(proc.stdout)
    return [sorted((f["path"], f["line"], f["severity"], f["rule"])
                   for f in p["new"] if not f.get("justification")) for p in doc["patches"]]


def status_for(new: list[tuple[str, int, str, str]]) -> str:
    sevs = {s for _, _, s, _ in new}
    return "fail" if "error" in sevs else "warn" if sevs else "pass"


# --------------------------------------------------------------------------- the corpus series


def test_patch_1_warns_about_the_lock_dropped_in_the_loop(corpus, env, tmp_path, expected):
    c, patches = corpus
    before = snapshot(env, c.path)
    v = verdict(b4_check(env, c.path, patches[0].read_bytes(), cache=tmp_path / "cache"))
    assert v["status"] == "warn"
    found = details_findings(v)
    assert "lock-dropped-in-loop" in {r for _, _, _, r in found}
    assert sorted(found) == expected[0]
    assert "lock-dropped-in-loop" in v["summary"]
    assert c.base[:12] in v["summary"]
    assert snapshot(env, c.path) == before


@pytest.mark.parametrize("index", [1, 2, 3])
def test_each_patch_on_its_predecessor(corpus, env, tmp_path, expected, index):
    """As a reviewer checks a series: HEAD at the commit before the patch."""
    c, patches = corpus
    if index > 1:
        git(env, c.path, "checkout", "-q", "--detach", c.commits[index - 2])
    before = snapshot(env, c.path)
    v = verdict(b4_check(env, c.path, patches[index - 1].read_bytes(),
                         cache=tmp_path / "cache"))
    assert sorted(details_findings(v)) == expected[index - 1]
    assert v["status"] == status_for(expected[index - 1])
    if index == 2:
        assert v["status"] == "pass" and v["details"] == ""
        assert "no new lock findings" in v["summary"]
    if index == 3:
        # the lock is no longer dropped in the walk: the old finding shows as fixed
        assert any(": note: fixed: " in ln and ln.endswith("[lock-dropped-in-loop]")
                   for ln in v["details"].splitlines())
    assert snapshot(env, c.path) == before


def test_a_patch_already_in_head_is_found_by_patch_id(corpus, env, tmp_path, expected):
    c, patches = corpus
    git(env, c.path, "checkout", "-q", "series")  # b4 checked the series out
    before = snapshot(env, c.path)
    for i, patch in enumerate(patches):
        v = verdict(b4_check(env, c.path, patch.read_bytes(), cache=tmp_path / "cache"))
        assert f"already applied as {c.commits[i][:12]}" in v["summary"]
        assert sorted(details_findings(v)) == expected[i]
        assert v["status"] == status_for(expected[i])
    assert snapshot(env, c.path) == before


def test_b4_tracking_file_branch_tips(corpus, env, tmp_path, expected):
    """HEAD on main, the series on b4's review branch named in $B4_TRACKING_FILE."""
    c, patches = corpus
    tracking = tmp_path / "tracking.json"
    tracking.write_text(json.dumps({"series": {"branch-tips": [
        {"date": "2025-11-10", "branch": "series", "sha": c.commits[-1]}]}}))
    before = snapshot(env, c.path)
    v = verdict(b4_check({**env, "B4_TRACKING_FILE": str(tracking)}, c.path,
                         patches[2].read_bytes(), cache=tmp_path / "cache"))
    assert f"already applied as {c.commits[2][:12]}" in v["summary"]
    assert sorted(details_findings(v)) == expected[2]
    assert snapshot(env, c.path) == before


def test_a_message_without_the_mbox_from_line(corpus, env, tmp_path):
    """b4 pipes an e-mail message: headers first, no ``From <sha>`` separator line."""
    c, patches = corpus
    data = patches[0].read_bytes()
    assert data.startswith(b"From ")
    message = data.split(b"\n", 1)[1]
    before = snapshot(env, c.path)
    with_line = verdict(b4_check(env, c.path, data, cache=tmp_path / "cache"))
    without = verdict(b4_check(env, c.path, message, cache=tmp_path / "cache"))
    assert without == with_line
    assert snapshot(env, c.path) == before


def test_base_option_and_subdirectory(corpus, env, tmp_path, expected):
    c, patches = corpus
    before = snapshot(env, c.path)
    v = verdict(b4_check(env, c.path / "mm", patches[2].read_bytes(), "--base",
                         c.commits[1], cache=tmp_path / "cache"))
    assert sorted(details_findings(v)) == expected[2]
    assert f"on {c.commits[1]} {c.commits[1][:12]}" in v["summary"]
    assert snapshot(env, c.path) == before


# --------------------------------------------------------------------------- failures


NOPE = """\
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: Someone <someone@example.org>
Date: Mon, 10 Nov 2025 10:00:00 +0000
Subject: [PATCH] mm/nope: return one

Return one.
---
 mm/nope.c | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/mm/nope.c b/mm/nope.c
index 1111111..2222222 100644
--- a/mm/nope.c
+++ b/mm/nope.c
@@ -1,4 +1,4 @@
 int nope(void)
 {
-\treturn 0;
+\treturn 1;
 }
--\x20
2.39.5
"""


def test_a_patch_that_does_not_apply_fails_with_the_reason(corpus, env, tmp_path):
    c, patches = corpus
    before = snapshot(env, c.path)
    # patch 3 needs patch 1: on the base it conflicts
    v = verdict(b4_check(env, c.path, patches[2].read_bytes(), cache=tmp_path / "cache"))
    assert v["status"] == "fail"
    assert v["summary"].startswith("does not apply")
    assert "git apply --3way failed" in v["details"]
    assert snapshot(env, c.path) == before
    # a file the tree does not have (and blobs no 3-way merge can find)
    v = verdict(b4_check(env, c.path, NOPE.encode(), "--no-cache"))
    assert v["status"] == "fail" and "does not apply" in v["summary"]
    assert "mm/nope.c" in v["summary"]
    assert snapshot(env, c.path) == before


def test_a_patch_without_c_files_passes(corpus, env, tmp_path):
    c, patches = corpus
    doc = patches[1].read_text()
    head, _, _ = doc.partition("\ndiff --git ")
    readme = head + (
        "\ndiff --git a/README b/README\nnew file mode 100644\nindex 0000000..8c5d2a4\n"
        "--- /dev/null\n+++ b/README\n@@ -0,0 +1 @@\n+corpus\n-- \n2.39.5\n\n")
    before = snapshot(env, c.path)
    v = verdict(b4_check(env, c.path, readme.encode(), cache=tmp_path / "cache"))
    assert v["status"] == "pass", v
    assert "no .c/.h file changed" in v["summary"]
    assert snapshot(env, c.path) == before


@pytest.mark.parametrize("data,needle", [
    (b"", "empty input"),
    (b"\n \n", "empty input"),
    (b"hello, this is not a patch\n", "not a patch"),
    (b"diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n", "no 'From:'"),
], ids=["empty", "blank", "prose", "bare-diff"])
def test_bad_input_is_one_line_and_exit_2(corpus, env, data, needle):
    c, _ = corpus
    before = snapshot(env, c.path)
    one_error_line(b4_check(env, c.path, data), needle)
    assert snapshot(env, c.path) == before


def test_outside_a_git_repository(corpus, env, tmp_path):
    c, patches = corpus
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    one_error_line(b4_check(env, outside, patches[0].read_bytes()), "not in a git repository")
