"""The results of the workflow as plain values: what reports format.

Review, history, b4-check and the git hooks run git and the checker; what they find is
returned as the values below, and :mod:`analyzer.report` formats them. This module runs
nothing and imports nothing that does (no ``subprocess``, no driver, no frontend, no checks,
no source reader): a test holds it to that, so a report can read these types without pulling
in the engine.

A file as a report shows it at one revision (its text, findings and per-function lock
traces) is the driver's ``FileReport`` with ``text`` and ``traces`` filled in; the results
hold those by ``(revision, path)`` in ``snapshots`` when the caller asked for them (the HTML
report), typed loosely here because the driver sits below this layer's value contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..findings.coverage import Degraded
from ..findings.finding import Finding

ANALYSED = (".c", ".h")
HISTORY_SNAPSHOTS = 60  # history: at most this many file versions shown (HTML pages)

# --------------------------------------------------------------------------- mail


@dataclass(frozen=True)
class PatchMail:
    """One patch of a series, as mailed."""

    position: int  # 1-based order in the series as applied
    number: int | None  # i of [PATCH i/n], when numbered
    total: int | None  # n of [PATCH i/n]
    subject: str  # the whole Subject, prefix included
    prefix: str  # "PATCH v2 1/3" (without brackets), "" when none
    title: str  # the subject without the prefix: the commit's subject line
    author: str  # "Name <mail>" (an in-body From: wins, as git am does)
    date: str  # RFC 2822
    message_id: str  # "<...>", "" when the mail had none
    to: str = ""
    cc: str = ""
    references: str = ""
    message: str = ""  # the commit message body (between the subject and ---)
    diff: str = ""  # from the first "diff --git"
    files: tuple[str, ...] = ()  # paths the diff touches (both sides)

    @property
    def touches_c(self) -> bool:
        return any(f.endswith(ANALYSED) for f in self.files)


@dataclass
class ApplyFailure:
    index: int
    subject: str
    file: str | None
    message: str
    total: int | None = None  # patches in the series


# --------------------------------------------------------------------------- review


class ReviewStatus(StrEnum):
    """What a patch (or the series) did to a finding."""

    NEW = "new"  # the patch adds it
    FIXED = "fixed"  # the patch removes it
    UNCHANGED = "unchanged"  # kept, in a function the patch touches
    MOVED = "moved"  # left one file and appeared in another with its function
    REMAINING = "remaining"  # the series leaves it behind
    TRANSIENT = "transient"  # added by one patch, removed by a later one
    NOT_ANALYSED = "not-analysed"  # gone from a report that could not look for it


@dataclass(frozen=True)
class NotAnalysed:
    """A finding present before and absent after, where *after* could not have found it: its
    function has parse errors (or a parse error hid it: ``degraded``), or its file could not
    be analysed (``error``). It is not *fixed*: nobody knows."""

    finding: Finding  # as last seen
    degraded: Degraded | None = None
    error: str | None = None  # the file's error (status error, or not read at all)

    def why(self) -> str:
        """``parse errors in foo() at 12:5: expected ')'``."""
        if self.degraded is not None:
            return self.degraded.describe()
        return f"{self.finding.path} could not be analysed: {self.error or 'unknown reason'}"

    def to_json(self) -> dict:
        """The finding with ``not_analysed``: why."""
        why: dict[str, Any] = {"reason": self.why()}
        if self.degraded is not None:
            why["degraded"] = self.degraded.to_json()
        if self.error is not None:
            why["error"] = self.error
        return {**self.finding.to_json(), "not_analysed": why}


@dataclass(frozen=True)
class Hunk:
    path: str
    old_start: int
    old_len: int
    new_start: int
    new_len: int


@dataclass
class PatchReview:
    index: int
    subject: str
    commit: str
    parent: str
    files: list[str]
    new: list[Finding] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    unchanged: list[Finding] = field(default_factory=list)
    hunks: list[Hunk] = field(default_factory=list)
    author: str = ""
    date: str = ""
    extra: dict = field(default_factory=dict)  # e.g. unit-test results per suite
    mail: PatchMail | None = None  # the patch as mailed (an mbox series)
    moved: list[tuple[Finding, Finding]] = field(default_factory=list)  # (before, after)
    diff: str = ""  # with snapshots: ``git diff -U3`` of its .c/.h files (parent → commit)
    patch: str = ""  # with patch texts: ``git format-patch -1 --stdout --no-stat`` of it
    # present before it, absent after it where the analysis could not look: never *fixed*
    not_analysed: list[NotAnalysed] = field(default_factory=list)
    # fixed findings an earlier patch had left not analysed: fingerprint → that patch
    fixed_unseen_since: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"index": self.index, "subject": self.subject, "commit": self.commit,
                "files": self.files, "new": [f.to_json() for f in self.new],
                "fixed": [f.to_json() for f in self.fixed],
                "unchanged": [f.to_json() for f in self.unchanged],
                "not_analysed": [x.to_json() for x in self.not_analysed], **self.extra}


@dataclass
class ReviewResult:
    repo: Path
    base: str
    patches: list[PatchReview]
    remaining: list[Finding]
    transient: list[Finding]
    failure: ApplyFailure | None = None
    label: str = ""
    # (revision, path) → FileReport with text and traces: the files a patch changes after it,
    # those with a finding it fixes before it, and those at the end of the series
    snapshots: dict[tuple[str, str], Any] = field(default_factory=dict)
    # findings of the base or of a patch, absent at the end of the series where the end
    # could not look for them (neither fixed nor transient)
    not_analysed: list[NotAnalysed] = field(default_factory=list)

    @property
    def series_length(self) -> int:
        """Patches in the series: those reviewed, or all of the mbox when one failed."""
        total = self.failure.total if self.failure is not None else None
        return max(total or 0, len(self.patches))

    @property
    def end(self) -> str:
        """The commit the series ends on (the base when no patch was reviewed)."""
        return self.patches[-1].commit if self.patches else self.base

    def to_json(self) -> dict:
        doc = {"schema": "rmaplint-review/1", "base": self.base,
               "patches": [p.to_json() for p in self.patches],
               "verdict": {"remaining": [f.to_json() for f in self.remaining],
                           "transient": [f.to_json() for f in self.transient],
                           "not_analysed": [x.to_json() for x in self.not_analysed]}}
        if self.failure is not None:
            doc["failure"] = {"index": self.failure.index, "subject": self.failure.subject,
                              "file": self.failure.file, "message": self.failure.message}
        return doc


# --------------------------------------------------------------------------- history


class Removal(StrEnum):
    FIXED = "fixed"  # gone everywhere
    MOVED = "moved"  # to another file


@dataclass
class Revision:
    commit: str
    subject: str
    findings: list[str]  # fingerprints present after this commit
    analysed: int = 0  # files analysed for it
    # fingerprints of findings seen before, not looked for after it (parse errors)
    not_analysed: list[str] = field(default_factory=list)


@dataclass
class Tracked:
    finding: Finding  # as last seen
    introduced: str | None  # None: present at the start of the range
    removed: str | None = None
    how: Removal | None = None  # with removed
    moves: list[tuple[str, str, str]] = field(default_factory=list)  # (commit, from, to)
    # not looked for since the commit ``not_analysed_since`` (its function or file unreadable
    # there): neither removed nor seen; cleared when it is seen again, kept when a later
    # commit shows it gone (``removed``: the first commit that could look)
    not_analysed: NotAnalysed | None = None
    not_analysed_since: str | None = None


@dataclass
class HistoryResult:
    range: str
    start: str | None
    revisions: list[Revision]
    # key: the fingerprint; "<fingerprint>@<commit>" for a later episode of the same finding
    tracked: dict[str, Tracked] = field(default_factory=dict)
    # (revision, path) → FileReport with text and traces: where each finding was last seen
    snapshots: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def end(self) -> str | None:
        """The last commit of the range (the start when it has none)."""
        return self.revisions[-1].commit if self.revisions else self.start

    @property
    def not_analysed(self) -> list[Tracked]:
        """The findings the end of the range could not look for (parse errors)."""
        return [t for t in self.tracked.values()
                if t.not_analysed is not None and t.removed is None]

    def last_seen(self, t: Tracked) -> str | None:
        """The revision where ``t`` was last present: the one before its removal (or before
        the commit it is not analysed since), else the end of the range (the start, for one
        removed by the first commit)."""
        gone = t.not_analysed_since or t.removed
        if gone is None:
            return self.end
        order = [r.commit for r in self.revisions]
        i = order.index(gone)
        return order[i - 1] if i else self.start

    def timeline(self) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
        """(path, function) → [(commit, "+"|"-"|"?", rule)] in order; "?": not analysed
        from that commit on (parse errors)."""
        out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        order = {r.commit: i for i, r in enumerate(self.revisions)}
        events = []
        for t in self.tracked.values():
            f = t.finding
            if t.introduced is not None:
                events.append((order[t.introduced], f.path, f.function, t.introduced, "+",
                               f.rule))
            if t.not_analysed_since is not None:
                events.append((order[t.not_analysed_since], f.path, f.function,
                               t.not_analysed_since, "?", f.rule))
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
                           "files_analysed": r.analysed, "not_analysed": r.not_analysed}
                          for r in self.revisions],
            "findings": [{**t.finding.to_json(), "introduced": t.introduced,
                          "removed": t.removed, "how": t.how,
                          "moves": [{"commit": c, "from": a, "to": b} for c, a, b in t.moves],
                          "not_analysed": None if t.not_analysed is None else
                          {"since": t.not_analysed_since,
                           **t.not_analysed.to_json()["not_analysed"]}}
                         for t in self.tracked.values()],
        }


# --------------------------------------------------------------------------- b4-check


class B4Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


class B4Outcome(StrEnum):
    REVIEWED = "reviewed"  # applied (or found applied) and analysed
    CHANGES_NOTHING = "changes-nothing"  # applies, but changes nothing
    DOES_NOT_APPLY = "does-not-apply"


@dataclass
class Verdict:
    """b4-check's answer for one patch. ``where`` says on what it was checked ("(on HEAD
    1234abcd)", "(already applied as 5678ef90)"); ``new`` holds the findings it adds,
    justified ones included, ``fixed`` those it removes, ``not_analysed`` those gone from code
    it leaves unreadable (parse errors: not fixed); ``files`` the .c/.h files it changes;
    ``failure`` why it does not apply."""

    status: B4Status
    outcome: B4Outcome
    where: str
    new: list[Finding] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    failure: ApplyFailure | None = None
    not_analysed: list[NotAnalysed] = field(default_factory=list)  # gone, but not looked for

    @property
    def counted(self) -> list[Finding]:
        """The new findings that make the status: those not justified in the source."""
        return [f for f in self.new if not f.justification]

    @property
    def justified(self) -> list[Finding]:
        return [f for f in self.new if f.justification]


# --------------------------------------------------------------------------- git hooks


class HookAction(StrEnum):
    INSTALLED = "installed"  # written (a foreign hook moved aside to ``backup``)
    REMOVED = "removed"  # ours removed (the hook it replaced restored from ``backup``)
    ABSENT = "absent"  # nothing to remove
    FOREIGN = "foreign"  # not ours: left alone


@dataclass(frozen=True)
class HookChange:
    name: str  # pre-commit | pre-push
    action: HookAction
    path: Path
    backup: Path | None = None


# --------------------------------------------------------------------------- SARIF


@dataclass(frozen=True)
class Provenance:
    """Where an analysed revision comes from: the repository's public address and the
    commit (SARIF's versionControlProvenance)."""

    repository_uri: str
    revision: str
