"""``rmaplint b4-check``: one patch on stdin, b4's check JSON on stdout.

b4 (``b4 review``) runs each command of ``b4.review-perpatch-check-cmd`` from the top of the
git tree, pipes one patch to it as an RFC 2822 message and reads a JSON array of
``{"tool", "status": "pass"|"warn"|"fail", "summary", "url", "details"}`` from its stdout.

The patch is read with the standard library's ``email`` and applied to a temporary index at
HEAD (or ``--base``) with ``git apply --cached --3way`` (:mod:`analyzer.workflow.series`):
no checkout, so a full kernel tree costs what the patch touches. The user's work tree,
index, branches and stash are never touched and the user's hooks never run; the commit
object made for the patch stays unreferenced in the object database until ``git gc``. A
patch that touches no ``.c``/``.h`` file passes at once, without being applied. The files it
changes are analysed before and after, and the
findings it adds (by fingerprint) decide the status: *fail* for a new error, *warn* for a
new warning or note, *pass* otherwise. Findings justified in the source are listed but do
not count.

A patch that does not apply at HEAD may already be in HEAD (b4 can check a series out on a
review branch): its patch-id is looked up in HEAD's recent history, and in the branch tips
b4 passes in ``$B4_TRACKING_FILE``, and a match is analysed against its parent. A patch that
neither applies nor is found gets status *fail* with git's reason.

Exit status: 0 whenever a verdict is printed, *fail* included: b4 takes the verdict from
the JSON and looks at the exit status only when stdout is empty. Without a verdict (empty
stdin, not a patch, not in a git repository) stdout stays empty and the exit status is 2
with one line on stderr, which b4 shows as a failed run with that line as details.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from ..driver.cache import Cache
from ..errors import InputError
from ..findings.finding import Finding, Severity
from ..model.lockmodel import LockModel
from .results import B4Outcome, B4Status, ReviewResult, Verdict
from .review import _GIT, commit_info, resolve, review_commits
from .series import apply_series, read_series_bytes

HISTORY_DEPTH = 200  # commits of HEAD (and of each b4 branch tip) searched for the patch


def read_patch(data: bytes) -> str:
    """The patch text, or an InputError saying why stdin is not one patch e-mail."""
    text = data.decode("utf-8", "surrogateescape")
    if not text.strip():
        raise InputError("empty input: b4-check reads one patch (an RFC 2822 message, as "
                         "git format-patch writes it) on stdin")
    if "\ndiff --git " not in text and not text.startswith("diff --git "):
        raise InputError("stdin is not a patch: no 'diff --git' found")
    head = text.lstrip("\n").split("\n\n", 1)[0]
    if not re.search(r"^(From |From:|Subject:)", head, re.M | re.I):
        raise InputError("stdin is not a patch e-mail: no 'From:' or 'Subject:' header "
                         "(use git format-patch)")
    return text


def _patch_ids(repo: Path, text: str) -> list[str]:
    out = subprocess.run([*_GIT, "patch-id", "--stable"], cwd=repo, input=text,
                         capture_output=True, text=True, errors="surrogateescape")
    return [ln.split()[0] for ln in out.stdout.splitlines() if ln.split()]


def _tracking_tips() -> list[str]:
    """Branch tips b4 recorded for the series (``$B4_TRACKING_FILE``), best effort."""
    path = os.environ.get("B4_TRACKING_FILE")
    if not path:
        return []
    try:
        doc = json.loads(Path(path).read_text())
        tips = doc.get("series", {}).get("branch-tips", [])
        return [t["sha"] for t in tips if isinstance(t, dict) and isinstance(t.get("sha"), str)]
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        return []


def find_applied(repo: Path, text: str, base: str) -> str | None:
    """The commit near ``base`` (or a b4 branch tip) with the patch's patch-id, if any."""
    ids = _patch_ids(repo, text)
    if len(ids) != 1:
        return None
    tips = [base] + [t for t in _tracking_tips()
                     if re.fullmatch(r"[0-9a-f]{7,64}", t) and t != base]
    for tip in tips:
        log = subprocess.run([*_GIT, "log", "-p", "--no-color", "--no-ext-diff", "--no-merges",
                              "--no-renames", f"-n{HISTORY_DEPTH}", "--format=commit %H",
                              tip, "--"], cwd=repo, capture_output=True)
        if log.returncode != 0:
            continue
        pid = subprocess.run([*_GIT, "patch-id", "--stable"], cwd=repo, input=log.stdout,
                             capture_output=True)
        for ln in pid.stdout.decode("ascii", "replace").splitlines():
            parts = ln.split()
            if len(parts) == 2 and parts[0] == ids[0]:
                return parts[1]
    return None


def verdict_of(res: ReviewResult, where: str) -> Verdict:
    """The verdict of a reviewed patch: *fail* for a new error, *warn* for a new warning or
    note, *pass* otherwise; findings justified in the source do not count."""
    new = list(res.remaining)
    new_fps = {f.fingerprint for f in new}
    unknown = {na.finding.fingerprint for na in res.not_analysed}
    fixed: dict[str, Finding] = {}
    for p in res.patches:
        for f in p.fixed:
            if f.fingerprint not in new_fps and f.fingerprint not in unknown:
                fixed.setdefault(f.fingerprint, f)
    files = sorted({f for p in res.patches for f in p.files})
    v = Verdict(B4Status.PASS, B4Outcome.REVIEWED, where, new, list(fixed.values()), files,
                not_analysed=list(res.not_analysed))
    if any(f.severity == Severity.ERROR for f in v.counted):
        v.status = B4Status.FAIL
    elif v.counted:
        v.status = B4Status.WARN
    return v


def b4_check(repo: Path, data: bytes, base: str | None, model: LockModel, cache: Cache,
             progress=None, select=None) -> Verdict:
    """``select(findings)`` filters the findings (--select/--ignore, a baseline)."""
    text = read_patch(data)
    mails = read_series_bytes(data, "stdin")
    if len(mails) != 1:
        raise InputError(f"stdin holds {len(mails)} patches: b4-check reads one")
    mail = mails[0]
    base_c = resolve(repo, base or "HEAD")
    where = f"(on {base or 'HEAD'} {base_c[:12]})"
    if not mail.touches_c:
        return Verdict(B4Status.PASS, B4Outcome.REVIEWED, where)
    applied = apply_series(repo, base_c, [mail], progress)
    if applied.commits and not applied.unchanged:
        return verdict_of(_filtered(review_commits(repo, base_c, applied.commits, model, cache,
                                                   progress=progress), select), where)
    # it does not apply, or changes nothing: is it already in the history?
    found = find_applied(repo, text, base_c)
    if found is not None:
        parent = commit_info(repo, found)[0]
        if parent:
            res = review_commits(repo, parent, [found], model, cache, progress=progress)
            return verdict_of(_filtered(res, select), f"(already applied as {found[:12]})")
    if applied.failure is None:
        return Verdict(B4Status.PASS, B4Outcome.CHANGES_NOTHING, where)
    return Verdict(B4Status.FAIL, B4Outcome.DOES_NOT_APPLY, where, failure=applied.failure)


def _filtered(res: ReviewResult, select) -> ReviewResult:
    if select is None:
        return res
    res.remaining = select(res.remaining)
    for p in res.patches:
        p.new = select(p.new)
    kept = {f.fingerprint for f in select([na.finding for na in res.not_analysed])}
    res.not_analysed = [na for na in res.not_analysed if na.finding.fingerprint in kept]
    return res
