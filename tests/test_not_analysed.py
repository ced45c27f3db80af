"""Parse failures are visible: a finding that disappears where a patch leaves the code
unreadable is *not analysed*, never *fixed* (review, history, b4-check), and ``check`` says
which functions were degraded, where and why (``--list-degraded``, the JSON file entries).

The synthetic repositories are kernel-style C: patch 1 adds an error return that keeps a
spinlock (lock-imbalance), patch 2 breaks the function's syntax (garbage tokens in its body,
or an unbalanced parenthesis that leaves its body open and swallows the next function).

Every CLI run is a subprocess with ``--no-cache`` (or a ``--cache-dir`` under tmp_path), HOME
and XDG dirs in tmp_path, and no GIT_* variable from the caller.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FOO = "mm/foo.c"

BASE = """\
#include <linux/spinlock.h>

struct foo {
	spinlock_t lock;
	int count;
};

int foo_inc(struct foo *f, int n)
{
	spin_lock(&f->lock);
	f->count += n;
	spin_unlock(&f->lock);
	return 0;
}
"""

# patch 1: the error return keeps the lock
LEAK = BASE.replace("\tf->count += n;\n", "\tif (n < 0)\n\t\treturn -EINVAL;\n\tf->count += n;\n")
# patch 2: garbage tokens inside the body: foo_inc is degraded
GARBAGE = LEAK.replace("\tf->count += n;\n", "\tf->count += n @@ $$;\n")
GARBAGE_LINE = GARBAGE.splitlines().index("\tf->count += n @@ $$;") + 1

# a second function with its own finding, after foo_inc
PEEK = """
int foo_peek(struct foo *f)
{
	spin_lock(&f->lock);
	if (!f->count)
		return -ENOENT;
	spin_unlock(&f->lock);
	return 0;
}
"""
# an unbalanced brace in foo_inc: its body never closes and swallows foo_peek
OPEN = LEAK.replace("\tif (n < 0)\n", "\tif (n < 0) {\n")


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") and k != "RMAPLINT_DEBUG"}
    env.update(PYTHONPATH=str(REPO_ROOT), HOME=str(home),
               XDG_CACHE_HOME=str(home / "xdg-cache"), XDG_CONFIG_HOME=str(home / "xdg-config"),
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
               GIT_CEILING_DIRECTORIES=str(home.parent))
    return env


def run_cli(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzer.cli", *args], cwd=cwd or home,
                          env=clean_env(home), capture_output=True, timeout=300)


def out_of(proc: subprocess.CompletedProcess, codes=(0, 1)) -> str:
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode in codes, (proc.returncode, err)
    assert "Traceback" not in err, err
    return proc.stdout.decode()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


def review(home: Path, repo, rng: str, fmt: str = "text") -> str:
    return out_of(run_cli(home, "review", rng, "--repo", str(repo.path), "--no-cache",
                          "--format", fmt))


def history(home: Path, repo, rng: str, fmt: str = "text") -> str:
    return out_of(run_cli(home, "history", rng, "mm", "--repo", str(repo.path), "--no-cache",
                          "--format", fmt))


def leak_of(findings: list[dict], function: str = "foo_inc") -> dict:
    hits = [f for f in findings if f["rule"] == "lock-imbalance" and f["function"] == function]
    assert len(hits) == 1, findings
    return hits[0]


# --------------------------------------------------------------------------- check


def test_the_fixture_function_is_degraded(home, tmp_path):
    """What the tests below stand on: GARBAGE's foo_inc has a parse error, and check says
    where (the line of the garbage) and why, in JSON and with --list-degraded."""
    tree = tmp_path / "tree"
    (tree / "mm").mkdir(parents=True)
    (tree / FOO).write_text(GARBAGE)
    (tree / "mm" / "open.c").write_text(OPEN + PEEK)
    (tree / "mm" / "ok.c").write_text(LEAK)
    doc = json.loads(out_of(run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache",
                                    "--format", "json")))
    files = {f["path"]: f for f in doc["files"]}
    foo = files[FOO]
    assert foo["status"] == "degraded" and foo["degraded_functions"] == 1, foo
    [d] = foo["degraded"]
    assert d["function"] == "foo_inc" and d["analysed"] is True
    assert d["line"] == GARBAGE_LINE and d["column"] > 1
    assert "@@" in d["reason"], d
    assert files["mm/ok.c"]["degraded"] == [] and files["mm/ok.c"]["status"] == "ok"
    opened = {x["function"]: x for x in files["mm/open.c"]["degraded"]}
    assert opened["foo_inc"]["analysed"] is True and "expected '}'" in opened["foo_inc"]["reason"]
    assert opened["foo_peek"]["analysed"] is False  # swallowed: never analysed
    assert "inside foo_inc()" in opened["foo_peek"]["reason"]
    # the findings of a degraded function are not reported (the rules stay silent there)
    assert not [f for f in doc["findings"] if f["path"] != "mm/ok.c"], doc["findings"]

    text = out_of(run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache",
                          "--list-degraded"))
    lines = text.splitlines()
    summary = next(i for i, ln in enumerate(lines) if ln.startswith("rmaplint: "))
    listed = lines[summary + 1:]
    assert f"{FOO}:{GARBAGE_LINE}: foo_inc: degraded: cannot parse `n @@`" in listed, text
    assert any(re.fullmatch(r"mm/open\.c:\d+: foo_inc: degraded: expected '\}'.*", ln)
               for ln in listed), text
    assert any(re.fullmatch(r"mm/open\.c:\d+: foo_peek: not analysed: inside foo_inc\(\), "
                            r"whose body a parse error leaves open .*", ln)
               for ln in listed), text
    assert len(listed) == 3, text
    # without the option: no such lines, the summary ends the report
    plain = out_of(run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache"))
    assert plain.splitlines()[-1].startswith("rmaplint: "), plain
    assert ": degraded: " not in plain


def test_functions_hidden_in_unreadable_file_level_text():
    """An initializer that never closes swallows the functions after it: the frontend names
    them (kernel style: the head, then ``{`` alone on a line) so their findings are not
    counted as fixed; so is a function whose head a parse error ate; an unreadable
    declaration that holds no body hides nothing."""
    from analyzer.frontend.rewrite import IteratorTable
    from analyzer.frontend.treesitter import parse_file

    eaten = ("static int table[] = { 1, 2,\n#ifdef CONFIG_X\n\t3 @@,\n#endif\n\n"
             "static int foo_get(struct foo *f,\n\t\t   int n)\n{\n\treturn f->count;\n}\n\n"
             "int bar(void)\n{\n\treturn 1;\n}\n")
    pf = parse_file("mm/eat.c", eaten, IteratorTable())
    assert not pf.functions
    hidden = dict(pf.unreadable)
    assert set(hidden) == {"foo_get", "bar"}, pf.unreadable
    assert hidden["foo_get"].line == 6 and hidden["bar"].line == 12
    assert hidden["bar"].message.startswith("in text the parser could not read (lines 1-")
    # the junk eats the head of f into the declaration: f's body is left alone at file level
    headless = parse_file("mm/x.c", "static int x = ;\n@@@ junk\nint f(void)\n{\n"
                          "\treturn 0;\n}\n", IteratorTable())
    assert not headless.functions
    [(name, err)] = headless.unreadable
    assert name == "f" and (err.line, err.column) == (3, 5), err
    assert err.message.startswith("its head is text the parser could not read")
    clean = parse_file("mm/x.c", "static int x = ;\n@@@ junk;\n\nint g(void)\n{\n"
                       "\treturn 0;\n}\n", IteratorTable())
    assert [f.name for f in clean.functions] == ["g"] and clean.unreadable == ()


def test_degraded_functions_come_back_from_the_result_cache(home, tmp_path):
    tree = tmp_path / "tree"
    (tree / "mm").mkdir(parents=True)
    (tree / FOO).write_text(GARBAGE)
    cache = tmp_path / "cache"
    args = ("check", "--repo", str(tree), FOO, "--cache-dir", str(cache), "--format", "json")
    first = json.loads(out_of(run_cli(home, *args)))
    second = json.loads(out_of(run_cli(home, *args)))
    assert second["summary"]["cache_hits"] == 1
    assert second["files"] == first["files"] and first["files"][0]["degraded"], first


def test_list_degraded_is_for_the_text_report(home, tmp_path):
    tree = tmp_path / "tree"
    (tree / "mm").mkdir(parents=True)
    (tree / FOO).write_text(GARBAGE)
    for extra in (["--terse"], ["--format", "sarif"]):
        proc = run_cli(home, "check", "--repo", str(tree), FOO, "--no-cache",
                       "--list-degraded", *extra)
        err = proc.stderr.decode()
        assert proc.returncode == 2 and err.startswith("rmaplint: error: --list-degraded"), err


def test_a_file_that_cannot_be_analysed_has_a_location(home, tmp_path):
    tree = tmp_path / "tree"
    (tree / "mm").mkdir(parents=True)
    (tree / "mm" / "bad.c").write_bytes(b"int x;\0\0binary")
    text = out_of(run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache",
                          "--list-degraded"))
    assert re.search(r"^mm/bad\.c:1:1: error: cannot analyse the file: binary file", text,
                     re.M), text


# --------------------------------------------------------------------------- review


def test_review_a_degraded_function_is_not_fixed(make_git_repo, home):
    repo = make_git_repo({FOO: BASE}, {FOO: LEAK}, {FOO: GARBAGE})
    r0, r1, r2 = repo.commits
    doc = json.loads(review(home, repo, f"{r0}..{r2}", "json"))
    p1, p2 = doc["patches"]
    leak = leak_of(p1["new"])
    assert p2["fixed"] == [] and p2["new"] == [], p2
    [na] = p2["not_analysed"]
    assert na["fingerprint"] == leak["fingerprint"]
    why = na["not_analysed"]
    assert why["degraded"]["function"] == "foo_inc"
    assert why["degraded"]["line"] == GARBAGE_LINE
    assert why["reason"].startswith(f"parse errors in foo_inc() at {GARBAGE_LINE}:")
    # the verdict: neither transient (removed within the series) nor gone
    v = doc["verdict"]
    assert v["transient"] == [] and v["remaining"] == []
    assert [x["fingerprint"] for x in v["not_analysed"]] == [leak["fingerprint"]]

    text = review(home, repo, f"{r0}..{r2}")
    assert "fixed:" not in text and "transient:" not in text, text
    section = text.split("[2/2]")[1].split("verdict:")[0]
    assert re.search(r"^mm/foo\.c:\d+:\d+: note: not analysed after this patch: .* \(in the "
                     r"parent; parse errors in foo_inc\(\) at %d:\d+: cannot parse `n @@`\) "
                     r"\[lock-imbalance\]$" % GARBAGE_LINE, section, re.M), text
    assert "1 not analysed at its end" in text
    assert re.search(r"^mm/foo\.c:\d+:\d+: note: not analysed at the end of the series: .*"
                     r"\(added by patch 1; parse errors in foo_inc\(\) .*\) \[lock-imbalance\]$",
                     text, re.M), text


def test_review_seen_again_is_the_same_finding(make_git_repo, home):
    """Broken by patch 2, readable again in patch 3 with the bug still there: patch 3 does
    not introduce it; fixed for real in patch 4, it is fixed there (and transient)."""
    fixed = LEAK.replace("\t\treturn -EINVAL;\n", "\t\tgoto out;\n").replace(
        "\tspin_unlock(&f->lock);\n", "out:\n\tspin_unlock(&f->lock);\n")
    repo = make_git_repo({FOO: BASE}, {FOO: LEAK}, {FOO: GARBAGE}, {FOO: LEAK},
                         {FOO: GARBAGE}, {FOO: fixed})
    r0, *_, r5 = repo.commits
    doc = json.loads(review(home, repo, f"{r0}..{r5}", "json"))
    p1, p2, p3, p4, p5 = doc["patches"]
    fp = leak_of(p1["new"])["fingerprint"]
    assert [x["fingerprint"] for x in p2["not_analysed"]] == [fp]
    assert p3["new"] == [] and [x["fingerprint"] for x in p3["unchanged"]] == [fp], p3
    assert [x["fingerprint"] for x in p4["not_analysed"]] == [fp]
    assert [x["fingerprint"] for x in p5["fixed"]] == [fp] and p5["not_analysed"] == []
    assert doc["verdict"]["not_analysed"] == []
    assert [x["fingerprint"] for x in doc["verdict"]["transient"]] == [fp]
    text = review(home, repo, f"{r0}..{r5}")
    assert re.search(r"note: fixed: .* \(last analysed before patch 4\) \[lock-imbalance\]$",
                     text, re.M), text


def test_review_a_function_hidden_by_a_parse_error(make_git_repo, home):
    """An unbalanced brace in foo_inc swallows foo_peek: foo_peek's finding of the base
    is not analysed after the patch (nor is foo_inc's), with the reason naming foo_inc."""
    repo = make_git_repo({FOO: LEAK + PEEK}, {FOO: OPEN + PEEK})
    r0, r1 = repo.commits
    doc = json.loads(review(home, repo, f"{r0}..{r1}", "json"))
    [p] = doc["patches"]
    assert p["fixed"] == [], p
    by_fn = {x["function"]: x["not_analysed"] for x in p["not_analysed"]}
    assert set(by_fn) == {"foo_inc", "foo_peek"}, p
    assert by_fn["foo_peek"]["degraded"]["analysed"] is False
    assert "inside foo_inc()" in by_fn["foo_peek"]["reason"]
    assert {x["function"] for x in doc["verdict"]["not_analysed"]} == {"foo_inc", "foo_peek"}


def test_review_a_file_that_cannot_be_analysed(make_git_repo, home):
    """The patch makes the file binary (status error): its findings are not analysed, with
    the file's error; a patch that deletes the file fixes them (its code is gone)."""
    repo = make_git_repo({FOO: LEAK}, {FOO: b"int x;\0\0binary"})
    r0, r1 = repo.commits
    doc = json.loads(review(home, repo, f"{r0}..{r1}", "json"))
    [p] = doc["patches"]
    assert p["fixed"] == []
    [na] = p["not_analysed"]
    assert "binary file" in na["not_analysed"]["error"], na
    assert na["not_analysed"]["reason"].startswith(f"{FOO} could not be analysed: ")

    gone = make_git_repo({FOO: LEAK}, {FOO: None, "mm/other.c": BASE}, name="deleted")
    g0, g1 = gone.commits
    doc = json.loads(review(home, gone, f"{g0}..{g1}", "json"))
    [p] = doc["patches"]
    assert p["not_analysed"] == [] and [f["function"] for f in p["fixed"]] == ["foo_inc"]


# --------------------------------------------------------------------------- history


def test_history_a_degraded_function_is_not_fixed(make_git_repo, home):
    repo = make_git_repo({FOO: BASE}, {FOO: LEAK}, {FOO: GARBAGE})
    r0, r1, r2 = repo.commits
    doc = json.loads(history(home, repo, f"{r0}..{r2}", "json"))
    [f] = doc["findings"]
    assert f["introduced"] == r1 and f["removed"] is None and f["how"] is None, f
    na = f["not_analysed"]
    assert na["since"] == r2 and na["degraded"]["function"] == "foo_inc"
    assert na["reason"].startswith(f"parse errors in foo_inc() at {GARBAGE_LINE}:")
    rev1, rev2 = doc["revisions"]
    assert rev1["findings"] == [f["fingerprint"]] and rev1["not_analysed"] == []
    assert rev2["findings"] == [] and rev2["not_analysed"] == [f["fingerprint"]]

    text = history(home, repo, f"{r0}..{r2}")
    assert "fixed by" not in text and "still present" not in text, text
    assert re.search(r"^mm/foo\.c:\d+:\d+: error: in foo_inc\(\): .*: since %s \(revision 1\), "
                     r"not analysed after %s \(revision 2; parse errors in foo_inc\(\) at %d:\d+: "
                     r"cannot parse `n @@`\) \[lock-imbalance\]$"
                     % (r1[:12], r2[:12], GARBAGE_LINE), text, re.M), text
    assert f"{r2[:8]}?lock-imbalance" in text  # the timeline
    assert "1 finding(s) not analysed at the end of the range" in text


def test_history_seen_again_is_one_episode(make_git_repo, home):
    repo = make_git_repo({FOO: BASE}, {FOO: LEAK}, {FOO: GARBAGE}, {FOO: LEAK})
    r0, r1, r2, r3 = repo.commits
    doc = json.loads(history(home, repo, f"{r0}..{r3}", "json"))
    [f] = doc["findings"]  # one episode: not removed by r2, not introduced again by r3
    assert f["introduced"] == r1 and f["removed"] is None and f["not_analysed"] is None, f
    assert [bool(r["findings"]) for r in doc["revisions"]] == [True, False, True]
    assert [bool(r["not_analysed"]) for r in doc["revisions"]] == [False, True, False]
    text = history(home, repo, f"{r0}..{r3}")
    assert ", still present [lock-imbalance]" in text and "not analysed" not in text, text


def test_history_hidden_then_gone_is_removed_where_it_is_seen_gone(make_git_repo, home):
    fixed = LEAK.replace("\t\treturn -EINVAL;\n", "\t\tgoto out;\n").replace(
        "\tspin_unlock(&f->lock);\n", "out:\n\tspin_unlock(&f->lock);\n")
    repo = make_git_repo({FOO: BASE}, {FOO: LEAK}, {FOO: GARBAGE}, {FOO: fixed})
    r0, r1, r2, r3 = repo.commits
    doc = json.loads(history(home, repo, f"{r0}..{r3}", "json"))
    [f] = doc["findings"]
    assert f["removed"] == r3 and f["how"] == "fixed", f
    assert f["not_analysed"]["since"] == r2
    text = history(home, repo, f"{r0}..{r3}")
    assert f"not analysed after {r2[:12]}" in text
    assert f"gone when analysed again at {r3[:12]}" in text, text


# --------------------------------------------------------------------------- the other writers


def test_other_writers_say_not_analysed(make_git_repo, home, tmp_path):
    """SARIF keeps the finding (never absent), b4-check does not count it as fixed, the HTML
    report badges it, the mail reply says it is not fixed."""
    repo = make_git_repo({FOO: BASE}, {FOO: LEAK}, {FOO: GARBAGE})
    r0, r1, r2 = repo.commits
    sarif = json.loads(review(home, repo, f"{r0}..{r2}", "sarif"))
    run = sarif["runs"][0]
    [res] = run["results"]
    assert res["baselineState"] == "new" and res["properties"]["patch"] == 1
    assert res["properties"]["notAnalysed"].startswith("parse errors in foo_inc()")
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["level"] for n in notes] == ["warning"] and "not analysed" in \
        notes[0]["message"]["text"]
    hsarif = json.loads(history(home, repo, f"{r0}..{r2}", "sarif"))
    [hres] = hsarif["runs"][0]["results"]
    assert hres["baselineState"] == "new"
    assert hres["properties"]["notAnalysed"]["since"] == r2

    mbox = review(home, repo, f"{r0}..{r2}", "email")
    assert "After this patch rmaplint cannot look for a lock-imbalance" in mbox
    assert "not analysed, not fixed: parse errors in foo_inc()" in " ".join(mbox.split())

    patch = subprocess.run(["git", "format-patch", "-1", "--stdout", r2], cwd=repo.path,
                           env=dict(repo.env), capture_output=True, check=True).stdout
    b4 = subprocess.run([sys.executable, "-m", "analyzer.cli", "b4-check", "--repo",
                         str(repo.path), "--base", r1, "--no-cache"], input=patch,
                        env=clean_env(home), capture_output=True, timeout=300)
    [check] = json.loads(out_of(b4))
    assert "1 not analysed (parse errors)" in check["summary"] and "fixed" not in \
        check["summary"], check
    assert "note: not analysed after this patch: " in check["details"]

    out = tmp_path / "html"
    out_of(run_cli(home, "review", f"{r0}..{r2}", "--repo", str(repo.path), "--no-cache",
                   "--format", "html", "-o", str(out)))
    page = (out / "index.html").read_text()
    assert "b-not-analysed" in page and "not analysed at the end of the series" in page
    hout = tmp_path / "hhtml"
    out_of(run_cli(home, "history", f"{r0}..{r2}", "mm", "--repo", str(repo.path),
                   "--no-cache", "--format", "html", "-o", str(hout)))
    assert 'class="c na">?' in (hout / "index.html").read_text()
