"""SARIF 2.1.0 (OASIS): what code-scanning services and IDEs read.

One run per report. The driver lists every rule with the descriptions and help of its doc
(rules/docs/<rule>.md); each result has ``ruleId``/``ruleIndex``, ``level``, the region from
the first to the last line, the related locations, and ``partialFingerprints`` from our
fingerprint (which survives line shifts, so a service tracks a finding across commits). Paths
are relative URIs under ``%SRCROOT%``; a justified finding is an in-source suppression.

``review`` and ``history`` add ``baselineState``: *new* for what the series (or range)
introduced and left behind, *unchanged* for what it kept, *absent* for what it removed. A
finding its end could not look for (parse errors: not analysed) is never *absent*: it keeps
the state of where it came from (*unchanged* from the base, *new* from a patch), with the
reason in its ``notAnalysed`` property and a warning notification.
The tests validate every document against the official schema (tests/data/).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import __version__
from ..findings.finding import Finding, Severity
from ..locks.result import FileStatus
from ..workflow.results import HistoryResult, PatchReview, Provenance, ReviewResult, ReviewStatus

SCHEMA_URI = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
              "sarif-schema-2.1.0.json")
FINGERPRINT_KEY = "rmaplint/v1"
SRCROOT = "%SRCROOT%"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}
PRECISIONS = ("very-high", "high", "medium", "low")
# GitHub code scanning's problem.severity: error | warning | recommendation
_PROBLEM = {Severity.ERROR: "error", Severity.WARNING: "warning",
            Severity.NOTE: "recommendation"}
# where a rule's doc is published: helpUri is DOCS_URL.format(rule=...); RMAPLINT_DOCS_URL
# points it elsewhere (a mirror, the team's own copy)
DOCS_URL = "https://github.com/rmaplint/rmaplint/blob/main/rules/docs/{rule}.md"


def docs_url(rule: str) -> str:
    import os

    return os.environ.get("RMAPLINT_DOCS_URL", DOCS_URL).replace("{rule}", quote(rule))


# --------------------------------------------------------------------------- rule docs


@dataclass(frozen=True)
class RuleDoc:
    id: str
    severity: Severity  # the default level: the first word after "Severity:"
    summary: str  # one whole sentence: the doc's "Summary:" line, else its first sentence
    description: str  # the first paragraph of "What it does"
    markdown: str  # the whole doc
    precision: str = "medium"  # "Precision:": very-high | high | medium | low
    security_severity: str | None = None  # "Security-severity:" (0.0-10.0), where it fits

    @property
    def name(self) -> str:
        """CamelCase, as SARIF's reportingDescriptor.name suggests."""
        return "".join(w.capitalize() for w in self.id.split("-"))

    def sections(self) -> list[tuple[str, str]]:
        """[(heading, body)] of the ``## `` sections."""
        out: list[tuple[str, str]] = []
        for part in re.split(r"^## ", self.markdown, flags=re.M)[1:]:
            head, _, body = part.partition("\n")
            out.append((head.strip(), body.strip()))
        return out


def docs_dir() -> Path:
    from ..model.lockmodel import default_rules_dir

    return default_rules_dir() / "docs"


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


@cache
def rule_doc(rule: str) -> RuleDoc:
    """The doc of ``rule`` (a minimal one when the rule has no doc)."""
    path = docs_dir() / f"{rule}.md"
    try:
        md = path.read_text(encoding="utf-8")
    except OSError:
        return RuleDoc(rule, Severity.WARNING, rule, rule, f"# {rule}\n")
    m = re.search(r"^Severity:\s*(\w+)", md, re.M)
    severity = Severity(m.group(1).lower()) if m and m.group(1).lower() in _LEVEL \
        else Severity.WARNING
    what = ""
    for head, body in RuleDoc(rule, severity, "", "", md).sections():
        if head.lower() == "what it does":
            paras = _paragraphs(body)
            what = paras[0] if paras else ""
            break
    what = what or rule
    m = re.search(r"^Summary:\s*(.+?)\s*$", md, re.M)
    # the first whole sentence: up to a full stop followed by a capital, not at a colon
    summary = m.group(1) if m else re.split(r"(?<=\.)\s+(?=[A-Z`(])", what, maxsplit=1)[0]
    m = re.search(r"^Precision:\s*([\w-]+)", md, re.M)
    precision = m.group(1).lower() if m and m.group(1).lower() in PRECISIONS else "medium"
    m = re.search(r"^Security-severity:\s*(\d+(?:\.\d+)?)", md, re.M)
    return RuleDoc(rule, severity, summary, what, md, precision, m.group(1) if m else None)


def rule_ids_in(rules, findings) -> list[str]:
    """The rules the driver lists: ``rules`` (every rule of the checker, in its order), then
    any other rule a finding names."""
    known = list(rules)
    extra = sorted({f.rule for f in findings} - set(known))
    return known + extra


def _md_to_text(md: str) -> str:
    """help.text: the doc without markdown markup on headings and fences."""
    out = []
    for line in md.splitlines():
        if line.startswith("```"):
            continue
        out.append(re.sub(r"^#+\s*", "", line))
    return "\n".join(out).strip() + "\n"


def _rules(ids: list[str]) -> list[dict]:
    out = []
    for r in ids:
        d = rule_doc(r)
        props = {"tags": ["correctness", "concurrency", "locking", "rmap"]
                 + (["security"] if d.security_severity else []),
                 "precision": d.precision, "problem.severity": _PROBLEM[d.severity]}
        if d.security_severity:
            props["security-severity"] = d.security_severity
        out.append({
            "id": r,
            "name": d.name,
            "shortDescription": {"text": d.summary},
            "fullDescription": {"text": d.description},
            "help": {"text": _md_to_text(d.markdown), "markdown": d.markdown},
            "helpUri": docs_url(r),
            "defaultConfiguration": {"level": _LEVEL[d.severity]},
            "properties": props,
        })
    return out


# --------------------------------------------------------------------------- locations


def artifact_location(path: str, root=None) -> dict:
    """A URI relative to the top of the tree (%SRCROOT%): never a local absolute path, which
    means nothing on the code-scanning service (an absolute path outside the tree keeps
    only its name)."""
    import os

    if path.startswith("/"):
        rel = os.path.relpath(path, root) if root is not None else None
        path = rel if rel and not rel.startswith("..") else os.path.basename(path)
    return {"uri": quote(path), "uriBaseId": SRCROOT}


def _region(line: int, end_line: int | None = None, column: int = 1,
            end_column: int = 0) -> dict:
    r = {"startLine": max(1, line), "startColumn": max(1, column)}
    if end_line is not None:
        r["endLine"] = max(r["startLine"], end_line)
        if end_column and (r["endLine"] > r["startLine"] or end_column > r["startColumn"]):
            r["endColumn"] = end_column
    return r


def _result(f: Finding, index: dict[str, int], state: str | None = None,
            props: dict | None = None) -> dict:
    res: dict = {
        "ruleId": f.rule,
        "ruleIndex": index[f.rule],
        "level": _LEVEL.get(f.severity, "warning"),
        "message": {"text": f.message},
        "locations": [{
            "physicalLocation": {"artifactLocation": artifact_location(f.path),
                                 "region": _region(f.line, f.end_line, f.column,
                                                  f.end_column)},
            "logicalLocations": [{"name": f.function, "kind": "function"}],
        }],
    }
    if f.related:
        res["relatedLocations"] = [
            {"id": i, "message": {"text": r.message},
             "physicalLocation": {"artifactLocation": artifact_location(r.path),
                                  "region": _region(r.line, None, r.column)}}
            for i, r in enumerate(f.related, 1)]
    if f.fingerprint:
        res["partialFingerprints"] = {FINGERPRINT_KEY: f.fingerprint}
    if f.justification:
        res["suppressions"] = [{"kind": "inSource", "status": "accepted",
                                "justification": f.justification}]
    if state is not None:
        res["baselineState"] = state
    p: dict[str, Any] = {"function": f.function}
    if f.locks:
        p["locks"] = list(f.locks)
    p.update(props or {})
    res["properties"] = p
    return res


def _root_uri(root) -> dict:
    # no "uri": the consumer (a checkout on a CI runner) knows where the tree is; a local
    # file:/// path would only leak this machine's layout
    return {SRCROOT: {"description": {"text": "The top of the analysed tree: every path is "
                                              "relative to it."}}}


def _provenance(prov) -> list | None:
    if prov is None:
        return None
    return [{"repositoryUri": prov.repository_uri, "revisionId": prov.revision}]


def _log(results_of, findings, rules, root, notifications=(), properties=None,
         provenance=None) -> str:
    ids = rule_ids_in(rules, findings)
    index = {r: i for i, r in enumerate(ids)}
    run: dict = {
        "tool": {"driver": {"name": "rmaplint", "version": __version__,
                            "semanticVersion": __version__, "rules": _rules(ids)}},
        "invocations": [{"executionSuccessful": True,
                         "toolExecutionNotifications": list(notifications)}],
        "columnKind": "unicodeCodePoints",
        "results": results_of(index),
    }
    if root is not None:
        run["originalUriBaseIds"] = _root_uri(root)
    if provenance is not None:
        run["versionControlProvenance"] = _provenance(provenance)
    if properties:
        run["properties"] = properties
    doc = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _key(f: Finding):
    return (f.path, f.line, f.end_line, f.rule, f.fingerprint)


# --------------------------------------------------------------------------- reports


def check_sarif(run, rules, root=None, rev: str | None = None,
                provenance: Provenance | None = None) -> str:
    """The findings of a check run; files that could not be analysed are notifications.
    ``rules``: the rule ids to list; ``provenance``: where ``rev`` comes from."""
    findings = sorted(run.findings, key=_key)
    notes = [{"level": "error", "message": {"text": f"{r.path}: {r.error}"},
              "locations": [{"physicalLocation": {"artifactLocation":
                                                  artifact_location(r.path)}}]}
             for r in run.reports if r.status == FileStatus.ERROR]
    props = {"summary": run.summary()}
    if rev is not None:
        props["revision"] = rev
    return _log(lambda index: [_result(f, index) for f in findings], findings, rules, root,
                notes, props, provenance)


def review_sarif(res: ReviewResult, rules, provenance: Provenance | None = None) -> str:
    """The series' result: what it leaves behind (new), what the patches it touches keep
    (unchanged) and what it removes (absent); every result names its patch. ``provenance``:
    where the end of the series comes from."""
    remaining = {f.fingerprint for f in res.remaining}
    transient = {f.fingerprint for f in res.transient}
    last: dict[str, tuple[ReviewStatus, PatchReview, Finding]] = {}  # fingerprint → last event
    kept: dict[str, tuple[PatchReview, Finding]] = {}
    for p in res.patches:
        for f in p.new:
            last[f.fingerprint] = (ReviewStatus.NEW, p, f)
        for f in p.fixed:
            last[f.fingerprint] = (ReviewStatus.FIXED, p, f)
        for f in p.unchanged:
            kept[f.fingerprint] = (p, f)
    rows: dict[str, tuple[Finding, str, dict]] = {}
    for f in res.remaining:
        ev = last.get(f.fingerprint)
        rows[f.fingerprint] = (f, "new", {"patch": ev[1].index, "commit": ev[1].commit}
                               if ev else {})
    for fp, (kind, p, f) in last.items():
        if kind == ReviewStatus.FIXED and fp not in transient and fp not in remaining:
            rows[fp] = (f, "absent", {"patch": p.index, "commit": p.commit})
    for fp, (p, f) in kept.items():
        if fp not in rows and fp not in transient and \
                last.get(fp, (ReviewStatus.NEW,))[0] != ReviewStatus.FIXED:
            rows[fp] = (f, "unchanged", {"patch": p.index, "commit": p.commit})
    notes = []
    for na in res.not_analysed:
        fp = na.finding.fingerprint
        ev = last.get(fp)
        about: dict[str, Any] = {"notAnalysed": na.why()}
        if ev is not None and ev[0] == ReviewStatus.NEW:
            about.update(patch=ev[1].index, commit=ev[1].commit)
        rows[fp] = (na.finding, "new" if "patch" in about else "unchanged", about)
        notes.append({"level": "warning", "message": {
            "text": f"{na.finding.path}: a {na.finding.rule} finding in "
                    f"{na.finding.function}() is not analysed at the end of the series: "
                    f"{na.why()}"},
            "locations": [{"physicalLocation": {
                "artifactLocation": artifact_location(na.finding.path),
                "region": _region(na.degraded.line if na.degraded else 1, None,
                                  na.degraded.column if na.degraded else 1)}}]})
    items = sorted(rows.values(), key=lambda t: _key(t[0]))
    props = {
        "base": res.base,
        "label": res.label,
        "patches": [{"index": p.index, "subject": p.subject, "commit": p.commit,
                     "new": [f.fingerprint for f in p.new],
                     "fixed": [f.fingerprint for f in p.fixed],
                     "unchanged": [f.fingerprint for f in p.unchanged],
                     "notAnalysed": [na.finding.fingerprint for na in p.not_analysed]}
                    for p in res.patches],
        "transient": [f.to_json() for f in res.transient],
    }
    if res.failure is not None:
        fl = res.failure
        notes.append({"level": "error", "message": {
            "text": f"patch {fl.index} ({fl.subject}) does not apply"
                    + (f" to {fl.file}" if fl.file else "") + f": {fl.message}"}})
    props["revision"] = res.end
    return _log(lambda index: [_result(f, index, st, pr) for f, st, pr in items],
                [t[0] for t in items], rules, res.repo, notes, props, provenance)


def history_sarif(res: HistoryResult, repo, rules, provenance: Provenance | None = None
                  ) -> str:
    """Every finding seen in the range: present at the end (new when the range introduced
    it, unchanged when it was there at the start) or removed (absent). ``provenance``: where
    the end of the range comes from."""
    items = []
    for t in res.tracked.values():
        if t.removed is not None:
            state = "absent"
        elif t.introduced is not None:
            state = "new"
        else:
            state = "unchanged"
        about: dict[str, Any] = {"introduced": t.introduced, "removed": t.removed}
        if t.not_analysed is not None and t.removed is None:
            about["notAnalysed"] = {"since": t.not_analysed_since,
                                    "reason": t.not_analysed.why()}
        items.append((t.finding, state, about))
    items.sort(key=lambda t: _key(t[0]))
    props = {"range": res.range, "start": res.start, "revision": res.end,
             "revisions": [{"commit": r.commit, "subject": r.subject} for r in res.revisions]}
    return _log(lambda index: [_result(f, index, st, pr) for f, st, pr in items],
                [t[0] for t in items], rules, repo, (), props, provenance)


__all__ = ["check_sarif", "review_sarif", "history_sarif", "rule_doc", "RuleDoc"]
