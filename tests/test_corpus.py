"""The fixture corpus: ``corpus/rules/*.c`` are kernel-style C written by us, annotated like
semgrep tests. An annotation comment applies to the next line that is not an annotation:

    // ruleid: <id>       a finding of <id> must start on that line
    // ruleid: <id>[kind] … and be of that kind (``modify-unlocked[no-lock-known]``)
    // ok: <id>           no finding of <id> may start there
    // todoruleid: <id>   a known miss: <id> should fire there but does not yet

Every finding in a fixture must be expected by a ``ruleid`` annotation (any rule), so a
fixture fails on missed lines, on unexpected lines and on unknown rule ids.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyzer import checks
from analyzer.model import lockmodel as lockmodel
from analyzer.driver.cache import Cache
from analyzer.frontend.clang import BuildConfig
from analyzer.driver.run import Checker
from analyzer.source.reader import TreeSource

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus" / "rules"
DOCS = ROOT / "rules" / "docs"
ANNOTATION = re.compile(
    r"//\s*(ruleid|ok|todoruleid):\s*([\w-]+(?:\[[\w-]+\])?(?:\s*,\s*[\w-]+(?:\[[\w-]+\])?)*)\s*$")
DOC_SECTIONS = ("What it does", "Why it matters", "Example", "Use instead",
                "Known false positives", "Confidence")

FIXTURES = sorted(CORPUS.glob("*.c"))
RULE_IDS = set(checks.rule_ids())
RULE_KINDS = checks.rule_kinds()


def split_kind(rule: str) -> tuple[str, str | None]:
    """``modify-unlocked[no-lock-known]`` → (rule, kind); a bare id → (rule, None)."""
    if rule.endswith("]") and "[" in rule:
        r, k = rule[:-1].split("[", 1)
        return r, k
    return rule, None


def annotations(path: Path) -> dict[str, set[tuple[str, int]]]:
    lines = path.read_text().splitlines()
    out: dict[str, set[tuple[str, int]]] = {"ruleid": set(), "ok": set(), "todoruleid": set()}
    pending: list[tuple[str, str]] = []
    for no, text in enumerate(lines, 1):
        m = ANNOTATION.search(text)
        if m and text.strip().startswith("//"):
            for rule in m.group(2).split(","):
                pending.append((m.group(1), rule.strip()))
            continue
        if m:  # annotation at the end of a code line applies to that line
            for rule in m.group(2).split(","):
                out[m.group(1)].add((rule.strip(), no))
        for kind, rule in pending:
            out[kind].add((rule, no))
        pending = []
    return out


def run_fixture(path: Path, frontend: str = "tree-sitter"):
    source = TreeSource(path.parent)
    clang = BuildConfig.plain(path.parent) if frontend == "clang" else None
    checker = Checker(source, lockmodel.load(), Cache(None), clang=clang)
    report = checker.check_file(path.name)
    assert report.status in ("ok", "degraded"), report.error
    if clang is not None:  # the fixtures are C a compiler accepts: no function degraded
        assert report.status == "ok", f"{path.name}: clang found errors"
    return report


@pytest.mark.parametrize("frontend", ["tree-sitter", "clang"])
@pytest.mark.parametrize("fixture", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture(fixture: Path, frontend: str):
    ann = annotations(fixture)
    named = {split_kind(r) for kind in ann.values() for r, _ in kind}
    unknown = {r for r, _ in named} - RULE_IDS
    assert not unknown, f"annotations name unknown rules: {sorted(unknown)}"
    bad_kinds = {f"{r}[{k}]" for r, k in named if k is not None and k not in RULE_KINDS[r]}
    assert not bad_kinds, f"annotations name unknown kinds: {sorted(bad_kinds)}"
    report = run_fixture(fixture, frontend)
    found = {(f.rule, f.line) for f in report.findings}
    kinds = {(f.rule, f.line): f.kind for f in report.findings}
    expected = {(split_kind(r)[0], ln) for r, ln in ann["ruleid"]}
    wrong_kind = [(r, ln, k, kinds[(split_kind(r)[0], ln)]) for r, ln in ann["ruleid"]
                  if (k := split_kind(r)[1]) is not None and (split_kind(r)[0], ln) in kinds
                  and kinds[(split_kind(r)[0], ln)] != k]
    ann = {key: {(split_kind(r)[0], ln) for r, ln in v} for key, v in ann.items()}
    missed = expected - found
    unexpected = found - expected
    promoted = found & ann["todoruleid"]
    ok_violated = found & ann["ok"]
    msgs = []
    for rule, line in sorted(missed):
        msgs.append(f"missed {rule} at {fixture.name}:{line}")
    for rule, line in sorted(unexpected - promoted):
        f = next(f for f in report.findings if (f.rule, f.line) == (rule, line))
        msgs.append(f"unexpected {rule} at {fixture.name}:{line}: {f.message}")
    for rule, line in sorted(promoted):
        msgs.append(f"todoruleid {rule} at {fixture.name}:{line} now fires: make it ruleid")
    for rule, line in sorted(ok_violated):
        msgs.append(f"'ok: {rule}' violated at {fixture.name}:{line}")
    for rule, line, want, got in sorted(wrong_kind):
        msgs.append(f"{rule} at {fixture.name}:{line} is of kind [{got}], not [{want}]")
    assert not msgs, "\n".join(msgs)


def test_annotation_parser_finds_the_next_code_line(tmp_path):
    p = tmp_path / "x.c"
    p.write_text("// ruleid: a\n// ok: b\nint x;\nint y; // ruleid: c[k1], d\n")
    ann = annotations(p)
    assert ann["ruleid"] == {("a", 3), ("c[k1]", 4), ("d", 4)}
    assert ann["ok"] == {("b", 3)}
    assert split_kind("c[k1]") == ("c", "k1") and split_kind("d") == ("d", None)


@pytest.mark.parametrize("rule", sorted(RULE_IDS))
def test_every_rule_has_doc_and_fixture(rule: str):
    doc = DOCS / f"{rule}.md"
    assert doc.is_file(), f"rules/docs/{rule}.md missing"
    text = doc.read_text()
    for section in DOC_SECTIONS:
        assert f"## {section}" in text, f"{doc.name}: section '{section}' missing"
    fixture = CORPUS / f"{rule}.c"
    assert fixture.is_file(), f"corpus/rules/{rule}.c missing"
    ann = annotations(fixture)
    assert any(split_kind(r)[0] == rule for r, _ in ann["ruleid"]), \
        f"{fixture.name}: no ruleid for {rule}"
    assert any(r == rule for r, _ in ann["ok"]), f"{fixture.name}: no ok for {rule}"
