"""Series review reports: text (per patch, then the verdict), JSON, and an email reply per
patch that quotes only the hunks with findings, ``> `` style, each comment under the lines it
is about — what a reviewer pastes into a reply on the list."""

from __future__ import annotations

import json
import subprocess

from ..findings.finding import Finding
from ..workflow.review import ReviewResult, _GIT, git_env
from .text import finding_line


def review_json(res: ReviewResult) -> str:
    return json.dumps(res.to_json(), indent=2) + "\n"


def _short(f: Finding) -> str:
    region = f"{f.line}" if f.end_line == f.line else f"{f.line}-{f.end_line}"
    return f"{f.path}:{region} {f.severity} {f.rule} in {f.function}(): {f.message}"


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


def review_text(res: ReviewResult) -> str:
    n = res.series_length
    out = [f"rmaplint review of {res.label or 'series'} on {res.base[:12]}: "
           + (f"{n} patch(es)" if n == len(res.patches) else
              f"{len(res.patches)} of {n} patch(es) applied")]
    for p in res.patches:
        out.append("")
        out.append(f"[{p.index}/{n}] {p.subject} ({p.commit[:12]})")
        out.append(f"    files: {', '.join(p.files) or '(none analysed)'}")
        if not (p.new or p.fixed or p.unchanged):
            out.append("    no findings in the code it touches")
        for label, items in (("new", p.new), ("fixed", p.fixed), ("unchanged", p.unchanged)):
            for f in items:
                out.append(f"    {label:9} {_short(f)}")
        for u in p.extra.get("unittests", ()):
            out.append("    " + unittest_line(u))
    out.append("")
    if res.failure is not None:
        fl = res.failure
        out.append(f"patch {fl.index} ({fl.subject}) does not apply"
                   + (f" to {fl.file}" if fl.file else "") + f": {fl.message}")
        out.append("stopped there; the patches before it are reviewed above")
    out.append(f"verdict: {len(res.remaining)} finding(s) left behind by the series, "
               f"{len(res.transient)} introduced and removed within it")
    for f in res.remaining:
        out.append(f"    remaining  {_short(f)}")
    for f in res.transient:
        out.append(f"    transient  {_short(f)}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- email


def _patch_text(res: ReviewResult, commit: str) -> str:
    out = subprocess.run([*_GIT, "format-patch", "-1", "--stdout", "--no-stat", commit],
                         cwd=res.repo, capture_output=True, text=True, errors="surrogateescape",
                         env=git_env())
    return out.stdout if out.returncode == 0 else ""


def _hunks_with_context(patch: str):
    """[(file, header lines, hunk lines with (old_no, new_no, text))] of a unified diff."""
    import re

    files = []
    cur = None
    old = new = 0
    hunk = None
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


def review_email(res: ReviewResult) -> str:
    """One plain-text reply per patch that has new or fixed findings."""
    mails = []
    n = res.series_length
    for p in res.patches:
        if not (p.new or p.fixed):
            continue
        patch = _patch_text(res, p.commit)
        files = _hunks_with_context(patch)
        body = [f"Subject: Re: [PATCH {p.index}/{n}] {p.subject}", "",
                f"On {p.date}, {p.author} wrote:"]
        shown = set()
        for fi in files:
            for h in fi["hunks"]:
                here = [f for f in p.new if f.path == fi["path"] and any(
                    nn is not None and f.line <= nn <= f.end_line for _, nn, _ in h["lines"])]
                gone = [f for f in p.fixed if f.path == fi["path"] and any(
                    o is not None and f.line <= o <= f.end_line for o, _, _ in h["lines"])]
                if not here and not gone:
                    continue
                # quote from the hunk start to the last line any comment is about
                last = 0
                for i, (o, nn, _) in enumerate(h["lines"]):
                    if any(nn is not None and nn <= f.end_line and nn >= f.line for f in here) \
                            or any(o is not None and f.line <= o <= f.end_line for f in gone):
                        last = i
                if not shown:
                    body.append("")
                body.append("> " + fi["header"][0])
                body.append("> " + h["head"])
                for _, _, text in h["lines"][:last + 1]:
                    body.append(("> " + text).rstrip())
                if last + 1 < len(h["lines"]):
                    body.append("> [...]")
                body.append("")
                for f in here:
                    body.extend(_comment(f, "This patch introduces"))
                    shown.add(f.fingerprint)
                for f in gone:
                    body.extend(_comment(f, "This patch removes"))
                    shown.add(f.fingerprint)
        rest_new = [f for f in p.new if f.fingerprint not in shown]
        rest_fixed = [f for f in p.fixed if f.fingerprint not in shown]
        if rest_new or rest_fixed:
            body.append("")
            body.append("Outside the hunks of this patch:")
            body.append("")
            for f in rest_new:
                body.extend(_comment(f, "New"))
            for f in rest_fixed:
                body.extend(_comment(f, "Gone"))
        body.append("-- ")
        body.append("rmaplint")
        mails.append("\n".join(body) + "\n")
    if not mails:
        return "rmaplint: no patch of the series changes any finding: nothing to reply\n"
    return "\n\n".join(mails)


def _comment(f: Finding, lead: str) -> list[str]:
    region = f"line {f.line}" if f.line == f.end_line else f"lines {f.line}-{f.end_line}"
    text = f"{lead} a {f.rule} {f.severity} in {f.function}() ({region}): {f.message}"
    out = _wrap(text)
    if f.justification:
        out.extend(_wrap(f"The code justifies it: {f.justification}"))
    out.append("")
    return out


def _wrap(text: str, width: int = 72) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, break_long_words=False, break_on_hyphens=False)


__all__ = ["review_text", "review_json", "review_email", "finding_line"]
