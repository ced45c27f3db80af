"""Series review reports: text (per patch, then the verdict), JSON, checkpatch-style terse
lines, and an mbox of threaded replies, one per patch, quoting the hunks with findings,
``> `` style, each comment right under the line it is about — ready for ``git send-email``."""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import io
import json
from dataclasses import replace
from typing import Any

from .. import __version__
from ..findings.finding import Finding, Severity
from ..workflow.results import ReviewResult
from .lines import PLAIN, PathStyle, finding_lines, terse_line


def review_json(res: ReviewResult) -> str:
    return json.dumps(res.to_json(), indent=2) + "\n"


def unittest_line(u: dict) -> str:
    """One suite's result for a patch: status, counts or first error, change, reuse."""
    text = f"unittest {u['suite']}: {u['status']}"
    if u.get("tests_run") is not None:
        text += f" ({u.get('passed')}/{u.get('tests_run')} passed)"
    err = u.get("first_error")
    if err:
        text += f": {err.get('message')} at {err.get('location')}"
    if u.get("changed"):
        text += f" (was {u.get('previous')})"
    if u.get("reused"):
        text += " (not rebuilt: the patch changes nothing it compiles)"
    return text


def _who(res: ReviewResult) -> dict[str, tuple[int, int | None]]:
    """fingerprint → (patch that added it, patch that removed it) over the series."""
    out: dict[str, tuple[int, int | None]] = {}
    for p in res.patches:
        for f in p.new:
            out[f.fingerprint] = (p.index, None)
        for f in p.fixed:
            if f.fingerprint in out:
                out[f.fingerprint] = (out[f.fingerprint][0], p.index)
    return out


def review_text(res: ReviewResult, paths: PathStyle = PLAIN) -> str:
    """Per patch, then the verdict; every finding as the one finding line of every report
    (``path:line:col: severity: new: message [rule-id]``). A *fixed* finding's location is
    in the patch's parent and is a note; a *moved* one names where it came from; a *not
    analysed* one (gone where the patch leaves parse errors) is a note in the parent saying
    why, never a fixed one."""
    n = res.series_length
    out = [f"rmaplint review of {res.label or 'series'} on {res.base[:12]}: "
           + (f"{n} patch(es)" if n == len(res.patches) else
              f"{len(res.patches)} of {n} patch(es) applied")]
    for p in res.patches:
        out.append("")
        out.append(f"[{p.index}/{n}] {p.subject} ({p.commit[:12]})")
        out.append(f"  files: {', '.join(paths.show(f) for f in p.files) or '(none analysed)'}")
        if not (p.new or p.fixed or p.unchanged or p.moved or p.not_analysed):
            out.append("  no findings in the code it touches")
        for f in p.new:
            out.extend(finding_lines(f, paths, "new: "))
        for f in p.fixed:
            k = p.fixed_unseen_since.get(f.fingerprint)
            where = f" (last analysed before patch {k})" if k is not None else " (in the parent)"
            out.extend(finding_lines(replace(f, severity=Severity.NOTE), paths, "fixed: ",
                                     where)[:1])
        for na in p.not_analysed:
            out.extend(finding_lines(replace(na.finding, severity=Severity.NOTE), paths,
                                     "not analysed after this patch: ",
                                     f" (in the parent; {na.why()})")[:1])
        for old, f in p.moved:
            out.extend(finding_lines(replace(f, severity=Severity.NOTE), paths, "moved: ",
                                     f" (from {paths.show(old.path)}:{old.line})")[:1])
        for f in p.unchanged:
            out.extend(finding_lines(f, paths, "unchanged: ")[:1])
        for u in p.extra.get("unittests", ()):
            out.append("  " + unittest_line(u))
    out.append("")
    if res.failure is not None:
        fl = res.failure
        out.append(f"patch {fl.index} ({fl.subject}) does not apply"
                   + (f" to {fl.file}" if fl.file else "") + f": {fl.message}")
        out.append("stopped there; the patches before it are reviewed above")
    out.append(f"verdict: {len(res.remaining)} finding(s) left behind by the series, "
               f"{len(res.transient)} introduced and removed within it"
               + (f", {len(res.not_analysed)} not analysed at its end (parse errors: "
                  "neither fixed nor removed)" if res.not_analysed else ""))
    for f in res.remaining:
        out.extend(finding_lines(f, paths, "remaining: "))
    who = _who(res)
    for f in res.transient:
        a, b = who.get(f.fingerprint, (None, None))
        span = f" (added by patch {a}, removed by patch {b}: bisection sees it)" if a and b \
            else ""
        out.extend(finding_lines(f, paths, "transient: ", span)[:1])
    for na in res.not_analysed:
        a, _ = who.get(na.finding.fingerprint, (None, None))
        since = f"added by patch {a}; " if a else "in the base; "
        out.extend(finding_lines(replace(na.finding, severity=Severity.NOTE), paths,
                                 "not analysed at the end of the series: ",
                                 f" ({since}{na.why()})")[:1])
    return "\n".join(out) + "\n"


def review_terse(res: ReviewResult, paths: PathStyle = PLAIN) -> str:
    """checkpatch-style lines of what the series leaves behind (nothing when clean)."""
    return "".join(terse_line(f, paths) + "\n" for f in res.remaining)


# --------------------------------------------------------------------------- email


def _hunks_with_context(patch: str):
    """[(file, header lines, hunk lines with (old_no, new_no, text))] of a unified diff."""
    import re

    files = []
    cur: dict[str, Any] | None = None
    old = new = 0
    hunk: dict[str, Any] | None = None
    for line in patch.splitlines():
        if line.startswith("diff --git "):
            cur = {"header": [line], "hunks": [], "path": None}
            files.append(cur)
            hunk = None
            continue
        if cur is None:
            continue
        if hunk is None and (line.startswith("--- ") or line.startswith("+++ ")
                             or line.startswith("index ") or line.startswith("new file")
                             or line.startswith("deleted file")):
            cur["header"].append(line)
            if line.startswith("+++ b/"):
                cur["path"] = line[6:]
            elif line.startswith("--- a/") and cur["path"] is None:
                cur["path"] = line[6:]
            continue
        m = re.match(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", line)
        if m:
            old, new = int(m.group(1)), int(m.group(2))
            hunk = {"head": line, "lines": []}
            cur["hunks"].append(hunk)
            continue
        if hunk is None:
            continue
        if line.startswith("-- ") and line.strip() == "--":
            break
        if line.startswith("+"):
            hunk["lines"].append((None, new, line))
            new += 1
        elif line.startswith("-"):
            hunk["lines"].append((old, None, line))
            old += 1
        elif line.startswith(" ") or line == "":
            hunk["lines"].append((old, new, line))
            old += 1
            new += 1
    return files


def _reply_headers(res: ReviewResult, p) -> dict[str, str]:
    """To/Cc (reply to all), Subject, In-Reply-To and References for patch ``p``."""
    n = res.series_length
    mail = p.mail
    if mail is not None:
        subject = mail.subject
        author = mail.author or p.author
        others = [a for a in (mail.to, mail.cc) if a]
        refs = " ".join(x for x in (mail.references, mail.message_id) if x)
        reply_to = mail.message_id
    else:
        subject = f"[PATCH {p.index}/{n}] {p.subject}"
        author, others, refs, reply_to = p.author, [], "", ""
    h = {"To": author, "Subject": subject if subject.lower().startswith("re:")
         else "Re: " + subject}
    cc = [a for a in email.utils.getaddresses(others)
          if a[1] and a[1].lower() != email.utils.parseaddr(author)[1].lower()]
    if cc:
        h["Cc"] = ", ".join(email.utils.formataddr(a) for a in cc)
    if reply_to:
        h["In-Reply-To"] = reply_to
        h["References"] = refs
    seed = f"{reply_to or p.commit}\0{p.index}".encode()
    h["Message-Id"] = f"<rmaplint-{hashlib.sha1(seed).hexdigest()[:20]}@rmaplint.invalid>"
    return h


def _reply_body(res: ReviewResult, p) -> list[str]:
    files = _hunks_with_context(p.patch)
    why = {na.finding.fingerprint: na.why() for na in p.not_analysed}
    body = [f"On {p.mail.date if p.mail and p.mail.date else p.date}, "
            f"{p.mail.author if p.mail else p.author} wrote:"]
    shown: set[str] = set()
    for fi in files:
        for h in fi["hunks"]:
            lines = h["lines"]
            # each finding's anchor: the first + (or - for a fixed one) line of its region in
            # this hunk, else its first line in the hunk
            anchors: dict[int, list[tuple[Finding, str]]] = {}
            for f, lead, side, sign in [(f, "This patch introduces", 1, "+") for f in p.new] + \
                    [(f, "This patch removes", 0, "-") for f in p.fixed] + \
                    [(na.finding, _LOST, 0, "-") for na in p.not_analysed]:
                if f.path != fi["path"] or f.fingerprint in shown:
                    continue
                inside = [i for i, ln in enumerate(lines)
                          if ln[side] is not None and f.line <= ln[side] <= f.end_line]
                if not inside:
                    continue
                marked = [i for i in inside if lines[i][2].startswith(sign)]
                anchors.setdefault((marked or inside)[0], []).append((f, lead))
                shown.add(f.fingerprint)
            if not anchors:
                continue
            # quote down to the end of the last region that starts in this hunk
            last = max(anchors)
            for i, ln in enumerate(lines):
                for f, _ in (x for xs in anchors.values() for x in xs):
                    side = 1 if any(f is g for g in p.new) else 0
                    if ln[side] is not None and f.line <= ln[side] <= f.end_line:
                        last = max(last, i)
            body.append("")
            body.append("> " + fi["header"][0])
            body.append("> " + h["head"])
            for i, (_, _, text) in enumerate(lines[:last + 1]):
                body.append(("> " + text).rstrip())
                for f, lead in anchors.get(i, ()):
                    body.append("")
                    body.extend(_comment(f, lead, why.get(f.fingerprint)))  # ends blank
            if last + 1 < len(lines):
                body.append("> [...]")
    rest_new = [f for f in p.new if f.fingerprint not in shown]
    rest_fixed = [f for f in p.fixed if f.fingerprint not in shown]
    rest_lost = [na for na in p.not_analysed if na.finding.fingerprint not in shown]
    if rest_new or rest_fixed or rest_lost:
        body.append("")
        body.append("Outside the hunks of this patch:")
        body.append("")
        for f in rest_new:
            body.extend(_comment(f, "New"))
        for f in rest_fixed:
            body.extend(_comment(f, "Gone"))
        for na in rest_lost:
            body.extend(_comment(na.finding, _LOST, na.why()))
    while body and not body[-1]:
        body.pop()
    body += ["", "-- ", "rmaplint"]
    return body


def review_email(res: ReviewResult) -> str:
    """An mbox of replies, one per patch that adds or removes findings: To the author, Cc
    the patch's To and Cc, ``Subject: Re: <the patch's subject>`` with its prefix, threaded
    by In-Reply-To/References under the patch's Message-Id, the patch quoted with each
    comment right under the line it is about. Empty (a valid empty mbox) when no patch
    changes a finding. Send it with ``git send-email`` or a mail client's import. The
    result comes from a review with ``patch_texts=True`` (each patch's format-patch text)."""
    from email.generator import Generator
    from email.message import EmailMessage

    out = io.StringIO()
    for p in res.patches:
        if not (p.new or p.fixed or p.not_analysed):
            continue
        msg = EmailMessage(policy=_POLICY)
        msg["From"] = "rmaplint <rmaplint@localhost>"
        for k, v in _reply_headers(res, p).items():
            msg[k] = v
        msg["X-Mailer"] = f"rmaplint {__version__}"
        msg.set_content("\n".join(_reply_body(res, p)) + "\n", charset="utf-8", cte="8bit")
        msg.set_unixfrom(_UNIXFROM)
        Generator(out, mangle_from_=True, policy=_POLICY).flatten(msg, unixfrom=True)
        out.write("\n")
    return out.getvalue()


# git format-patch's magic date: a From line that does not change between runs
_UNIXFROM = "From rmaplint Mon Sep 17 00:00:00 2001"
_POLICY = email.policy.default.clone(linesep="\n", max_line_length=998)


_LOST = "After this patch rmaplint cannot look for"


def _comment(f: Finding, lead: str, why: str | None = None) -> list[str]:
    region = f"line {f.line}" if f.line == f.end_line else f"lines {f.line}-{f.end_line}"
    text = f"{lead} a {f.rule} {f.severity} in {f.function}() ({region}): {f.message}"
    out = _wrap(text)
    if why:
        out.extend(_wrap(f"It is not analysed, not fixed: {why}."))
    if f.justification:
        out.extend(_wrap(f"The code justifies it: {f.justification}"))
    out.append("")
    return out


def _wrap(text: str, width: int = 72) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, break_long_words=False, break_on_hyphens=False)


__all__ = ["review_text", "review_json", "review_email", "review_terse"]
