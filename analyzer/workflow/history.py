"""Findings across history: for every commit of a range that touches the paths, which
findings exist; for each finding, the commit that introduced it and the one that removed it
(matched by fingerprint, so line shifts do not count), and a compact timeline per function.

Only the files a commit changes are analysed again; everything else is carried over, and
the result cache (keyed by blob id) serves any file content seen before, in this run or an
earlier one. The cost grows with the changed files, not with the number of revisions.

A finding that disappears where a commit leaves the code unreadable (its function has parse
errors, a parse error hides it, or its file cannot be analysed) is not removed: it is *not
analysed* since that commit, until a commit makes the code readable again and shows it
(the same episode goes on) or shows it gone (that commit removes it).
"""

from __future__ import annotations

from pathlib import Path

from ..driver.cache import Cache
from ..errors import InputError
from ..findings.finding import Finding
from ..model.lockmodel import LockModel
from ..source.reader import GitSource
from .results import (
    ANALYSED,
    HISTORY_SNAPSHOTS,
    HistoryResult,
    NotAnalysed,
    Removal,
    Revision,
    Tracked,
)
from .review import RevisionAnalyser, changed_files, commit_info, commits_in, git


def _matches(path: str, paths: list[str]) -> bool:
    for p in paths:
        p = p.rstrip("/")
        if not p or path == p or path.startswith(p + "/"):
            return True
    return False


def history(repo: Path, rev_range: str, paths: list[str], model: LockModel,
            cache: Cache, progress=None, keep=None, snapshots: bool = False) -> HistoryResult:
    """Findings over the commits of ``rev_range``. A fingerprint holds no path, so a finding
    that leaves one file and shows up in another in the same commit (its function moved,
    mm/mmap.c → mm/vma.c) stays the same finding, with a move recorded; "removed" is "fixed"
    only when it is gone everywhere. ``keep(finding)`` drops the findings it refuses
    (--select/--ignore, a baseline); ``snapshots``: the result carries each finding's file
    where it was last seen (text, findings, function traces), for at most
    ``HISTORY_SNAPSHOTS`` file versions."""
    commits = commits_in(repo, rev_range, paths)
    if not commits:
        raise InputError(f"no commit in {rev_range} touches {' '.join(paths)}")
    analyser = RevisionAnalyser(repo, model, cache)
    first_parent = commit_info(repo, commits[0])[0] or None
    current: dict[str, list[Finding]] = {}
    if first_parent is not None:
        with GitSource(repo, first_parent) as start:
            start_files = [f for f in start.list_files([], suffixes=ANALYSED)
                           if _matches(f, paths)]
        if progress is not None:
            progress(0, len(commits), f"analysing {first_parent[:12]} (the start)")
        for path, rep in analyser.reports(first_parent, start_files).items():
            current[path] = list(rep.findings)
    res = HistoryResult(rev_range, first_parent, [])
    # fingerprint -> key in res.tracked of its open episode. A finding removed and brought
    # back later is a second episode under its own key: the first one stays in the report.
    live: dict[str, str] = {}

    def opened(x: Finding, commit: str | None) -> None:
        key = x.fingerprint
        if key in res.tracked:
            key = f"{x.fingerprint}@{commit}"
        res.tracked[key] = Tracked(x, commit)
        live[x.fingerprint] = key

    for x0 in (x for fs in current.values() for x in fs):
        opened(x0, None)
    # path → findings gone from it where the analysis could not look (not analysed)
    unseen: dict[str, list[NotAnalysed]] = {}
    for i, commit in enumerate(commits, 1):
        parent, subject, _, _ = commit_info(repo, commit)
        if progress is not None:
            progress(i, len(commits), f"{commit[:12]} {subject}")
        files = [f for f in changed_files(repo, parent, commit)
                 if f.endswith(ANALYSED) and _matches(f, paths)]
        reports = analyser.reports(commit, files)
        before: dict[str, str] = {}  # fingerprint -> path, over the changed files
        after: dict[str, Finding] = {}
        lost: dict[str, NotAnalysed] = {}  # gone from code this commit leaves unreadable
        for f in files:
            prev = current.get(f, []) + [na.finding for na in unseen.pop(f, [])]
            for x in prev:
                before[x.fingerprint] = f
            now = list(reports[f].findings) if f in reports else []  # deleted file: none
            current[f] = now
            for x in now:
                after.setdefault(x.fingerprint, x)
            fps = {x.fingerprint for x in now}
            for x in prev:
                if x.fingerprint not in fps:
                    na = analyser.not_analysed(commit, f, reports.get(f), x)
                    if na is not None:
                        lost[x.fingerprint] = na
        # a fingerprint still present in an unchanged file is not gone either
        elsewhere = {x.fingerprint for p, fs in current.items() if p not in files for x in fs}
        for fp, x in after.items():
            key = live.get(fp)
            if key is None:
                opened(x, commit)
                continue
            t = res.tracked[key]
            src = before.get(fp)
            if src is not None and src != x.path and \
                    fp not in {y.fingerprint for y in current.get(src, [])}:
                t.moves.append((commit, src, x.path))  # gone from src, now in x.path
            t.finding = x
            t.not_analysed = t.not_analysed_since = None  # seen again
        for fp in set(before) - set(after) - elsewhere:
            if fp in lost:
                t = res.tracked[live[fp]]
                if t.not_analysed is None:
                    t.not_analysed, t.not_analysed_since = lost[fp], commit
                unseen.setdefault(lost[fp].finding.path, []).append(lost[fp])
                continue
            t = res.tracked[live.pop(fp)]
            t.removed, t.how = commit, Removal.FIXED  # not_analysed kept: since when unseen
        res.revisions.append(Revision(commit, subject,
                                      sorted({x.fingerprint for fs in current.values()
                                              for x in fs}), len(files),
                                      sorted({na.finding.fingerprint for nas in unseen.values()
                                              for na in nas})))
    if keep is not None:
        res.tracked = {k: t for k, t in res.tracked.items() if keep(t.finding)}
    if snapshots:
        _snapshots(res, analyser)
    return res


def _snapshots(res: HistoryResult, analyser: RevisionAnalyser) -> None:
    """Each finding's file where it was last seen, revision by revision in the order the
    findings come, until ``HISTORY_SNAPSHOTS`` file versions."""
    wanted: dict[str, set[str]] = {}
    for t in res.tracked.values():
        rev = res.last_seen(t)
        if rev:
            wanted.setdefault(rev, set()).add(t.finding.path)
    count = 0
    for rev, paths in wanted.items():
        if count >= HISTORY_SNAPSHOTS:
            break
        for path, rep in analyser.traced(rev, sorted(paths)).items():
            res.snapshots[(rev, path)] = rep
        count += len(paths)


__all__ = ["history", "HistoryResult", "git"]
