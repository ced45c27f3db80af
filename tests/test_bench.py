"""``benchmarks/bench.py --quick`` keeps working: every row of the table is printed with its
ratio, baseline, target and result columns, on the kernel tree and on a tiny tree of ours.

A smoke run only (a few files, one repeat): nothing here asserts a time.
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
BENCH = REPO_ROOT / "benchmarks" / "bench.py"
ROW_IDS = ("floor", "cold-j1", "cold-j2", "warm-j1", "warm-j2", "history-cold",
           "history-per-rev", "series", "b4-check", "html", "whole-files", "whole-mb",
           "rss-check", "anchor-sparse", "anchor-cocci")
RUN_IN_QUICK = ROW_IDS[:-2]  # the anchors need --anchors (and sparse, spatch, a build)
TARGETS = {"cold-j1": "≤ 3×", "cold-j2": "≤ 1.8×", "warm-j1": "≤ 0.1×", "warm-j2": "≤ 0.1×",
           "history-per-rev": "≤ 2×", "b4-check": "≤ 3×", "html": "≤ 2×", "rss-check": "≤ 1×"}
HEADER = ("id", "figure", "median", "baseline", "baseline median", "ratio", "target",
          "result", "peak RSS")

# A tiny tree in kernel style, written for these tests (not kernel source).
RMAP_H = """\
/* SPDX-License-Identifier: GPL-2.0 */
/* A few declarations in the shape of include/linux/rmap.h, written for rmaplint's tests. */
#ifndef _LINUX_RMAP_H
#define _LINUX_RMAP_H

struct rw_semaphore { int count; };

struct anon_vma {
	struct anon_vma *root;
	struct rw_semaphore rwsem;
	int refcount;
};

void down_write(struct rw_semaphore *sem);
void up_write(struct rw_semaphore *sem);

static inline void anon_vma_lock_write(struct anon_vma *anon_vma)
{
	down_write(&anon_vma->root->rwsem);
}

static inline void anon_vma_unlock_write(struct anon_vma *anon_vma)
{
	up_write(&anon_vma->root->rwsem);
}

#endif
"""


def tiny_c(name: str, n: int) -> str:
    fns = "".join(f"""
static int {name}_bump_{i}(struct anon_vma *anon_vma, int *count)
{{
	int ret = 0;

	anon_vma_lock_write(anon_vma);
	if (*count > {i})
		ret = -1;
	else
		*count += {i};
	anon_vma_unlock_write(anon_vma);
	return ret;
}}
""" for i in range(n))
    return f"// SPDX-License-Identifier: GPL-2.0\n/* {name}.c: written for rmaplint's tests. */\n" \
           f"#include <linux/rmap.h>\n{fns}"


def make_tiny_tree(root: Path) -> Path:
    (root / "mm").mkdir(parents=True)
    (root / "include" / "linux").mkdir(parents=True)
    (root / "include" / "linux" / "rmap.h").write_text(RMAP_H)
    for i, name in enumerate(("alpha", "beta", "gamma", "delta", "epsilon")):
        (root / "mm" / f"{name}.c").write_text(tiny_c(name, i + 2))
    (root / "lib").mkdir()
    (root / "lib" / "omega.c").write_text(tiny_c("omega", 3))
    (root / ".clang-format").write_text("ForEachMacros:\n  - 'list_for_each_entry'\n")
    return root


def run_bench(tmp_path: Path, tree: Path) -> tuple[subprocess.CompletedProcess, dict]:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") and k != "RMAPLINT_DEBUG"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / "xdg-cache"))
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--tree", str(tree),
                           "--json", str(out)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, json.loads(out.read_text())


def check_table(stdout: str, doc: dict) -> None:
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("id "))
    columns = re.split(r"\s{2,}", lines[head].strip())
    assert tuple(columns) == HEADER
    assert set(lines[head + 1].replace(" ", "")) == {"-"}
    body = {line.split()[0]: line for line in lines[head + 2:head + 2 + len(ROW_IDS)]}
    assert tuple(body) == ROW_IDS  # every row, in order
    ratio_at = lines[head].index("ratio")
    for rid, line in body.items():
        cell = line[ratio_at:].split()[0]
        if rid in RUN_IN_QUICK:
            assert re.fullmatch(r"[0-9.e+-]+×", cell), (rid, line)
        else:
            assert cell == "n/a", (rid, line)
        if rid in TARGETS:
            assert TARGETS[rid] in line and re.search(r"\b(met|MISSED)\b", line), line
    rows = {r["id"]: r for r in doc["rows"]}
    assert tuple(rows) == ROW_IDS
    for rid in RUN_IN_QUICK:
        r = rows[rid]
        assert r["value"] is not None and r["baseline"] is not None, r
        assert r["ratio"] is not None and r["runs"] >= 1 and r["peak_rss_bytes"] > 0, r
        assert r["result"] in (("met", "MISSED") if rid in TARGETS else ("—",)), r
    for rid in ("anchor-sparse", "anchor-cocci"):
        assert rows[rid]["status"].startswith("not run"), rows[rid]
    assert "--quick" in doc["meta"]["mode"]
    assert not [n for n in doc["notes"] if n.startswith("failed:")], doc["notes"]


@pytest.mark.kernel
def test_quick_bench_on_the_kernel_tree(kernel_tree, tmp_path):
    proc, doc = run_bench(tmp_path, kernel_tree)
    check_table(proc.stdout, doc)
    assert doc["meta"]["tree_label"] == "linux-source-6.12"


def test_quick_bench_on_a_tiny_tree(tmp_path):
    tree = make_tiny_tree(tmp_path / "tiny")
    proc, doc = run_bench(tmp_path, tree)
    check_table(proc.stdout, doc)
    notes = "\n".join(doc["notes"])
    assert "whole tree: 6 .c files" in notes and "measured all of them" in notes
    assert not (tree / ".git").exists()  # the tree is read, never written


def test_bench_needs_a_tree(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--tree",
                           str(tmp_path / "none")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert "no kernel tree" in proc.stderr


def test_benchmarks_are_not_part_of_the_package():
    assert not (REPO_ROOT / "benchmarks" / "__init__.py").exists()
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert "benchmarks" not in pyproject
    for path in (REPO_ROOT / "analyzer").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(from|import)\s+benchmarks\b", text, re.M), path
        assert "bench.py" not in text, path
