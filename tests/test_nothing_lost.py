"""Nothing the user has is lost or touched: every command, run in a repository with a dirty
work tree, a staged change, an untracked file, a stash entry, a linked worktree, a worktree
whose folder is gone for now (a removable disk) and hooks that leave a mark when they run,
leaves HEAD, refs, index, work tree, stash, worktrees, hooks, reflogs and config exactly as
they were, even when it fails or is killed with SIGINT or SIGTERM half-way, and leaves no
temporary folder behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from analyzer.workflow.corpus import build_history

REPO_ROOT = Path(__file__).resolve().parents[1]
HOOKS = ("post-checkout", "pre-applypatch", "applypatch-msg", "post-applypatch",
         "pre-commit", "prepare-commit-msg", "commit-msg", "post-commit", "post-rewrite",
         "reference-transaction", "post-index-change", "pre-auto-gc", "post-merge")


def base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") and k != "RMAPLINT_DEBUG"}
    env.update(HOME=str(tmp / "home"), XDG_CACHE_HOME=str(tmp / "home" / "xdg-cache"),
               XDG_CONFIG_HOME=str(tmp / "home" / "xdg-config"), GIT_CONFIG_NOSYSTEM="1",
               GIT_CONFIG_GLOBAL=os.devnull, GIT_CEILING_DIRECTORIES=str(tmp.parent),
               TMPDIR=str(tmp / "tmpdir"))
    return env


@dataclass
class UserRepo:
    path: Path
    tmp: Path
    markers: Path  # where the hooks leave their mark
    tmpdir: Path  # TMPDIR of the rmaplint runs
    linked: Path  # the user's own linked worktree
    mbox: Path  # the corpus series, as mailed

    def git(self, *args: str, cwd: Path | None = None) -> str:
        env = {**base_env(self.tmp), "GIT_OPTIONAL_LOCKS": "0",
               "GIT_AUTHOR_NAME": "User", "GIT_AUTHOR_EMAIL": "user@example.org",
               "GIT_COMMITTER_NAME": "User", "GIT_COMMITTER_EMAIL": "user@example.org"}
        out = subprocess.run(["git", *args], cwd=cwd or self.path, env=env,
                             capture_output=True, check=True)
        return out.stdout.decode("utf-8", "surrogateescape")

    def env(self, **extra: str) -> dict[str, str]:
        return {**base_env(self.tmp), "PYTHONPATH": str(REPO_ROOT), **extra}

    def rmaplint(self, *args: str, env: dict | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "analyzer.cli", *args], cwd=self.path,
                              env=env or self.env(), capture_output=True, timeout=timeout)


def install_hooks(repo: UserRepo) -> None:
    hooks = repo.path / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    for name in HOOKS:
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\nmkdir -p '{repo.markers}'\n"
                        f"echo \"$@\" >> '{repo.markers}/{name}'\n")
        hook.chmod(0o755)


@pytest.fixture
def user_repo(tmp_path: Path) -> UserRepo:
    corpus = build_history(tmp_path / "user")
    (tmp_path / "tmpdir").mkdir()
    (tmp_path / "home").mkdir()
    mbox = tmp_path / "series.mbox"
    shutil.move(corpus.mbox, mbox)
    repo = UserRepo(corpus.path, tmp_path, tmp_path / "hooks-ran", tmp_path / "tmpdir",
                    tmp_path / "linked", mbox)
    anon = repo.path / "mm" / "anon.c"
    header = repo.path / "include" / "linux" / "anon.h"
    # a stash entry
    anon.write_text(anon.read_text() + "/* stashed work */\n")
    repo.git("stash", "push", "-q", "-m", "work in progress")
    # staged changes; a file both staged and changed again in the work tree
    header.write_text(header.read_text() + "/* staged */\n")
    anon.write_text(anon.read_text() + "/* staged */\n")
    repo.git("add", "include/linux/anon.h", "mm/anon.c")
    anon.write_text(anon.read_text() + "/* not staged */\n")
    # untracked files, one of them C in mm/
    (repo.path / "notes.txt").write_text("todo: review the anon_vma series\n")
    (repo.path / "mm" / "scratch.c").write_text("int scratch(void)\n{\n\treturn 0;\n}\n")
    # the user's own worktrees: one there, one whose folder is away (removable disk)
    repo.git("worktree", "add", "-q", str(repo.linked), "-b", "feature", "series")
    (repo.linked / "wip.txt").write_text("linked worktree work\n")
    away = tmp_path / "usb-disk" / "wt"
    repo.git("worktree", "add", "-q", str(away), "-b", "on-usb", "main")
    shutil.rmtree(away.parent)
    install_hooks(repo)
    status = repo.git("status", "--porcelain=v2")
    assert "1 MM " in status and "1 M. " in status and "? notes.txt" in status
    assert repo.git("stash", "list")
    assert "prunable" in repo.git("worktree", "list", "--porcelain")
    return repo


def tree_files(root: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if rel_dir == Path("."):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            filenames = [f for f in filenames if f != ".git"]
        for d in dirnames:
            out[str(rel_dir / d) + "/"] = ("dir",)
        for f in filenames:
            p = Path(dirpath) / f
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[str(rel_dir / f)] = ("link", os.readlink(p))
            else:
                out[str(rel_dir / f)] = (oct(st.st_mode), st.st_mtime_ns, p.read_bytes())
    return out


def folder_bytes(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (hashlib.sha1(p.read_bytes()).hexdigest()
                                       + oct(p.stat().st_mode))
            for p in sorted(root.rglob("*")) if p.is_file()}


def snapshot(repo: UserRepo) -> dict:
    gitdir = repo.path / ".git"
    symbolic = subprocess.run(["git", "symbolic-ref", "-q", "HEAD"], cwd=repo.path,
                              env={**base_env(repo.tmp), "GIT_OPTIONAL_LOCKS": "0"},
                              capture_output=True).stdout
    return {
        "HEAD symbolic": symbolic,
        "HEAD": repo.git("rev-parse", "HEAD"),
        "refs": repo.git("for-each-ref", "--format=%(refname) %(objectname) %(symref)"),
        "index": repo.git("ls-files", "-s", "--debug"),
        "index bytes": (gitdir / "index").read_bytes(),
        "work tree": tree_files(repo.path),
        "linked work tree": tree_files(repo.linked),
        "stash": repo.git("stash", "list", "--format=%gd %H %gs"),
        "worktrees": repo.git("worktree", "list", "--porcelain"),
        "worktree admin": folder_bytes(gitdir / "worktrees"),
        "hooks": folder_bytes(gitdir / "hooks"),
        "status": repo.git("status", "--porcelain=v2", "--branch", "--untracked-files=all",
                           "--ignored"),
        "linked status": repo.git("status", "--porcelain=v2", "--branch", cwd=repo.linked),
        "reflogs": folder_bytes(gitdir / "logs"),
        "config": (gitdir / "config").read_bytes(),
        "info": folder_bytes(gitdir / "info"),
        "state files": sorted(p.name for p in gitdir.iterdir()
                              if p.name in ("ORIG_HEAD", "MERGE_HEAD", "CHERRY_PICK_HEAD",
                                            "rebase-apply", "rebase-merge", "index.lock",
                                            "HEAD.lock", "AUTO_MERGE")),
    }


def assert_nothing_lost(repo: UserRepo, before: dict) -> None:
    after = snapshot(repo)
    for key in before:
        assert after[key] == before[key], f"{key} changed"
    assert not repo.markers.exists(), f"hooks ran: {sorted(os.listdir(repo.markers))}"
    assert sorted(p.name for p in repo.tmpdir.iterdir()
                  if p.name.startswith("rmaplint")) == [], "temporary folders left behind"


def broken_mbox(src: Path, dest: Path) -> Path:
    """The series with a context line of patch 2 edited: git am stops at patch 2."""
    text = src.read_text()
    i, j = text.index("[PATCH 2/3]"), text.index("[PATCH 3/3]")
    ctx = " int anon_vma_fork(struct vm_area_struct *vma, struct vm_area_struct *pvma)\n"
    assert ctx in text[i:j]
    dest.write_text(text[:i] + text[i:j].replace(ctx, ctx.replace("pvma)", "parent)"))
                    + text[j:])
    return dest


# --------------------------------------------------------------------------- commands


COMMANDS = {
    "check": (["check", "--no-cache", "-q"], (0, 1)),
    "check --rev": (["check", "mm", "--rev", "series", "--no-cache", "-q"], (0, 1)),
    "check cached": (["check", "--cache-dir", "{tmp}/cache"], (0, 1)),
    "explain": (["explain", "mm/anon.c", "anon_vma_clone"], (0,)),
    "explain --rev": (["explain", "mm/anon.c", "anon_vma_clone", "--rev", "series~1"], (0,)),
    "history": (["history", "main..series", "--cache-dir", "{tmp}/cache"], (0,)),
    "history json": (["history", "main..series", "mm", "include", "--format", "json",
                      "--no-cache"], (0,)),
    "review mbox": (["review", "{mbox}", "--no-cache"], (0, 1)),
    "review mbox email": (["review", "{mbox}", "--format", "email", "--cache-dir",
                           "{tmp}/cache"], (0, 1)),
    "review mbox on a base": (["review", "{mbox}", "--base", "main", "--format", "json",
                               "--no-cache"], (0, 1)),
    "review range": (["review", "main..series", "--no-cache"], (0, 1)),
    "review mbox that fails to apply": (["review", "{broken}", "--no-cache"], (2,)),
    "review mbox that does not apply at all": (["review", "{mbox}", "--base", "series",
                                                "--no-cache"], (2,)),
    "review not an mbox": (["review", "notes.txt", "--no-cache"], (2,)),
    "review unknown range": (["review", "main..nope", "--no-cache"], (2,)),
    "demo": (["demo", "--no-cache"], (0,)),
    "review html": (["review", "main..series", "--no-cache", "--format", "html"], (0, 1)),
    "check html": (["check", "--no-cache", "-q", "--format", "html"], (0, 1)),
    "review upstream": (["review", "--no-cache"], (0, 1, 2)),
    "b4-check": (["b4-check", "--no-cache"], (0,)),
    "hook run pre-commit": (["hook", "run", "pre-commit", "--no-cache", "mm/anon.c"], (0, 1)),
    "rule": (["rule", "--all"], (0,)),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_touches_nothing(user_repo, name):
    args, codes = COMMANDS[name]
    broken = broken_mbox(user_repo.mbox, user_repo.tmp / "broken.mbox")
    args = [a.format(tmp=user_repo.tmp, mbox=user_repo.mbox, broken=broken) for a in args]
    before = snapshot(user_repo)
    stdin = None
    if name == "b4-check":
        stdin = user_repo.mbox.read_bytes().split(b"\nFrom ", 2)[0] + b"\n"
    proc = subprocess.run([sys.executable, "-m", "analyzer.cli", *args], cwd=user_repo.path,
                          env=user_repo.env(), capture_output=True, timeout=300, input=stdin)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode in codes, (proc.returncode, err)
    assert "Traceback" not in err, err
    if proc.returncode == 2:
        assert len(err.splitlines()) == 1 and err.startswith("rmaplint: error: "), err
    assert_nothing_lost(user_repo, before)


@pytest.mark.parametrize("name", ["review mbox", "demo", "review range"])
def test_under_a_git_hook_environment(user_repo, name):
    """Run from a hook (pre-commit sets GIT_INDEX_FILE, hooks set GIT_DIR): git am in the
    temporary worktree must not write the user's index or move the user's HEAD, and the
    corpus must not be committed into the user's repository."""
    args, codes = COMMANDS[name]
    args = [a.format(tmp=user_repo.tmp, mbox=user_repo.mbox) for a in args]
    gitdir = user_repo.path / ".git"
    env = user_repo.env(GIT_DIR=str(gitdir), GIT_WORK_TREE=str(user_repo.path),
                        GIT_INDEX_FILE=str(gitdir / "index"), GIT_PREFIX="")
    before = snapshot(user_repo)
    proc = user_repo.rmaplint(*args, env=env)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode in codes, (proc.returncode, err)
    assert "Traceback" not in err, err
    assert_nothing_lost(user_repo, before)


# --------------------------------------------------------------------------- killed half-way

# Runs rmaplint with one step of the review replaced by one that says it is there (a file
# named by RMAPLINT_TEST_READY) and waits to be killed: the signal lands at a known point.
BLOCKING_RUNNER = """\
import os, sys, time
import analyzer.workflow.review as review

def block():
    with open(os.environ["RMAPLINT_TEST_READY"], "w") as f:
        f.write(str(os.getpid()))
    while True:
        time.sleep(0.05)

phase = os.environ["RMAPLINT_TEST_PHASE"]
import analyzer.workflow.series as series
if phase == "temporary index":
    # the signal comes while git applies a patch to the temporary index
    original_git = series._git
    def _git(repo, args, env, input=None):
        if args[:1] == ["apply"]:
            block()
        return original_git(repo, args, env, input)
    series._git = _git
elif phase == "corpus build":
    import analyzer.workflow.corpus as corpus
    original_build = corpus.build_history
    def build_history(*args, **kwargs):
        original_build(*args, **kwargs)
        block()
    corpus.build_history = build_history
elif phase == "after apply":
    original_apply = review.apply_series
    def apply_series(*args, **kwargs):
        result = original_apply(*args, **kwargs)
        assert result.commits, "nothing applied"
        block()
    review.apply_series = apply_series
elif phase == "analysis":
    original_reports = review.RevisionAnalyser.reports
    def reports(self, rev, paths):
        out = original_reports(self, rev, paths)
        block()
    review.RevisionAnalyser.reports = reports
from analyzer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def wait_for(what: str, cond, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Poll ``cond`` until true; fail if the process ends first or the time runs out."""
    deadline = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"rmaplint ended (exit {proc.returncode}) before {what}: "
                        f"{err.decode(errors='replace')}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def send(proc: subprocess.Popen, how: str) -> None:
    if how == "SIGINT":
        proc.send_signal(signal.SIGINT)
    elif how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:  # Ctrl-C in a terminal: the whole process group, git children included
        os.killpg(proc.pid, signal.SIGINT)


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("rmaplint did not stop after the signal")
    return proc.returncode, err.decode(errors="replace")


def our_temporaries(repo: UserRepo) -> list[str]:
    return [p.name for p in repo.tmpdir.iterdir() if p.name.startswith("rmaplint")]


def our_worktrees(repo: UserRepo) -> list[str]:
    return [ln for ln in repo.git("worktree", "list", "--porcelain").splitlines()
            if ln.startswith("worktree ") and str(repo.tmpdir) in ln]


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGINT to the group"])
@pytest.mark.parametrize("phase", ["temporary index", "after apply", "analysis"])
def test_killed_at_a_known_point(user_repo, phase, how):
    ready = user_repo.tmp / "ready"
    go = user_repo.tmp / "go"
    runner = user_repo.tmp / "runner.py"
    runner.write_text(BLOCKING_RUNNER)
    before = snapshot(user_repo)
    proc = subprocess.Popen(
        [sys.executable, str(runner), "review", str(user_repo.mbox), "--no-cache"],
        cwd=user_repo.path, env=user_repo.env(RMAPLINT_TEST_READY=str(ready),
                                              RMAPLINT_TEST_GO=str(go),
                                              RMAPLINT_TEST_PHASE=phase),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    wait_for(phase, ready.exists, proc)
    assert our_worktrees(user_repo) == []  # no checkout: a temporary index only
    if phase == "temporary index":
        assert our_temporaries(user_repo)  # it is there, in TMPDIR
    send(proc, how)
    code, err = finish(proc)
    assert code == (143 if how == "SIGTERM" else 130), (code, err)
    assert err.splitlines() == [
        "rmaplint: terminated" if how == "SIGTERM" else "rmaplint: interrupted"], err
    assert our_worktrees(user_repo) == []
    assert_nothing_lost(user_repo, before)


BIG_FUNCTION = """
int big_walk_%(n)d(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct anon_vma_chain *avc, *pavc;

	anon_vma_lock_write(src->anon_vma);
	list_for_each_entry(pavc, &src->anon_vma_chain, same_vma) {
		avc = chain_alloc(GFP_NOWAIT | __GFP_NOWARN);
		if (!avc) {
			anon_vma_unlock_write(src->anon_vma);
			avc = chain_alloc(GFP_KERNEL);
			if (!avc)
				return -ENOMEM;
			anon_vma_lock_write(src->anon_vma);
		}
		chain_assign(dst, avc, pavc->anon_vma);
		anon_vma_interval_tree_insert(avc, &pavc->anon_vma->rb_root);
	}
	anon_vma_unlock_write(src->anon_vma);
	return %(ret)d;
}
"""


def slow_series(tmp: Path, functions: int = 600, patches: int = 4) -> Path:
    """An mbox of ``patches`` patches on the corpus base, each changing a big file (written
    for this test) that takes seconds to analyse: a window to interrupt the review in."""
    scratch = build_history(tmp / "scratch")
    env = {**base_env(tmp), "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.org",
           "GIT_COMMITTER_NAME": "A", "GIT_COMMITTER_EMAIL": "a@example.org"}

    def g(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=scratch.path, env=env, check=True,
                              capture_output=True).stdout.decode()

    g("checkout", "-q", "-b", "slow", "main")
    for k in range(patches):
        body = '#include <linux/anon.h>\n' + "".join(
            BIG_FUNCTION % {"n": n, "ret": k if n == k else 0} for n in range(functions))
        (scratch.path / "mm" / "big.c").write_text(body)
        g("add", "mm/big.c")
        g("commit", "-q", "-m", f"mm/big: step {k}")
    mbox = tmp / "slow.mbox"
    mbox.write_text(g("format-patch", "--stdout", "main..slow"))
    shutil.rmtree(scratch.path)
    return mbox


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGINT to the group"])
def test_killed_while_reviewing(user_repo, how):
    """A real review of a slow series, signalled as soon as its temporary index shows."""
    mbox = slow_series(user_repo.tmp / "slow")
    before = snapshot(user_repo)
    proc = subprocess.Popen([sys.executable, "-m", "analyzer.cli", "review", str(mbox),
                             "--no-cache"], cwd=user_repo.path, env=user_repo.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    wait_for("the temporary index appeared", lambda: our_temporaries(user_repo), proc)
    send(proc, how)
    code, err = finish(proc)
    assert code == (143 if how == "SIGTERM" else 130), (code, err)
    assert err.splitlines() == [
        "rmaplint: terminated" if how == "SIGTERM" else "rmaplint: interrupted"], err
    assert our_worktrees(user_repo) == []
    assert_nothing_lost(user_repo, before)


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_embedded_default_killed_while_building_the_corpus(user_repo, how):
    ready = user_repo.tmp / "ready"
    runner = user_repo.tmp / "runner.py"
    runner.write_text(BLOCKING_RUNNER)
    before = snapshot(user_repo)
    proc = subprocess.Popen(
        [sys.executable, str(runner), "demo", "--no-cache"],
        cwd=user_repo.path, env=user_repo.env(RMAPLINT_TEST_READY=str(ready),
                                              RMAPLINT_TEST_PHASE="corpus build"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    wait_for("the corpus was built", ready.exists, proc)
    send(proc, how)
    code, err = finish(proc)
    assert_nothing_lost(user_repo, before)
    assert code == (143 if how == "SIGTERM" else 130), (code, err)
