"""Reviewing a patch series: what each patch changes in the findings, and what the series
leaves behind.

For each patch (a commit and its parent) the files it changes are analysed on both sides
(results cached by blob id, so an unchanged file is never analysed twice). Findings are
matched by fingerprint, which survives line shifts: *new* ones appear with the patch, *fixed*
ones disappear, *unchanged* ones stay in the functions the patch touches. The verdict compares
the base with the end of the series: *remaining* findings are the series' own, *transient*
ones were introduced by one patch and removed by a later one.

An mbox is read with the standard library's ``mailbox`` (cover letter and replies skipped)
and applied patch by patch to a temporary index (``git apply --cached --3way``, ``git
write-tree``, ``git commit-tree``: :mod:`analyzer.workflow.series`), never to a work tree; the
resulting commits are read through the git object database like any revision. The user's
work tree, index, branches, reflogs and stash are never touched and the user's git hooks
never run; the commit objects stay unreferenced in the object database until ``git gc``.

A finding whose fingerprint leaves one file and appears in another in the same patch has
*moved* with its function (mm/mmap.c → mm/vma.c): it is neither new nor fixed.

A finding that disappears where the patch leaves the code unreadable — its function has parse
errors after it (or a parse error hides the function), or its file cannot be analysed — is
*not analysed*, never *fixed*: the checks could not look for it. It stays unknown until a
later patch makes the code readable again: seen again, it is the same finding (not new);
still gone, that patch fixes it. The verdict's ``not_analysed`` holds the findings of the base
or of a patch that the end of the series cannot look for (neither fixed nor transient).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..driver.cache import Cache
from ..driver.run import Checker, FileReport
from ..errors import InputError
from ..findings.finding import Finding
from ..locks.result import FileStatus
from ..model.lockmodel import LockModel
from ..source.reader import GitSource, git_env
from .results import ANALYSED, ApplyFailure, Hunk, NotAnalysed, PatchReview, ReviewResult
from .series import apply_series, read_series

# no hooks, a fixed identity, and no automatic gc/maintenance started in the user's repository
_GIT = ["git", "-c", "core.hooksPath=/dev/null", "-c", "user.name=rmaplint",
        "-c", "user.email=rmaplint@localhost", "-c", "advice.detachedHead=false",
        "-c", "gc.auto=0", "-c", "maintenance.auto=false"]

# --------------------------------------------------------------------------- git helpers


def git(repo: Path, *args: str, check: bool = True) -> str:
    out = subprocess.run([*_GIT, *args], cwd=repo, capture_output=True, text=True,
                         errors="surrogateescape", env=git_env())
    if check and out.returncode != 0:
        msg = out.stderr.strip().splitlines()
        raise InputError(f"git {args[0]} failed in {repo}: {msg[-1] if msg else out.returncode}")
    return out.stdout


def resolve(repo: Path, rev: str) -> str:
    if not rev or rev.startswith("-") or "\n" in rev:
        raise InputError(f"invalid revision '{rev}'")
    out = subprocess.run([*_GIT, "rev-parse", "--verify", "--quiet", "--end-of-options",
                          rev + "^{commit}"], cwd=repo, capture_output=True, text=True,
                         env=git_env())
    if out.returncode != 0:
        raise InputError(f"unknown revision '{rev}' in {repo}")
    return out.stdout.strip()


def commits_in(repo: Path, rev_range: str, paths: list[str] | None = None) -> list[str]:
    if rev_range.startswith("-"):
        raise InputError(f"invalid revision range '{rev_range}'")
    if ".." not in rev_range:
        raise InputError(f"'{rev_range}' is neither an mbox file nor a revision range (A..B)")
    a, _, b = rev_range.partition("...") if "..." in rev_range else rev_range.partition("..")
    resolve(repo, a or "HEAD")
    resolve(repo, b or "HEAD")
    args = ["rev-list", "--reverse", "--topo-order", "--end-of-options", rev_range]
    if paths:
        args += ["--", *paths]
    return [c for c in git(repo, *args).split() if c]


def commit_info(repo: Path, commit: str) -> tuple[str, str, str, str]:
    """(parent, subject, author, date) of a commit."""
    out = git(repo, "show", "-s", "--format=%P%x00%s%x00%an <%ae>%x00%aD", commit)
    parents, subject, author, date = out.rstrip("\n").split("\x00")
    parent = parents.split()[0] if parents.split() else ""
    return parent, subject, author, date


def changed_files(repo: Path, parent: str, commit: str) -> list[str]:
    if not parent:
        out = git(repo, "ls-tree", "-r", "--name-only", "-z", commit)
    else:
        out = git(repo, "diff", "--name-only", "-z", "--no-renames", parent, commit)
    return sorted(p for p in out.split("\0") if p)


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def hunks(repo: Path, parent: str, commit: str, files: list[str]) -> list[Hunk]:
    if not parent or not files:
        return []
    out = git(repo, "diff", "-U0", "--no-renames", parent, commit, "--", *files)
    result = []
    path = None
    for line in out.splitlines():
        if line.startswith("+++ "):
            p = line[4:]
            path = p[2:] if p.startswith("b/") else None
        elif line.startswith("--- ") and path is None:
            continue
        else:
            m = _HUNK.match(line)
            if m and path:
                result.append(Hunk(path, int(m.group(1)), int(m.group(2) or 1),
                                   int(m.group(3)), int(m.group(4) or 1)))
    return result


def diff_text(repo: Path, parent: str, commit: str, files: list[str]) -> str:
    """The unified diff (3 lines of context) of ``files`` from ``parent`` to ``commit``."""
    if not parent or not files:
        return ""
    return git(repo, "diff", "-U3", "--no-renames", "--no-color", parent, commit, "--", *files,
               check=False)


def patch_text(repo: Path, commit: str) -> str:
    """The commit as ``git format-patch`` mails it (no diffstat); "" when git cannot."""
    out = subprocess.run([*_GIT, "format-patch", "-1", "--stdout", "--no-stat", commit],
                         cwd=repo, capture_output=True, text=True, errors="surrogateescape",
                         env=git_env())
    return out.stdout if out.returncode == 0 else ""


# --------------------------------------------------------------------------- analysis


class RevisionAnalyser:
    """Analyse files at revisions of one repository, sharing one cache. ``traces``: every
    report with its file's text and function traces (what the HTML report shows)."""

    def __init__(self, repo: Path, model: LockModel, cache: Cache, clang=None,
                 traces: bool = False):
        self.repo = repo
        self.clang = clang  # a BuildConfig: parse with libclang against the work tree's headers
        self.model = model
        self.cache = cache
        self.traces = traces
        self._memo: dict[tuple[str, str], FileReport | None] = {}

    def reports(self, rev: str, paths: list[str]) -> dict[str, FileReport]:
        """The reports of those ``paths`` that exist at ``rev``."""
        return self._reports(rev, paths, self.traces)

    def traced(self, rev: str, paths: list[str]) -> dict[str, FileReport]:
        """The same, each with its text and function traces."""
        return self._reports(rev, paths, True)

    def _reports(self, rev: str, paths: list[str], traces: bool) -> dict[str, FileReport]:
        todo = [p for p in paths if (rev, p) not in self._memo
                or traces and (r := self._memo[(rev, p)]) is not None and r.traces is None]
        if todo:
            with GitSource(self.repo, rev) as src:
                checker = Checker(src, self.model, self.cache, clang=self.clang)
                present = set(src.list_files([], suffixes=ANALYSED))
                for p in todo:
                    self._memo[(rev, p)] = checker.check_file(p, traces) \
                        if p in present else None
        return {p: r for p in paths if (r := self._memo.get((rev, p))) is not None}

    def not_analysed(self, rev: str, path: str, report: FileReport | None, f: Finding
                     ) -> NotAnalysed | None:
        """Why ``report`` (of ``path`` at ``rev``) could not have found ``f``: its function
        is degraded or hidden by a parse error, or the file could not be analysed (status
        error, or present but not read: a symlink, a submodule). None when it could look:
        the function was analysed cleanly, or is gone, or the file was deleted."""
        if report is None:
            if not self._exists(rev, path):
                return None  # deleted: its code is gone with it
            return NotAnalysed(f, error=f"not read at {rev[:12]} (not a regular file)")
        if report.status == FileStatus.ERROR:
            return NotAnalysed(f, error=report.error or "cannot analyse the file")
        d = report.degraded_for(f.function)
        return NotAnalysed(f, d) if d is not None else None

    def _exists(self, rev: str, path: str) -> bool:
        out = subprocess.run([*_GIT, "cat-file", "-e", f"{rev}:{path}"], cwd=self.repo,
                             capture_output=True, env=git_env())
        return out.returncode == 0


def _touched(report: FileReport | None, ranges: list[tuple[int, int]]) -> set[str]:
    if report is None:
        return set()
    out = set()
    for name, a, b in report.spans:
        for lo, hi in ranges:
            if a <= hi and lo <= b:
                out.add(name)
    return out


def review_commits(repo: Path, base: str, commits: list[str], model: LockModel,
                   cache: Cache, failure: ApplyFailure | None = None,
                   label: str = "", on_patch=None, clang=None, progress=None,
                   snapshots: bool = False, patch_texts: bool = False) -> ReviewResult:
    """``progress(i, n, what)`` is called before each patch is analysed. ``snapshots``: the
    result carries the files a report shows (text, findings and function traces, by
    revision) and each patch's diff; ``patch_texts``: each patch as format-patch mails it
    (for replies)."""
    analyser = RevisionAnalyser(repo, model, cache, clang, traces=snapshots)
    shown: dict[tuple[str, str], FileReport] = {}
    patches: list[PatchReview] = []
    introduced: dict[str, Finding] = {}
    # fingerprint → why: gone where a patch left the code unreadable, not seen since
    unknown: dict[str, tuple[NotAnalysed, int]] = {}  # … and the patch that lost it
    all_files: set[str] = set()
    n = len(commits)
    for i, commit in enumerate(commits, 1):
        parent, subject, author, date = commit_info(repo, commit)
        if progress is not None:
            progress(i, n, f"analysing {subject}")
        files = [f for f in changed_files(repo, parent, commit) if f.endswith(ANALYSED)]
        all_files.update(files)
        before = analyser.reports(parent, files) if parent else {}
        after = analyser.reports(commit, files)
        hs = hunks(repo, parent, commit, files)
        pr = PatchReview(i, subject, commit, parent, files, hunks=hs, author=author, date=date)
        old_all = {x.fingerprint: x for r in before.values() for x in r.findings}
        new_all = {x.fingerprint: x for r in after.values() for x in r.findings}
        # what an earlier patch left unknown in these files counts as there before this one
        carried = {k: na.finding for k, (na, _) in unknown.items()
                   if na.finding.path in files and k not in old_all}
        for k, x in carried.items():
            old_all[k] = x
        for f in files:
            a, b = before.get(f), after.get(f)
            fa = {x.fingerprint: x for x in a.findings} if a else {}
            fa.update((k, x) for k, x in carried.items() if x.path == f)
            fb = {x.fingerprint: x for x in b.findings} if b else {}
            new_ranges = [(h.new_start, h.new_start + max(h.new_len, 1) - 1)
                          for h in hs if h.path == f]
            touched = _touched(b, new_ranges)
            for k, x in fb.items():
                if k in fa:
                    if x.function in touched:
                        pr.unchanged.append(x)
                elif k in old_all and old_all[k].path != f:
                    pr.moved.append((old_all[k], x))  # moved here from another file
                else:
                    pr.new.append(x)
            for k, x in fa.items():
                if k in fb or k in new_all and new_all[k].path != f:
                    continue
                na = analyser.not_analysed(commit, f, b, x)
                if na is None:
                    pr.fixed.append(x)
                    if k in unknown:
                        pr.fixed_unseen_since[k] = unknown.pop(k)[1]
                elif k not in carried:  # still unknown: said by the patch that lost it
                    pr.not_analysed.append(na)
                    unknown[k] = (na, i)
        for k in new_all:
            unknown.pop(k, None)
        for x in pr.new:
            introduced.setdefault(x.fingerprint, x)
        if snapshots:
            pr.diff = diff_text(repo, parent, commit, files)
            shown.update(((commit, f), r) for f, r in after.items())
            shown.update(((parent, x.path), before[x.path])
                         for x in pr.fixed + [na.finding for na in pr.not_analysed]
                         if x.path in before)
        if patch_texts:
            pr.patch = patch_text(repo, commit)
        patches.append(pr)
        if on_patch is not None:
            on_patch(pr)
    files = sorted(all_files)
    end = analyser.reports(commits[-1], files) if commits else {}
    start = analyser.reports(base, files) if commits else {}
    base_f = {x.fingerprint: x for r in start.values() for x in r.findings}
    end_f = {x.fingerprint: x for r in end.values() for x in r.findings}
    remaining = [x for k, x in end_f.items() if k not in base_f]
    # gone at the end: fixed or transient, unless the end could not look for it
    lost: dict[str, NotAnalysed] = {}
    for k, x in list(base_f.items()) + list(introduced.items()):
        if k in end_f or k in lost:
            continue
        x = unknown[k][0].finding if k in unknown else x
        na = analyser.not_analysed(commits[-1], x.path, end.get(x.path), x)
        if na is not None:
            lost[k] = na
    transient = [x for k, x in introduced.items()
                 if k not in end_f and k not in base_f and k not in lost]
    if snapshots and commits:
        shown.update(((commits[-1], x.path), end[x.path]) for x in remaining if x.path in end)
    key = lambda f: (f.path, f.line, f.rule)  # noqa: E731
    return ReviewResult(repo, base, patches, sorted(remaining, key=key),
                        sorted(transient, key=key), failure, label, shown,
                        sorted(lost.values(), key=lambda na: key(na.finding)))


# ------------------------------------------------- a temporary worktree (unit-test builds)
# Analysis never needs one; ``rmaplint unittest --rev`` builds a revision and so checks it out.


@contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM while git creates or removes the worktree, then deliver them
    as KeyboardInterrupt. Interrupted there, ``subprocess.run`` would SIGKILL git half-way
    and leave a locked, half-made worktree in the user's repository (``git worktree prune``
    does not remove locked ones); a second Ctrl-C would stop the clean-up."""
    got: list[int] = []

    def hold(signum, frame):
        got.append(signum)

    old: dict[int, Any] = {}  # signal number → the handler it had
    try:
        for s in (signal.SIGINT, signal.SIGTERM):
            old[s] = signal.signal(s, hold)
    except ValueError:  # not the main thread: signals go elsewhere anyway
        pass
    try:
        yield
    finally:
        for signum, h in old.items():
            signal.signal(signum, h)
        if got:
            # deliver the first held signal as its own handler would have
            h = old.get(got[0])
            if callable(h):
                h(got[0], None)
            raise KeyboardInterrupt


def _remove_worktree(repo: Path, wt: Path, tmp: Path) -> None:
    """Remove our worktree and its administrative folder, and nothing else: no ``git
    worktree prune``, which would also drop the user's worktrees whose folder is missing
    for now (on a removable disk, say)."""
    env = git_env()
    subprocess.run([*_GIT, "worktree", "remove", "--force", "--force", str(wt)],
                   cwd=repo, capture_output=True, env=env)
    shutil.rmtree(tmp, ignore_errors=True)
    # what git could not remove (a half-made worktree without its .git file, still locked):
    # the administrative folder whose gitdir points into our temporary folder
    out = subprocess.run([*_GIT, "rev-parse", "--git-common-dir"], cwd=repo,
                         capture_output=True, text=True, env=env)
    if out.returncode != 0 or not out.stdout.strip():
        return
    admin = (repo / out.stdout.strip()) / "worktrees"
    if not admin.is_dir():
        return
    for d in admin.iterdir():
        try:
            target = Path((d / "gitdir").read_text().strip())
        except OSError:
            continue
        if target == wt / ".git" or {tmp, tmp.resolve()} & set(target.parents):
            shutil.rmtree(d, ignore_errors=True)
    try:
        admin.rmdir()  # as git leaves it: no empty worktrees/ folder
    except OSError:
        pass


@contextmanager
def temporary_worktree(repo: Path, base: str):
    """A detached worktree at ``base`` in a temporary folder, removed on any exit."""
    tmp: Path | None = None
    wt: Path | None = None
    old_term = None

    def on_term(signum, frame):  # SIGTERM: unwind like Ctrl-C so the cleanup runs
        raise KeyboardInterrupt

    try:
        # a caller that already unwinds on SIGTERM (the CLI does) keeps its handler
        if not callable(signal.getsignal(signal.SIGTERM)):
            old_term = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        old_term = None
    try:
        with _signals_held():
            tmp = Path(tempfile.mkdtemp(prefix="rmaplint-"))
            wt = tmp / "wt"
            git(repo, "worktree", "add", "--detach", "--quiet", str(wt), base)
        yield wt
    finally:
        try:
            if tmp is not None:
                assert wt is not None  # set with tmp
                with _signals_held():
                    _remove_worktree(repo, wt, tmp)
        finally:
            if old_term is not None:
                signal.signal(signal.SIGTERM, old_term)


def review_series(repo: Path, series: str, base: str | None, model: LockModel, cache: Cache,
                  on_patch=None, clang=None, progress=None, snapshots: bool = False,
                  patch_texts: bool = False) -> ReviewResult:
    """SERIES is an mbox file or a revision range; ``clang`` (a BuildConfig) parses with
    libclang, the revisions' C files against the work tree's prepared headers. An mbox is
    applied through a temporary index (:mod:`analyzer.workflow.series`), never a work tree:
    its commit objects stay in the object database, unreferenced, for ``git gc``."""
    p = Path(series)
    if p.is_file():
        mails = read_series(p)
        base_c = resolve(repo, base or "HEAD")
        applied = apply_series(repo, base_c, mails, progress)
        res = review_commits(repo, base_c, applied.commits, model, cache, applied.failure,
                             series, on_patch, clang, progress=progress, snapshots=snapshots,
                             patch_texts=patch_texts)
        for pr, mail in zip(res.patches, mails, strict=False):
            pr.mail = mail
        return res
    if p.exists():
        raise InputError(f"{series}: not a file")
    commits = commits_in(repo, series)
    if not commits:
        raise InputError(f"{series}: empty series (no commits in the range)")
    if base:
        base_c = resolve(repo, base)
    else:
        first_parent = commit_info(repo, commits[0])[0]
        base_c = first_parent or resolve(repo, series.split("..")[0] or "HEAD")
    return review_commits(repo, base_c, commits, model, cache, None, series, on_patch, clang,
                          progress=progress, snapshots=snapshots, patch_texts=patch_texts)
