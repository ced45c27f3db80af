"""Findings across history: for every commit of a range that touches the paths, which
findings exist; for each finding, the commit that introduced it and the one that removed it
(matched by fingerprint, so line shifts do not count), and a compact timeline per function.

Only the files a commit changes are analysed again; everything else is carried over, and
the result cache (keyed by blob id) serves any file content seen before, in this run or an
earlier one. The cost grows with the changed files, not with the number of revisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..driver.cache import Cache
from ..errors import InputError
from ..findings.finding import Finding
from ..model.lockmodel import LockModel
from .review import ANALYSED, RevisionAnalyser, changed_files, commit_info, commits_in, git
from ..source.reader import GitSource


@dataclass
class Revision:
    commit: str
    subject: str
    findings: list[str]  # fingerprints present after this commit
    analysed: int = 0  # files analysed for it


@dataclass
class Tracked:
    finding: Finding  # as last seen
    introduced: str | None  # None: present at the start of the range
    removed: str | None = None
    how: str | None = None  # with removed: "fixed" (gone) or "moved" (to another file)
    moves: list[tuple[str, str, str]] = field(default_factory=list)  # (commit, from, to)


@dataclass
class HistoryResult:
    range: str
    start: str | None
    revisions: list[Revision]
    # key: the fingerprint; "<fingerprint>@<commit>" for a later episode of the same finding
    tracked: dict[str, Tracked] = field(default_factory=dict)

    def timeline(self) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
        """(path, function) → [(commit, "+"|"-", rule)] in order."""
        out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        order = {r.commit: i for i, r in enumerate(self.revisions)}
        events = []
        for t in self.tracked.values():
            f = t.finding
            if t.introduced is not None:
                events.append((order[t.introduced], f.path, f.function, t.introduced, "+",
                               f.rule))
            if t.removed is not None:
                events.append((order[t.removed], f.path, f.function, t.removed, "-", f.rule))
        for _, path, fn, commit, sign, rule in sorted(events):
            out.setdefault((path, fn), []).append((commit, sign, rule))
        return out

    def to_json(self) -> dict:
        return {
            "schema": "rmaplint-history/1",
            "range": self.range,
            "start": self.start,
            "revisions": [{"commit": r.commit, "subject": r.subject, "findings": r.findings,
                           "files_analysed": r.analysed} for r in self.revisions],
            "findings": [{**t.finding.to_json(), "introduced": t.introduced,
                          "removed": t.removed, "how": t.how,
                          "moves": [{"commit": c, "from": a, "to": b} for c, a, b in t.moves]}
                         for t in self.tracked.values()],
        }


def _matches(path: str, paths: list[str]) -> bool:
    for p in paths:
        p = p.rstrip("/")
        if not p or path == p or path.startswith(p + "/"):
            return True
    return False


def history(repo: Path, rev_range: str, paths: list[str], model: LockModel,
            cache: Cache, progress=None) -> HistoryResult:
    """Findings over the commits of ``rev_range``. A fingerprint holds no path, so a finding
    that leaves one file and shows up in another in the same commit (its function moved,
    mm/mmap.c → mm/vma.c) stays the same finding, with a move recorded; "removed" is "fixed"
    only when it is gone everywhere."""
    commits = commits_in(repo, rev_range, paths)
    if not commits:
        raise InputError(f"no commit in {rev_range} touches {' '.join(paths)}")
    analyser = RevisionAnalyser(repo, model, cache)
    first_parent = commit_info(repo, commits[0])[0] or None
    current: dict[str, list[Finding]] = {}
    if first_parent is not None:
        with GitSource(repo, first_parent) as src:
            start_files = [f for f in src.list_files([], suffixes=ANALYSED) if _matches(f, paths)]
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

    for f in (x for fs in current.values() for x in fs):
        opened(f, None)
    for i, commit in enumerate(commits, 1):
        parent, subject, _, _ = commit_info(repo, commit)
        if progress is not None:
            progress(i, len(commits), f"{commit[:12]} {subject}")
        files = [f for f in changed_files(repo, parent, commit)
                 if f.endswith(ANALYSED) and _matches(f, paths)]
        reports = analyser.reports(commit, files)
        before: dict[str, str] = {}  # fingerprint -> path, over the changed files
        after: dict[str, Finding] = {}
        for f in files:
            for x in current.get(f, []):
                before[x.fingerprint] = f
            now = list(reports[f].findings) if f in reports else []  # deleted file: none
            current[f] = now
            for x in now:
                after.setdefault(x.fingerprint, x)
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
        for fp in set(before) - set(after) - elsewhere:
            t = res.tracked[live.pop(fp)]
            t.removed, t.how = commit, "fixed"
        res.revisions.append(Revision(commit, subject,
                                      sorted({x.fingerprint for fs in current.values()
                                              for x in fs}), len(files)))
    return res


__all__ = ["history", "HistoryResult", "git"]
