"""review --unittests: the corpus series with its own small suite (corpus/history, ours)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_review_shows_suite_results_per_patch(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-m", "analyzer.cli", "demo", "--no-cache",
                          "--unittests", "--format", "json", "--reports-dir",
                          str(tmp_path / "reports")],
                         cwd=tmp_path, capture_output=True, text=True, env=env)
    assert out.returncode in (0, 1), out.stderr
    doc = json.loads(out.stdout)
    per_patch = [{u["suite"]: u for u in p["unittests"]} for p in doc["patches"]]
    assert [list(p) for p in per_patch] == [["vma"], ["vma"], ["vma"]]
    vma = [p["vma"] for p in per_patch]
    # patch 2 touches mm/counter.c, which the suite compiles: rebuilt; the others reuse
    assert [u["reused"] for u in vma] == [True, False, True]
    assert {u["status"] for u in vma} <= {"passed", "missing-dependency"}
    if vma[1]["status"] == "passed":
        assert vma[1]["tests_run"] == vma[1]["passed"] == 3
        assert (tmp_path / "reports" / "unittests" / "patch-2" / "vma" / "build.log").is_file()
    text = subprocess.run([sys.executable, "-m", "analyzer.cli", "demo", "--no-cache",
                           "--unittests", "--reports-dir", str(tmp_path / "reports")],
                          cwd=tmp_path, capture_output=True, text=True, env=env).stdout
    assert text.count("unittest vma: ") == 3
    assert text.count("not rebuilt") == 2
