"""analyzer.source: reading a work tree and git revisions into SourceFile values."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.errors import InputError
from analyzer.source.reader import GitSource, Source, SourceFile, TreeSource, git_blob_id, open_source
from conftest import Symlink

LATIN1 = b"/* caf\xe9 */\nint x;\n"  # not UTF-8
BINARY = b"\x7fELF\x00\x01\x02" + bytes(range(256))


def write(root: Path, files: dict[str, bytes | str]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)


def hash_object(path: Path) -> str:
    out = subprocess.run(["git", "hash-object", "--no-filters", str(path)],
                         check=True, capture_output=True)
    return out.stdout.decode().strip()


def one_line_error(excinfo: pytest.ExceptionInfo[InputError]) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg
    return msg


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    write(root, {
        "mm/rmap.c": "int rmap;\n",
        "mm/mmap.c": "int mmap;\n",
        "mm/internal.h": "#define X 1\n",
        "mm/sub/deep.c": "int deep;\n",
        "kernel/fork.c": "int fork;\n",
        "README": "hello\n",
        "mm/latin1.c": LATIN1,
        "mm/blob.c": BINARY,
        ".git/objects/stray.c": "not tree content\n",
    })
    return root


# --------------------------------------------------------------------------- SourceFile


@given(st.binary(max_size=2000))
def test_sourcefile_round_trips_any_bytes(data: bytes) -> None:
    f = SourceFile.from_bytes("a.c", data)
    assert f.data == data
    assert f.blob_id == git_blob_id(data)


def test_blob_id_matches_git(tmp_path: Path) -> None:
    for i, data in enumerate([b"", b"int x;\n", LATIN1, BINARY]):
        p = tmp_path / f"f{i}"
        p.write_bytes(data)
        assert git_blob_id(data) == hash_object(p)


def test_binary_flag_and_repr() -> None:
    assert SourceFile.from_bytes("b", BINARY).binary
    assert not SourceFile.from_bytes("t", b"int x;\n").binary
    assert not SourceFile.from_bytes("late", b"x" * 9000 + b"\0").binary  # beyond 8 KiB
    assert "int x" not in repr(SourceFile.from_bytes("t", b"int x;\n"))


# --------------------------------------------------------------------------- work tree


def test_tree_list_files(tree: Path) -> None:
    src = TreeSource(tree)
    assert isinstance(src, Source)
    assert src.list_files(["mm"]) == [
        "mm/blob.c", "mm/latin1.c", "mm/mmap.c", "mm/rmap.c", "mm/sub/deep.c"]
    assert src.list_files([]) == src.list_files(["."]) == src.list_files(["", "mm"])
    assert "kernel/fork.c" in src.list_files()
    assert not any(p.startswith(".git") for p in src.list_files(suffixes=None))
    assert src.list_files(["mm/", "./mm/sub/../rmap.c"], suffixes=(".h",)) == [
        "mm/internal.h", "mm/rmap.c"]  # a named file is kept whatever its suffix
    assert src.list_files(["mm"], suffixes=".h") == ["mm/internal.h"]
    assert src.list_files(["README"]) == ["README"]
    assert src.list_files([str(tree / "kernel")]) == ["kernel/fork.c"]  # absolute, inside


def test_tree_read(tree: Path) -> None:
    with TreeSource(tree) as src:
        f = src.read("mm/rmap.c")
        assert f == SourceFile("mm/rmap.c", hash_object(tree / "mm/rmap.c"), "int rmap;\n")
        latin = src.read("mm/latin1.c")
        assert latin.data == LATIN1 and latin.blob_id == hash_object(tree / "mm/latin1.c")
        blob = src.read("mm/blob.c")  # binary content is returned, flagged
        assert blob.binary and blob.data == BINARY
        assert [f.path for f in src.read_many(["mm/mmap.c", "README"])] == ["mm/mmap.c", "README"]


def test_tree_missing_and_bad_paths(tree: Path) -> None:
    src = TreeSource(tree)
    with pytest.raises(InputError) as e:
        src.list_files(["mm", "mm/nope.c"])
    assert one_line_error(e) == f"no such path 'mm/nope.c' in {tree}"
    with pytest.raises(InputError) as e:
        src.read("nope/x.c")
    assert "nope/x.c" in one_line_error(e)
    with pytest.raises(InputError, match="is a directory"):
        src.read("mm")
    with pytest.raises(InputError, match="outside"):
        src.list_files(["../etc"])
    with pytest.raises(InputError, match="outside"):
        src.read("/etc/passwd")
    with pytest.raises(InputError) as e:
        TreeSource(tree / "nope")
    assert one_line_error(e) == f"no such directory: {tree / 'nope'}"


def test_tree_walk_skips_links_loops_fifos_and_unreadable(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tree / "mm/loop_a.c").symlink_to("loop_b.c")
    (tree / "mm/loop_b.c").symlink_to("loop_a.c")
    (tree / "mm/dangling.c").symlink_to("gone.c")
    (tree / "mm/alias.c").symlink_to("rmap.c")
    (tree / "mm/sub/up").symlink_to("..")  # a folder loop
    os.mkfifo(tree / "mm/fifo.c")
    (tree / "mm/secret.c").write_text("int secret;\n")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: not str(p).endswith(
        "secret.c") and real_access(p, mode, **kw))  # root can read anything: pretend

    src = TreeSource(tree)
    assert src.list_files(["mm"]) == [
        "mm/blob.c", "mm/latin1.c", "mm/mmap.c", "mm/rmap.c", "mm/sub/deep.c"]
    # named explicitly: a good link is read through, a bad one is an error
    assert src.read("mm/alias.c").text == "int rmap;\n"
    assert src.list_files(["mm/alias.c"]) == ["mm/alias.c"]
    for bad in ["mm/loop_a.c", "mm/dangling.c", "mm/fifo.c"]:
        with pytest.raises(InputError) as e:
            src.read(bad)
        assert bad in one_line_error(e)
        with pytest.raises(InputError):
            src.list_files([bad])


def test_tree_exists_and_glob(tree: Path) -> None:
    src = TreeSource(tree)
    assert src.exists("mm") and src.exists("mm/rmap.c") and src.exists(".")
    assert not src.exists("mm/nope.c")
    assert src.glob("mm", ".c") == ["mm/blob.c", "mm/latin1.c", "mm/mmap.c", "mm/rmap.c"]
    assert src.glob("", "") == ["README"]
    assert src.glob("nope", ".c") == []


# --------------------------------------------------------------------------- git


@pytest.fixture
def history(make_git_repo):
    """Three commits: add files; change rmap.c, add latin1, binary and symlinks; delete mmap.c."""
    return make_git_repo(
        {"mm/rmap.c": "int v1;\n", "mm/mmap.c": "int mmap;\n", "mm/rmap.h": "#pragma once\n",
         "lib/list.c": "int list;\n"},
        {"mm/rmap.c": "int v2;\n", "mm/latin1.c": LATIN1, "mm/blob.c": BINARY,
         "mm/alias.c": Symlink("rmap.c"), "mm/dangling.c": Symlink("gone.c")},
        {"mm/mmap.c": None},
    )


def test_git_reads_each_revision(history) -> None:
    c0, c1, c2 = history.commits
    history.git("tag", "v1", c1)
    with GitSource(history.path, c0) as src:
        assert src.commit == c0
        assert src.list_files(["mm"]) == ["mm/mmap.c", "mm/rmap.c"]
        assert src.read("mm/rmap.c").text == "int v1;\n"
    with GitSource(history.path, "v1") as src:
        assert src.commit == c1
        assert src.list_files(["mm"]) == [
            "mm/blob.c", "mm/latin1.c", "mm/mmap.c", "mm/rmap.c"]  # symlinks not walked
        assert src.read("mm/rmap.c").text == "int v2;\n"
        assert src.read("mm/latin1.c").data == LATIN1
        blob = src.read("mm/blob.c")
        assert blob.binary and blob.data == BINARY
    with GitSource(history.path, "HEAD") as src:
        assert src.commit == c2
        assert src.list_files() == [
            "lib/list.c", "mm/blob.c", "mm/latin1.c", "mm/rmap.c"]
        assert src.list_files(["mm/rmap.h", "lib"]) == ["lib/list.c", "mm/rmap.h"]
        with pytest.raises(InputError) as e:
            src.read("mm/mmap.c")
        assert one_line_error(e) == f"no such path 'mm/mmap.c' in {history.path}@HEAD"


def test_git_and_tree_give_the_same_blob_ids(history) -> None:
    head = history.commits[-1]
    tree, git = TreeSource(history.path), GitSource(history.path, head)
    with tree, git:
        files = git.list_files(suffixes=None)
        assert files == tree.list_files(suffixes=None)
        for t, g in zip(tree.read_many(files), git.read_many(files)):
            assert t == g
            assert g.blob_id == history.git("rev-parse", f"{head}:{g.path}")
        # read without listing first (path lookup in cat-file) gives the same value
        assert GitSource(history.path, head).read("mm/rmap.c") == tree.read("mm/rmap.c")


def test_git_symlinks_named_explicitly(history) -> None:
    with GitSource(history.path, "HEAD") as src:
        alias = src.read("mm/alias.c")
        assert alias.text == "int v2;\n"
        assert alias.blob_id == src.read("mm/rmap.c").blob_id  # the target's content id
        assert src.list_files(["mm/alias.c"]) == ["mm/alias.c"]
        with pytest.raises(InputError) as e:
            src.read("mm/dangling.c")
        assert "mm/dangling.c" in one_line_error(e)
        with pytest.raises(InputError, match="is a directory"):
            src.read("mm")


def test_git_uses_one_ls_tree_and_one_cat_file(make_git_repo, monkeypatch) -> None:
    repo = make_git_repo({f"d{i % 7}/f{i}.c": f"int f{i};\n" for i in range(60)})
    spawned: list[list[str]] = []
    real_init = subprocess.Popen.__init__

    def spy(self, args, *a, **kw):
        spawned.append([os.fspath(x) for x in args])
        real_init(self, args, *a, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", spy)
    with GitSource(repo.path, "main") as src:
        files = src.list_files()
        assert len(files) == 60
        texts, procs = [], set()
        for f in src.read_many(files):
            texts.append(f.text)
            procs.add(id(src._cat_file))
        assert len(procs) == 1 and src._cat_file is not None  # one persistent process
        assert src.read(files[0]).text == texts[0]
        assert src.exists("d3/f3.c") and src.exists("d3") and not src.exists("nope")
    cat_files = [a for a in spawned if "cat-file" in a]
    ls_trees = [a for a in spawned if "ls-tree" in a]
    assert len(cat_files) == 1 and "--batch" in cat_files[0]
    assert len(ls_trees) == 1 and ls_trees[0][-1] == "--"  # whole tree: nothing after --
    assert texts == [f"int f{int(p.split('/f')[1][:-2])};\n" for p in files]
    assert src._cat_file.poll() is not None  # close() stopped it


def test_git_never_touches_work_tree_index_or_refs(history) -> None:
    (history.path / "mm/rmap.c").write_text("uncommitted\n")
    (history.path / "lib/list.c").unlink()
    index = (history.path / ".git/index").read_bytes()
    refs = history.git("for-each-ref") + history.git("symbolic-ref", "HEAD")
    with GitSource(history.path, "HEAD~1") as src:
        assert src.read("mm/rmap.c").text == "int v2;\n"
        assert "lib/list.c" in src.list_files(["lib"])
        assert src.read("mm/mmap.c").text == "int mmap;\n"
        assert src.glob("mm", ".c") == [
            "mm/blob.c", "mm/latin1.c", "mm/mmap.c", "mm/rmap.c"]
        assert src.glob("", ".c") == [] and src.glob("nope", ".c") == []
    assert (history.path / ".git/index").read_bytes() == index
    assert history.git("for-each-ref") + history.git("symbolic-ref", "HEAD") == refs
    assert (history.path / "mm/rmap.c").read_text() == "uncommitted\n"
    assert not (history.path / "lib/list.c").exists()


def test_git_bad_input(history, tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        GitSource(history.path, "no-such-branch")
    assert one_line_error(e) == f"unknown revision 'no-such-branch' in {history.path}"
    with pytest.raises(InputError, match="unknown revision"):
        GitSource(history.path, "HEAD^{tree}")  # exists, but is not a commit
    for rev in ["-h", "--output=x", "", "HEAD\nmain"]:
        with pytest.raises(InputError) as e:
            GitSource(history.path, rev)
        one_line_error(e)
    assert not (history.path / "x").exists()

    with pytest.raises(InputError) as e:
        GitSource(tmp_path / "nowhere", "HEAD")
    assert "nowhere" in one_line_error(e)
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InputError) as e:
        GitSource(plain, "HEAD")
    assert one_line_error(e) == f"not a git repository: {plain}"
    with pytest.raises(InputError, match="inside the git repository"):
        GitSource(history.path / "mm", "HEAD")
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(history.path), str(bare)],
                   check=True, env=dict(history.env))
    with pytest.raises(InputError, match="bare"):
        GitSource(bare, "HEAD")

    with GitSource(history.path, "HEAD") as src:
        with pytest.raises(InputError) as e:
            src.list_files(["mm", "drivers/gpu"])
        assert "'drivers/gpu'" in one_line_error(e)
        with pytest.raises(InputError, match="outside"):
            src.list_files(["../x"])


def test_close_is_idempotent(history) -> None:
    src = GitSource(history.path, "HEAD")
    src.read("mm/rmap.c")
    src.close()
    src.close()
    assert src._cat_file is not None and src._cat_file.poll() is not None
    GitSource(history.path, "HEAD").close()  # never started a process


def test_open_source(history) -> None:
    with open_source(None, history.path, "HEAD~2") as src:
        assert isinstance(src, GitSource) and src.commit == history.commits[0]
    with open_source(None, history.path, None) as src:
        assert isinstance(src, TreeSource) and src.root == history.path
    with open_source(history.path / "mm", None, None) as src:
        assert isinstance(src, TreeSource) and src.list_files() == [
            "blob.c", "latin1.c", "rmap.c"]


# --------------------------------------------------------------------------- real kernel


@pytest.mark.kernel
def test_kernel_tree_mm(kernel_tree: Path) -> None:
    src = TreeSource(kernel_tree)
    files = src.list_files(["mm"])
    assert "mm/rmap.c" in files and "mm/mmap.c" in files
    assert all(f.startswith("mm/") and f.endswith(".c") for f in files)
    rmap = src.read("mm/rmap.c")
    assert "anon_vma_clone" in rmap.text
    assert rmap.blob_id == hash_object(kernel_tree / "mm/rmap.c")
    assert src.exists("include/linux/rmap.h")
    assert "include/linux/rmap.h" in src.glob("include/linux", ".h")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the repository away")
def test_git_failure_is_not_reported_as_unknown_revision(history) -> None:
    os.chown(history.path, 65534, 65534)  # git refuses: "detected dubious ownership"
    try:
        with pytest.raises(InputError) as e:
            GitSource(history.path, "HEAD")
        msg = one_line_error(e)
        assert msg.startswith(f"git failed in {history.path}: fatal:")
        assert "unknown revision" not in msg
    finally:
        os.chown(history.path, 0, 0)
