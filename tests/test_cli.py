"""The rmaplint command line, run as a user runs it: in a subprocess, judged by exit code,
stdout and stderr.

Every run gets ``--cache-dir`` under tmp_path or ``--no-cache`` (and XDG_CACHE_HOME points into
tmp_path as well), so nothing reaches ~/.cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

FILE_KEYS = {"path", "status", "functions", "degraded_functions", "error", "degraded",
             "decided"}
SUMMARY_KEYS = {"files", "files_ok", "files_degraded", "files_error", "functions",
                "degraded_functions", "degraded_share", "findings", "by_rule", "by_severity",
                "seconds", "cache_hits"}
STATUSES = {"ok", "degraded", "error"}

# --------------------------------------------------------------------------- a small tree
# Written for these tests in kernel style; not copied from the kernel.

RMAP_H = """\
/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LINUX_RMAP_H
#define _LINUX_RMAP_H

struct anon_vma {
	struct anon_vma *root;
	struct rw_semaphore rwsem;
	unsigned long num_children;
};

static inline void anon_vma_lock_write(struct anon_vma *anon_vma)
{
	down_write(&anon_vma->root->rwsem);
}

static inline void anon_vma_unlock_write(struct anon_vma *anon_vma)
{
	up_write(&anon_vma->root->rwsem);
}

#endif /* _LINUX_RMAP_H */
"""

FOO_C = """\
// SPDX-License-Identifier: GPL-2.0
/*
 * A test file: a folder lock around a list walk, and the anon_vma lock around an update
 * with a goto error path.
 */
#include <linux/rmap.h>
#include "internal.h"

int foo_sum(struct foo *x)
{
	struct foo_item *it;
	int sum = 0;

	down_write(&x->lock);
	list_for_each_entry(it, &x->items, node)
		sum += it->val;
	up_write(&x->lock);
	return sum;
}

int foo_link(struct foo *x, struct anon_vma *anon_vma)
{
	int err = -ENOMEM;

	anon_vma_lock_write(anon_vma);
	if (!x)
		goto out_unlock;
	x->count++;
	anon_vma->num_children++;
	err = 0;
out_unlock:
	anon_vma_unlock_write(anon_vma);
	return err;
}
"""

BAR_C = """\
// SPDX-License-Identifier: GPL-2.0
#include "internal.h"

static void bar_bump(struct foo *x)
{
	x->count++;
}

void bar_update(struct foo *x)
{
	down_read(&x->lock);
	bar_bump(x);
	up_read(&x->lock);
}
"""

INTERNAL_H = """\
/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __MM_INTERNAL_H
#define __MM_INTERNAL_H

struct foo {
	struct rw_semaphore lock;
	struct list_head items;
	int count;
};

struct foo_item {
	struct list_head node;
	int val;
};

#endif
"""

TREE = {
    "include/linux/rmap.h": RMAP_H,
    "mm/internal.h": INTERNAL_H,
    "mm/foo.c": FOO_C,
    "mm/bar.c": BAR_C,
}

ANON = "anon_vma->root->rwsem"


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "tree", TREE)


# --------------------------------------------------------------------------- running it


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") and k != "RMAPLINT_DEBUG"}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        XDG_CACHE_HOME=str(tmp_path / "xdg-cache"),
        # git must not find a repository above tmp_path (a test may run inside a checkout)
        GIT_CEILING_DIRECTORIES=str(tmp_path.parent),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
    )
    return env


@pytest.fixture
def rmaplint(cli_env, tmp_path):
    """``rmaplint(*args, cwd=..., env=...)`` → CompletedProcess with bytes stdout/stderr."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "analyzer.cli", *args],
            cwd=cwd or tmp_path, env={**cli_env, **(env or {})},
            capture_output=True, timeout=timeout,
        )

    return run


def assert_input_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 2, nothing on stdout, exactly one stderr line ``rmaplint: error: ...``."""
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, (proc.returncode, err, proc.stdout[:500])
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rmaplint: error:"), err
    assert proc.stdout == b"", proc.stdout[:500]
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def ok_json(proc: subprocess.CompletedProcess, codes=(0,)) -> dict:
    assert proc.returncode in codes, (proc.returncode, proc.stderr.decode(errors="replace"))
    assert b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    return json.loads(proc.stdout)


def explain_json(rmaplint, root: Path, path: str, function: str, *extra: str) -> dict:
    doc = ok_json(rmaplint("explain", path, function, "--repo", str(root),
                           "--format", "json", *extra))
    assert doc["schema"] == "rmaplint-explain/1"
    assert doc["path"] == path and doc["function"] == function
    return doc


def held(entry: dict, lock: str) -> dict | None:
    """The ``held`` record of ``lock`` on one explain line, or None."""
    found = [h for h in entry["held"] if h["lock"] == lock]
    assert len(found) <= 1, entry
    return found[0] if found else None


def line_of(doc: dict, text: str, nth: int = 0) -> int:
    """Index into doc["lines"] of the nth line whose stripped text is ``text``."""
    hits = [i for i, ln in enumerate(doc["lines"]) if ln["text"].strip() == text]
    assert len(hits) > nth, f"no line {text!r} (#{nth}) in {doc['function']}"
    return hits[nth]


def assert_held_write(entry: dict, lock: str, certainties=("must",)) -> None:
    h = held(entry, lock)
    assert h is not None, f"{lock} not held before line {entry['line']}: {entry}"
    assert h["mode"] == "write", entry
    assert h["certainty"] in certainties, entry


def assert_not_held(entry: dict, lock: str) -> None:
    assert held(entry, lock) is None, f"{lock} held before line {entry['line']}: {entry}"


# --------------------------------------------------------------------------- 1. bad input


def test_missing_path(rmaplint, tree):
    assert_input_error(rmaplint("check", "mm/nope.c", "--repo", str(tree), "--no-cache"),
                       "mm/nope.c")
    assert_input_error(rmaplint("check", "nope", "--no-cache", cwd=tree), "nope")
    assert_input_error(rmaplint("explain", "mm/nope.c", "foo_sum", "--repo", str(tree)),
                       "mm/nope.c")


def test_unknown_revision(rmaplint, make_git_repo):
    repo = make_git_repo(TREE)
    assert_input_error(rmaplint("check", "mm", "--repo", str(repo.path), "--rev", "nope",
                                "--no-cache"), "nope")
    assert_input_error(rmaplint("explain", "mm/foo.c", "foo_sum", "--rev", "nope",
                                cwd=repo.path), "nope")


def test_rev_outside_a_git_repository(rmaplint, tree):
    assert_input_error(rmaplint("check", "mm", "--rev", "HEAD", "--no-cache", cwd=tree),
                       "git")
    assert_input_error(rmaplint("check", "mm", "--repo", str(tree), "--rev", "HEAD",
                                "--no-cache"), "not a git repository")
    assert_input_error(rmaplint("explain", "mm/foo.c", "foo_sum", "--rev", "HEAD", cwd=tree))


def test_repo_missing_directory(rmaplint, tmp_path):
    missing = tmp_path / "no-such-tree"
    assert_input_error(rmaplint("check", "--repo", str(missing), "--no-cache"), str(missing))
    assert_input_error(rmaplint("explain", "mm/foo.c", "f", "--repo", str(missing)))


def test_path_outside_the_tree(rmaplint, tree, tmp_path):
    outside = write_tree(tmp_path / "elsewhere", {"x.c": "int x;\n"}) / "x.c"
    assert_input_error(rmaplint("check", str(outside), "--repo", str(tree), "--no-cache"),
                       "outside")
    assert_input_error(rmaplint("check", "../elsewhere/x.c", "--repo", str(tree),
                                "--no-cache"), "outside")
    assert_input_error(rmaplint("explain", str(outside), "x", "--repo", str(tree)), "outside")


BINARY_C = b"int x;\n\x00\x01\x02\x7fELF\x00" + bytes(range(256))


def test_binary_file_named_explicitly(rmaplint, tree, tmp_path):
    write_tree(tree, {"mm/blob.c": BINARY_C})
    assert_input_error(rmaplint("check", "mm/blob.c", "--repo", str(tree), "--no-cache"),
                       "mm/blob.c", "binary")
    # with other paths, and from a cached run: still refused
    cache = str(tmp_path / "cache")
    assert_input_error(rmaplint("check", "mm/foo.c", "mm/blob.c", "--repo", str(tree),
                                "--cache-dir", cache), "binary")
    assert_input_error(rmaplint("check", "mm/blob.c", "--repo", str(tree),
                                "--cache-dir", cache), "binary")
    assert_input_error(rmaplint("explain", "mm/blob.c", "x", "--repo", str(tree)), "binary")


def test_binary_file_found_in_a_folder_is_a_file_error(rmaplint, tree):
    write_tree(tree, {"mm/blob.c": BINARY_C})
    doc = ok_json(rmaplint("check", "mm", "--repo", str(tree), "--format", "json",
                           "--no-cache"))
    by_path = {f["path"]: f for f in doc["files"]}
    assert by_path["mm/blob.c"]["status"] == "error"
    assert "binary" in by_path["mm/blob.c"]["error"]
    assert by_path["mm/foo.c"]["status"] == "ok"  # the run went on
    assert doc["summary"]["files_error"] == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_named_explicitly(rmaplint, tree):
    target = tree / "mm" / "foo.c"
    target.chmod(0)
    try:
        assert_input_error(rmaplint("check", "mm/foo.c", "--repo", str(tree), "--no-cache"),
                           "mm/foo.c")
        doc = ok_json(rmaplint("check", "mm", "--repo", str(tree), "--format", "json",
                               "--no-cache"))
        assert "mm/foo.c" not in {f["path"] for f in doc["files"]}  # skipped by the walk
    finally:
        target.chmod(0o644)


def test_revision_starting_with_a_dash(rmaplint, make_git_repo, tmp_path):
    repo = make_git_repo(TREE)
    marker = tmp_path / "pwned"
    for rev in (f"--upload-pack=touch {marker}", "-h", "--output=x"):
        assert_input_error(rmaplint("check", "mm", "--repo", str(repo.path), f"--rev={rev}",
                                    "--no-cache"), "revision")
        assert_input_error(rmaplint("explain", "mm/foo.c", "foo_sum", "--repo",
                                    str(repo.path), f"--rev={rev}"), "revision")
    assert not marker.exists()
    assert not (repo.path / "x").exists()
    assert repo.git("status", "--porcelain") == ""


@pytest.mark.parametrize("args", [
    ["frobnicate"],
    ["check", "--frobnicate", "--no-cache"],
    ["check", "--format", "xml", "--no-cache"],
    ["check", "--fail-on", "fatal", "--no-cache"],
    ["check", "--jobs", "many", "--no-cache"],
    ["explain", "mm/foo.c"],
    ["explain", "mm/foo.c", "foo_sum", "extra"],
    ["--frobnicate"],
])
def test_usage_errors(rmaplint, tree, args):
    assert_input_error(rmaplint(*args, cwd=tree))


def test_explain_unknown_function(rmaplint, tree):
    assert_input_error(rmaplint("explain", "mm/foo.c", "no_such_function", "--repo",
                                str(tree)), "no_such_function")
    assert_input_error(rmaplint("explain", "mm", "foo_sum", "--repo", str(tree)), "mm")


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_jobs_must_be_positive(rmaplint, tree, jobs):
    assert_input_error(rmaplint("check", "--repo", str(tree), f"--jobs={jobs}", "--no-cache"),
                       "jobs")


def test_unwritable_output(rmaplint, tree, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert_input_error(rmaplint("check", "--repo", str(tree), "--no-cache",
                                "-o", str(tmp_path)), str(tmp_path))  # a folder
    assert_input_error(rmaplint("check", "--repo", str(tree), "--no-cache",
                                "-o", str(blocker / "report.txt")))


# --------------------------------------------------------------------------- 2. encodings

LATIN1_C = (
    b"// SPDX-License-Identifier: GPL-2.0\n"
    b"/* Fran\xe7ois: Latin-1, not UTF-8 \xff */\n"
    b"#include \"internal.h\"\n"
    b"\n"
    b"int latin_update(struct foo *x)\n"
    b"{\n"
    b"\t/* na\xefve caf\xe9 */\n"
    b"\tdown_write(&x->lock);\n"
    b"\tx->count = 1; /* d\xe9j\xe0 vu */\n"
    b"\tup_write(&x->lock);\n"
    b"\treturn 0;\n"
    b"}\n"
)


def assert_lines_match(doc: dict, raw: bytes) -> None:
    raw_lines = raw.split(b"\n")
    assert doc["lines"], doc
    for entry in doc["lines"]:
        got = entry["text"].encode("utf-8", "surrogateescape")
        assert got == raw_lines[entry["line"] - 1].rstrip(b"\r"), entry


def test_non_utf8_source(rmaplint, tree):
    write_tree(tree, {"mm/latin.c": LATIN1_C})
    doc = ok_json(rmaplint("check", "mm/latin.c", "--repo", str(tree), "--format", "json",
                           "--no-cache"))
    assert [f["status"] for f in doc["files"]] == ["ok"]
    assert doc["files"][0]["functions"] == 1

    ex = explain_json(rmaplint, tree, "mm/latin.c", "latin_update")
    assert_lines_match(ex, LATIN1_C)
    lines = ex["lines"]
    assert_held_write(lines[line_of(ex, "x->count = 1; /* d\udce9j\udce0 vu */")], "x->lock")
    assert_not_held(lines[line_of(ex, "return 0;")], "x->lock")

    # the text view writes the bytes back unchanged, even to a strict UTF-8 stdout
    proc = rmaplint("explain", "mm/latin.c", "latin_update", "--repo", str(tree),
                    env={"PYTHONIOENCODING": "utf-8:strict"})
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert b"\t/* na\xefve caf\xe9 */" in proc.stdout
    assert b"x->count = 1; /* d\xe9j\xe0 vu */" in proc.stdout


def test_non_utf8_source_to_output_file(rmaplint, tree, tmp_path):
    write_tree(tree, {"mm/latin.c": LATIN1_C})
    out = tmp_path / "explain.txt"
    proc = rmaplint("explain", "mm/latin.c", "latin_update", "--repo", str(tree),
                    "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert proc.stdout == b""
    assert b"\t/* na\xefve caf\xe9 */" in out.read_bytes()


def test_form_feed_keeps_lines_aligned(rmaplint, tree):
    src = (b"#include \"internal.h\"\n"
           b"\x0c\n"
           b"int paged(struct foo *x)\n"
           b"{\n"
           b"\t/* section\x0cbreak */\n"
           b"\tdown_write(&x->lock);\n"
           b"\tx->count = 1;\n"
           b"\tup_write(&x->lock);\n"
           b"\treturn 0;\n"
           b"}\n")
    write_tree(tree, {"mm/paged.c": src})
    ex = explain_json(rmaplint, tree, "mm/paged.c", "paged")
    assert_lines_match(ex, src)


# --------------------------------------------------------------------------- 3. a small tree


def test_check_json_schema(rmaplint, tree):
    doc = ok_json(rmaplint("check", "--repo", str(tree), "--format", "json", "--no-cache"))
    assert doc["schema"] == "rmaplint/1"
    assert isinstance(doc["findings"], list)
    files = doc["files"]
    # default: mm/, .c and .h files, sorted
    assert [f["path"] for f in files] == ["mm/bar.c", "mm/foo.c", "mm/internal.h"]
    for f in files:
        assert set(f) == FILE_KEYS, f
        assert f["status"] in STATUSES
        assert f["status"] == "ok" and f["error"] is None, f
        assert f["degraded_functions"] == 0 and f["degraded"] == []
    by_path = {f["path"]: f for f in files}
    assert by_path["mm/foo.c"]["functions"] == 2
    assert by_path["mm/bar.c"]["functions"] == 2
    assert by_path["mm/internal.h"]["functions"] == 0
    s = doc["summary"]
    assert SUMMARY_KEYS <= set(s), s
    assert s["files"] == 3 and s["files_ok"] == 3
    assert s["files_degraded"] == 0 and s["files_error"] == 0
    assert s["functions"] == 4 and s["degraded_functions"] == 0
    assert s["degraded_share"] == 0.0
    assert s["findings"] == len(doc["findings"])
    assert s["cache_hits"] == 0
    for f in doc["findings"]:
        assert {"rule", "severity", "path", "function", "line", "end_line", "message",
                "fingerprint"} <= set(f)

    # outside a git work tree, without --repo: the tree is the current folder
    doc2 = ok_json(rmaplint("check", "mm/foo.c", "--format", "json", "--no-cache", cwd=tree))
    assert doc2["files"] == [by_path["mm/foo.c"]]


def test_check_text(rmaplint, tree):
    proc = rmaplint("check", "--repo", str(tree), "--no-cache")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert proc.stderr == b""
    last = proc.stdout.decode().splitlines()[-1]
    assert last.startswith("rmaplint: 3 files (3 ok, 0 degraded, 0 error), 4 functions")


def test_explain_json_lock_region(rmaplint, tree):
    ex = explain_json(rmaplint, tree, "mm/foo.c", "foo_link")
    lines = ex["lines"]
    texts = FOO_C.splitlines()
    assert [ln["line"] for ln in lines] == list(range(lines[0]["line"], lines[-1]["line"] + 1))
    for ln in lines:
        assert ln["text"] == texts[ln["line"] - 1]
        assert ln["reachable"] is True
    lock = line_of(ex, "anon_vma_lock_write(anon_vma);")
    unlock = line_of(ex, "anon_vma_unlock_write(anon_vma);")
    for ln in lines[:lock + 1]:  # before the lock runs
        assert_not_held(ln, ANON)
    for ln in lines[lock + 1:unlock + 1]:  # after it, up to the unlock (goto path included)
        assert_held_write(ln, ANON)
        assert held(ln, ANON)["if_not_null"] is False
    for ln in lines[unlock + 1:]:
        assert_not_held(ln, ANON)
        assert ln["held"] == []

    ex = explain_json(rmaplint, tree, "mm/foo.c", "foo_sum")
    lines = ex["lines"]
    lock = line_of(ex, "down_write(&x->lock);")
    unlock = line_of(ex, "up_write(&x->lock);")
    loop = line_of(ex, "list_for_each_entry(it, &x->items, node)")
    assert lock < loop < unlock
    for ln in lines[:lock + 1]:
        assert_not_held(ln, "x->lock")
    for ln in lines[lock + 1:unlock + 1]:
        assert_held_write(ln, "x->lock")
    for ln in lines[unlock + 1:]:
        assert_not_held(ln, "x->lock")


def test_explain_static_helper_gets_callers_state(rmaplint, tree):
    ex = explain_json(rmaplint, tree, "mm/bar.c", "bar_bump")
    h = held(ex["lines"][line_of(ex, "x->count++;")], "x->lock")
    assert h is not None and h["mode"] == "read" and h["certainty"] == "must", ex


def test_explain_text(rmaplint, tree):
    proc = rmaplint("explain", "mm/foo.c", "foo_link", "--repo", str(tree))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = proc.stdout.decode().splitlines()
    assert out[0].startswith("mm/foo.c: foo_link")
    rows = {}
    for row in out[2:]:
        held_txt, num, src = row.split(" | ", 2)
        rows[int(num)] = (held_txt.strip(), src)
    texts = FOO_C.splitlines()
    for num, (_, src) in rows.items():
        assert src == texts[num - 1]
    by_text = {src.strip(): h for h, src in rows.values()}
    assert by_text["x->count++;"] == f"{ANON}:W/must"
    assert by_text["anon_vma_lock_write(anon_vma);"] == ""
    assert by_text["return err;"] == ""


# --------------------------------------------------------------------------- 4. --rev

FOO_V2 = FOO_C.replace("""\
	anon_vma_lock_write(anon_vma);
	if (!x)
		goto out_unlock;
""", """\
	if (!x)
		goto out;
	anon_vma_lock_write(anon_vma);
""").replace("out_unlock:\n\tanon_vma_unlock_write(anon_vma);\n",
             "\tanon_vma_unlock_write(anon_vma);\nout:\n")
FOO_WORK = FOO_C.replace("x->count++;", "x->count += 2;")


def snapshot(repo) -> dict:
    files = {}
    for p in sorted(repo.path.rglob("*")):
        rel = p.relative_to(repo.path)
        if rel.parts[0] == ".git" and rel.parts[1:2] not in (("index",), ("HEAD",)):
            continue
        if p.is_file():
            files[str(rel)] = p.read_bytes()
    refs = repo.git("for-each-ref", "--format=%(refname) %(objectname)")
    return {"status": repo.git("status", "--porcelain", "--untracked-files=all"),
            "head": repo.git("rev-parse", "HEAD"), "refs": refs, "files": files}


def test_rev_reads_the_revision_and_touches_nothing(rmaplint, make_git_repo, tmp_path):
    assert FOO_V2 != FOO_C and FOO_WORK != FOO_C
    repo = make_git_repo(TREE, {"mm/foo.c": FOO_V2})
    first, second = repo.commits
    (repo.path / "mm" / "foo.c").write_text(FOO_WORK)  # a dirty work tree
    (repo.path / "mm" / "new.c").write_text("int new_one(void)\n{\n\treturn 0;\n}\n")
    before = snapshot(repo)
    assert before["status"]

    ex = explain_json(rmaplint, repo.path, "mm/foo.c", "foo_link", "--rev", first)
    texts = FOO_C.splitlines()
    start = texts.index("int foo_link(struct foo *x, struct anon_vma *anon_vma)")
    end = start + texts[start:].index("}")
    assert [ln["text"] for ln in ex["lines"]] == texts[start:end + 1]
    assert_held_write(ex["lines"][line_of(ex, "goto out_unlock;")], ANON)
    assert_held_write(ex["lines"][line_of(ex, "x->count++;")], ANON)

    ex2 = explain_json(rmaplint, repo.path, "mm/foo.c", "foo_link", "--rev", second)
    assert "\t\tgoto out;" in [ln["text"] for ln in ex2["lines"]]
    assert_not_held(ex2["lines"][line_of(ex2, "goto out;")], ANON)
    assert_held_write(ex2["lines"][line_of(ex2, "x->count++;")], ANON)

    # from inside the repository, without --repo; and the work tree without --rev
    proc = rmaplint("explain", "foo.c", "foo_link", "--rev", first, "--format", "json",
                    cwd=repo.path / "mm")
    assert ok_json(proc)["lines"] == ex["lines"]
    work = explain_json(rmaplint, repo.path, "mm/foo.c", "foo_link")
    assert "\tx->count += 2;" in [ln["text"] for ln in work["lines"]]
    assert_held_write(work["lines"][line_of(work, "x->count += 2;")], ANON)
    proc = rmaplint("check", "foo.c", "--format", "json", "--no-cache", cwd=repo.path / "mm")
    assert [f["path"] for f in ok_json(proc)["files"]] == ["mm/foo.c"]  # the git top is root

    # check at a revision: the revision's files, not the work tree's
    doc = ok_json(rmaplint("check", "mm", "--repo", str(repo.path), "--rev", first,
                           "--format", "json", "--cache-dir", str(tmp_path / "cache")))
    assert [f["path"] for f in doc["files"]] == ["mm/bar.c", "mm/foo.c", "mm/internal.h"]
    assert all(f["status"] == "ok" for f in doc["files"])
    assert_input_error(rmaplint("explain", "mm/new.c", "new_one", "--repo", str(repo.path),
                                "--rev", first), "mm/new.c")

    assert snapshot(repo) == before


# --------------------------------------------------------------------------- 5. the cache


def test_cache_second_run_hits(rmaplint, tree, tmp_path):
    cache = tmp_path / "cache"
    args = ("check", "--repo", str(tree), "--format", "json", "--cache-dir", str(cache))
    one = ok_json(rmaplint(*args))
    assert one["summary"]["cache_hits"] == 0
    assert any(cache.rglob("*")), "the first run stored nothing"
    two = ok_json(rmaplint(*args))
    assert two["summary"]["cache_hits"] == len(two["files"]) == 3
    assert two["files"] == one["files"]
    assert two["findings"] == one["findings"]
    def strip(s: dict) -> dict:
        return {k: v for k, v in s.items() if k not in ("seconds", "cache_hits")}

    assert strip(two["summary"]) == strip(one["summary"])

    # an edited file is analysed again, the others come from the cache
    (tree / "mm" / "bar.c").write_text(BAR_C + "\nint bar_extra(void)\n{\n\treturn 1;\n}\n")
    three = ok_json(rmaplint(*args))
    assert three["summary"]["cache_hits"] == 2
    assert {f["path"]: f["functions"] for f in three["files"]}["mm/bar.c"] == 3


def test_no_cache_writes_nothing(rmaplint, tree, tmp_path):
    cache = tmp_path / "cache"
    doc = ok_json(rmaplint("check", "--repo", str(tree), "--format", "json",
                           "--cache-dir", str(cache), "--no-cache"))
    assert doc["summary"]["cache_hits"] == 0
    assert not cache.exists() or not any(cache.rglob("*"))
    ok_json(rmaplint("check", "--repo", str(tree), "--format", "json", "--no-cache"))
    xdg = tmp_path / "xdg-cache"
    assert not xdg.exists() or not any(xdg.rglob("*"))


# --------------------------------------------------------------------------- 6. --jobs


def test_jobs_give_the_same_report(rmaplint, tree, tmp_path):
    write_tree(tree, {"mm/latin.c": LATIN1_C, "mm/blob.c": BINARY_C})
    runs = []
    for jobs in ("1", "2"):
        runs.append(ok_json(rmaplint("check", "--repo", str(tree), "--format", "json",
                                     "--jobs", jobs, "--no-cache", "-q")))
    one, two = runs
    assert len(one["files"]) == 5
    assert two["files"] == one["files"]
    assert two["findings"] == one["findings"]


# --------------------------------------------------------------------------- 7. -o


def test_output_file(rmaplint, tree, tmp_path):
    out = tmp_path / "reports" / "check.json"
    proc = rmaplint("check", "--repo", str(tree), "--format", "json", "--no-cache",
                    "-o", str(out))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert proc.stdout == b""
    doc = json.loads(out.read_text())
    assert doc["schema"] == "rmaplint/1" and len(doc["files"]) == 3

    out2 = tmp_path / "explain.json"
    proc = rmaplint("explain", "mm/foo.c", "foo_sum", "--repo", str(tree), "--format", "json",
                    "--output", str(out2))
    assert proc.returncode == 0 and proc.stdout == b""
    assert json.loads(out2.read_text())["function"] == "foo_sum"


# --------------------------------------------------------------------------- 8-9. real tree

HELD_EITHER = ("must", "may")


@pytest.mark.kernel
def test_kernel_anon_vma_clone(rmaplint, kernel_tree):
    ex = explain_json(rmaplint, kernel_tree, "mm/rmap.c", "anon_vma_clone")
    lines = ex["lines"]
    lock = line_of(ex, "root = lock_anon_vma_root(root, anon_vma);")
    assert lines[lock + 1]["text"].strip().startswith("anon_vma_chain_assign(")
    assert_held_write(lines[lock + 1], "root->rwsem", HELD_EITHER)

    unlock = line_of(ex, "unlock_anon_vma_root(root);")  # the first: in if (unlikely(!avc))
    assert "if (unlikely(!avc))" in lines[unlock - 1]["text"]
    assert lines[unlock + 1]["text"].strip() == "root = NULL;"
    assert_not_held(lines[unlock + 1], "root->rwsem")
    assert_not_held(lines[line_of(ex, "avc = anon_vma_chain_alloc(GFP_KERNEL);")],
                    "root->rwsem")
    assert_not_held(lines[line_of(ex, "return 0;")], "root->rwsem")


@pytest.mark.kernel
def test_kernel_unlink_anon_vmas(rmaplint, kernel_tree):
    ex = explain_json(rmaplint, kernel_tree, "mm/rmap.c", "unlink_anon_vmas")
    lines = ex["lines"]
    assert_held_write(lines[line_of(ex, "anon_vma_interval_tree_remove(avc, "
                                        "&anon_vma->rb_root);")], "root->rwsem", HELD_EITHER)
    unlocks = [i for i, ln in enumerate(lines)
               if ln["text"].strip() == "unlock_anon_vma_root(root);"]
    assert unlocks
    for ln in lines[unlocks[-1] + 1:]:
        assert_not_held(ln, "root->rwsem")


@pytest.mark.kernel
def test_kernel_anon_vma_fork(rmaplint, kernel_tree):
    ex = explain_json(rmaplint, kernel_tree, "mm/rmap.c", "anon_vma_fork")
    lines = ex["lines"]
    insert = line_of(ex, "anon_vma_interval_tree_insert(avc, &anon_vma->rb_root);")
    assert_held_write(lines[insert], ANON)
    unlock = line_of(ex, "anon_vma_unlock_write(anon_vma);")
    assert insert < unlock
    assert_not_held(lines[unlock + 1], ANON)
    assert_not_held(lines[line_of(ex, "return 0;", nth=2)], ANON)  # after the unlock


@pytest.mark.kernel
def test_kernel_check_mm(rmaplint, kernel_tree, kernel_mm_cache):
    # the session's mm/ cache: cold here, read back by tests/test_independence.py
    proc = rmaplint("check", "mm", "--repo", str(kernel_tree), "--format", "json",
                    "--jobs", "2", "--cache-dir", str(kernel_mm_cache), "-q", timeout=1800)
    doc = ok_json(proc, codes=(0, 1))
    summary = doc["summary"]
    print("\nrmaplint check mm:", json.dumps(summary, sort_keys=True))
    errors = [f for f in doc["files"] if f["status"] == "error"]
    assert not errors, errors[:10]
    assert all(f["status"] in ("ok", "degraded") for f in doc["files"])
    assert summary["files"] == len(doc["files"]) > 100
    assert summary["files_error"] == 0
    assert summary["degraded_share"] < 0.05, summary
    assert (proc.returncode == 1) == any(
        f["severity"] in ("warning", "error") and not f.get("justification")
        for f in doc["findings"])
    # the central case, decided across the whole tree: the anon_vma_chain walks are held by
    # every caller's mmap_lock, and the root lock dropped in anon_vma_clone()'s walk is safe
    rmap = [f for f in doc["findings"] if f["path"] == "mm/rmap.c"
            and f["function"] in ("anon_vma_clone", "unlink_anon_vmas")]
    assert not [f for f in rmap if f["rule"] == "walk-unlocked"], rmap
    [drop] = [f for f in rmap if f["rule"] == "lock-dropped-in-loop"
              and f["function"] == "anon_vma_clone"]
    assert drop["severity"] == "note", drop
    assert "safe: the walk is protected by src->vm_mm->mmap_lock, held by all" \
        in drop["message"] and "callers (anon_vma_fork() (line" in drop["message"], drop
