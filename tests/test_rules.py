"""Rule behaviour that fixture annotations do not express: severities, messages' evidence,
justification comments, fingerprints."""

from __future__ import annotations

from pathlib import Path

from analyzer.model import lockmodel as lockmodel
from analyzer.driver.cache import Cache
from analyzer.driver.run import Checker
from analyzer.source.reader import TreeSource

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "rules"


def findings(name: str, rule: str | None = None):
    checker = Checker(TreeSource(CORPUS), lockmodel.load(), Cache(None))
    rep = checker.check_file(name)
    return [f for f in rep.findings if rule is None or f.rule == rule]


def by_function(fs, function):
    return [f for f in fs if f.function == function]


def test_root_assumed_shared_severity_follows_the_comment():
    fs = findings("root-assumed-shared.c", "root-assumed-shared")
    assert [f.severity for f in by_function(fs, "link_all")] == ["warning"]
    assert [f.severity for f in by_function(fs, "link_all_documented")] == ["note"]
    f = by_function(fs, "link_all")[0]
    assert "pavc->anon_vma->root == src->anon_vma->root" in f.message
    assert f.line < f.end_line  # the region runs from the lock to the access
    assert {r.line for r in f.related} == {f.line, f.end_line}


def test_lock_dropped_in_loop_names_walk_and_protection():
    fs = findings("lock-dropped-in-loop.c", "lock-dropped-in-loop")
    f = by_function(fs, "clone_with_helpers")[0]
    assert "src->anon_vma_chain" in f.message
    assert "not by this lock" in f.message
    assert f.severity == "warning"  # no caller in the fixture holds src's mmap lock
    g = by_function(fs, "clone_locked_once")[0]
    # the mmap lock is asserted in that function: the walk's own lock stays held
    assert "safe: the walk is protected by src->vm_mm->mmap_lock, held across the drop" \
        in g.message
    assert (g.severity, g.kind) == ("note", "safe")
    assert g.end_line == g.line + 2  # unlock, the GFP_KERNEL retry, lock


def test_justification_comment_marks_the_finding():
    fs = findings("lock-dropped-in-loop.c", "lock-dropped-in-loop")
    just = by_function(fs, "scan_justified")[0]
    assert just.justification == "widgets are pinned by wl->users"
    assert all(f.justification is None for f in fs if f.function != "scan_justified")


def test_fingerprints_survive_line_shifts(tmp_path):
    src = (CORPUS / "lock-dropped-in-loop.c").read_text()
    (tmp_path / "anon.h").write_text((CORPUS / "anon.h").read_text())
    (tmp_path / "a.c").write_text(src)
    (tmp_path / "b.c").write_text("/* a new comment\n * above everything\n */\n\n" + src)
    checker = Checker(TreeSource(tmp_path), lockmodel.load(), Cache(None))
    a = {f.fingerprint: f for f in checker.check_file("a.c").findings}
    b = {f.fingerprint: f for f in checker.check_file("b.c").findings}
    assert len(a) == len(findings("lock-dropped-in-loop.c"))
    # the path is part of the key; compare the same file moved down by four lines instead
    (tmp_path / "a.c").write_text("/* a new comment\n * above everything\n */\n\n" + src)
    checker2 = Checker(TreeSource(tmp_path), lockmodel.load(), Cache(None))
    a2 = {f.fingerprint: f for f in checker2.check_file("a.c").findings}
    assert set(a2) == set(a)
    assert all(a2[k].line == a[k].line + 4 for k in a)
    # no path in a fingerprint: the same code in another file keeps it (a moved function)
    assert set(b) == set(a)
    # a region whose code changes is another finding: a new identity, not the old one's
    f = next(iter(a.values()))
    lines = src.split("\n")
    lines[f.line - 1] = lines[f.line - 1] + " /* changed */"
    (tmp_path / "c.c").write_text("\n".join(lines))
    c = {x.fingerprint: x for x in checker.check_file("c.c").findings}
    assert f.fingerprint not in c and len(c) == len(a)


def test_baseline_silences_known_findings_across_line_shifts(tmp_path):
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    tree = tmp_path / "tree"
    tree.mkdir()
    src = (CORPUS / "lock-dropped-in-loop.c").read_text()
    (tree / "anon.h").write_text((CORPUS / "anon.h").read_text())
    (tree / "x.c").write_text(src)
    env = {**os.environ, "PYTHONPATH": str(root)}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "analyzer.cli", "check", "--repo",
                               str(tree), "x.c", "--no-cache", "-q", "--format", "json", *args],
                              capture_output=True, text=True, env=env)

    base = tmp_path / "baseline.json"
    first = run("--write-baseline", str(base))
    assert first.returncode == 1
    n = len(json.loads(first.stdout)["findings"])
    assert n and len(json.loads(base.read_text())["findings"]) == n
    # an unrelated edit above every function moves all lines: still silenced
    (tree / "x.c").write_text("/* moved\n * down\n */\n" + src)
    again = run("--baseline", str(base))
    doc = json.loads(again.stdout)
    assert again.returncode == 0, again.stderr
    assert doc["findings"] == [] and doc["summary"]["baselined"] == n
    # a new drop in a new function is not in the baseline
    (tree / "x.c").write_text(src + """
void scan_again(struct widget_list *wl)
{
	struct widget *w;

	spin_lock(&wl->lock);
	list_for_each_entry(w, &wl->widgets, node) {
		spin_unlock(&wl->lock);
		cond_resched();
		spin_lock(&wl->lock);
	}
	spin_unlock(&wl->lock);
}
""")
    third = run("--baseline", str(base))
    new = json.loads(third.stdout)["findings"]
    assert third.returncode == 1
    assert [(f["rule"], f["function"]) for f in new] == [("lock-dropped-in-loop", "scan_again")]
    bad = run("--baseline", str(tmp_path / "missing.json"))
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
