"""Git hooks: block a commit or a push that adds lock findings.

``rmaplint hook install`` writes a small sh script into the repository's hooks folder (the
one git uses: ``git rev-parse --git-path hooks``, which follows ``core.hooksPath``). The
script runs ``rmaplint hook run <name>`` with the absolute path of the Python interpreter
that installed it, so a hook installed from a virtualenv keeps working outside it. It carries
a signature line; install refuses to replace a hook without it (``--force`` moves that hook
aside to ``<name>.rmaplint-backup``, and uninstall puts it back), and uninstall removes only
a hook with it.

``hook run pre-commit`` analyses the *staged* content of the staged .c/.h files: every file,
including the headers they include, is read from the index (:class:`IndexSource`), never
from the work tree, so unstaged edits do not count. Findings are compared by fingerprint with
HEAD's version of the same files; only findings the commit adds, at or above ``--fail-on``
and not justified in the source, block it.

Run by the pre-commit framework (https://pre-commit.com), the hook gets what the framework
gives: with file names (``pass_filenames``; ``pre-commit run --files``/``--all-files``)
those files are checked as they are in the work tree (the framework stashes unstaged
changes first) and every finding in them counts, so a bug already committed is found; with
``PRE_COMMIT_FROM_REF``/``PRE_COMMIT_TO_REF`` (``pre-commit run --from-ref A --to-ref B``,
and the pre-push stage) the range is reviewed as ``rmaplint review A..B`` does, and the
findings it leaves behind count. A baseline (``.rmaplint.toml``) keeps an upstream tree's
known findings quiet.

``hook run pre-push`` reads git's ``<local ref> <local sha> <remote ref> <remote sha>``
lines and reviews the pushed commits with :func:`analyzer.review.review_commits`: the
findings the pushed commits leave behind (the verdict's *remaining*) block the push. A new
branch is reviewed from the commits no remote-tracking ref has.

A hook must not stand between a developer and git because the checker broke: an internal
error prints one line and lets the commit or push through, unless ``--strict``.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..driver.cache import Cache
from ..driver.run import Checker
from ..errors import InputError
from ..findings.finding import Finding, severity_rank
from ..locks.result import FileStatus
from ..model.lockmodel import LockModel
from ..source.reader import GitSource, Source, SourceFile
from .results import ANALYSED, HookAction, HookChange
from .review import RevisionAnalyser, changed_files, git, review_commits

HOOKS = ("pre-commit", "pre-push")
SIGNATURE = "# rmaplint-hook"
BACKUP_SUFFIX = ".rmaplint-backup"
_ZERO = re.compile(r"^0+$")


def blocking(findings: Sequence[Finding], fail_on: str) -> list[Finding]:
    threshold = severity_rank(fail_on)
    return [f for f in findings
            if severity_rank(f.severity) >= threshold and not f.justification]


def _sorted(findings) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.path, f.line, f.rule, f.fingerprint))


# --------------------------------------------------------------------------- install


def _plain_git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    # not review.git(): that one overrides core.hooksPath, which is what we must read here
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          errors="surrogateescape")


def hooks_dir(repo: Path) -> Path:
    """The folder git runs hooks from (``core.hooksPath`` when set, else .git/hooks, the
    common one for a linked worktree)."""
    out = _plain_git(repo, "rev-parse", "--git-path", "hooks")
    if out.returncode != 0 or not out.stdout.strip():
        msg = out.stderr.strip().splitlines()
        raise InputError(f"cannot find the hooks folder of {repo}: "
                         f"{msg[-1] if msg else 'git rev-parse failed'}")
    path = Path(out.stdout.rstrip("\n"))
    return path if path.is_absolute() else (repo / path)


def is_ours(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    return any(line.startswith(SIGNATURE) for line in head.splitlines()[:5])


def _pythonpath_needed() -> str | None:
    """The folder holding ``analyzer`` when a bare interpreter would not import this very
    package (running from a source checkout), else None (an installed package)."""
    here = Path(__file__).resolve().parents[1]  # the analyzer package
    try:
        out = subprocess.run([sys.executable, "-E", "-c",
                              "import analyzer, os; print(os.path.realpath(analyzer.__file__))"],
                             cwd=tempfile.gettempdir(), capture_output=True, text=True,
                             timeout=60)
        found = Path(out.stdout.strip()).parent if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        found = None
    return None if found == here else str(here.parent)


def hook_script(name: str, run_args: Sequence[str] = ()) -> str:
    python = shlex.quote(sys.executable)
    path = _pythonpath_needed()
    lines = [
        "#!/bin/sh",
        f"{SIGNATURE}: {name} -- written by `rmaplint hook install`; "
        "`rmaplint hook uninstall` removes it",
        f"# Blocks a {'commit' if name == 'pre-commit' else 'push'} that adds rmap lock "
        f"findings; `git {'commit' if name == 'pre-commit' else 'push'} --no-verify` skips it.",
        f"python={python}",
        'if [ ! -x "$python" ]; then',
        f'\techo "rmaplint hook: $python not found; {name} check skipped '
        '(rmaplint hook uninstall removes this hook)" >&2',
        "\texit 0",
        "fi",
    ]
    if path is not None:
        lines += [f"PYTHONPATH={shlex.quote(path)}${{PYTHONPATH:+:$PYTHONPATH}}",
                  "export PYTHONPATH"]
    args = " ".join(shlex.quote(a) for a in run_args)
    lines.append(f'exec "$python" -m analyzer.cli hook run {args + " " if args else ""}'
                 f'{name} "$@"')
    return "\n".join(lines) + "\n"


def _write_executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def install(repo: Path, names: Sequence[str], force: bool = False,
            run_args: Sequence[str] = ()) -> list[HookChange]:
    """Write our hooks; what was done. Nothing is written when one of them would replace a
    foreign hook without ``force``."""
    folder = hooks_dir(repo)
    plan = []
    for name in names:
        path = folder / name
        foreign = (path.exists() or path.is_symlink()) and not is_ours(path)
        if foreign and not force:
            raise InputError(f"{path} exists and is not an rmaplint hook "
                             "(--force moves it aside to " + path.name + BACKUP_SUFFIX + ")")
        backup = path.with_name(path.name + BACKUP_SUFFIX)
        if foreign and (backup.exists() or backup.is_symlink()):
            raise InputError(f"{path} is not an rmaplint hook and {backup} already exists; "
                             "move one of them away")
        plan.append((name, path, foreign, backup))
    done = []
    try:
        for name, path, foreign, backup in plan:
            if foreign:
                os.replace(path, backup)
            _write_executable(path, hook_script(name, run_args))
            done.append(HookChange(name, HookAction.INSTALLED, path,
                                   backup if foreign else None))
    except OSError as e:
        raise InputError(f"cannot write a hook in {folder}: {e.strerror or e}") from None
    return done


def uninstall(repo: Path, names: Sequence[str]) -> list[HookChange]:
    """Remove our hooks (putting back what ``install --force`` moved aside); what was done."""
    folder = hooks_dir(repo)
    done = []
    for name in names:
        path = folder / name
        backup = path.with_name(path.name + BACKUP_SUFFIX)
        if not (path.exists() or path.is_symlink()):
            done.append(HookChange(name, HookAction.ABSENT, path))
            continue
        if not is_ours(path):
            done.append(HookChange(name, HookAction.FOREIGN, path))
            continue
        try:
            path.unlink()
            restored = backup.exists() or backup.is_symlink()
            if restored:
                os.replace(backup, path)
            done.append(HookChange(name, HookAction.REMOVED, path,
                                   backup if restored else None))
        except OSError as e:
            raise InputError(f"cannot remove {path}: {e.strerror or e}") from None
    return done


# --------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class _IndexEntry:
    mode: str
    sha: str


_SYMLINK = "120000"
_GITLINK = "160000"
_NOT_FILES = frozenset({_SYMLINK, _GITLINK})  # listed by git, but no file's content


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


class IndexSource(Source):
    """The files staged in a repository's index: ``$GIT_INDEX_FILE`` when git sets it, as
    it does for ``git commit <paths>`` (git runs here with the inherited environment).
    Listed with one ``git ls-files -s -z``; contents come from one ``git cat-file --batch``
    by blob id. Only stage-0 entries: a commit cannot have unmerged paths. Nothing is
    written."""

    def __init__(self, repo: Path | str) -> None:
        self.root = Path(os.path.abspath(repo))
        self.label = f"{self.root} (index)"
        out = subprocess.run(["git", "ls-files", "-s", "-z"], cwd=self.root,
                             capture_output=True)
        if out.returncode != 0:
            msg = out.stderr.decode("utf-8", "replace").strip().splitlines()
            raise InputError(f"git ls-files failed in {self.root}: "
                             f"{msg[-1] if msg else out.returncode}")
        self._entries: dict[str, _IndexEntry] = {}
        self._dirs: set[str] = {""}
        for record in out.stdout.split(b"\0"):
            if not record:
                continue
            meta, _, name = record.partition(b"\t")
            mode, sha, stage = meta.decode("ascii").split(" ")
            if stage != "0":
                continue
            path = name.decode("utf-8", "surrogateescape")
            self._entries[path] = _IndexEntry(mode, sha)
            d = posixpath.dirname(path)
            while d and d not in self._dirs:
                self._dirs.add(d)
                d = posixpath.dirname(d)
        self._proc: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None

    def _root_for_absolute(self) -> str:
        return str(self.root)

    def blob_id(self, path: str) -> str | None:
        e = self._entries.get(path)
        return e.sha if e is not None else None

    def _walk(self, paths: Sequence[str]) -> Iterator[tuple[str, bool]]:
        for p in paths:
            if p and p not in self._entries and p not in self._dirs:
                raise self._missing(p)
        named = set(paths)
        for name, e in sorted(self._entries.items()):
            if name in named:
                yield name, True
            elif e.mode in _NOT_FILES:
                continue
            elif "" in named or any(name.startswith(p + "/") for p in paths if p):
                yield name, False

    def exists(self, path: str) -> bool:
        rel = self._normalize(path)
        return rel in self._entries or rel in self._dirs

    def glob(self, folder: str, suffix: str) -> list[str]:
        rel = self._normalize(folder)
        return sorted(n for n, e in self._entries.items()
                      if posixpath.dirname(n) == rel and n.endswith(suffix)
                      and e.mode not in _NOT_FILES)

    def _cat(self, sha: str) -> bytes:
        if self._proc is None:
            self._proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=self.root,
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL)
            self._finalizer = weakref.finalize(self, _stop, self._proc)
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(sha.encode("ascii") + b"\n")
            proc.stdin.flush()
            header = proc.stdout.readline()
        except OSError:
            header = b""
        parts = header.split()
        if len(parts) == 3 and parts[2].isdigit():
            size = int(parts[2])
            data = proc.stdout.read(size + 1)
            if len(data) == size + 1:
                return data[:-1]
        elif len(parts) == 2 and parts[1] == b"missing":
            raise InputError(f"blob {sha} of the index is missing from {self.root}")
        raise InputError(f"git cat-file stopped unexpectedly in {self.root}")

    def read(self, path: str) -> SourceFile:
        rel = self._normalize(path)
        seen: set[str] = set()
        cur = rel
        while True:
            e = self._entries.get(cur)
            if e is None:
                if cur in self._dirs:
                    raise InputError(f"'{cur}' is a directory in {self.label}")
                raise self._missing(cur)
            if e.mode == _GITLINK:
                raise InputError(f"'{cur}' is a submodule in {self.label}")
            if e.mode != _SYMLINK:
                break
            # follow a symlink inside the tree, as GitSource does
            if cur in seen or len(seen) > 16:
                raise InputError(f"cannot read '{rel}' in {self.label}: symlink loop")
            seen.add(cur)
            target = self._cat(e.sha).decode("utf-8", "surrogateescape")
            nxt = posixpath.normpath(posixpath.join(posixpath.dirname(cur), target))
            if target.startswith("/") or nxt == ".." or nxt.startswith("../"):
                raise InputError(f"cannot read '{rel}' in {self.label}: symlink out of the tree")
            cur = nxt
        data = self._cat(e.sha)
        return SourceFile(rel, e.sha, data.decode("utf-8", "surrogateescape"))

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()


# --------------------------------------------------------------------------- pre-commit


def has_head(repo: Path) -> bool:
    out = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
                         cwd=repo, capture_output=True)
    return out.returncode == 0


def staged_files(repo: Path) -> list[str]:
    """The .c/.h files the commit adds or changes (against HEAD, or the empty tree on an
    unborn branch), as git itself sees them in the index.

    Run with the hook's own environment, unlike review.git(): ``$GIT_INDEX_FILE`` is the
    index being committed (a temporary one for ``git commit <paths>`` or ``-a``)."""
    out = _plain_git(repo, "diff", "--cached", "--name-only", "-z", "--no-renames",
                     "--diff-filter=d")
    if out.returncode != 0:
        msg = out.stderr.strip().splitlines()
        raise InputError(f"git diff --cached failed in {repo}: "
                         f"{msg[-1] if msg else out.returncode}")
    return sorted(p for p in out.stdout.split("\0") if p and p.endswith(ANALYSED))


def pre_commit_findings(repo: Path, model: LockModel, cache: Cache) -> list[Finding]:
    """Findings of the staged files that HEAD's version of the same files does not have."""
    files = staged_files(repo)
    if not files:
        return []
    before: dict[str, set[str]] = {}
    if has_head(repo):
        with GitSource(repo, "HEAD") as head:
            present = set(head.list_files([], suffixes=ANALYSED))
            checker = Checker(head, model, cache)
            for p in files:
                if p in present:
                    before[p] = {x.fingerprint for x in checker.check_file(p).findings}
    new: list[Finding] = []
    with IndexSource(repo) as index:
        checker = Checker(index, model, cache)
        for p in files:
            rep = checker.check_file(p)
            old = before.get(p, set())
            new.extend(x for x in rep.findings if x.fingerprint not in old)
    return _sorted(new)


def files_findings(repo: Path, files: Sequence[str], model: LockModel, cache: Cache
                   ) -> list[Finding]:
    """Every finding of the named .c/.h files as they are in the work tree (the
    framework's ``pass_filenames``); other files are skipped."""
    from ..source.reader import TreeSource

    wanted = []
    for f in files:
        rel = os.path.relpath(os.path.abspath(f), repo) if os.path.isabs(f) else f
        rel = rel.replace(os.sep, "/")
        if rel.endswith(ANALYSED) and not rel.startswith("../") and (repo / rel).is_file():
            wanted.append(rel)
    out: list[Finding] = []
    if not wanted:
        return out
    with TreeSource(repo) as tree:
        checker = Checker(tree, model, cache)
        for p in sorted(set(wanted)):
            rep = checker.check_file(p)
            if rep.status == FileStatus.ERROR:
                raise InputError(f"{p}: {rep.error}")
            out.extend(rep.findings)
    return _sorted(out)


def range_findings(repo: Path, from_ref: str, to_ref: str, model: LockModel, cache: Cache,
                   progress=None) -> list[Finding]:
    """What ``review FROM..TO`` leaves behind (PRE_COMMIT_FROM_REF/PRE_COMMIT_TO_REF)."""
    from .review import commits_in, resolve

    base = resolve(repo, from_ref)
    commits = commits_in(repo, f"{base}..{resolve(repo, to_ref)}")
    if not commits:
        return []
    return _sorted(review_commits(repo, base, commits, model, cache,
                                  progress=progress).remaining)


# --------------------------------------------------------------------------- pre-push


@dataclass(frozen=True)
class PushedRange:
    local_ref: str
    remote_ref: str
    base: str | None  # what the remote had (or the parent of the oldest new commit)
    commits: tuple[str, ...]  # oldest first


def _commit_exists(repo: Path, sha: str) -> bool:
    out = subprocess.run(["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=repo,
                         capture_output=True)
    return out.returncode == 0


def pushed_ranges(repo: Path, lines: str) -> list[PushedRange]:
    """Parse git's pre-push input: one ``<local ref> <local sha> <remote ref> <remote sha>``
    line per ref pushed. Deletions are skipped."""
    out = []
    for line in lines.splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4:
            raise InputError(f"unexpected pre-push input line: {line[:120]!r}")
        local_ref, local_sha, remote_ref, remote_sha = parts
        if _ZERO.match(local_sha):
            continue  # deleting a remote branch adds nothing
        if not _ZERO.match(remote_sha) and _commit_exists(repo, remote_sha):
            commits = git(repo, "rev-list", "--reverse", "--topo-order", local_sha,
                          f"^{remote_sha}").split()
            base: str | None = remote_sha
        else:
            # a new branch (or a remote tip we never fetched): the commits no
            # remote-tracking ref has are the ones this push publishes
            commits = git(repo, "rev-list", "--reverse", "--topo-order", local_sha,
                          "--not", "--remotes").split()
            base = None
            if commits:
                parents = git(repo, "rev-list", "--parents", "-n", "1", commits[0]).split()
                base = parents[1] if len(parents) > 1 else None
        if commits:
            out.append(PushedRange(local_ref, remote_ref, base, tuple(commits)))
    return out


def pre_push_findings(repo: Path, lines: str, model: LockModel, cache: Cache
                      ) -> list[Finding]:
    """Findings the pushed commits leave behind, over every ref pushed."""
    found: dict[tuple[str, str], Finding] = {}
    for rng in pushed_ranges(repo, lines):
        if rng.base is not None:
            res = review_commits(repo, rng.base, list(rng.commits), model, cache)
            remaining = res.remaining
        else:  # the push starts a history: everything at its tip is new
            files: set[str] = set()
            for c in rng.commits:
                parents = git(repo, "rev-list", "--parents", "-n", "1", c).split()
                files.update(f for f in changed_files(repo, parents[1] if len(parents) > 1
                                                      else "", c) if f.endswith(ANALYSED))
            reps = RevisionAnalyser(repo, model, cache).reports(rng.commits[-1], sorted(files))
            remaining = [x for r in reps.values() for x in r.findings]
        for x in remaining:
            found.setdefault((x.path, x.fingerprint), x)
    return _sorted(found.values())
