"""rmaplint's git hooks, driven by real ``git commit`` and ``git push`` runs.

The C below was written for these tests in kernel style. Every rmaplint run gets
``--cache-dir`` under tmp_path or ``--no-cache`` (baked into the installed hook), HOME and
XDG_CACHE_HOME point into tmp_path, and after every command the user's repository is compared
with a snapshot taken before it (HEAD, refs, index, status, stash, worktrees).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# the one finding line of every report: path:line:col: severity: message [rule-id]
FINDING_LINE = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+):(?P<col>\d+): "
                          r"(?P<sev>error|warning|note): (?!fixed: ).+ \[(?P<rule>[a-z-]+)\]$")

WORK_H = """\
/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __MM_WORK_H
#define __MM_WORK_H

struct work_item {
	struct list_head node;
	int val;
};

struct work_list {
	spinlock_t lock;
	struct list_head items;
	int count;
};

#endif
"""

HEAD_C = """\
// SPDX-License-Identifier: GPL-2.0
#include <linux/spinlock.h>
#include <linux/list.h>
#include "work.h"
"""

SUM_CLEAN = """
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

SUM_DROP = """
int work_sum(struct work_list *wl)
{
	struct work_item *it;
	int sum = 0;

	spin_lock(&wl->lock);
	list_for_each_entry(it, &wl->items, node) {
		sum += it->val;
		spin_unlock(&wl->lock);
		cond_resched();
		spin_lock(&wl->lock);
	}
	spin_unlock(&wl->lock);
	return sum;
}
"""

# a drop that is already in the tree before the hook exists
OLD_DROP = """
void work_flush(struct work_list *wl)
{
	struct work_item *it;

	spin_lock(&wl->lock);
	list_for_each_entry(it, &wl->items, node) {
		it->val = 0;
		spin_unlock(&wl->lock);
		cond_resched();
		spin_lock(&wl->lock);
	}
	spin_unlock(&wl->lock);
}
"""

COUNT = """
int work_count(struct work_list *wl)
{
	int n;

	spin_lock(&wl->lock);
	n = wl->count;
	spin_unlock(&wl->lock);
	return n;
}
"""


def work_c(*parts: str) -> str:
    return HEAD_C + "".join(parts)


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("GIT_") and k != "RMAPLINT_DEBUG"}
    e.update(
        HOME=str(tmp_path),
        PYTHONPATH=str(REPO_ROOT),
        XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
        GIT_CEILING_DIRECTORIES=str(tmp_path.parent),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="rmaplint tests",
        GIT_AUTHOR_EMAIL="tests@rmaplint.invalid",
        GIT_COMMITTER_NAME="rmaplint tests",
        GIT_COMMITTER_EMAIL="tests@rmaplint.invalid",
    )
    return e


def run(args, cwd: Path, env: dict, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, input=input, capture_output=True,
                          timeout=600)


def rmaplint(env, cwd: Path, *args: str, input: bytes | None = None):
    return run([sys.executable, "-m", "analyzer.cli", *args], cwd, env, input)


def git(env, cwd: Path, *args: str, check: bool = True) -> str:
    out = run(["git", *args], cwd, env)
    if check:
        assert out.returncode == 0, (args, out.stderr.decode(errors="replace"))
    return out.stdout.decode()


def snapshot(env, repo: Path) -> dict:
    """Everything of the user's repository a hook or a check must leave alone."""
    return {
        "head": git(env, repo, "rev-parse", "HEAD", check=False),
        "symbolic": git(env, repo, "symbolic-ref", "-q", "HEAD", check=False),
        "refs": git(env, repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "index": git(env, repo, "ls-files", "-s"),
        "cached_clean": run(["git", "diff", "--cached", "--quiet"], repo, env).returncode,
        "status": git(env, repo, "status", "--porcelain", "--untracked-files=all"),
        "stash": git(env, repo, "stash", "list"),
        "worktrees": git(env, repo, "worktree", "list", "--porcelain"),
    }


def one_error_line(proc, *needles: str, prefix: str = "rmaplint: error:") -> str:
    err = proc.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def write(repo: Path, rel: str, text: str) -> None:
    p = repo / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


@pytest.fixture
def repo(make_git_repo, env):
    """mm/work.c with a clean work_sum() and a pre-existing drop in work_flush()."""
    r = make_git_repo({"mm/work.h": WORK_H, "mm/work.c": work_c(SUM_CLEAN, OLD_DROP)})
    return r.path


def install(env, repo: Path, *args: str, cache: Path | None = None):
    cache_args = ["--cache-dir", str(cache)] if cache else ["--no-cache"]
    proc = rmaplint(env, repo, "hook", "install", *args, *cache_args)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc


def commit(env, repo: Path, *args: str, msg: str = "change") -> subprocess.CompletedProcess:
    return run(["git", "commit", "-q", "-m", msg, *args], repo, env)


def finding_lines(proc) -> list[re.Match]:
    return [m for m in map(FINDING_LINE.match,
                           proc.stderr.decode(errors="replace").splitlines()) if m]


def hooks_of(env, repo: Path) -> Path:
    return repo / ".git" / "hooks"


# --------------------------------------------------------------------------- install


def test_install_writes_an_executable_signed_hook(env, repo, tmp_path):
    before = snapshot(env, repo)
    proc = install(env, repo)
    hook = hooks_of(env, repo) / "pre-commit"
    assert f"installed pre-commit hook: {hook}" in proc.stdout.decode()
    text = hook.read_text()
    assert text.startswith("#!/bin/sh\n# rmaplint-hook: pre-commit")
    assert sys.executable in text and "-m analyzer.cli hook run" in text
    assert "--no-cache" in text and text.rstrip().endswith('pre-commit "$@"')
    assert hook.stat().st_mode & stat.S_IXUSR
    assert not (hooks_of(env, repo) / "pre-push").exists()
    # --pre-push as well; reinstalling our own hook just updates it
    install(env, repo, "--pre-commit", "--pre-push", "--fail-on", "error")
    assert "--fail-on error" in hook.read_text()
    assert "rmaplint-hook: pre-push" in (hooks_of(env, repo) / "pre-push").read_text()
    # from a subdirectory, the hooks of the repository
    proc = rmaplint(env, repo / "mm", "hook", "uninstall", "--pre-push")
    assert proc.returncode == 0 and not (hooks_of(env, repo) / "pre-push").exists()
    assert hook.exists()
    proc = rmaplint(env, repo, "hook", "uninstall")
    assert proc.returncode == 0, proc.stderr
    assert not hook.exists()
    assert "no pre-push hook" in proc.stdout.decode()
    assert snapshot(env, repo) == before


def test_install_refuses_a_foreign_hook_and_force_keeps_it(env, repo):
    before = snapshot(env, repo)
    hook = hooks_of(env, repo) / "pre-commit"
    foreign = "#!/bin/sh\necho their own hook\nexit 0\n"
    hook.write_text(foreign)
    hook.chmod(0o755)
    proc = rmaplint(env, repo, "hook", "install", "--no-cache")
    assert proc.returncode == 2 and proc.stdout == b""
    one_error_line(proc, str(hook), "not an rmaplint hook", "--force")
    assert hook.read_text() == foreign
    # uninstall leaves a foreign hook alone
    proc = rmaplint(env, repo, "hook", "uninstall", "--pre-commit")
    assert proc.returncode == 0 and "left alone" in proc.stdout.decode()
    assert hook.read_text() == foreign
    # --force: ours in place, theirs kept aside, and put back by uninstall
    proc = install(env, repo, "--force")
    assert "pre-commit.rmaplint-backup" in proc.stdout.decode()
    assert "rmaplint-hook" in hook.read_text()
    assert (hooks_of(env, repo) / "pre-commit.rmaplint-backup").read_text() == foreign
    proc = rmaplint(env, repo, "hook", "uninstall", "--pre-commit")
    assert proc.returncode == 0 and "restored" in proc.stdout.decode()
    assert hook.read_text() == foreign
    assert not (hooks_of(env, repo) / "pre-commit.rmaplint-backup").exists()
    assert snapshot(env, repo) == before


@pytest.mark.parametrize("absolute", [False, True], ids=["relative", "absolute"])
def test_install_follows_core_hooks_path(env, repo, tmp_path, absolute):
    target = tmp_path / "shared-hooks" if absolute else repo / ".githooks"
    git(env, repo, "config", "core.hooksPath", str(target) if absolute else ".githooks")
    before = snapshot(env, repo)
    install(env, repo, "--pre-commit", "--pre-push")
    assert (target / "pre-commit").is_file() and (target / "pre-push").is_file()
    assert not (hooks_of(env, repo) / "pre-commit").exists()
    # git runs it from there: a commit adding a drop is blocked
    write(repo, "mm/work.c", work_c(SUM_DROP, OLD_DROP))
    git(env, repo, "add", "mm/work.c")
    staged = snapshot(env, repo)
    proc = commit(env, repo)
    assert proc.returncode == 1, proc.stderr
    assert [m["rule"] for m in finding_lines(proc)] == ["lock-dropped-in-loop"]
    assert snapshot(env, repo) == staged
    git(env, repo, "reset", "-q", "--hard")
    proc = rmaplint(env, repo, "hook", "uninstall")
    assert proc.returncode == 0
    assert not (target / "pre-commit").exists() and not (target / "pre-push").exists()
    after = snapshot(env, repo)
    if not absolute:  # the (now empty) hooks folder is in the work tree
        shutil.rmtree(target)
        after = snapshot(env, repo)
    assert after == before


def test_install_errors(env, repo, tmp_path):
    before = snapshot(env, repo)
    proc = rmaplint(env, tmp_path, "hook", "install", "--no-cache")
    one_error_line(proc, "not in a git repository")
    proc = rmaplint(env, repo, "hook", "install", "--rules", str(tmp_path / "nope"))
    one_error_line(proc, "rules folder not found")
    assert not (hooks_of(env, repo) / "pre-commit").exists()
    assert snapshot(env, repo) == before


# --------------------------------------------------------------------------- pre-commit


def test_pre_commit_blocks_a_commit_adding_a_drop(env, repo, tmp_path):
    install(env, repo, cache=tmp_path / "cache")
    write(repo, "mm/work.c", work_c(SUM_DROP, OLD_DROP))
    git(env, repo, "add", "mm/work.c")
    before = snapshot(env, repo)
    proc = commit(env, repo)
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr.decode()
    assert "rmaplint: commit blocked: 1 new finding(s) at or above warning" in err
    found = finding_lines(proc)
    assert [(m["path"], m["sev"], m["rule"]) for m in found] == \
        [("mm/work.c", "warning", "lock-dropped-in-loop")]
    line = int(found[0]["line"])
    assert work_c(SUM_DROP, OLD_DROP).splitlines()[line - 1].strip() == "spin_unlock(&wl->lock);"
    assert "--no-verify" in err
    # the pre-existing drop in work_flush() is not reported: it is not new
    assert "work_flush" not in err and err.count("lock-dropped-in-loop") == 1
    assert snapshot(env, repo) == before  # nothing committed, the index as it was


def test_pre_commit_lets_through_a_clean_commit_and_an_old_finding(env, repo, tmp_path):
    install(env, repo, cache=tmp_path / "cache")
    head = git(env, repo, "rev-parse", "HEAD").strip()
    # a new function without a drop, added *above* the old drop: its lines shift
    write(repo, "mm/work.c", work_c(SUM_CLEAN, COUNT, OLD_DROP))
    git(env, repo, "add", "mm/work.c")
    before = snapshot(env, repo)
    proc = commit(env, repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    assert git(env, repo, "rev-parse", "HEAD~1").strip() == head
    after = snapshot(env, repo)
    assert after["status"] == "" and after["stash"] == before["stash"]
    assert after["worktrees"].replace(after["head"].strip(), "") == \
        before["worktrees"].replace(before["head"].strip(), "")
    assert after["index"] == before["index"]  # the commit is exactly what was staged
    # a commit that does not touch C at all
    write(repo, "README", "docs\n")
    git(env, repo, "add", "README")
    assert commit(env, repo).returncode == 0


def test_pre_commit_reads_the_index_not_the_work_tree(env, repo, tmp_path):
    install(env, repo, cache=tmp_path / "cache")
    # staged clean, drop only in the work tree: allowed, and the drop stays unstaged
    write(repo, "mm/work.c", work_c(SUM_CLEAN, COUNT, OLD_DROP))
    git(env, repo, "add", "mm/work.c")
    write(repo, "mm/work.c", work_c(SUM_DROP, COUNT, OLD_DROP))
    proc = commit(env, repo)
    assert proc.returncode == 0, proc.stderr
    assert git(env, repo, "status", "--porcelain") == " M mm/work.c\n"
    # staged drop, clean work tree: blocked
    git(env, repo, "add", "mm/work.c")
    write(repo, "mm/work.c", work_c(SUM_CLEAN, COUNT, OLD_DROP))
    before = snapshot(env, repo)
    proc = commit(env, repo)
    assert proc.returncode == 1
    assert [m["rule"] for m in finding_lines(proc)] == ["lock-dropped-in-loop"]
    assert snapshot(env, repo) == before
    # `git commit <path>` commits the work tree's file through a temporary index
    write(repo, "mm/work.c", work_c(SUM_DROP, COUNT, OLD_DROP))
    git(env, repo, "reset", "-q")
    before = snapshot(env, repo)
    proc = commit(env, repo, "mm/work.c")
    assert proc.returncode == 1
    assert [m["rule"] for m in finding_lines(proc)] == ["lock-dropped-in-loop"]
    assert snapshot(env, repo) == before


def test_pre_commit_header_from_the_index(env, repo, tmp_path):
    """The lock type comes from the staged header: a staged new file is analysed with it."""
    install(env, repo, cache=tmp_path / "cache")
    write(repo, "mm/other.c", '#include "work.h"\n' + SUM_DROP)
    git(env, repo, "add", "mm/other.c")
    before = snapshot(env, repo)
    proc = commit(env, repo)
    assert proc.returncode == 1
    assert [(m["path"], m["rule"]) for m in finding_lines(proc)] == \
        [("mm/other.c", "lock-dropped-in-loop")]
    assert snapshot(env, repo) == before


def test_pre_commit_fail_on_and_justification(env, repo, tmp_path):
    install(env, repo, "--fail-on", "error", cache=tmp_path / "cache")
    write(repo, "mm/work.c", work_c(SUM_DROP, OLD_DROP))
    git(env, repo, "add", "mm/work.c")
    proc = commit(env, repo)
    assert proc.returncode == 0, proc.stderr  # a warning does not reach --fail-on error
    err = proc.stderr.decode()
    assert "below error (commit allowed)" in err
    assert [m["rule"] for m in finding_lines(proc)] == ["lock-dropped-in-loop"]
    # back to the default threshold: a justified drop does not block
    install(env, repo, cache=tmp_path / "cache")
    justified = SUM_DROP.replace(
        "\t\tspin_unlock(&wl->lock);\n",
        "\t\t/* rmaplint: allow lock-dropped-in-loop -- the list is append-only */\n"
        "\t\tspin_unlock(&wl->lock);\n")
    write(repo, "mm/new.c", '#include "work.h"\n' + justified.replace("work_sum", "work_sum2"))
    git(env, repo, "add", "mm/new.c")
    proc = commit(env, repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""


def test_hook_run_directly(env, repo, tmp_path):
    write(repo, "mm/work.c", work_c(SUM_DROP, OLD_DROP))
    git(env, repo, "add", "mm/work.c")
    before = snapshot(env, repo)
    proc = rmaplint(env, repo / "mm", "hook", "run", "pre-commit", "--cache-dir",
                    str(tmp_path / "cache"))
    assert proc.returncode == 1
    assert [m["rule"] for m in finding_lines(proc)] == ["lock-dropped-in-loop"]
    proc = rmaplint(env, repo, "hook", "run", "pre-commit", "--fail-on", "error", "--no-cache")
    assert proc.returncode == 0
    assert snapshot(env, repo) == before


def test_pre_commit_on_an_unborn_branch(env, tmp_path):
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(env, repo, "init", "-q", "-b", "main")
    install(env, repo, cache=tmp_path / "cache")
    write(repo, "mm/work.h", WORK_H)
    write(repo, "mm/work.c", work_c(SUM_DROP))
    git(env, repo, "add", "mm")
    proc = commit(env, repo)
    assert proc.returncode == 1
    assert [m["rule"] for m in finding_lines(proc)] == ["lock-dropped-in-loop"]
    assert git(env, repo, "rev-parse", "--verify", "-q", "HEAD", check=False) == ""
    write(repo, "mm/work.c", work_c(SUM_CLEAN))
    git(env, repo, "add", "mm")
    assert commit(env, repo).returncode == 0


def test_internal_error_lets_the_commit_through_unless_strict(env, repo, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    good = (rules / "locks.toml").read_text()
    install(env, repo, "--rules", str(rules))
    (rules / "locks.toml").write_text("this is [ not toml\n")  # the checker breaks
    write(repo, "mm/work.c", work_c(SUM_DROP, OLD_DROP))
    git(env, repo, "add", "mm/work.c")
    head = git(env, repo, "rev-parse", "HEAD").strip()
    proc = commit(env, repo)
    assert proc.returncode == 0, proc.stderr
    line = one_error_line(proc, "locks.toml", "commit allowed",
                          prefix="rmaplint hook: pre-commit check skipped:")
    assert "--strict" in line
    assert git(env, repo, "rev-parse", "HEAD~1").strip() == head
    # --strict: the same breakage blocks
    (rules / "locks.toml").write_text(good)
    install(env, repo, "--strict", "--rules", str(rules))
    (rules / "locks.toml").write_text("this is [ not toml\n")
    write(repo, "mm/work.c", work_c(SUM_CLEAN, OLD_DROP))
    git(env, repo, "add", "mm/work.c")
    before = snapshot(env, repo)
    proc = commit(env, repo)
    assert proc.returncode == 1  # git's status for a failed hook
    one_error_line(proc, "locks.toml", "--strict: commit blocked",
                   prefix="rmaplint hook: pre-commit check failed:")
    assert snapshot(env, repo) == before
    # run by hand, --strict is exit 2
    proc = rmaplint(env, repo, "hook", "run", "pre-commit", "--strict", "--rules", str(rules),
                    "--no-cache")
    assert proc.returncode == 2
    one_error_line(proc, "locks.toml", prefix="rmaplint hook: pre-commit check failed:")
    proc = rmaplint(env, tmp_path, "hook", "run", "pre-commit", "--no-cache")
    assert proc.returncode == 0
    one_error_line(proc, "not in a git repository",
                   prefix="rmaplint hook: pre-commit check skipped:")
    assert snapshot(env, repo) == before


def test_hook_survives_a_missing_interpreter(env, repo, tmp_path):
    install(env, repo)
    hook = hooks_of(env, repo) / "pre-commit"
    hook.write_text(hook.read_text().replace(f"python={sys.executable}",
                                             f"python={tmp_path / 'gone' / 'python3'}"))
    write(repo, "mm/work.c", work_c(SUM_DROP, OLD_DROP))
    git(env, repo, "add", "mm/work.c")
    proc = commit(env, repo)
    assert proc.returncode == 0
    one_error_line(proc, "not found", prefix="rmaplint hook:")


# --------------------------------------------------------------------------- pre-push


@pytest.fixture
def pushed(env, repo, tmp_path):
    """``repo`` with a bare remote ``origin`` that has main, and the pre-push hook."""
    remote = tmp_path / "remote.git"
    git(env, tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(env, repo, "remote", "add", "origin", str(remote))
    git(env, repo, "push", "-q", "origin", "main")
    install(env, repo, "--pre-push", cache=tmp_path / "cache")
    return remote


def remote_refs(env, remote: Path) -> str:
    return git(env, remote, "for-each-ref", "--format=%(refname) %(objectname)")


def push(env, repo, *args):
    return run(["git", "push", "-q", "origin", *args], repo, env)


def test_pre_push_blocks_a_drop_and_allows_a_clean_push(env, repo, pushed):
    remote = pushed
    at_remote = remote_refs(env, remote)
    # an existing branch: remote sha known
    write(repo, "mm/work.c", work_c(SUM_DROP, OLD_DROP))
    git(env, repo, "commit", "-q", "--no-verify", "-am", "drop the lock in the walk")
    write(repo, "README", "more\n")
    git(env, repo, "add", "README")
    git(env, repo, "commit", "-q", "--no-verify", "-m", "a later commit")
    before = snapshot(env, repo)
    proc = push(env, repo, "main")
    assert proc.returncode != 0
    assert "rmaplint: push blocked: 1 new finding(s)" in proc.stderr.decode()
    assert [(m["path"], m["rule"]) for m in finding_lines(proc)] == \
        [("mm/work.c", "lock-dropped-in-loop")]
    assert remote_refs(env, remote) == at_remote
    assert snapshot(env, repo) == before
    # a new branch with the drop: remote sha all zeros
    git(env, repo, "branch", "topic", "main")
    before = snapshot(env, repo)
    proc = push(env, repo, "topic")
    assert proc.returncode != 0
    assert [m["rule"] for m in finding_lines(proc)] == ["lock-dropped-in-loop"]
    assert remote_refs(env, remote) == at_remote
    assert snapshot(env, repo) == before
    # a clean new branch from the remote's main is let through
    git(env, repo, "checkout", "-q", "-b", "clean", "origin/main")
    write(repo, "mm/work.c", work_c(SUM_CLEAN, COUNT, OLD_DROP))
    git(env, repo, "commit", "-q", "--no-verify", "-am", "count the items")
    before = snapshot(env, repo)
    proc = push(env, repo, "clean")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    assert "refs/heads/clean" in remote_refs(env, remote)
    after = snapshot(env, repo)
    # git records the pushed branch as origin/clean; nothing else changed
    assert after["refs"].replace(
        f"refs/remotes/origin/clean {after['head']}", "") == before["refs"]
    assert {k: v for k, v in after.items() if k != "refs"} == \
        {k: v for k, v in before.items() if k != "refs"}
    # a clean push onto an existing branch (fast-forward) goes through too
    write(repo, "mm/work.c", work_c(SUM_CLEAN, OLD_DROP, COUNT))
    git(env, repo, "commit", "-q", "--no-verify", "-am", "move it")
    assert push(env, repo, "clean").returncode == 0
    # deleting a remote branch adds nothing
    assert push(env, repo, "--delete", "clean").returncode == 0


def test_pre_push_fail_on_error_lets_a_warning_through(env, repo, pushed, tmp_path):
    install(env, repo, "--pre-push", "--fail-on", "error", cache=tmp_path / "cache")
    write(repo, "mm/work.c", work_c(SUM_DROP, OLD_DROP))
    git(env, repo, "commit", "-q", "--no-verify", "-am", "drop")
    proc = push(env, repo, "main")
    assert proc.returncode == 0, proc.stderr
    assert "below error (push allowed)" in proc.stderr.decode()


def test_pre_push_input_errors(env, repo, tmp_path):
    before = snapshot(env, repo)
    proc = rmaplint(env, repo, "hook", "run", "pre-push", "origin", "x", "--no-cache",
                    input=b"garbage\n")
    assert proc.returncode == 0
    one_error_line(proc, "unexpected pre-push input line",
                   prefix="rmaplint hook: pre-push check skipped:")
    proc = rmaplint(env, repo, "hook", "run", "--strict", "pre-push", "origin", "x",
                    "--no-cache", input=b"garbage\n")
    assert proc.returncode == 2
    proc = rmaplint(env, repo, "hook", "run", "pre-push", "--no-cache", input=b"")
    assert proc.returncode == 0 and proc.stderr == b""
    assert snapshot(env, repo) == before


# --------------------------------------------------------------------------- pre-commit framework


def test_pre_commit_framework_manifest():
    import yaml  # the test extras install it (pyproject.toml)
    doc = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(doc, list) and len(doc) == 1
    hook = doc[0]
    for key in ("id", "name", "entry", "language"):  # required by pre-commit's manifest
        assert isinstance(hook.get(key), str) and hook[key], key
    assert hook["id"] == "rmaplint"
    assert hook["entry"] == "rmaplint hook run pre-commit"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True  # the framework's file names are checked
    files = re.compile(hook["files"])
    assert files.search("mm/rmap.c") and files.search("include/linux/rmap.h")
    assert not files.search("mm/Makefile") and not files.search("mm/rmap.cc")
    allowed = {"id", "name", "entry", "language", "alias", "files", "exclude", "types",
               "types_or", "exclude_types", "additional_dependencies", "args",
               "always_run", "fail_fast", "pass_filenames", "description",
               "language_version", "log_file", "minimum_pre_commit_version",
               "require_serial", "stages", "verbose"}
    assert set(hook) <= allowed
    assert set(hook.get("stages", [])) <= {"pre-commit", "pre-merge-commit", "pre-push",
                                           "prepare-commit-msg", "commit-msg", "manual"}
    # the entry is a real command line of ours
    from analyzer.cli.main import build_parser

    args = build_parser().parse_args(hook["entry"].split()[1:] + ["--fail-on", "error"])
    assert args.name == "pre-commit" and args.fail_on == "error"
