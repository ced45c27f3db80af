"""``--format sarif``: SARIF 2.1.0 validated against the official OASIS schema
(tests/data/sarif-schema-2.1.0.json, see tests/data/README.md), for check, review and history,
and the fields a code-scanning service reads: rules with descriptions and help, ruleId and
ruleIndex, level, region, related locations, partial fingerprints, %SRCROOT%-relative URIs,
in-source suppressions, baseline states.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import pytest

from analyzer.checks import rule_ids
from analyzer.workflow.corpus import build_history

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"
LEVELS = {"error", "warning", "note"}


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") and k != "RMAPLINT_DEBUG"}
    env.update(PYTHONPATH=str(REPO_ROOT), HOME=str(home),
               XDG_CACHE_HOME=str(home / "xdg-cache"), XDG_CONFIG_HOME=str(home / "xdg-config"),
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
               GIT_CEILING_DIRECTORIES=str(home.parent))
    return env


def run_json(home: Path, *args: str, cwd: Path | None = None) -> dict:
    proc = subprocess.run([sys.executable, "-m", "analyzer.cli", *args], cwd=cwd or home,
                          env=clean_env(home), capture_output=True, timeout=600)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode in (0, 1), (proc.returncode, err)
    assert "Traceback" not in err, err
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def assert_valid(validator, doc: dict) -> None:
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """The rule fixtures, one in a folder whose name needs percent-encoding."""
    t = tmp_path_factory.mktemp("tree")
    shutil.copytree(REPO_ROOT / "corpus" / "rules", t / "mm")
    (t / "mm" / "odd dir #1").mkdir()
    shutil.copyfile(t / "mm" / "walk-unlocked.c", t / "mm" / "odd dir #1" / "walk.c")
    (t / "mm" / "odd dir #1" / "walk.c").write_text(
        '#include "../anon.h"\n' + (t / "mm" / "walk-unlocked.c").read_text()
        .replace('#include "anon.h"\n', ""))
    return t


@pytest.fixture(scope="module")
def check_docs(tree, home) -> tuple[dict, dict]:
    sarif = run_json(home, "check", "--repo", str(tree), "mm", "--no-cache", "--format", "sarif")
    plain = run_json(home, "check", "--repo", str(tree), "mm", "--no-cache", "--format", "json")
    return sarif, plain


def test_schema_is_the_oasis_one(validator):
    schema = json.loads(SCHEMA.read_text())
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    assert "2.1.0" in schema["title"]
    # and it rejects what is not SARIF
    assert list(validator.iter_errors({"version": "2.1.0"}))
    assert list(validator.iter_errors({"version": "2.0.0", "runs": []}))


def test_check_sarif_is_valid(validator, check_docs):
    sarif, _ = check_docs
    assert_valid(validator, sarif)
    assert sarif["version"] == "2.1.0" and len(sarif["runs"]) == 1


def test_check_sarif_rules(check_docs):
    sarif, _ = check_docs
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules][:len(rule_ids())] == rule_ids()
    for r in rules:
        doc = (REPO_ROOT / "rules" / "docs" / f"{r['id']}.md").read_text()
        assert r["shortDescription"]["text"] and r["fullDescription"]["text"]
        # one whole sentence, kept in the rule's doc
        short = r["shortDescription"]["text"]
        assert re.fullmatch(r"[A-Z][^\n]*[^:]\.", short) and short.count(". ") == 0, short
        assert f"Summary: {short}\n" in doc
        assert r["helpUri"].startswith("https://") and r["helpUri"].endswith(f"/{r['id']}.md")
        props = r["properties"]
        assert props["precision"] in ("very-high", "high", "medium", "low")
        assert props["problem.severity"] in ("error", "warning", "recommendation")
        assert {"correctness", "concurrency"} <= set(props["tags"])
        if "security-severity" in props:
            assert 0 < float(props["security-severity"]) <= 10 and "security" in props["tags"]
        assert r["help"]["markdown"] == doc
        assert "What it does" in r["help"]["text"] and "## " not in r["help"]["text"]
        sev = doc.split("Severity:", 1)[1].split()[0].strip(".;,")
        assert r["defaultConfiguration"]["level"] == sev


def test_check_sarif_results_match_the_findings(check_docs, tree):
    sarif, plain = check_docs
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    # the base is named, not located: no path of this machine in the log
    assert "uri" not in run["originalUriBaseIds"]["%SRCROOT%"]
    assert "file:" not in json.dumps(sarif) and str(tree) not in json.dumps(sarif)
    # a fingerprint holds no path (a moved function keeps it): the copy of walk-unlocked.c
    # in "odd dir #1" has the same ones, in another file
    by_fp = {(f["path"], f["fingerprint"]): f for f in plain["findings"]}
    results = run["results"]
    assert len(results) == len(by_fp) == len(plain["findings"]) > 0
    for res in results:
        f = by_fp[(unquote(res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]),
                   res["partialFingerprints"]["rmaplint/v1"])]
        assert res["ruleId"] == f["rule"] == rules[res["ruleIndex"]]["id"]
        assert res["level"] == f["severity"] in LEVELS
        assert res["message"]["text"] == f["message"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert not loc["artifactLocation"]["uri"].startswith(("/", "file:"))
        assert unquote(loc["artifactLocation"]["uri"]) == f["path"]
        assert (tree / f["path"]).is_file()
        assert (loc["region"]["startLine"], loc["region"]["endLine"]) == (f["line"],
                                                                         f["end_line"])
        assert loc["region"]["startColumn"] == f["column"] >= 1
        assert res["locations"][0]["logicalLocations"][0]["name"] == f["function"]
        related = res.get("relatedLocations", [])
        assert [(unquote(r["physicalLocation"]["artifactLocation"]["uri"]),
                 r["physicalLocation"]["region"]["startLine"], r["message"]["text"])
                for r in related] == [(r["path"], r["line"], r["message"]) for r in f["related"]]
        if f["justification"]:
            assert res["suppressions"] == [{"kind": "inSource", "status": "accepted",
                                            "justification": f["justification"]}]
        else:
            assert "suppressions" not in res
    assert any(r.get("relatedLocations") for r in results)
    assert any(r.get("suppressions") for r in results)
    odd = [r for r in results if "odd" in
           r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]]
    assert odd and odd[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] \
        .startswith("mm/odd%20dir%20%231/")


def test_check_sarif_error_file_is_a_notification(validator, home, tmp_path):
    (tmp_path / "mm").mkdir()
    (tmp_path / "mm" / "bad.c").write_bytes(b"int x;\0\0binary")
    (tmp_path / "mm" / "ok.c").write_text("int y;\n")
    doc = run_json(home, "check", "--repo", str(tmp_path), "mm", "--no-cache",
                   "--format", "sarif")
    assert_valid(validator, doc)
    notes = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["level"] for n in notes] == ["error"]
    assert "mm/bad.c" in notes[0]["message"]["text"]


@pytest.fixture(scope="module")
def review_docs(home, tmp_path_factory) -> tuple[dict, dict]:
    sarif = run_json(home, "demo", "--no-cache", "--format", "sarif")
    plain = run_json(home, "demo", "--no-cache", "--format", "json")
    return sarif, plain


def test_review_sarif(validator, review_docs):
    sarif, plain = review_docs
    assert_valid(validator, sarif)
    run = sarif["runs"][0]
    states = {r["partialFingerprints"]["rmaplint/v1"]: r["baselineState"]
              for r in run["results"]}
    remaining = {f["fingerprint"] for f in plain["verdict"]["remaining"]}
    transient = {f["fingerprint"] for f in plain["verdict"]["transient"]}
    assert {fp for fp, s in states.items() if s == "new"} == remaining
    assert not transient & set(states)
    # patch 1 removes the helper-based drop that was in the base: absent
    p1 = plain["patches"][0]
    old_drop = next(f for f in p1["fixed"] if f["rule"] == "lock-dropped-in-loop")
    assert states[old_drop["fingerprint"]] == "absent"
    # kept by the patches that touch them: unchanged
    kept = {f["fingerprint"] for p in plain["patches"] for f in p["unchanged"]}
    assert {fp for fp, s in states.items() if s == "unchanged"} <= kept
    assert any(s == "unchanged" for s in states.values())
    for r in run["results"]:
        assert r["properties"]["patch"] in (1, 2, 3)
    props = run["properties"]
    assert [p["index"] for p in props["patches"]] == [1, 2, 3]
    assert run["properties"]["revision"] == plain["patches"][-1]["commit"]
    assert "versionControlProvenance" not in run  # a throwaway repository: no remote
    assert "file:" not in json.dumps(sarif)


def test_history_sarif(validator, home, tmp_path):
    corpus = build_history(tmp_path / "repo")
    rng = f"{corpus.base}..{corpus.commits[-1]}"
    doc = run_json(home, "history", rng, "--repo", str(corpus.path), "--no-cache",
                   "--format", "sarif")
    plain = run_json(home, "history", rng, "--repo", str(corpus.path), "--no-cache",
                     "--format", "json")
    assert_valid(validator, doc)
    results = doc["runs"][0]["results"]
    assert len(results) == len(plain["findings"])
    for res, f in zip(results, sorted(plain["findings"], key=lambda f: (
            f["path"], f["line"], f["end_line"], f["rule"], f["fingerprint"]))):
        assert res["partialFingerprints"]["rmaplint/v1"] == f["fingerprint"]
        want = "absent" if f["removed"] else "new" if f["introduced"] else "unchanged"
        assert res["baselineState"] == want
        assert res["properties"]["introduced"] == f["introduced"]


def test_provenance_is_the_remote_url_never_a_local_path(validator, home, tmp_path):
    corpus = build_history(tmp_path / "repo")
    env_git = ["git", "-C", str(corpus.path)]
    subprocess.run([*env_git, "remote", "add", "origin",
                    "https://user:secret@git.example.org/linux/mm.git"], check=True)
    rng = f"{corpus.base}..{corpus.commits[-1]}"
    doc = run_json(home, "history", rng, "--repo", str(corpus.path), "--no-cache",
                   "--format", "sarif")
    assert_valid(validator, doc)
    prov = doc["runs"][0]["versionControlProvenance"]
    assert prov == [{"repositoryUri": "https://git.example.org/linux/mm.git",
                     "revisionId": corpus.commits[-1]}]
    check = run_json(home, "check", "--repo", str(corpus.path), "--rev", "series",
                     "--no-cache", "--format", "sarif")
    assert check["runs"][0]["versionControlProvenance"][0]["revisionId"] == corpus.commits[-1]
    subprocess.run([*env_git, "remote", "set-url", "origin", str(tmp_path / "local.git")],
                   check=True)
    doc = run_json(home, "history", rng, "--repo", str(corpus.path), "--no-cache",
                   "--format", "sarif")
    assert "versionControlProvenance" not in doc["runs"][0]
    assert "file:" not in json.dumps(doc) and str(tmp_path) not in json.dumps(doc)
