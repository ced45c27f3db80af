"""Hostile and broken input, through the command line: each case ends with a clear one-line
message and exit 2, or with a per-file status — never a traceback, never a hang.

What other files already cover is not repeated here: non-UTF-8 text, a binary ``.c``, a
missing path, an unknown revision, a revision or range that looks like an option
(test_cli.py); not-an-mbox, an empty series, a patch that does not apply, a branch with shell
metacharacters for ``review`` (test_review.py); link loops, FIFOs and unreadable files in the
source layer, a bare repository for ``GitSource`` (test_source.py); nothing of the user's
repository lost on a kill (test_nothing_lost.py).

Here: NUL bytes past git's binary sniff, CRLF line endings, a 10 MB file, 2,000 nested
blocks (and parentheses), an unterminated comment or string at end of file, a symlink loop
and a FIFO in the tree, a file root cannot read, a shallow clone, a bare repository for every
command, a repository in the middle of a rebase, paths named like options, and a file and a
branch with shell metacharacters for ``check``, ``explain`` and ``history``.

Every run is a subprocess with ``--no-cache`` (or a cache under tmp_path) and a timeout, HOME
and XDG_CACHE_HOME under tmp_path, and no GIT_* variable from the caller.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Written for these tests in kernel style; not kernel source.
FOO_C = """\
// SPDX-License-Identifier: GPL-2.0
#include "internal.h"

int foo_update(struct foo *x)
{
	int err = 0;

	down_write(&x->lock);
	if (!x->count)
		goto out;
	x->count++;
out:
	up_write(&x->lock);
	return err;
}
"""

INTERNAL_H = """\
/* SPDX-License-Identifier: GPL-2.0 */
struct foo {
	struct rw_semaphore lock;
	int count;
};
"""

LOCKED_FN = """\
int {name}(struct foo *x)
{{
	down_write(&x->lock);
	x->count = 1;
	up_write(&x->lock);
	return 0;
}}
"""


# --------------------------------------------------------------------------- running it


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") and k != "RMAPLINT_DEBUG"}
    env.update(PYTHONPATH=str(REPO_ROOT), HOME=str(home),
               XDG_CACHE_HOME=str(home / "xdg-cache"), XDG_CONFIG_HOME=str(home / "xdg-config"),
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
               GIT_CEILING_DIRECTORIES=str(home.parent),
               GIT_AUTHOR_NAME="rmaplint tests", GIT_AUTHOR_EMAIL="tests@rmaplint.invalid",
               GIT_COMMITTER_NAME="rmaplint tests",
               GIT_COMMITTER_EMAIL="tests@rmaplint.invalid",
               GIT_AUTHOR_DATE="2025-01-01T00:00:00+0000",
               GIT_COMMITTER_DATE="2025-01-01T00:00:00+0000")
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def cli(home: Path):
    """``cli(*args, cwd=..., prefix=[...])`` → CompletedProcess (bytes)."""

    def run(*args: str, cwd: Path | None = None, prefix: tuple[str, ...] = (),
            timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, sys.executable, "-m", "analyzer.cli", *args],
                              cwd=cwd or home, env=clean_env(home), capture_output=True,
                              timeout=timeout)

    return run


def git(repo: Path, home: Path, *args: str, check: bool = True) -> str:
    out = subprocess.run(["git", *args], cwd=repo, env=clean_env(home), capture_output=True,
                         check=check)
    return out.stdout.decode(errors="replace").strip()


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def make_repo(path: Path, home: Path, *revisions: dict[str, str | bytes]) -> list[str]:
    """A repository with one commit per revision on branch main; the commit ids."""
    path.mkdir(parents=True)
    git(path, home, "init", "-q", "-b", "main")
    commits = []
    for i, rev in enumerate(revisions):
        write(path, rev)
        git(path, home, "add", "-A")
        git(path, home, "commit", "-q", "--allow-empty", "-m", f"revision {i}")
        commits.append(git(path, home, "rev-parse", "HEAD"))
    return commits


def one_line_error(proc: subprocess.CompletedProcess, *needles: str,
                   stdout_empty: bool = True) -> str:
    """Exit 2, exactly one stderr line ``rmaplint: error: ...``, no traceback."""
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, (proc.returncode, err, proc.stdout[:500])
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rmaplint: error: "), err
    if stdout_empty:
        assert proc.stdout == b"", proc.stdout[:500]
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def report(proc: subprocess.CompletedProcess) -> dict:
    """A check/history JSON report: exit 0 or 1 (findings), no traceback, nothing on stderr."""
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode in (0, 1), (proc.returncode, err)
    assert "Traceback" not in err and not err.strip(), err
    return json.loads(proc.stdout)


def statuses(doc: dict) -> dict[str, dict]:
    return {f["path"]: f for f in doc["files"]}


def explain_lines(proc: subprocess.CompletedProcess) -> list[dict]:
    doc = report(proc)
    assert doc["schema"] == "rmaplint-explain/1"
    return doc["lines"]


def held(entry: dict, lock: str) -> str | None:
    for h in entry["held"]:
        if h["lock"] == lock:
            return h["certainty"]
    return None


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write(tmp_path / "tree", {"mm/foo.c": FOO_C, "mm/internal.h": INTERNAL_H})


# --------------------------------------------------------------------------- file contents


def test_nul_bytes_past_the_binary_sniff(cli, tree):
    """git calls a file binary only for a NUL in its first 8 KiB; one later is analysed like
    any other byte: the function holding it is degraded, the others are fine."""
    pad = "/* padding: nothing to see */\n" * 400  # > 8 KiB
    data = (pad + LOCKED_FN.format(name="before_nul")).encode() + b"/* \x00 */\n" \
        + LOCKED_FN.format(name="with_nul").replace("x->count = 1;", "x->count = 1;\0").encode()
    assert b"\0" not in data[:8192]
    write(tree, {"mm/nul.c": data})
    doc = report(cli("check", "mm", "--repo", str(tree), "--format", "json", "--no-cache"))
    f = statuses(doc)["mm/nul.c"]
    assert f["status"] in ("ok", "degraded") and f["functions"] == 2, f
    lines = explain_lines(cli("explain", "mm/nul.c", "before_nul", "--repo", str(tree),
                              "--format", "json"))
    entry = next(e for e in lines if e["text"].strip() == "x->count = 1;")
    assert held(entry, "x->lock") == "must"
    # named explicitly with a NUL in the first 8 KiB: refused (test_cli), not so here
    report(cli("check", "mm/nul.c", "--repo", str(tree), "--format", "json", "--no-cache"))


def test_crlf_line_endings(cli, tree):
    """Windows line endings: the lines of explain are the file's lines (without the CR),
    the lock states are those of the LF file."""
    crlf = FOO_C.replace("\n", "\r\n").encode()
    write(tree, {"mm/crlf.c": crlf})
    doc = report(cli("check", "mm/crlf.c", "--repo", str(tree), "--format", "json",
                     "--no-cache"))
    assert statuses(doc)["mm/crlf.c"]["status"] == "ok"
    lines = explain_lines(cli("explain", "mm/crlf.c", "foo_update", "--repo", str(tree),
                              "--format", "json"))
    raw = crlf.split(b"\r\n")
    for e in lines:
        assert e["text"].encode("utf-8", "surrogateescape") == raw[e["line"] - 1], e
        assert "\r" not in e["text"]
    lf = explain_lines(cli("explain", "mm/foo.c", "foo_update", "--repo", str(tree),
                           "--format", "json"))
    assert [(e["line"], e["text"], e["held"]) for e in lines] == \
        [(e["line"], e["text"], e["held"]) for e in lf]
    bump = next(e for e in lines if e["text"].strip() == "x->count++;")
    assert held(bump, "x->lock") == "must"
    # the text view too: one line per source line, no stray carriage return
    text = cli("explain", "mm/crlf.c", "foo_update", "--repo", str(tree))
    assert text.returncode == 0 and b"\r" not in text.stdout, text.stderr


def huge_source(size: int) -> tuple[str, int]:
    """About ``size`` bytes of generated C: a firmware-style table, register #defines and
    a few thousand small locked functions (what the kernel's largest files are made of)."""
    parts = ["static const unsigned char fw_blob[] = {\n"]
    row = "\t" + ", ".join(f"0x{(i * 37) % 256:02x}" for i in range(16)) + ",\n"
    n = len(parts[0])
    while n < size * 0.8:
        parts.append(row)
        n += len(row)
    parts.append("};\n")
    i = 0
    while n < size * 0.95:
        s = f"#define REG_{i}_OFFSET 0x{i * 4:08x} /* register {i} */\n"
        parts.append(s)
        n += len(s)
        i += 1
    fns = 0
    while n < size:
        s = (f"int fn_{fns}(struct foo *x)\n{{\n\tint r = 0;\n\n\tspin_lock(&x->lock);\n"
             f"\tif (x->count > {fns})\n\t\tr = x->count;\n\tspin_unlock(&x->lock);\n"
             f"\treturn r;\n}}\n\n")
        parts.append(s)
        n += len(s)
        fns += 1
    return "".join(parts), fns


def test_a_10_mb_file(cli, tree):
    text, fns = huge_source(10_000_000)
    assert len(text) >= 10_000_000
    write(tree, {"mm/huge.c": text})
    doc = report(cli("check", "mm", "--repo", str(tree), "--format", "json", "--no-cache",
                     timeout=900))
    f = statuses(doc)["mm/huge.c"]
    assert f["status"] == "ok" and f["functions"] == fns, f
    assert statuses(doc)["mm/foo.c"]["status"] == "ok"


@pytest.mark.parametrize("shape", ["blocks", "ifs", "parentheses"])
def test_2000_nested(cli, tree, shape):
    """2,000 levels of nesting: a per-file status (``error: nesting too deep``) or a
    result, in the main process and in worker processes; never a RecursionError trace."""
    depth = 2000
    if shape == "blocks":
        body = "\t{\n" * depth + "\tdown_write(&x->lock);\n" + "\t}\n" * depth
    elif shape == "ifs":
        body = "\tif (x->count)\n" * depth + "\t\tdown_write(&x->lock);\n"
    else:
        body = "\tx->count = " + "(" * depth + "1" + ")" * depth + ";\n" \
            + "\tdown_write(&x->lock);\n"
    src = f"int deep(struct foo *x)\n{{\n{body}\tup_write(&x->lock);\n\treturn 0;\n}}\n" \
        + LOCKED_FN.format(name="shallow")
    write(tree, {"mm/deep.c": src})
    for jobs in ("1", "2"):
        doc = report(cli("check", "mm", "--repo", str(tree), "--format", "json", "--no-cache",
                         "--jobs", jobs))
        f = statuses(doc)["mm/deep.c"]
        assert f["status"] in ("ok", "degraded", "error"), f
        if f["status"] == "error":
            assert f["error"] == "nesting too deep to analyse", f
        assert statuses(doc)["mm/foo.c"]["status"] == "ok"  # the run went on
    proc = cli("explain", "mm/deep.c", "shallow", "--repo", str(tree), "--format", "json")
    if proc.returncode == 2:
        one_line_error(proc, "mm/deep.c", "nesting too deep")
    else:
        assert explain_lines(proc)


@pytest.mark.parametrize("case", ["comment", "string", "char"])
def test_unterminated_at_end_of_file(cli, tree, case):
    ending = {"comment": "/* a comment never closed\nint hidden(void)\n{\n\treturn 1;\n}\n",
              "string": "static const char *s = \"a string never closed\n",
              "char": "static char c = '\n"}[case]
    write(tree, {"mm/open.c": LOCKED_FN.format(name="complete") + ending})
    doc = report(cli("check", "mm", "--repo", str(tree), "--format", "json", "--no-cache"))
    f = statuses(doc)["mm/open.c"]
    assert f["status"] in ("ok", "degraded"), f
    if case == "comment":
        # what follows an open comment is comment text, as the compiler reads it
        assert f["functions"] == 1, f
        one_line_error(cli("explain", "mm/open.c", "hidden", "--repo", str(tree)),
                       "no function 'hidden'")
    lines = explain_lines(cli("explain", "mm/open.c", "complete", "--repo", str(tree),
                              "--format", "json"))
    entry = next(e for e in lines if e["text"].strip() == "x->count = 1;")
    assert held(entry, "x->lock") == "must"
    # the open construct inside a function: that function is degraded, no more
    write(tree, {"mm/open.c": LOCKED_FN.format(name="complete")
                 + ending.replace("int hidden", "int hidden2").join(
                     ["int broken(void)\n{\n", ""])})
    doc = report(cli("check", "mm/open.c", "--repo", str(tree), "--format", "json",
                     "--no-cache"))
    assert statuses(doc)["mm/open.c"]["status"] in ("ok", "degraded")


def test_includes_that_climb_out_of_the_tree(cli, home, tmp_path):
    """``#include "../../x.h"`` from a file near the top names a path outside the tree
    (tools/include/asm/barrier.h does): no such header, not an error for the file."""
    files = {"mm/foo.c": FOO_C, "mm/internal.h": INTERNAL_H,
             "mm/climb.c": '#include "../../outside.h"\n#include "../../../../../etc/passwd"\n'
             '#include <../../up.h>\n' + LOCKED_FN.format(name="climb")}
    repo = tmp_path / "repo"
    make_repo(repo, home, files)
    (tmp_path / "outside.h").write_text("struct foo { int x; };\n")
    for rev in ((), ("--rev", "HEAD")):
        doc = report(cli("check", "mm", "--repo", str(repo), *rev, "--format", "json",
                         "--no-cache"))
        f = statuses(doc)["mm/climb.c"]
        assert f["status"] == "ok" and f["functions"] == 1, f
        lines = explain_lines(cli("explain", "mm/climb.c", "climb", "--repo", str(repo), *rev,
                                  "--format", "json"))
        assert any(held(e, "x->lock") == "must" for e in lines)


# --------------------------------------------------------------------------- the file system


def test_symlink_loop_and_special_files(cli, tree, tmp_path):
    mm = tree / "mm"
    (mm / "loop_a.c").symlink_to("loop_b.c")
    (mm / "loop_b.c").symlink_to("loop_a.c")
    (mm / "sub").mkdir()
    (mm / "sub" / "up").symlink_to("..")  # a folder loop
    (mm / "self.c").symlink_to("self.c")
    os.mkfifo(mm / "fifo.c")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(mm / "sock.c"))
    try:
        proc = cli("check", "mm", "--repo", str(tree), "--format", "json", "--no-cache",
                   timeout=120)  # a walk that followed the loop, or opened the FIFO, hangs
        assert sorted(statuses(report(proc))) == ["mm/foo.c", "mm/internal.h"]
        for bad, why in [("mm/loop_a.c", "mm/loop_a.c"), ("mm/self.c", "mm/self.c"),
                         ("mm/fifo.c", "not a regular file"),
                         ("mm/sock.c", "not a regular file")]:
            one_line_error(cli("check", bad, "--repo", str(tree), "--no-cache",
                               timeout=120), why)
            one_line_error(cli("explain", bad, "f", "--repo", str(tree), timeout=120), why)
        # a path through the folder loop, named: read through the links like any named
        # symlink (it is mm/foo.c)
        doc = report(cli("check", "mm/sub/up/sub/up/foo.c", "--repo", str(tree),
                         "--format", "json", "--no-cache"))
        assert [f["status"] for f in doc["files"]] == ["ok"]
    finally:
        sock.close()


def test_symlink_loop_in_a_revision(cli, home, tmp_path):
    repo = tmp_path / "repo"
    make_repo(repo, home, {"mm/foo.c": FOO_C, "mm/internal.h": INTERNAL_H})
    (repo / "mm" / "loop_a.c").symlink_to("loop_b.c")
    (repo / "mm" / "loop_b.c").symlink_to("loop_a.c")
    git(repo, home, "add", "-A")
    git(repo, home, "commit", "-q", "-m", "links")
    doc = report(cli("check", "mm", "--repo", str(repo), "--rev", "HEAD", "--format", "json",
                     "--no-cache"))
    assert sorted(statuses(doc)) == ["mm/foo.c", "mm/internal.h"]
    one_line_error(cli("check", "mm/loop_a.c", "--repo", str(repo), "--rev", "HEAD",
                       "--no-cache"), "mm/loop_a.c")


def _drop_dac_prefix() -> tuple[str, ...] | None:
    """A command prefix under which root obeys file modes (no CAP_DAC_OVERRIDE or
    CAP_DAC_READ_SEARCH), or None when it cannot be had here."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search")
    probe = subprocess.run([*prefix, sys.executable, "-c", "import os; os.access('/', 0)"],
                           capture_output=True)
    return prefix if probe.returncode == 0 else None


def test_unreadable_file(cli, tree):
    """chmod 000: skipped by a folder walk, a one-line error when named. test_cli.py has
    the same for a normal user and skips under root; here root is made to obey the mode."""
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        prefix = _drop_dac_prefix() or ()
        if not prefix:
            pytest.skip("running as root and setpriv cannot drop CAP_DAC_OVERRIDE here")
    secret = tree / "mm" / "secret.c"
    secret.write_text(LOCKED_FN.format(name="secret"))
    secret.chmod(0)
    locked_dir = tree / "mm" / "locked"
    write(tree, {"mm/locked/inner.c": LOCKED_FN.format(name="inner")})
    locked_dir.chmod(0)
    try:
        doc = report(cli("check", "mm", "--repo", str(tree), "--format", "json", "--no-cache",
                         prefix=prefix))
        assert sorted(statuses(doc)) == ["mm/foo.c", "mm/internal.h"]
        one_line_error(cli("check", "mm/secret.c", "--repo", str(tree), "--no-cache",
                           prefix=prefix), "mm/secret.c")
        one_line_error(cli("explain", "mm/secret.c", "secret", "--repo", str(tree),
                           prefix=prefix), "mm/secret.c")
        one_line_error(cli("check", "mm/locked/inner.c", "--repo", str(tree), "--no-cache",
                           prefix=prefix), "mm/locked/inner.c")
    finally:
        locked_dir.chmod(0o755)
        secret.chmod(0o644)


# --------------------------------------------------------------------------- repositories


def test_shallow_clone(cli, home, tmp_path):
    origin = tmp_path / "origin"
    c = make_repo(origin, home, {"mm/foo.c": FOO_C, "mm/internal.h": INTERNAL_H},
                  {"mm/foo.c": FOO_C.replace("x->count++;", "x->count += 2;")},
                  {"mm/foo.c": FOO_C.replace("x->count++;", "x->count += 3;")})
    shallow = tmp_path / "shallow"
    git(tmp_path, home, "clone", "-q", "--depth", "1", "--branch", "main",
        f"file://{origin}", str(shallow))
    assert (shallow / ".git" / "shallow").is_file()
    doc = report(cli("check", "mm", "--repo", str(shallow), "--rev", "HEAD", "--format",
                     "json", "--no-cache"))
    assert statuses(doc)["mm/foo.c"]["status"] == "ok"
    report(cli("check", "mm", "--repo", str(shallow), "--format", "json", "--no-cache"))
    # ranges that reach beyond the shallow boundary: the commits are not there
    for rng in (f"{c[0]}..{c[2]}", "HEAD~1..HEAD", "HEAD~2..HEAD"):
        one_line_error(cli("history", rng, "mm", "--repo", str(shallow), "--no-cache"))
        one_line_error(cli("review", rng, "--repo", str(shallow), "--no-cache"))
    one_line_error(cli("check", "mm", "--repo", str(shallow), "--rev", c[0], "--no-cache"),
                   c[0], "shallow clone")
    # a deeper clone: the range inside the history it has works
    deeper = tmp_path / "deeper"
    git(tmp_path, home, "clone", "-q", "--depth", "2", "--branch", "main",
        f"file://{origin}", str(deeper))
    doc = report(cli("history", "HEAD~1..HEAD", "mm", "--repo", str(deeper), "--format",
                     "json", "--no-cache"))
    assert [r["commit"] for r in doc["revisions"]][-1] == c[2]


def test_bare_repository(cli, home, tmp_path):
    origin = tmp_path / "origin"
    make_repo(origin, home, {"mm/foo.c": FOO_C, "mm/internal.h": INTERNAL_H},
              {"mm/foo.c": FOO_C.replace("x->count++;", "x->count += 2;")})
    bare = tmp_path / "bare.git"
    git(tmp_path, home, "clone", "-q", "--bare", str(origin), str(bare))
    before = sorted(p.relative_to(bare) for p in bare.rglob("*"))
    one_line_error(cli("check", "mm", "--repo", str(bare), "--rev", "HEAD", "--no-cache"),
                   "bare")
    one_line_error(cli("explain", "mm/foo.c", "foo_update", "--repo", str(bare), "--rev",
                       "HEAD"), "bare")
    one_line_error(cli("check", "mm", "--repo", str(bare), "--no-cache"))
    for args in (["review", "main~1..main"], ["history", "main~1..main"]):
        one_line_error(cli(*args, "--repo", str(bare), "--no-cache"), "bare")
        one_line_error(cli(*args, "--no-cache", cwd=bare), "bare")
    one_line_error(cli("check", "mm", "--rev", "HEAD", "--no-cache", cwd=bare))
    assert sorted(p.relative_to(bare) for p in bare.rglob("*")) == before


def test_repository_in_the_middle_of_a_rebase(cli, home, tmp_path):
    repo = tmp_path / "repo"
    c = make_repo(repo, home, {"mm/foo.c": FOO_C, "mm/internal.h": INTERNAL_H})
    git(repo, home, "checkout", "-q", "-b", "topic")
    write(repo, {"mm/foo.c": FOO_C.replace("x->count++;", "x->count += 2;")})
    git(repo, home, "commit", "-q", "-am", "topic: count by two")
    topic = git(repo, home, "rev-parse", "HEAD")
    git(repo, home, "checkout", "-q", "main")
    write(repo, {"mm/foo.c": FOO_C.replace("x->count++;", "x->count += 3;")})
    git(repo, home, "commit", "-q", "-am", "main: count by three")
    main = git(repo, home, "rev-parse", "HEAD")
    git(repo, home, "checkout", "-q", "topic")
    proc = subprocess.run(["git", "rebase", "main"], cwd=repo, env=clean_env(home),
                          capture_output=True)
    assert proc.returncode != 0  # stopped on the conflict
    state_dir = repo / ".git" / "rebase-merge"
    assert state_dir.is_dir()
    assert b"<<<<<<<" in (repo / "mm" / "foo.c").read_bytes()

    def snapshot():
        return (git(repo, home, "rev-parse", "HEAD"), git(repo, home, "status", "--porcelain"),
                git(repo, home, "ls-files", "--stage", "-u"),
                git(repo, home, "for-each-ref"), git(repo, home, "worktree", "list"),
                git(repo, home, "stash", "list"), (repo / "mm" / "foo.c").read_bytes(),
                sorted(p.name for p in state_dir.iterdir()))

    before = snapshot()
    # the work tree, conflict markers and all: a file status, not a crash
    doc = report(cli("check", "mm", "--repo", str(repo), "--format", "json", "--no-cache"))
    assert statuses(doc)["mm/foo.c"]["status"] in ("ok", "degraded")
    doc = report(cli("check", "mm", "--repo", str(repo), "--rev", "HEAD", "--format", "json",
                     "--no-cache"))
    assert statuses(doc)["mm/foo.c"]["status"] == "ok"
    doc = report(cli("check", ".", "--rev", "HEAD", "--format", "json", "--no-cache",
                     cwd=repo / "mm"))
    assert statuses(doc)["mm/foo.c"]["status"] == "ok"
    for args in (["review", f"{c[0]}..{topic}"], ["review", f"{c[0]}..{main}"],
                 ["history", f"{c[0]}..{main}", "mm"], ["history", f"{c[0]}..{topic}"]):
        proc = cli(*args, "--repo", str(repo), "--format", "json", "--no-cache")
        if proc.returncode == 2:
            one_line_error(proc)
        else:
            report(proc)
        assert snapshot() == before, args
    assert state_dir.is_dir()
    git(repo, home, "rebase", "--abort")  # the rebase is still the user's to finish
    assert git(repo, home, "rev-parse", "HEAD") == topic


# --------------------------------------------------------------------------- names


OPTION_NAMES = ["-rf.c", "--upload-pack=touch PWNED.c", "--output=x.c", "-h.c"]


def test_paths_named_like_options(cli, home, tmp_path):
    repo = tmp_path / "repo"
    files = {name: LOCKED_FN.format(name=f"fn{i}") for i, name in enumerate(OPTION_NAMES)}
    files["mm/foo.c"] = FOO_C
    files["mm/internal.h"] = INTERNAL_H
    files["mm/-rf.c"] = LOCKED_FN.format(name="in_mm")
    c = make_repo(repo, home, files,
                  {name: LOCKED_FN.format(name=f"fn{i}").replace("x->count = 1;",
                                                                 "x->count = 2;")
                   for i, name in enumerate(OPTION_NAMES)})
    for rev in ((), ("--rev", "HEAD")):
        for name in OPTION_NAMES:
            doc = report(cli("check", "--repo", str(repo), *rev, "--format", "json",
                             "--no-cache", "--", name))
            assert [(f["path"], f["status"]) for f in doc["files"]] == [(name, "ok")]
            lines = explain_lines(cli("explain", "--repo", str(repo), *rev, "--format",
                                      "json", "--", name, f"fn{OPTION_NAMES.index(name)}"))
            assert any(held(e, "x->lock") == "must" for e in lines)
        # as a path that does not start with a dash
        doc = report(cli("check", "mm/-rf.c", "./-rf.c", "--repo", str(repo), *rev,
                         "--format", "json", "--no-cache"))
        assert sorted(statuses(doc)) == ["-rf.c", "mm/-rf.c"]
    # from inside the repository, relative to the current folder
    doc = report(cli("check", "--format", "json", "--no-cache", "--", "-rf.c", cwd=repo / "mm"))
    assert sorted(statuses(doc)) == ["mm/-rf.c"]
    doc = report(cli("history", "--repo", str(repo), "--format", "json", "--no-cache",
                     f"{c[0]}..{c[1]}", "--", *OPTION_NAMES))
    assert [r["commit"] for r in doc["revisions"]] == [c[1]]
    assert not list(tmp_path.rglob("PWNED*")) and not (repo / "x").exists()
    assert not list(home.rglob("PWNED*"))
    assert git(repo, home, "status", "--porcelain") == ""


META = "a;b$(touch${IFS}PWNED)|c&`touch${IFS}PWNED2`'\"*?.c"


def test_file_and_branch_with_shell_metacharacters(cli, home, tmp_path):
    repo = tmp_path / "repo"
    c = make_repo(repo, home, {META: LOCKED_FN.format(name="meta"), "mm/foo.c": FOO_C,
                               "mm/internal.h": INTERNAL_H},
                  {META: LOCKED_FN.format(name="meta").replace("x->count = 1;",
                                                               "x->count = 2;")})
    branch = "x;y$(touch${IFS}PWNED3)|z&`touch${IFS}PWNED4`"
    git(repo, home, "check-ref-format", "--branch", branch)
    git(repo, home, "branch", branch, c[1])
    for rev in ((), ("--rev", "HEAD"), ("--rev", branch)):
        doc = report(cli("check", META, "--repo", str(repo), *rev, "--format", "json",
                         "--no-cache"))
        assert [(f["path"], f["status"]) for f in doc["files"]] == [(META, "ok")]
        doc = report(cli("check", "--repo", str(repo), *rev, "--format", "json",
                         "--no-cache", "--", "."))
        assert META in statuses(doc)
        lines = explain_lines(cli("explain", META, "meta", "--repo", str(repo), *rev,
                                  "--format", "json"))
        assert any(held(e, "x->lock") == "must" for e in lines)
    doc = report(cli("history", f"main~1..{branch}", META, "--repo", str(repo), "--format",
                     "json", "--no-cache"))
    assert [r["commit"] for r in doc["revisions"]] == [c[1]]
    doc = report(cli("history", f"{c[0]}..{c[1]}", META, "--repo", str(repo), "--format",
                     "json", "--no-cache"))
    assert [r["commit"] for r in doc["revisions"]] == [c[1]]
    text = cli("check", META, "--repo", str(repo), "--no-cache", "--fail-on", "error")
    assert text.returncode == 0, text.stderr
    for d in (repo, tmp_path, home, Path.cwd()):
        assert not list(d.rglob("PWNED*")), d
    assert git(repo, home, "status", "--porcelain") == ""


def test_folders_and_devices_named_like_c_files(cli, tree):
    """A directory named like a C file, and a link to a character device (reading it would
    never end for /dev/zero; /dev/null stands in)."""
    (tree / "mm" / "dir.c").mkdir()
    write(tree, {"mm/dir.c/inner.c": LOCKED_FN.format(name="inner"),
                 "mm/dir.c/other.c": LOCKED_FN.format(name="other")})
    doc = report(cli("check", "mm/dir.c", "--repo", str(tree), "--format", "json",
                     "--no-cache"))
    assert sorted(statuses(doc)) == ["mm/dir.c/inner.c", "mm/dir.c/other.c"]
    one_line_error(cli("explain", "mm/dir.c", "inner", "--repo", str(tree)), "mm/dir.c",
                   "one file")
    dev = Path("/dev/null")
    if dev.exists() and stat.S_ISCHR(dev.stat().st_mode):
        (tree / "mm" / "null.c").symlink_to(dev)
        doc = report(cli("check", "mm", "--repo", str(tree), "--format", "json", "--no-cache",
                         timeout=120))
        assert "mm/null.c" not in statuses(doc)
        one_line_error(cli("check", "mm/null.c", "--repo", str(tree), "--no-cache",
                           timeout=120), "not a regular file")


def test_no_shell_anywhere():
    """Every external command is an argument list: no shell that a file or branch name
    could reach (the behaviour is tested above; this keeps a shell from coming back)."""
    offenders = []
    for path in sorted((REPO_ROOT / "analyzer").rglob("*.py")) + [REPO_ROOT / "scripts"
                                                                   / "sweep.py"]:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if any(bad in line for bad in ("shell=True", "os.system(", "os.popen(",
                                            "subprocess.getoutput", "subprocess.getstatusoutput")):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
