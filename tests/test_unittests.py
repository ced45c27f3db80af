"""`rmaplint unittest`: every status on our own stand-in suites (corpus/unittests/, C written
for these tests in the layout and output formats of the kernel's tools/testing/ suites), the
parsers on output written in the same formats, and the real tools/testing/vma of Debian's
linux-source-6.12 (marked ``kernel``; built in a temporary copy, never in the fixture's tree).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from analyzer.unittests import runner as ut
from analyzer.cli.main import main
from analyzer.errors import UsageError
from analyzer.report.unittests import unittest_text

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = REPO_ROOT / "corpus" / "unittests"
TABLE = CORPUS / "unittests.toml"
ALL = ["vma", "radix-tree", "kunit:lib/fakekunit"]
SUITE_KEYS = {"suite", "status", "tests_run", "passed", "failed", "failures", "first_error",
              "log"}
FAILURE_KEYS = {"test", "message", "location"}

needs_cc = pytest.mark.skipif(shutil.which("cc") is None or shutil.which("make") is None,
                              reason="needs cc and make (Debian build-essential)")


@pytest.fixture(scope="module")
def table() -> ut.Table:
    return ut.load_table(TABLE)


def line_of(path: Path, needle: str, after: str | None = None) -> int:
    """1-based number of the first line containing ``needle`` (after the line containing
    ``after``, when given)."""
    lines = path.read_text().splitlines()
    start = 0
    if after is not None:
        start = next(i for i, ln in enumerate(lines) if after in ln)
    return next(i for i, ln in enumerate(lines) if i >= start and needle in ln) + 1


def snapshot(tree: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(tree)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in tree.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def by_name(results) -> dict[str, ut.SuiteResult]:
    return {r.suite: r for r in results}


# --------------------------------------------------------------------------- the table


def test_builtin_table_names_the_kernel_suites():
    t = ut.load_table()
    assert {"vma", "radix-tree"} <= set(t.suites)
    vma = t.suite("vma")
    assert vma.path == "tools/testing/vma" and vma.format in ut.PARSERS
    assert "liburcu-dev" in vma.packages.values() and "urcu.h" in vma.requires
    k = t.suite("kunit:lib/kunit")
    assert k.name == "kunit:lib/kunit" and "lib/kunit" in k.present and k.format == "ktap"
    assert k.slug == "kunit-lib_kunit"
    for name in t.suites:
        assert t.suite(name).format in ut.PARSERS


@pytest.mark.parametrize("name", ["nosuch", "kunit:", "kunit:../etc", "kunit:/abs", "nosuch:x"])
def test_unknown_or_bad_suite_is_a_usage_error(name):
    with pytest.raises(UsageError):
        ut.load_table().suite(name)


def test_suites_affected_by_the_table():
    assert ut.suites_affected(["mm/vma.c"], "vma")
    assert ut.suites_affected(["./tools/testing/vma/vma_internal.h"], "vma")
    assert ut.suites_affected(["lib/maple_tree.c", "README"], "vma")
    assert not ut.suites_affected(["mm/rmap.c", "mm/memory.c"], "vma")
    assert ut.suites_affected(["lib/xarray.c"], "radix-tree")
    assert not ut.suites_affected(["mm/vma.c"], "radix-tree")
    assert ut.suites_affected(["lib/kunit/test.c"], "kunit:lib/kunit")
    assert not ut.suites_affected([], "vma")


def test_suite_sources_follow_includes_and_makefiles(table):
    tree = CORPUS / "tree-pass"
    src = ut.suite_sources(tree, "vma", table=table)
    assert {"tools/testing/vma/vma.c", "tools/testing/vma/Makefile", "mm/counter.c"} <= src
    assert ut.suites_affected(["mm/counter.c"], "vma", table=table, tree=tree)
    assert not ut.suites_affected(["lib/fakekunit/.kunitconfig"], "vma", table=table,
                                  tree=tree)


# --------------------------------------------------------------------------- statuses


@needs_cc
def test_passing_suites_report_counts_and_keep_logs(tmp_path, table, monkeypatch):
    tree = tmp_path / "tree"
    shutil.copytree(CORPUS / "tree-pass", tree)
    before = snapshot(tree)
    tmp_before = set(Path(tempfile.gettempdir()).glob("rmaplint-unittest-*"))
    prepared = ut.Prepared("none")
    res = by_name(ut.run_suites(tree, ALL, 2, tmp_path / "reports", table=table,
                                prepared=prepared))
    for r in res.values():
        assert r.status == "passed", (r.suite, r.detail, r.failures, r.first_error)
        assert r.failures == [] and r.first_error is None
    assert (res["vma"].tests_run, res["vma"].passed, res["vma"].failed) == (3, 3, 0)
    assert (res["radix-tree"].tests_run, res["radix-tree"].passed) == (4, 4)
    assert (res["kunit:lib/fakekunit"].tests_run, res["kunit:lib/fakekunit"].failed) == (2, 0)
    build = tmp_path / "reports" / "vma" / "build.log"
    run = tmp_path / "reports" / "vma" / "run.log"
    assert res["vma"].build_log == build and res["vma"].run_log == run
    assert "make -j2" in build.read_text() and "3 tests run" in run.read_text()
    assert (tmp_path / "reports" / "kunit-lib_fakekunit" / "run.log").is_file()
    # built in a temporary copy: the tree is as it was, and the copy is gone
    assert snapshot(tree) == before
    assert prepared.method == "hardlink" and prepared.seconds >= 0

    # vma alone reads tools/ and mm/ only: the copy has no lib/ (the kunit stand-in's)
    seen = {}
    real_one = ut.run_one

    def spy(root, suite, *a, **kw):
        seen[suite.name] = sorted(p.name for p in root.iterdir())
        return real_one(root, suite, *a, **kw)

    monkeypatch.setattr(ut, "run_one", spy)
    [r] = ut.run_suites(tree, ["vma"], 1, tmp_path / "reports", table=table)
    assert r.status == "passed" and seen["vma"] == ["mm", "tools"]
    assert set(Path(tempfile.gettempdir()).glob("rmaplint-unittest-*")) <= tmp_before


@needs_cc
def test_failing_tests_name_the_test_the_assert_and_file_line(tmp_path, table):
    tree = CORPUS / "tree-fail"
    res = by_name(ut.run_suites(tree, ALL, 2, tmp_path / "r", table=table))
    vma = res["vma"]
    assert vma.status == "tests-failed"
    assert (vma.tests_run, vma.passed, vma.failed) == (3, 2, 1)
    [f] = vma.failures
    assert f.test == "reset"
    assert "c.value" in f.message and "is FALSE" in f.message and "test_reset" in f.message
    line = line_of(tree / "tools/testing/vma/vma.c", "ASSERT_EQ(c.value, 0)",
                   after="test_reset(void)")
    assert f.location == f"tools/testing/vma/vma.c:{line}"

    rt = res["radix-tree"]
    assert rt.status == "tests-failed" and (rt.tests_run, rt.passed, rt.failed) == (4, 3, 1)
    assert rt.failures[0].test == "XArray" and "BUG at check_sums()" in rt.failures[0].message

    k = res["kunit:lib/fakekunit"]
    assert k.status == "tests-failed" and (k.tests_run, k.passed, k.failed) == (2, 1, 1)
    [kf] = k.failures
    assert kf.test == "counter.counter_limit_test"
    assert kf.location == "lib/fakekunit/counter_test.c:21"
    assert kf.message.startswith("Expected c.value == 3")


@needs_cc
def test_link_failure_is_build_failed_with_the_first_error(tmp_path, table):
    tree = CORPUS / "tree-nobuild"
    [r] = ut.run_suites(tree, ["vma"], 2, tmp_path / "r", table=table)
    assert r.status == "build-failed", (r.detail, r.first_error)
    assert r.tests_run is None and r.failures == [] and r.run_log is None
    assert "undefined reference to `counter_poison'" in r.first_error.message
    assert "counter_reset" in r.first_error.message
    line = line_of(tree / "mm/counter.c", "counter_poison(c);")
    assert r.first_error.location == f"mm/counter.c:{line}"


@needs_cc
def test_missing_header_in_the_log_is_missing_dependency(tmp_path, table):
    [r] = ut.run_suites(CORPUS / "tree-nodep", ["vma"], 1, tmp_path / "r", table=table)
    assert r.status == "missing-dependency"
    assert r.package == "rmaplint-fake-dep-dev"
    assert "rmaplint-fake-dep.h" in r.first_error.message
    line = line_of(CORPUS / "tree-nodep/tools/testing/vma/vma.c", "<rmaplint-fake-dep.h>")
    assert r.first_error.location == f"tools/testing/vma/vma.c:{line}"
    assert "rmaplint-fake-dep-dev" in unittest_text(
        ut.UnittestRun("t", None, [r], ut.Prepared("hardlink")))


def test_precheck_finds_a_missing_header_or_program_without_building(tmp_path, table):
    vma = table.suite("vma")
    header = dataclasses.replace(vma, requires=("rmaplint-fake-dep.h",))
    r = ut.run_one(CORPUS / "tree-pass", header, 1, tmp_path / "h")
    assert (r.status, r.package) == ("missing-dependency", "rmaplint-fake-dep-dev")
    assert "$ make" not in r.build_log.read_text()  # nothing was built

    prog = dataclasses.replace(vma, programs=("rmaplint-no-such-tool",),
                               program_packages={"rmaplint-no-such-tool": "rmaplint-tools"})
    r = ut.run_one(CORPUS / "tree-pass", prog, 1, tmp_path / "p")
    assert (r.status, r.package) == ("missing-dependency", "rmaplint-tools")

    # a build command that does not exist at all: its package, never a traceback
    gone = dataclasses.replace(vma, programs=(), build=("rmaplint-no-such-make",),
                               program_packages={"rmaplint-no-such-make": "rmaplint-make"})
    r = ut.run_one(tmp_path, gone, 1, tmp_path / "g", skip_precheck=True)
    assert (r.status, r.package) == ("missing-dependency", "rmaplint-make")


def child_pid(run_log: Path) -> int:
    """The pid that the hanging stand-in's child printed (tree-slow)."""
    for _ in range(100):
        m = re.search(r"^hang: child (\d+)$", run_log.read_text(), re.M) \
            if run_log.is_file() else None
        if m:
            return int(m.group(1))
        time.sleep(0.1)
    pytest.fail(f"no child pid in {run_log}")


def assert_gone(pid: int) -> None:
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"the suite's child {pid} outlived its suite")


@needs_cc
def test_timeout_kills_the_whole_process_group(tmp_path, table):
    start = time.monotonic()
    # run timeout 30 s * 0.05 = 1.5 s; the build's 120 s * 0.05 = 6 s is plenty for one file
    [r] = ut.run_suites(CORPUS / "tree-slow", ["vma"], 1, tmp_path / "r", timeout_scale=0.05,
                        table=table)
    assert time.monotonic() - start < 30
    assert r.status == "timed-out", (r.detail, r.first_error)
    assert "run timed out" in r.detail
    assert_gone(child_pid(r.run_log))
    assert "timed out" in r.run_log.read_text()


@needs_cc
def test_sigterm_kills_the_suite_and_removes_the_copy(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TMPDIR": str(tmp)}
    env.pop("RMAPLINT_DEBUG", None)
    reports = tmp_path / "r"
    proc = subprocess.Popen(
        [sys.executable, "-m", "analyzer.cli", "unittest", "--tree", str(CORPUS / "tree-slow"),
         "--suite", "vma", "--table", str(TABLE), "--reports-dir", str(reports)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        pid = child_pid(reports / "vma" / "run.log")
        assert any(tmp.iterdir())  # the temporary copy
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode in (130, 143) and b"Traceback" not in err, err
    assert_gone(pid)
    assert list(tmp.iterdir()) == []


def test_build_timeout_is_timed_out(tmp_path, table):
    slow = dataclasses.replace(table.suite("vma"), programs=(), build=("sleep", "30"),
                               build_timeout=0.5)
    start = time.monotonic()
    r = ut.run_one(CORPUS / "tree-pass", slow, 1, tmp_path / "r", skip_precheck=True)
    assert time.monotonic() - start < 15
    assert r.status == "timed-out" and "build timed out" in r.detail


def test_tree_without_the_suite_is_not_present(tmp_path, table):
    res = ut.run_suites(CORPUS / "tree-empty", ALL, 1, tmp_path / "r", table=table)
    assert [r.status for r in res] == ["not-present"] * 3
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("*.log"))


def test_no_reports_dir_keeps_no_logs(tmp_path, table):
    [r] = ut.run_suites(CORPUS / "tree-empty", ["vma"], 1, None, table=table)
    assert r.status == "not-present" and r.log is None


# --------------------------------------------------------------------------- the copy


def test_copy_links_sources_and_copies_tools(tmp_path):
    tree = tmp_path / "t"
    (tree / "mm").mkdir(parents=True)
    (tree / "mm/a.c").write_text("int a;\n")
    (tree / "tools/testing/x").mkdir(parents=True)
    (tree / "tools/testing/x/Makefile").write_text("all:\n")
    (tree / ".git").mkdir()
    (tree / ".git/HEAD").write_text("ref: refs/heads/main\n")
    prepared = ut.Prepared("none")
    with ut.prepared_copy(tree, prepared) as root:
        assert prepared.method == "hardlink"
        assert (root / "mm/a.c").stat().st_ino == (tree / "mm/a.c").stat().st_ino
        assert (root / "tools/testing/x/Makefile").stat().st_ino != \
            (tree / "tools/testing/x/Makefile").stat().st_ino
        assert not (root / ".git").exists()
        kept = root
    assert not kept.exists()


def test_copy_falls_back_to_a_real_copy(tmp_path, monkeypatch):
    tree = tmp_path / "t"
    (tree / "mm").mkdir(parents=True)
    (tree / "mm/a.c").write_text("int a;\n")
    real_run = subprocess.run

    def no_links(argv, *a, **kw):
        if argv[:2] == ["cp", "-al"]:
            return subprocess.CompletedProcess(argv, 1, b"", b"cp: cannot create hard link")
        return real_run(argv, *a, **kw)

    monkeypatch.setattr(ut.subprocess, "run", no_links)
    prepared = ut.Prepared("none")
    with ut.prepared_copy(tree, prepared) as root:
        assert prepared.method == "copy"
        assert (root / "mm/a.c").read_text() == "int a;\n"
        assert (root / "mm/a.c").stat().st_ino != (tree / "mm/a.c").stat().st_ino


# --------------------------------------------------------------------------- parsers


def loc(cwd: str = "tools/testing/vma") -> ut._Locator:
    return ut._Locator(Path("/tmp/rmaplint-unittest-x/tree"), cwd)


def test_first_build_error_forms():
    cc = ("cc -c -o a.o a.c\n"
          "In file included from vma.c:23:\n"
          "../../../mm/vma.c:12:5: error: 'foo' undeclared (first use in this function)\n"
          "make: *** [Makefile:3: vma.o] Error 1\n")
    e = ut.first_build_error(cc, loc())
    assert (e.location, e.message) == ("mm/vma.c:12", "'foo' undeclared (first use in this "
                                                       "function)")
    ld = ("/usr/bin/ld: vma.o: in function `remove_vma':\n"
          "/tmp/rmaplint-unittest-x/tree/tools/testing/vma/../../../mm/vma.c:332: "
          "undefined reference to `vma_close'\n"
          "collect2: error: ld returned 1 exit status\n")
    e = ut.first_build_error(ld, loc())
    assert e.location == "mm/vma.c:332"
    assert e.message == "undefined reference to `vma_close' (in function remove_vma())"
    nodebug = ("/usr/bin/ld: vma.o: in function `main':\n"
               "vma.c:(.text+0x1a): undefined reference to `gone'\n")
    e = ut.first_build_error(nodebug, loc())
    assert e.location == "tools/testing/vma/vma.c" and "`gone'" in e.message
    assert ut.first_build_error("make: *** No rule to make target 'x'.  Stop.\n",
                                loc()).message.startswith("make: ***")


def test_missing_dependency_forms(table):
    vma = ut.load_table().suite("vma")
    assert ut.missing_dependency(vma, "../../lib/slab.c:6:10: fatal error: urcu/uatomic.h: "
                                      "No such file or directory\n")[0] == "liburcu-dev"
    assert ut.missing_dependency(vma, "/usr/bin/ld: cannot find -lurcu: No such file or "
                                      "directory\n")[0] == "liburcu-dev"
    assert ut.missing_dependency(vma, "./vma: error while loading shared libraries: "
                                      "liburcu.so.8: cannot open shared object file\n")[0] \
        == "liburcu-dev"
    assert ut.missing_dependency(vma, "make: cc: No such file or directory\n")[0] \
        == "build-essential"
    # a header of the tree itself that is missing is the tree's problem: no package
    assert ut.missing_dependency(vma, "vma.c:8:10: fatal error: vma_internal.h: No such "
                                      "file or directory\n") is None


def test_tests_run_format_pairs_asserts_with_tests():
    out = ("Assert FAILED at vma.c:120:test_merge_new(): vma->vm_start == 0 is FALSE.\n"
           "Test merge_new FAILED\n"
           "Test copy_vma FAILED\n"
           "15 tests run, 13 passed, 2 failed.\n")
    p = ut.parse_tests_run(out, loc())
    assert (p.tests_run, p.passed, p.failed, p.complete) == (15, 13, 2, True)
    assert [f.test for f in p.failures] == ["merge_new", "copy_vma"]
    assert p.failures[0].location == "tools/testing/vma/vma.c:120"
    assert p.failures[0].message == "vma->vm_start == 0 is FALSE (in test_merge_new())"
    assert p.failures[1].location is None


def test_crash_before_the_summary_is_tests_failed(tmp_path, table):
    crash = dataclasses.replace(
        table.suite("vma"), programs=(), build=("true",), binary=None,
        run=(("sh", "-c", "echo '==1==ERROR: AddressSanitizer: heap-use-after-free on "
                          "address 0x1'; exit 1"),))
    r = ut.run_one(tmp_path, dataclasses.replace(crash, cwd="."), 1, tmp_path / "r",
                   skip_precheck=True)
    assert r.status == "tests-failed"
    assert "AddressSanitizer: heap-use-after-free" in r.failures[0].message
    assert "before its summary" in r.failures[0].message


def test_ktap_nesting_params_skips_and_flat_output():
    ktap = "\n".join([
        "KTAP version 1", "1..2",
        "    KTAP version 1", "    # Subtest: alpha", "    1..3",
        "    ok 1 alpha_one",
        "    # alpha_two: EXPECTATION FAILED at lib/alpha_test.c:40",
        "    Expected x == 1, but", "        x == 0 (0x0)",
        "    not ok 2 alpha_two",
        "        KTAP version 1", "        # Subtest: alpha_param", "        1..2",
        "        ok 1 value 1", "        ok 2 value 2 # SKIP unsupported",
        "    ok 3 alpha_param",
        "# alpha: pass:2 fail:1 skip:0 total:3",
        "not ok 1 alpha",
        "    KTAP version 1", "    # Subtest: empty", "    1..0",
        "ok 2 empty # SKIP",
        ""])
    p = ut.parse_ktap(ktap, loc("."))
    assert (p.tests_run, p.passed, p.failed, p.complete) == (3, 2, 1, True)
    [f] = p.failures
    assert (f.test, f.location) == ("alpha.alpha_two", "lib/alpha_test.c:40")
    assert f.message == "Expected x == 1, but x == 0 (0x0)"
    flat = "\n".join(ln.strip() for ln in ktap.splitlines())
    q = ut.parse_ktap(flat, loc("."))
    assert (q.tests_run, q.failed) == (p.tests_run, p.failed)
    stamped = "\n".join(f"[    1.234567] {ln}" for ln in ktap.splitlines())
    assert ut.parse_ktap(stamped, loc(".")).tests_run == 3


# --------------------------------------------------------------------------- the CLI


def run_cli(capsys, *args) -> tuple[int, str, str]:
    rc = main(["unittest", *args])
    out, err = capsys.readouterr()
    return rc, out, err


@needs_cc
def test_cli_json_schema_and_exit_codes(tmp_path, capsys):
    rc, out, err = run_cli(capsys, "--tree", str(CORPUS / "tree-pass"), "--suite", "vma",
                           "--table", str(TABLE), "--reports-dir", str(tmp_path / "r"),
                           "--format", "json", "-j", "2")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["schema"] == "rmaplint-unittest/1"
    [s] = doc["suites"]
    assert SUITE_KEYS <= set(s) and s["status"] == "passed" and s["tests_run"] == 3
    assert s["log"] == str(tmp_path / "r" / "vma" / "run.log")

    rc, out, err = run_cli(capsys, "--tree", str(CORPUS / "tree-fail"), "--suite",
                           "vma,kunit:lib/fakekunit", "--table", str(TABLE),
                           "--reports-dir", str(tmp_path / "r"), "--format", "json")
    assert rc == 1, err
    doc = json.loads(out)
    assert [s["status"] for s in doc["suites"]] == ["tests-failed", "tests-failed"]
    for s in doc["suites"]:
        assert s["failures"] and all(FAILURE_KEYS <= set(f) for f in s["failures"])

    rc, out, err = run_cli(capsys, "--tree", str(CORPUS / "tree-empty"), "--table",
                           str(TABLE), "--reports-dir", str(tmp_path / "r"))
    assert rc == 0, err  # not-present is not a failure
    assert "not-present" in out


@needs_cc
def test_cli_text_report(tmp_path, capsys):
    rc, out, err = run_cli(capsys, "--tree", str(CORPUS / "tree-nobuild"), "--suite", "vma",
                           "--table", str(TABLE), "--reports-dir", str(tmp_path / "r"))
    assert rc == 1 and err == ""
    assert "build-failed" in out and "mm/counter.c:" in out and "counter_poison" in out
    assert str(tmp_path / "r" / "vma" / "build.log") in out
    rc, out, _ = run_cli(capsys, "--tree", str(CORPUS / "tree-fail"), "--suite", "vma",
                         "--table", str(TABLE), "--reports-dir", str(tmp_path / "r"))
    assert rc == 1 and "FAILED reset: tools/testing/vma/vma.c:" in out


@pytest.mark.parametrize("args,needle", [
    (["--suite", "nosuch"], "unknown suite 'nosuch'"),
    (["--tree", "/nonexistent/rmaplint"], "no such directory"),
    (["--tree", ".", "--rev", "HEAD"], "--tree cannot be combined"),
    (["--jobs", "0"], "--jobs"),
    (["--timeout-scale", "0"], "--timeout-scale"),
    (["--table", "/nonexistent/t.toml"], "cannot read"),
])
def test_cli_usage_errors_are_one_line(capsys, tmp_path, args, needle, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = run_cli(capsys, *args)
    assert rc == 2 and out == ""
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err


@needs_cc
def test_cli_revision_builds_in_a_worktree_that_is_removed(tmp_path, capsys, make_git_repo):
    files = {str(p.relative_to(CORPUS / "tree-pass")): p.read_bytes()
             for p in (CORPUS / "tree-pass").rglob("*") if p.is_file()}
    broken = {"mm/counter.c": (CORPUS / "tree-fail/mm/counter.c").read_bytes()}
    repo = make_git_repo(files, broken, name="kernel")
    rc, out, err = run_cli(capsys, "--repo", str(repo.path), "--rev", repo.commits[0],
                           "--suite", "vma", "--table", str(TABLE), "--reports-dir",
                           str(tmp_path / "r"), "--format", "json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["rev"] == repo.commits[0] and doc["prepared"]["method"] == "worktree"
    assert doc["suites"][0]["status"] == "passed"
    rc, out, err = run_cli(capsys, "--repo", str(repo.path), "--suite", "vma", "--table",
                           str(TABLE), "--reports-dir", str(tmp_path / "r"), "--format",
                           "json")
    assert rc == 1 and json.loads(out)["suites"][0]["status"] == "tests-failed"
    # the worktree is gone, and the repository's own tree was never built in
    assert len(repo.git("worktree", "list").splitlines()) == 1
    assert repo.git("status", "--porcelain", "--ignored") == ""
    rc, _, err = run_cli(capsys, "--repo", str(repo.path), "--rev", "no-such-rev")
    assert rc == 2 and "unknown revision" in err


@needs_cc
def test_cli_in_place_builds_in_the_tree(tmp_path, capsys):
    tree = tmp_path / "tree"
    shutil.copytree(CORPUS / "tree-pass", tree)
    rc, _, err = run_cli(capsys, "--tree", str(tree), "--suite", "vma", "--in-place",
                         "--table", str(TABLE), "--reports-dir", str(tmp_path / "r"))
    assert rc == 0, err
    assert (tree / "tools/testing/vma/vma").is_file()


# --------------------------------------------------------------------------- the real tree


@pytest.mark.kernel
def test_table_covers_what_the_real_suites_include(kernel_tree):
    t = ut.load_table()
    for name in ("vma", "radix-tree"):
        s = t.suite(name)
        src = ut.suite_sources(kernel_tree, s)
        assert f"{s.path}/Makefile" in src and "lib/xarray.c" in src
        pats = [ut._glob_re(p) for p in s.sources]
        uncovered = sorted(p for p in src if not any(r.match(p) for r in pats))
        assert uncovered == [], f"{name}: rules/unittests.toml sources miss {uncovered}"
        tops = {p.split("/")[0] for p in src}
        assert tops <= set(s.copy), f"{name}: rules/unittests.toml copy misses {tops}"
    assert "mm/vma.c" in ut.suite_sources(kernel_tree, "vma")


@pytest.mark.kernel
def test_real_vma_suite(kernel_tree, tmp_path, capsys):
    if shutil.which("cc") is None or shutil.which("make") is None:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail("CI must install build-essential (see .ci/run)")
        pytest.skip("needs build-essential")
    suite_dir = kernel_tree / "tools/testing/vma"
    before = sorted(p.name for p in suite_dir.iterdir())
    start = time.monotonic()
    rc, out, err = run_cli(capsys, "--tree", str(kernel_tree), "--suite", "vma", "--format",
                           "json", "--reports-dir", str(tmp_path / "reports"), "-j", "2")
    seconds = time.monotonic() - start
    assert "Traceback" not in err
    doc = json.loads(out)
    [s] = doc["suites"]
    assert SUITE_KEYS <= set(s)
    assert s["status"] in ut.STATUSES
    assert s["status"] != "not-present"  # 6.12 has tools/testing/vma
    assert rc == (0 if s["status"] == "passed" else 1)
    if s["status"] == "passed":
        assert s["tests_run"] > 0 and s["passed"] == s["tests_run"] and s["failed"] == 0
    elif s["status"] == "build-failed":
        fe = s["first_error"]
        assert fe and fe["message"] and ":" in (fe["location"] or "")
        path, _, line = fe["location"].rpartition(":")
        assert line.isdigit() and (kernel_tree / path).is_file(), fe
    elif s["status"] == "tests-failed":
        assert s["failures"] and all(f["test"] or f["message"] for f in s["failures"])
    elif s["status"] == "missing-dependency":
        assert s["package"]
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"CI must install {s['package']} (see .ci/run)")
    with capsys.disabled():
        print(f"\nreal tools/testing/vma: {s['status']} in {seconds:.1f}s "
              f"(copy {doc['prepared']['method']} {doc['prepared']['seconds']}s, "
              f"build {s['seconds']['build']}s): "
              + json.dumps(s["first_error"] or s["failures"] or
                           [s["tests_run"], s["passed"], s["failed"]]))
    # never built in the fixture's tree
    assert sorted(p.name for p in suite_dir.iterdir()) == before
