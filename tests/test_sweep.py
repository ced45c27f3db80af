"""scripts/sweep.py: the whole-tree sweep's isolation and budgets, and the CI sample.

The sample (mm/, kernel/sched/, fs/ext4/, lib/ of Debian's linux-source-6.12) must give no
``error`` and no ``timeout`` status and under 5 % degraded functions; the full tree is swept
by hand (``python3 scripts/sweep.py TREE``), not in CI.

The watchdog tests run the sweep in this process with worker processes forked from it, after
patching what a worker will run (a file that hangs outside Python's reach, one that crashes
the interpreter, a function that never finishes its solve).
"""

from __future__ import annotations

import faulthandler
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "sweep.py"

LOCKED_FN = """\
int {name}(struct foo *x)
{{
	down_write(&x->lock);
	x->count = 1;
	up_write(&x->lock);
	return 0;
}}
"""


@pytest.fixture(scope="module")
def sweep():
    spec = importlib.util.spec_from_file_location("rmaplint_sweep", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def small_tree(root: Path) -> Path:
    deep = "int deep(struct foo *x)\n{\n" + "\t{\n" * 3000 + "\t}\n" * 3000 + "\treturn 0;\n}\n"
    return write(root, {
        "mm/a.c": LOCKED_FN.format(name="a_fn"),
        "mm/b.c": LOCKED_FN.format(name="b_fn") + LOCKED_FN.format(name="b_fn2"),
        "mm/broken.c": "int broken(struct foo *x)\n{\n\tdown_write(&x->lock);\n\tif (\n}\n",
        "mm/blob.c": b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8,
        "mm/deep.c": deep,
        "mm/x.h": "struct foo { int count; };\n",
        "mm/notes.txt": "not C",
    })


def run_sweep(sweep, root: Path, **kw):
    s = sweep.Sweep(root, sweep.list_files(root, []), progress=False, **kw)
    s.run()
    return s, {r.path: r for r in s.files}


def test_every_file_gets_a_status(sweep, tmp_path):
    root = small_tree(tmp_path / "tree")
    s, by = run_sweep(sweep, root, jobs=2, budget=5)
    assert sorted(by) == ["mm/a.c", "mm/b.c", "mm/blob.c", "mm/broken.c", "mm/deep.c",
                          "mm/x.h"]
    assert by["mm/a.c"].status == "ok" and by["mm/a.c"].functions == 1
    assert by["mm/b.c"].status == "ok" and by["mm/b.c"].functions == 2
    assert by["mm/broken.c"].status == "degraded" and by["mm/broken.c"].degraded == 1
    assert by["mm/blob.c"].status == "error" and "binary" in by["mm/blob.c"].reason
    assert by["mm/deep.c"].status == "error"
    assert by["mm/deep.c"].reason == "nesting too deep to analyse"
    assert by["mm/x.h"].status == "ok" and by["mm/x.h"].functions == 0
    summ = s.summary()
    assert (summ["files"], summ["ok"], summ["degraded"], summ["error"], summ["timeout"]) \
        == (6, 3, 1, 2, 0)
    assert summ["functions"] == 4 and summ["degraded_functions"] == 1
    assert not summ["goals_met"]
    table = s.table()
    assert "error and timeout files:" in table
    assert "  error    mm/blob.c: " in table and "slowest 10 files:" in table


def test_one_worker_per_file_gives_the_same(sweep, tmp_path, monkeypatch):
    root = small_tree(tmp_path / "tree")
    _, first = run_sweep(sweep, root, jobs=1, budget=5)
    monkeypatch.setattr(sweep, "FILES_PER_WORKER", 1)  # a fresh worker for every file
    _, again = run_sweep(sweep, root, jobs=2, budget=5)
    assert {p: (r.status, r.functions, r.degraded, r.reason) for p, r in first.items()} == \
        {p: (r.status, r.functions, r.degraded, r.reason) for p, r in again.items()}


def test_a_function_over_budget_is_a_timeout_naming_it(sweep, tmp_path, monkeypatch):
    """The per-function budget counts CPU time: a solve that spins is stopped by SIGPROF and
    the file is ``timeout``, naming the function; the worker goes on with the next file."""
    from analyzer.locks import dataflow

    base = dataflow.solve_function

    def spinning(tr, *args, **kwargs):
        if tr.fn.name == "spins":
            t = time.process_time()
            while time.process_time() - t < 60:
                pass
        return base(tr, *args, **kwargs)

    monkeypatch.setattr(dataflow, "solve_function", spinning)  # the forked workers inherit it
    root = write(tmp_path / "tree", {"mm/a.c": LOCKED_FN.format(name="a_fn"),
                                     "mm/slow.c": LOCKED_FN.format(name="fine")
                                     + LOCKED_FN.format(name="spins"),
                                     "mm/z.c": LOCKED_FN.format(name="z_fn")})
    t0 = time.monotonic()
    s, by = run_sweep(sweep, root, jobs=1, budget=0.5)
    assert time.monotonic() - t0 < 30
    assert by["mm/slow.c"].status == "timeout"
    assert by["mm/slow.c"].reason == \
        "lock-state solve of spins() exceeded the 0.5 s budget", by["mm/slow.c"]
    assert by["mm/a.c"].status == by["mm/z.c"].status == "ok"
    assert s.summary()["timeout"] == 1


def test_a_hung_or_crashed_worker_is_replaced(sweep, tmp_path, monkeypatch):
    """A worker silent past its allowance (a hang that no signal interrupts: here a sleep,
    which uses no CPU) is killed: ``timeout``; one that dies: ``error`` with the signal."""
    from analyzer.driver.run import Checker

    real = Checker.check_file

    def check_file(self, path):
        if path == "mm/hang.c":
            time.sleep(600)
        if path == "mm/crash.c":
            faulthandler.disable()  # pytest's handler, inherited: no "Fatal Python error"
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(self, path)

    monkeypatch.setattr(Checker, "check_file", check_file)
    files = {f"mm/f{i}.c": LOCKED_FN.format(name=f"fn{i}") for i in range(6)}
    files["mm/hang.c"] = LOCKED_FN.format(name="hang")
    files["mm/crash.c"] = LOCKED_FN.format(name="crash")
    root = write(tmp_path / "tree", files)

    class Quick(sweep.Sweep):
        def _parse_allowance(self, rec):
            return 3.0  # the small files here parse in milliseconds, even on a busy machine

    s = Quick(root, sweep.list_files(root, []), jobs=2, budget=5, progress=False)
    t0 = time.monotonic()
    s.run()
    assert time.monotonic() - t0 < 60
    by = {r.path: r for r in s.files}
    assert by["mm/hang.c"].status == "timeout"
    assert by["mm/hang.c"].reason.startswith("killed: no progress for "), by["mm/hang.c"]
    assert by["mm/hang.c"].reason.endswith("during reading and parsing")
    assert by["mm/crash.c"].status == "error"
    assert by["mm/crash.c"].reason == "worker died (signal 11) during reading and parsing"
    assert all(by[f"mm/f{i}.c"].status == "ok" for i in range(6))


def test_command_line(tmp_path):
    root = small_tree(tmp_path / "tree")
    out = tmp_path / "sweep.json"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, str(SCRIPT), str(root), "mm", "--exclude", "mm/x.h",
                           "--jobs", "2", "--json", str(out), "-q"], capture_output=True,
                          env=env, timeout=300)
    assert proc.returncode == 1, proc.stderr.decode()  # two error files: goals not met
    text = proc.stdout.decode()
    assert "  files          5" in text and "  error          2" in text
    assert "goals          NOT met" in text
    doc = json.loads(out.read_text())
    assert doc["summary"]["files"] == 5 and doc["summary"]["error"] == 2
    assert [f["path"] for f in doc["files"]] == ["mm/a.c", "mm/b.c", "mm/blob.c",
                                                 "mm/broken.c", "mm/deep.c"]
    bad = subprocess.run([sys.executable, str(SCRIPT), str(root / "nope")],
                         capture_output=True, env=env, timeout=60)
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr
    bad = subprocess.run([sys.executable, str(SCRIPT), str(root), "drivers/nope"],
                         capture_output=True, env=env, timeout=60)
    assert bad.returncode == 2 and bad.stderr.decode().count("\n") == 1, bad.stderr


@pytest.mark.kernel
def test_ci_sample_of_the_kernel_tree(kernel_tree, tmp_path):
    """mm/, kernel/sched/, fs/ext4/, lib/: no error, no timeout, degraded share < 5 %."""
    out = tmp_path / "sample.json"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, str(SCRIPT), str(kernel_tree), "--sample",
                           "--jobs", "2", "--json", str(out), "-q"], capture_output=True,
                          env=env, timeout=1800)
    text = proc.stdout.decode()
    doc = json.loads(out.read_text())
    s = doc["summary"]
    bad = [f"{f['path']}: {f['status']}: {f['reason']}" for f in doc["files"]
           if f["status"] not in ("ok", "degraded")]
    assert not bad, "\n".join(bad)
    assert s["error"] == 0 and s["timeout"] == 0, text
    assert s["degraded_share"] < 0.05, text
    assert proc.returncode == 0, text + proc.stderr.decode()
    listed = [p for folder in ("mm", "kernel/sched", "fs/ext4", "lib")
              for p in (kernel_tree / folder).rglob("*.[ch]") if p.is_file()
              and not p.is_symlink()]
    assert s["files"] == len(listed) > 700
    assert s["functions"] > 10000
