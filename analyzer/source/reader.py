"""Where kernel C comes from: a work tree on disk or a git revision, behind one interface.

Every later stage sees only :class:`SourceFile` values (path, git blob id, text), so it does
not matter whether a file was read from disk or from a commit, and the blob id is a content
key that is identical for identical bytes in both cases (the cache is keyed by it).

Paths are POSIX paths relative to the root of the tree. During a folder walk symlinks are not
followed (git stores them as links, and in the kernel they only duplicate other files), ``.git``
is skipped, and so are files that cannot be read; a path the caller names explicitly is read
through a symlink and any problem with it is an :class:`~analyzer.errors.InputError`.

Nothing here writes: :class:`GitSource` never touches the work tree, the index or the refs.
Sources are not thread-safe; use one per thread.
"""

from __future__ import annotations

import abc
import hashlib
import os
import posixpath
import re
import stat
import subprocess
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from ..errors import InputError

__all__ = [
    "GitSource",
    "Source",
    "SourceFile",
    "TreeSource",
    "git_blob_id",
    "open_source",
]

#: How much of a file is looked at to decide whether it is binary (the same as git).
BINARY_SNIFF_BYTES = 8192

_HEX_RE = re.compile(rb"[0-9a-f]{40}(?:[0-9a-f]{24})?")


# What ``git rev-parse --local-env-vars`` lists: variables that point git at another
# repository, index or object store. Inherited from a git hook (pre-commit sets
# GIT_INDEX_FILE, hooks set GIT_DIR), they would make ``git am`` in the temporary worktree
# write the user's index or move the user's HEAD.
_LOCAL_ENV = frozenset((
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT", "GIT_OBJECT_DIRECTORY", "GIT_DIR", "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE", "GIT_INDEX_FILE", "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE", "GIT_PREFIX", "GIT_INTERNAL_SUPER_PREFIX", "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR"))


def git_env() -> dict[str, str]:
    """The environment for git: ours, without the variables that redirect git elsewhere."""
    return {k: v for k, v in os.environ.items()
            if k not in _LOCAL_ENV and not k.startswith("GIT_CONFIG_KEY_")
            and not k.startswith("GIT_CONFIG_VALUE_")}


def git_blob_id(data: bytes) -> str:
    """The id git gives a blob with these bytes (SHA-1 of ``b"blob <len>\\0" + data``)."""
    h = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    h.update(data)
    return h.hexdigest()


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One file's content. ``text`` round-trips to the exact bytes through :attr:`data`."""

    path: str
    blob_id: str
    text: str = field(repr=False)

    @property
    def data(self) -> bytes:
        return self.text.encode("utf-8", "surrogateescape")

    @property
    def binary(self) -> bool:
        """True when the first 8 KiB hold a NUL byte (git's test); the caller decides."""
        return "\0" in self.text[:BINARY_SNIFF_BYTES]

    @classmethod
    def from_bytes(cls, path: str, data: bytes) -> SourceFile:
        return cls(path, git_blob_id(data), _decode(data))


# --------------------------------------------------------------------------- interface


class Source(abc.ABC):
    """A tree of files: a work tree (:class:`TreeSource`) or a commit (:class:`GitSource`)."""

    #: Names the source in messages ("/home/me/linux", "/home/me/linux@v6.12").
    label: str

    # -- the part each source implements

    @abc.abstractmethod
    def _walk(self, paths: Sequence[str]) -> Iterator[tuple[str, bool]]:
        """Yield ``(file, named)`` for every file under the normalized ``paths``
        (``""`` is the root), ``named`` when the caller gave that exact file. Raise
        InputError for a path that does not exist."""

    @abc.abstractmethod
    def read(self, path: str) -> SourceFile:
        """The file at ``path``; InputError when it is missing, a folder or unreadable."""

    @abc.abstractmethod
    def exists(self, path: str) -> bool:
        """Whether ``path`` is a file or folder of this tree (symlinks followed); False for a
        path outside the tree."""

    @abc.abstractmethod
    def glob(self, folder: str, suffix: str) -> list[str]:
        """Files directly in ``folder`` (not recursive) whose name ends with ``suffix``,
        sorted; ``[]`` when the folder does not exist. Symlinks are left out."""

    def close(self) -> None:  # noqa: B027 -- a no-op by default, not abstract: few hold anything
        """Release what the source holds (processes, handles). Idempotent."""

    # -- shared behaviour

    def list_files(
        self, paths: Sequence[str] = (), suffixes: Sequence[str] | None = (".c",)
    ) -> list[str]:
        """Files under ``paths`` (files or folders relative to the root; empty = the whole
        tree), walked recursively, filtered by ``suffixes`` (None = every file), sorted.

        A file named explicitly is kept whatever its suffix. A path that does not exist is
        an InputError naming it."""
        if isinstance(paths, (str, os.PathLike)):
            raise TypeError("paths must be a sequence of paths, not one path")
        norm = sorted({self._normalize(p) for p in paths}) or [""]
        if "" in norm:
            norm = [""]
        if isinstance(suffixes, str):
            suffixes = (suffixes,)
        ends = tuple(suffixes) if suffixes is not None else None
        found = {
            path
            for path, named in self._walk(norm)
            if named or ends is None or path.endswith(ends)
        }
        return sorted(found)

    def identity(self, path: str) -> str:
        """What changes whenever the file's content does, cheaper than reading it where
        the source can tell (the blob id; a work tree's size, mtime and inode, as git's
        index keeps them). InputError when the file cannot be read."""
        return self.read(path).blob_id

    def read_many(self, paths: Iterable[str]) -> Iterator[SourceFile]:
        """Read ``paths`` in order, lazily."""
        for path in paths:
            yield self.read(path)

    def _root_for_absolute(self) -> str | None:
        """Directory that absolute input paths may point into, if any."""
        return None

    def _normalize(self, path: str | os.PathLike[str]) -> str:
        """A clean POSIX path relative to the root ("" for the root itself)."""
        raw = os.fspath(path)
        if "\0" in raw:
            raise InputError(f"invalid path {raw!r}: contains a NUL byte")
        p = raw
        if os.path.isabs(p):
            base = self._root_for_absolute()
            rel = os.path.relpath(p, base) if base is not None else None
            if rel is None or rel == ".." or rel.startswith("../"):
                raise InputError(f"path '{raw}' is outside {self.label}")
            p = rel
        p = posixpath.normpath(p.replace(os.sep, "/"))
        if p == ".." or p.startswith("../"):
            raise InputError(f"path '{raw}' is outside {self.label}")
        return "" if p == "." else p

    def _missing(self, path: str) -> InputError:
        return InputError(f"no such path '{path}' in {self.label}")

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label!r})"


# --------------------------------------------------------------------------- work tree


class TreeSource(Source):
    """Files of a folder on disk (typically a kernel checkout's work tree)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(os.path.abspath(root))
        self.label = str(self.root)
        if not self.root.is_dir():
            raise InputError(f"no such directory: {root}")

    def _root_for_absolute(self) -> str:
        return str(self.root)

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else str(self.root)

    def _walk(self, paths: Sequence[str]) -> Iterator[tuple[str, bool]]:
        tops: list[tuple[str, str]] = []
        for rel in paths:
            full = self._abs(rel)
            if os.path.isdir(full):
                tops.append((rel, full))
            elif os.path.lexists(full):
                self._check_readable(rel, full)
                yield rel, True
            else:
                raise self._missing(rel)
        for rel, full in tops:
            yield from self._walk_dir(rel, full)

    @staticmethod
    def _walk_dir(rel_top: str, top: str) -> Iterator[tuple[str, bool]]:
        # followlinks=False: a link to a folder is not entered, so link loops cannot occur;
        # unreadable folders are skipped (onerror ignores them).
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            if ".git" in dirnames:
                dirnames.remove(".git")
            sub = os.path.relpath(dirpath, top)
            prefix = posixpath.join(rel_top, sub) if sub != "." else rel_top
            for name in filenames:
                full = os.path.join(dirpath, name)
                try:
                    st = os.lstat(full)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and os.access(full, os.R_OK):
                    yield (posixpath.join(prefix, name) if prefix else name), False

    def _check_readable(self, rel: str, full: str) -> os.stat_result:
        try:
            st = os.stat(full)  # follows a named symlink
        except FileNotFoundError:
            raise InputError(f"dangling symlink '{rel}' in {self.label}") from None
        except OSError as err:
            raise InputError(f"cannot read '{rel}' in {self.label}: {err.strerror}") from None
        if stat.S_ISDIR(st.st_mode):
            raise InputError(f"'{rel}' is a directory in {self.label}")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"'{rel}' is not a regular file in {self.label}")
        return st

    def read(self, path: str) -> SourceFile:
        rel = self._normalize(path)
        full = self._abs(rel)
        if not rel:
            raise InputError(f"'{path}' is a directory in {self.label}")
        if not os.path.lexists(full):
            raise self._missing(rel)
        self._check_readable(rel, full)  # never open a FIFO or a device
        try:
            with open(full, "rb") as f:
                data = f.read()
        except OSError as err:
            raise InputError(f"cannot read '{rel}' in {self.label}: {err.strerror}") from None
        return SourceFile.from_bytes(rel, data)

    def exists(self, path: str) -> bool:
        try:
            rel = self._normalize(path)
        except InputError:  # outside the tree (an #include "../../x.h" that climbs out)
            return False
        return os.path.exists(self._abs(rel))

    def identity(self, path: str) -> str:
        rel = self._normalize(path)
        try:
            st = os.stat(self._abs(rel))
        except OSError as err:
            raise InputError(f"cannot read '{rel}' in {self.label}: {err.strerror}") from None
        return f"stat:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"

    def glob(self, folder: str, suffix: str) -> list[str]:
        rel = self._normalize(folder)
        try:
            with os.scandir(self._abs(rel)) as entries:
                names = [
                    e.name
                    for e in entries
                    if e.name.endswith(suffix) and e.is_file(follow_symlinks=False)
                ]
        except OSError:
            return []
        return sorted(posixpath.join(rel, n) if rel else n for n in names)


# --------------------------------------------------------------------------- git revision


class _Entry(NamedTuple):
    mode: str
    type: str
    sha: str


class _Object(NamedTuple):
    """One answer of ``git cat-file --batch``: ``status`` is "ok", "missing" or a
    --follow-symlinks failure ("dangling", "loop", "notdir", "symlink")."""

    status: str
    type: str = ""
    sha: str = ""
    data: bytes = b""


_REGULAR_MODES = frozenset({"100644", "100755", "100664"})
_SYMLINK_MODE = "120000"


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        if proc.stdin is not None:
            proc.stdin.close()  # cat-file exits at end of input
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
    finally:
        if proc.stdout is not None:
            proc.stdout.close()


class GitSource(Source):
    """Files of one commit of a git repository, read without touching its work tree.

    Listing is one ``git ls-tree -r -z`` call per :meth:`list_files` (it yields every blob
    id at once); contents come from one persistent ``git cat-file --batch`` process, started
    on first use and stopped by :meth:`close`."""

    def __init__(self, repo: Path | str, rev: str) -> None:
        if not rev or rev.startswith("-") or any(c in rev for c in "\0\n\r"):
            raise InputError(f"invalid revision {rev!r}: empty, starts with '-' or has a newline")
        self.rev = rev
        self.root = Path(os.path.abspath(repo))
        self.label = f"{self.root}@{rev}"
        self._entries: dict[str, _Entry] = {}
        self._cat_file: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None
        self._repo = self._open_repo(self.root, repo)
        self._git_exe = self._repo.git.GIT_PYTHON_GIT_EXECUTABLE or "git"
        try:
            self.commit = self._resolve(rev)
        except BaseException:
            self._repo.close()
            raise

    # -- opening

    @staticmethod
    def _open_repo(root: Path, given: Path | str):  # -> git.Repo
        try:
            import git  # imported here: a missing git binary must only break GitSource
        except Exception as err:  # GitPython raises ImportError subclasses when git is absent
            msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise InputError(f"cannot use git: {msg}") from None
        if not root.exists():
            raise InputError(f"no such directory: {given}")
        if not root.is_dir():
            raise InputError(f"not a git repository: {given}")
        try:
            repo = git.Repo(root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise InputError(f"not a git repository: {given}") from None
        except (git.GitError, OSError, ValueError) as err:
            raise InputError(f"cannot open git repository {given}: {err}") from None
        if repo.bare:
            repo.close()
            raise InputError(f"{given} is a bare git repository; give one with a work tree")
        top = Path(os.path.abspath(repo.working_tree_dir or root))
        if top != root and top.resolve() != root.resolve():
            repo.close()
            raise InputError(f"{given} is inside the git repository {top}; give its top folder")
        return repo

    def _env(self) -> dict[str, str]:
        """git finds this repository from its folder, whatever GIT_DIR/GIT_INDEX_FILE the
        caller set (a git hook sets them for another repository). Not by setting GIT_DIR:
        that would skip git's safe.directory ownership check."""
        return git_env()

    def _run(self, *args: str) -> tuple[int, bytes, str]:
        """Run git with an argument list; (status, stdout bytes, stderr text)."""
        out = subprocess.run([self._git_exe, *args], cwd=self._repo.working_tree_dir,
                             capture_output=True, env=self._env())
        return out.returncode, out.stdout, _decode(out.stderr)

    def _resolve(self, rev: str) -> str:
        status, out, err = self._run("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        sha = out.strip()
        if status == 0 and _HEX_RE.fullmatch(sha):
            return sha.decode("ascii")
        if status != 1:  # 1 is "not a valid commit"; 128 e.g. "detected dubious ownership"
            fatal = [ln for ln in err.strip().splitlines() if ln.startswith("fatal:")]
            first = (fatal or err.strip().splitlines() or [f"exit status {status}"])[0]
            raise InputError(f"git failed in {self.root}: {first}")
        status, out, _ = self._run("rev-parse", "--is-shallow-repository")
        if status == 0 and out.strip() == b"true":
            raise InputError(f"unknown revision '{rev}' in {self.root} (a shallow clone: it "
                             "may lie beyond its depth)")
        raise InputError(f"unknown revision '{rev}' in {self.root}")

    def _root_for_absolute(self) -> str:
        return str(self.root)

    # -- listing

    def _ls_tree(self, *args: str) -> Iterator[tuple[str, _Entry]]:
        status, out, err = self._run("ls-tree", "-z", "--full-tree", *args)
        if status != 0:
            first = err.strip().splitlines()[0] if err.strip() else f"exit status {status}"
            raise InputError(f"git ls-tree failed for {self.label}: {first}")
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, name = record.partition(b"\t")
            mode, typ, sha = meta.decode("ascii").split(" ")
            yield _decode(name), _Entry(mode, typ, sha)

    def _walk(self, paths: Sequence[str]) -> Iterator[tuple[str, bool]]:
        wanted = [p for p in paths if p]
        listing = dict(self._ls_tree("-r", self.commit, "--", *wanted))
        self._entries.update(listing)
        for p in wanted:  # an exact entry, or anything below it as a folder
            if p not in listing and not any(n.startswith(p + "/") for n in listing):
                raise self._missing(p)
        named = set(wanted)
        for name, entry in listing.items():
            if entry.type != "blob":
                continue  # submodules
            if name in named:
                yield name, True
            elif entry.mode != _SYMLINK_MODE:
                yield name, False

    def glob(self, folder: str, suffix: str) -> list[str]:
        rel = self._normalize(folder)
        args = [self.commit, "--", rel + "/"] if rel else [self.commit]
        return sorted(
            name
            for name, e in self._ls_tree(*args)
            if e.type == "blob" and e.mode != _SYMLINK_MODE and name.endswith(suffix)
        )

    # -- reading

    def _process(self) -> subprocess.Popen[bytes]:
        if self._cat_file is None or self._cat_file.poll() is not None:
            if self._cat_file is not None:
                raise InputError(f"git cat-file stopped unexpectedly in {self.root}")
            proc = subprocess.Popen(
                [self._git_exe, "cat-file", "--batch", "--follow-symlinks"],
                cwd=self._repo.working_tree_dir,
                env=self._env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            self._cat_file = proc
            self._finalizer = weakref.finalize(self, _stop_process, proc)
        return self._cat_file

    def _query(self, spec: str) -> _Object:
        """Ask the cat-file process for ``spec`` (a blob id, or ``<commit>:<path>``)."""
        proc = self._process()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(spec.encode("utf-8", "surrogateescape") + b"\n")
            proc.stdin.flush()
            header = proc.stdout.readline()
        except OSError:
            header = b""
        if not header.endswith(b"\n"):
            raise InputError(f"git cat-file stopped unexpectedly in {self.root}")
        header = header[:-1]
        parts = header.split(b" ")
        if len(parts) == 3 and _HEX_RE.fullmatch(parts[0]) and parts[2].isdigit():
            data = self._read_exact(proc, int(parts[2]))
            return _Object("ok", parts[1].decode("ascii"), parts[0].decode("ascii"), data)
        if header.endswith((b" missing", b" ambiguous")):
            return _Object("missing")
        if len(parts) == 2 and parts[1].isdigit():  # "loop 12\n<name>\n" and friends
            self._read_exact(proc, int(parts[1]))
            return _Object(parts[0].decode("ascii", "replace"))
        raise InputError(f"unexpected answer from git cat-file in {self.root}: {header[:80]!r}")

    def _read_exact(self, proc: subprocess.Popen[bytes], size: int) -> bytes:
        assert proc.stdout is not None
        data = proc.stdout.read(size + 1)  # the content and its terminating newline
        if len(data) != size + 1:
            raise InputError(f"git cat-file stopped unexpectedly in {self.root}")
        return data[:-1]

    def read(self, path: str) -> SourceFile:
        rel = self._normalize(path)
        if not rel:
            raise InputError(f"'{path}' is a directory in {self.label}")
        entry = self._entries.get(rel)
        if entry is not None and entry.type == "blob" and entry.mode in _REGULAR_MODES:
            obj = self._query(entry.sha)  # bulk id from ls-tree: no path lookup needed
        else:
            if "\n" in rel:
                raise self._missing(rel)
            obj = self._query(f"{self.commit}:{rel}")  # follows in-repository symlinks
        if obj.status == "ok" and obj.type == "blob":
            return SourceFile(rel, obj.sha, _decode(obj.data))
        if obj.status == "ok" and obj.type == "tree":
            raise InputError(f"'{rel}' is a directory in {self.label}")
        if obj.status == "ok":
            raise InputError(f"'{rel}' is not a regular file in {self.label}")
        if obj.status in ("dangling", "loop", "symlink"):
            raise InputError(f"cannot read '{rel}' in {self.label}: {obj.status} symlink")
        raise self._missing(rel)

    def exists(self, path: str) -> bool:
        try:
            rel = self._normalize(path)
        except InputError:  # outside the tree (an #include "../../x.h" that climbs out)
            return False
        if not rel or rel in self._entries:
            return True
        if "\n" in rel:
            return False
        return self._query(f"{self.commit}:{rel}").status == "ok"

    def identity(self, path: str) -> str:
        entry = self._entries.get(self._normalize(path))
        if entry is not None and entry.type == "blob":
            return entry.sha
        return super().identity(path)

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # stops cat-file, at most once
        self._repo.close()


# --------------------------------------------------------------------------- choosing


def open_source(paths_root: Path | None, repo: Path | None, rev: str | None) -> Source:
    """The source a command reads: a revision of ``repo`` when ``rev`` is given, else the
    work tree. The root is ``repo``, else ``paths_root``, else the current directory."""
    root = repo if repo is not None else paths_root if paths_root is not None else Path.cwd()
    if rev is not None:
        return GitSource(root, rev)
    return TreeSource(root)
