#!/usr/bin/env python3
"""rmaplint's benchmark: one command, one table of medians, each figure beside a baseline
measured in the same run (these machines are noisy: absolute seconds vary, ratios less).

    python3 benchmarks/bench.py [--tree DIR] [--repeats N] [--quick] [--anchors] [--profile]
                                [--json FILE]

What is measured (on Debian's linux-source-6.12 unless --tree names another tree):

  floor      bare tree-sitter parse of every mm/**/*.c (read + parse, one process)
  cold       rmaplint check mm/ with an empty cache, --jobs 1 and --jobs 2
  warm       the same with the cache the cold run filled
  history    a throwaway repository (the tree's mm/, include/, .clang-format as one commit,
             then 20 synthetic commits of ours touching one or two mm files each): history
             over the range, cold, and the cost of each extra revision against a cold check
             of just the files that revision changes
  series     review of the last 3 commits of that repository, cold
  whole      files/s and MB/s over every .c of the tree (a fixed, evenly spread subset when
             the whole would exceed --whole-cap; the output says so), one run
  anchors    (--anchors) sparse (make C=2 mm/) and Coccinelle (make coccicheck with the
             kernel's four scripts/coccinelle/locks/*.cocci over mm/) on a prepared tree

Every measurement is a subprocess: the real CLI (``python -m analyzer.cli`` of this checkout,
through PYTHONPATH) with --cache-dir in a temporary folder; the floor is this file run as
``bench.py _floor LIST``. Wall clock per run; the median over --repeats (rounds interleave
the figures, so drift hits a figure and its baseline alike). Peak RSS is the largest sum of
the resident sets of the process tree (sampled from /proc every 0.2 s) or the child's own
ru_maxrss from os.wait4, whichever is larger; the maximum over the repeats.

Nothing here is imported by the ``analyzer`` package, and the test suite runs only
``--quick`` (a few files, one repeat) and asserts no timing.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KERNEL_DIRNAME = "linux-source-6.12"
KERNEL_TARBALL = Path("/usr/src/linux-source-6.12.tar.xz")
MiB = 1024 * 1024
GiB = 1024 * MiB
HISTORY_COMMITS = 20
SERIES_PATCHES = 3
COCCI_LOCKS = ("call_kern.cocci", "double_lock.cocci", "flags.cocci", "mini_lock.cocci")
GET_ANCHORS = "apt-get install sparse coccinelle"


# ============================================================================ the floor

def floor_main(list_file: str) -> int:
    """``bench.py _floor LIST``: read and parse every file LIST names (one path a line) with
    tree-sitter-c in this one process; print {"files", "bytes", "seconds"} as JSON."""
    t0 = time.perf_counter()
    import tree_sitter as ts
    import tree_sitter_c as tsc

    parser = ts.Parser(ts.Language(tsc.language()))
    files = nbytes = errors = 0
    for line in Path(list_file).read_text().splitlines():
        if not line:
            continue
        with open(line, "rb") as f:
            data = f.read()
        tree = parser.parse(data)
        errors += tree.root_node.has_error
        files += 1
        nbytes += len(data)
    print(json.dumps({"files": files, "bytes": nbytes, "with_errors": errors,
                      "seconds": time.perf_counter() - t0}))
    return 0


# ============================================================================ measuring

@dataclass
class Sample:
    wall: float
    rss: int  # bytes: peak of the process tree (sampled sum) or ru_maxrss, the larger
    rc: int
    out: str = ""
    err: str = ""
    timed_out: bool = False
    extra: dict = field(default_factory=dict)


def _ppid_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return children
    for d in names:
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                s = f.read()
        except OSError:
            continue
        try:
            ppid = int(s[s.rindex(b")") + 2:].split()[1])
        except (ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    return children


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def tree_rss(pid: int) -> int:
    """Sum of the resident sets of ``pid`` and its descendants (bytes; 0 without /proc)."""
    children = _ppid_map()
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/statm", "rb") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            pass
        stack.extend(children.get(p, ()))
    return total


def run_measured(argv: list[str], *, cwd=None, env=None, timeout: float | None = None,
                 stdin: bytes | None = None) -> Sample:
    """Run ``argv`` to completion (``stdin``: what it reads); its wall clock, peak RSS, exit
    status and output."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe, \
            tempfile.TemporaryFile() as fi:
        if stdin is not None:
            fi.write(stdin)
            fi.seek(0)
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, cwd=cwd, env=env,
                             stdin=fi if stdin is not None else subprocess.DEVNULL, stdout=fo,
                             stderr=fe, start_new_session=True)
        peak = [0]
        stop = threading.Event()
        timed_out = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], tree_rss(p.pid))
                stop.wait(0.2)

        def kill():
            timed_out.set()
            try:
                os.killpg(p.pid, signal.SIGTERM)  # the CLI unwinds on SIGTERM (exit 143)
                time.sleep(10)
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        except BaseException:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            p.wait()
            raise
        finally:
            stop.set()
            if timer:
                timer.cancel()
        wall = time.perf_counter() - t0
        sampler.join()
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        maxrss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
        return Sample(wall, max(peak[0], maxrss), p.returncode,
                      fo.read().decode(errors="replace"), fe.read().decode(errors="replace"),
                      timed_out.is_set())


def child_env(home: Path) -> dict[str, str]:
    """This checkout's analyzer first on the path; no git settings of the caller."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") and k not in ("RMAPLINT_DEBUG", "PYTHONSTARTUP")}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + os.environ["PYTHONPATH"]
                                     if os.environ.get("PYTHONPATH") else "")
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / "xdg-cache"),
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
               PYTHONDONTWRITEBYTECODE="1", LC_ALL="C.UTF-8")
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "analyzer.cli", *args]


# History with a clock on each revision: the real CLI, in its own process, with
# RevisionAnalyser.reports timed (one call for the range's start, then one per commit). When
# that hook does not fit the code any more, the cost per revision falls back to a subtraction.
HISTORY_HOOK = r"""
import json, os, sys, time
events, hooked = [], False
try:
    from analyzer import review as _review
    _orig = _review.RevisionAnalyser.reports
    def _timed(self, rev, paths):
        t0 = time.perf_counter()
        try:
            return _orig(self, rev, paths)
        finally:
            events.append([rev, len(paths), t0, time.perf_counter()])
    _review.RevisionAnalyser.reports = _timed
    hooked = True
except Exception:
    pass
from analyzer.cli import main
rc = 2
try:
    rc = main(sys.argv[1:])
finally:
    with open(os.environ["RMAPLINT_BENCH_EVENTS"], "w") as f:
        json.dump({"hooked": hooked, "events": events}, f)
sys.exit(rc)
"""


# ============================================================================ the table

@dataclass
class Row:
    id: str
    label: str
    value: float | None = None
    unit: str = "s"
    baseline_label: str = "—"
    baseline: float | None = None
    ratio: float | None = None  # the figure's cost ÷ the baseline's cost
    target: float | None = None  # the ratio must be ≤ this
    target_text: str = "—"
    rss: int | None = None
    status: str = ""  # why there is no figure ("not run", an error, ...)
    runs: int = 0
    samples: list = field(default_factory=list)

    @property
    def result(self) -> str:
        if self.target is None:
            return "—"
        if self.ratio is None:
            return "n/a"
        return "met" if self.ratio <= self.target else "MISSED"

    def to_json(self) -> dict:
        return {"id": self.id, "label": self.label, "value": self.value, "unit": self.unit,
                "baseline_label": self.baseline_label, "baseline": self.baseline,
                "ratio": self.ratio, "target": self.target, "target_text": self.target_text,
                "result": self.result, "peak_rss_bytes": self.rss, "status": self.status,
                "runs": self.runs, "samples": self.samples}


ROW_IDS = ("floor", "cold-j1", "cold-j2", "warm-j1", "warm-j2", "history-cold",
           "history-per-rev", "series", "b4-check", "html", "whole-files", "whole-mb",
           "rss-check", "anchor-sparse", "anchor-cocci")


def fmt_value(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "s":
        return f"{v:.3f} s" if v < 10 else f"{v:.1f} s"
    if unit == "MiB":
        return f"{v:.0f} MiB"
    return f"{v:.3g} {unit}"


def fmt_rss(b: int | None) -> str:
    return "—" if not b else f"{b / MiB:.0f} MiB"


def render(rows: list[Row], meta: dict, notes: list[str]) -> str:
    out = io.StringIO()
    w = out.write
    w(f"rmaplint benchmark — {meta['tree_label']} ({meta['tree']})\n")
    w(f"{meta['machine']}; rmaplint {meta['rmaplint']}; {meta['mode']}; {meta['date']}\n")
    w("ratio = the figure's cost ÷ its baseline's cost, both measured in this run; "
      "medians over the repeats, peak RSS the maximum\n\n")
    head = ("id", "figure", "median", "baseline", "baseline median", "ratio", "target",
            "result", "peak RSS")
    table = [head]
    for r in rows:
        value = fmt_value(r.value, r.unit) if r.value is not None else (r.status or "—")
        table.append((r.id, r.label, value, r.baseline_label,
                      fmt_value(r.baseline, r.unit) if r.baseline is not None else "—",
                      f"{r.ratio:.3g}×" if r.ratio is not None else "n/a",
                      r.target_text, r.result, fmt_rss(r.rss)))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for n, row in enumerate(table):
        w("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() + "\n")
        if n == 0:
            w("  ".join("-" * x for x in widths) + "\n")
    if notes:
        w("\nnotes:\n")
        for n in notes:
            w(f"  - {n}\n")
    return out.getvalue()


# ============================================================================ the tree

def default_tree() -> Path | None:
    given = os.environ.get("RMAPLINT_KERNEL_TREE")
    if given:
        return Path(given)
    base = os.environ.get("RMAPLINT_CACHE")
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    cache = Path(base) if base else (Path(xdg) if os.path.isabs(xdg)
                                     else Path.home() / ".cache") / "rmaplint"
    tree = cache / "kernel" / KERNEL_DIRNAME
    if (tree / "mm").is_dir() and (cache / "kernel" / f".{KERNEL_DIRNAME}.complete").is_file():
        return tree
    if KERNEL_TARBALL.is_file():  # extracted beside its place, then renamed in (as the tests)
        print(f"bench: extracting {KERNEL_TARBALL} into {tree.parent} (once)", file=sys.stderr)
        tree.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".extract-", dir=tree.parent))
        try:
            subprocess.run(["tar", "-xJf", str(KERNEL_TARBALL), "--no-same-owner", "-C",
                            str(work)], check=True)
            if tree.exists():
                shutil.rmtree(tree)
            (work / KERNEL_DIRNAME).rename(tree)
            st = KERNEL_TARBALL.stat()
            (tree.parent / f".{KERNEL_DIRNAME}.complete").write_text(
                f"{KERNEL_TARBALL} {st.st_size} {st.st_mtime_ns}\n")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return tree
    return None


def c_files(root: Path, sub: str) -> list[str]:
    """Relative paths of the ``.c`` files under ``root/sub``, sorted."""
    out = []
    for d, dirs, files in os.walk(root / sub):
        dirs.sort()
        for f in files:
            if f.endswith(".c") and not os.path.islink(os.path.join(d, f)):
                out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def size_of(root: Path, files: list[str]) -> int:
    return sum((root / f).stat().st_size for f in files)


# ============================================================================ the benchmark

class Bench:
    def __init__(self, args, tree: Path, tmp: Path):
        self.args = args
        self.tree = tree
        self.tmp = tmp
        self.home = tmp / "home"
        self.home.mkdir()
        self.env = child_env(self.home)
        self.repeats = 1 if args.quick else args.repeats
        self.rows: dict[str, Row] = {}
        self.notes: list[str] = []
        self.failures: list[str] = []
        self.profile_text = ""
        self._n = 0
        self.mm_c = c_files(tree, "mm")
        if not self.mm_c:
            raise SystemExit(f"bench: {tree}/mm has no .c file: not a kernel tree")
        if args.quick:  # the smallest few: a smoke run of every step
            self.scope = sorted(sorted(self.mm_c, key=lambda f: ((tree / f).stat().st_size, f))
                                [:4])
            self.check_paths = list(self.scope)
        else:
            self.scope = self.mm_c
            self.check_paths = ["mm/"]
        self.floor_list = self.write_list("floor", [str(tree / f) for f in self.scope])

    # ------------------------------------------------------------------ helpers
    def fresh(self, prefix: str) -> Path:
        self._n += 1
        d = self.tmp / f"{prefix}-{self._n}"
        d.mkdir()
        return d

    def write_list(self, name: str, lines: list[str]) -> str:
        p = self.tmp / f"{name}.list"
        p.write_text("".join(x + "\n" for x in lines))
        return str(p)

    def log(self, msg: str) -> None:
        print(f"bench: {msg}", file=sys.stderr, flush=True)

    def run(self, what: str, argv: list[str], *, cwd=None, timeout=None, env=None,
            ok=(0, 1), stdin: bytes | None = None) -> Sample | None:
        s = run_measured(argv, cwd=cwd or self.home, env=env or self.env, timeout=timeout,
                         stdin=stdin)
        tag = "timed out" if s.timed_out else f"exit {s.rc}"
        self.log(f"{what}: {s.wall:.2f} s, peak RSS {fmt_rss(s.rss)} ({tag})")
        if s.timed_out or s.rc not in ok:
            tail = (s.err.strip().splitlines() or [""])[-1][:300]
            self.failures.append(f"{what}: {tag}: {tail}")
            return None
        return s

    def row(self, id_: str, label: str, **kw) -> Row:
        r = Row(id_, label, **kw)
        self.rows[id_] = r
        return r

    def check_cmd(self, paths: list[str], *, cache: Path | None, jobs: int = 1,
                  repo: Path | None = None, rev: str | None = None,
                  out: Path | None = None) -> list[str]:
        argv = ["check", "--repo", str(repo or self.tree), "--jobs", str(jobs), "-q",
                "--format", "json", "-o", str(out or self.tmp / "check.json")]
        if rev:
            argv += ["--rev", rev]
        argv += ["--cache-dir", str(cache)] if cache else ["--no-cache"]
        return cli(*argv, *paths)

    @staticmethod
    def summary(path: Path) -> dict:
        try:
            return json.loads(path.read_text()).get("summary", {})
        except (OSError, ValueError):
            return {}

    # ------------------------------------------------------------------ 1-3: floor, cold, warm
    def main_block(self) -> None:
        samples: dict[str, list[Sample]] = {k: [] for k in
                                            ("floor", "cold-j1", "cold-j2", "warm-j1",
                                             "warm-j2")}
        floor_info = {}
        check_info = {}
        startup = []
        smallest = min(self.mm_c, key=lambda f: ((self.tree / f).stat().st_size, f))
        for rnd in range(1, self.repeats + 1):
            tag = f"round {rnd}/{self.repeats}"
            s = self.run(f"fixed cost: check of {smallest}, no cache ({tag})",
                         self.check_cmd([smallest], cache=None,
                                        out=self.tmp / "smallest.json"))
            if s:
                startup.append(s.wall)
            s = self.run(f"floor ({tag})",
                         [sys.executable, str(Path(__file__).resolve()), "_floor",
                          self.floor_list])
            if s:
                samples["floor"].append(s)
                floor_info = json.loads(s.out.strip().splitlines()[-1])
            for jobs in (1, 2):
                cache = self.fresh("cache")
                out = self.tmp / f"cold-j{jobs}.json"
                s = self.run(f"cold check --jobs {jobs} ({tag})",
                             self.check_cmd(self.check_paths, cache=cache, jobs=jobs, out=out))
                if not s:
                    shutil.rmtree(cache, ignore_errors=True)
                    continue
                samples[f"cold-j{jobs}"].append(s)
                check_info = self.summary(out)
                s = self.run(f"warm check --jobs {jobs} ({tag})",
                             self.check_cmd(self.check_paths, cache=cache, jobs=jobs,
                                            out=self.tmp / f"warm-j{jobs}.json"))
                if s:
                    samples[f"warm-j{jobs}"].append(s)
                    hits = self.summary(self.tmp / f"warm-j{jobs}.json").get("cache_hits")
                    s.extra["cache_hits"] = hits
                shutil.rmtree(cache, ignore_errors=True)
        scope = "mm/**/*.c" if not self.args.quick else f"{len(self.scope)} small mm/*.c"
        floor = self.figure("floor", f"floor: tree-sitter parse of {scope}", samples["floor"])
        if floor.value is not None:
            floor.baseline_label, floor.baseline, floor.ratio = "itself", floor.value, 1.0
        what = "mm/" if not self.args.quick else "the same files"
        for jobs, limit in ((1, 3.0), (2, 1.8)):
            r = self.figure(f"cold-j{jobs}", f"cold: check {what} --jobs {jobs}",
                            samples[f"cold-j{jobs}"])
            self.against(r, "floor", floor.value, limit)
        for jobs in (1, 2):
            r = self.figure(f"warm-j{jobs}", f"warm: check {what} --jobs {jobs}",
                            samples[f"warm-j{jobs}"])
            self.against(r, f"cold --jobs {jobs}", self.rows[f"cold-j{jobs}"].value, 0.1)
        peaks = [s.rss for k in ("cold-j1", "cold-j2", "warm-j1", "warm-j2")
                 for s in samples[k]]
        rss = self.row("rss-check", f"peak RSS: check {what} (any run above)", unit="MiB",
                       baseline_label="1 GiB", baseline=GiB / MiB, target=1.0,
                       target_text="≤ 1×")
        if peaks:
            rss.value = max(peaks) / MiB
            rss.ratio = rss.value / rss.baseline
            rss.rss = max(peaks)
            rss.runs = len(peaks)
        else:
            rss.status = "no run"
        if floor_info:
            self.notes.append(
                f"floor: {floor_info['files']} files, {floor_info['bytes'] / 1e6:.3g} MB "
                f"({floor_info['with_errors']} with a tree-sitter error), "
                f"{floor_info['seconds']:.3g} s inside the process; check {what}: "
                f"{check_info.get('files', '?')} files (.c and .h), "
                f"{check_info.get('functions', '?')} functions, "
                f"{check_info.get('files_degraded', '?')} degraded, "
                f"{check_info.get('files_error', '?')} errors, "
                f"{check_info.get('findings', '?')} findings")
        hits = [s.extra.get("cache_hits") for k in ("warm-j1", "warm-j2") for s in samples[k]]
        if hits:
            self.notes.append(f"warm runs: cache hits per run {sorted(set(hits))} of "
                              f"{check_info.get('files', '?')} files")
        if startup:
            self.notes.append(f"fixed cost per process: a cold check of the smallest mm "
                              f"file ({smallest}, {(self.tree / smallest).stat().st_size} "
                              f"bytes) takes {statistics.median(startup):.2f} s (start-up and "
                              f"the per-process work any first file needs: rules, iterator "
                              f"macros, the engine's headers); every CLI figure includes it "
                              f"once per process")
        self.notes.append("cold = an empty --cache-dir (the run writes it; that cache then "
                          "serves the warm run of the same round)")

    def figure(self, id_: str, label: str, samples: list[Sample], unit: str = "s") -> Row:
        r = self.row(id_, label, unit=unit)
        r.runs = len(samples)
        r.samples = [round(s.wall, 4) for s in samples]
        if samples:
            r.value = statistics.median(s.wall for s in samples)
            r.rss = max(s.rss for s in samples)
        else:
            r.status = "failed"
        return r

    @staticmethod
    def against(r: Row, label: str, base: float | None, limit: float | None) -> None:
        r.baseline_label, r.baseline = label, base
        if limit is not None:
            r.target, r.target_text = limit, f"≤ {limit:g}×"
        if r.value is not None and base:
            r.ratio = r.value / base

    # ------------------------------------------------------------------ 4-5: history, series
    def git(self, repo: Path, *args: str, date: int = 0) -> str:
        env = dict(self.env)
        stamp = f"{1735689600 + date * 60} +0000"
        env.update(GIT_AUTHOR_NAME="rmaplint bench", GIT_AUTHOR_EMAIL="bench@rmaplint.invalid",
                   GIT_COMMITTER_NAME="rmaplint bench",
                   GIT_COMMITTER_EMAIL="bench@rmaplint.invalid",
                   GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        out = subprocess.run(["git", "-c", "gc.auto=0", "-c", "core.hooksPath=/dev/null",
                              *args], cwd=repo, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"git {args[0]}: {out.stderr.strip()[-300:]}")
        return out.stdout.strip()

    def build_repo(self, n_commits: int) -> tuple[Path, str, list[tuple[str, list[str]]]]:
        """The throwaway repository: (path, base commit, [(commit, files it changes)])."""
        repo = self.tmp / "repo"
        repo.mkdir()
        t0 = time.perf_counter()
        if self.args.quick:  # the scope's files and include/linux only
            for f in self.scope:
                (repo / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(self.tree / f, repo / f)
            if (self.tree / "include" / "linux").is_dir():
                shutil.copytree(self.tree / "include" / "linux", repo / "include" / "linux",
                                symlinks=True)
        else:
            shutil.copytree(self.tree / "mm", repo / "mm", symlinks=True)
            shutil.copytree(self.tree / "include", repo / "include", symlinks=True)
        if (self.tree / ".clang-format").is_file():
            shutil.copy2(self.tree / ".clang-format", repo / ".clang-format")
        self.git(repo, "init", "-q", "-b", "main")
        self.git(repo, "add", "--", ".")
        self.git(repo, "commit", "-q", "-m", f"{self.tree.name}: mm/, include/, .clang-format")
        base = self.git(repo, "rev-parse", "HEAD")
        cands = [f for f in self.scope if f.endswith(".c")]
        n = len(cands)
        commits = []
        for i in range(1, n_commits + 1):
            files = [cands[(i * 37) % n]]
            if i % 3 == 0 and n > 1:
                second = cands[(i * 37 + n // 2) % n]
                if second == files[0]:
                    second = cands[(i * 37 + n // 2 + 1) % n]
                files.append(second)
            with open(repo / files[0], "a") as f:
                f.write(synthetic_function(i))
            for other in files[1:]:
                with open(repo / other, "a") as f:
                    f.write(f"\n/* rmaplint benchmark, revision {i}: a comment of ours. */\n")
            self.git(repo, "add", "--", *files)
            self.git(repo, "commit", "-q", "-m",
                     f"bench: revision {i} touches {', '.join(files)}", date=i)
            commits.append((self.git(repo, "rev-parse", "HEAD"), sorted(files)))
        self.log(f"history repository: {n_commits} commits on {base[:12]} in "
                 f"{time.perf_counter() - t0:.1f} s")
        return repo, base, commits

    def history_block(self) -> None:
        n_commits = SERIES_PATCHES if self.args.quick else HISTORY_COMMITS
        repo, base, commits = self.build_repo(n_commits)
        self.repo_info = (repo, base, commits)
        hist, per_rev, baseline, inproc, fallback = [], [], [], [], False
        for rnd in range(1, self.repeats + 1):
            tag = f"round {rnd}/{self.repeats}"
            cache = self.fresh("cache")
            events = self.tmp / "events.json"
            env = dict(self.env, RMAPLINT_BENCH_EVENTS=str(events))
            s = self.run(f"history cold, {n_commits} revisions ({tag})",
                         [sys.executable, "-c", HISTORY_HOOK, "history", f"{base}..main", "mm",
                          "--repo", str(repo), "--cache-dir", str(cache), "--format", "json",
                          "-o", str(self.tmp / "history.json")], env=env, ok=(0,))
            shutil.rmtree(cache, ignore_errors=True)
            if s:
                hist.append(s)
                try:
                    ev = json.loads(events.read_text())
                except (OSError, ValueError):
                    ev = {"hooked": False, "events": []}
                if ev["hooked"] and len(ev["events"]) == n_commits + 1:
                    per_rev.append((ev["events"][-1][3] - ev["events"][0][3]) / n_commits)
                else:
                    fallback = True
            total = 0.0
            ins = 0.0
            for k, (commit, files) in enumerate(commits, 1):
                cache = self.fresh("cache")
                out = self.tmp / "rev.json"
                s = self.run(f"check of the {len(files)} file(s) revision {k} changes ({tag})",
                             self.check_cmd(files, cache=cache, repo=repo, rev=commit, out=out))
                shutil.rmtree(cache, ignore_errors=True)
                if s is None:
                    total = math.nan
                    break
                total += s.wall
                ins += self.summary(out).get("seconds", 0.0)
            if not math.isnan(total):
                baseline.append(total / n_commits)
                inproc.append(ins / n_commits)
        r = self.figure("history-cold", f"history: {n_commits} revisions, cold", hist)
        self.against(r, "cold --jobs 1", self.rows.get("cold-j1", Row("", "")).value, None)
        r = self.row("history-per-rev", "history: each extra revision",
                     baseline_label="check of its files, cold", target=2.0, target_text="≤ 2×")
        if fallback and hist and self.rows.get("cold-j1") and self.rows["cold-j1"].value:
            # no clock inside history: its cold total less one cold check of mm/
            per_rev = [(s.wall - self.rows["cold-j1"].value) / n_commits for s in hist]
            self.notes.append("history per revision: (history cold − cold check --jobs 1) ÷ "
                              "revisions (the in-process clock did not fit the code)")
        else:
            self.notes.append("history per revision: inside the cold history run, from the "
                              "end of the range's start analysis to the end of the last "
                              "revision, ÷ revisions (RevisionAnalyser.reports clocked)")
        r.samples = [round(x, 4) for x in per_rev]
        r.runs = len(per_rev)
        if per_rev:
            r.value = statistics.median(per_rev)
            r.rss = self.rows["history-cold"].rss
        else:
            r.status = "failed"
        if baseline:
            r.baseline = statistics.median(baseline)
            if r.value is not None:
                r.ratio = r.value / r.baseline
            self.notes.append(
                f"history baseline: `check --rev C <files>` cold in its own process, one per "
                f"revision, mean {r.baseline:.2f} s wall, of which "
                f"{statistics.median(inproc):.2f} s inside check (summary.seconds); "
                f"revisions change {sum(len(f) for _, f in commits)} files in all "
                f"({', '.join(sorted({f for _, fs in commits for f in fs}))})")

    def series_block(self) -> None:
        if not getattr(self, "repo_info", None):
            self.row("series", "series: review of 3 patches, cold", status="no repo")
            return
        repo, _, commits = self.repo_info
        series = commits[-SERIES_PATCHES:]
        start = self.git(repo, "rev-parse", f"{series[0][0]}^")
        runs, baseline = [], []
        for rnd in range(1, self.repeats + 1):
            tag = f"round {rnd}/{self.repeats}"
            cache = self.fresh("cache")
            s = self.run(f"review of {len(series)} patches, cold ({tag})",
                         cli("review", f"{start}..{series[-1][0]}", "--repo", str(repo),
                             "--cache-dir", str(cache), "--format", "json", "-o",
                             str(self.tmp / "review.json")))
            shutil.rmtree(cache, ignore_errors=True)
            if s:
                runs.append(s)
            total = sum(self.both_sides(repo, commit, files, tag) for commit, files in series)
            if not math.isnan(total):
                baseline.append(total)
        r = self.figure("series", f"series: review of {len(series)} patches, cold", runs)
        self.against(r, "checks of their files, both sides", statistics.median(baseline)
                     if baseline else None, None)

    def both_sides(self, repo: Path, commit: str, files: list[str], tag: str) -> float:
        """Wall clock of cold checks of ``files`` before and after ``commit`` (NaN: one
        failed): what reviewing the commit has to analyse."""
        total = 0.0
        for rev in (self.git(repo, "rev-parse", f"{commit}^"), commit):
            cache = self.fresh("cache")
            s = self.run(f"check of {len(files)} file(s) at {rev[:12]} ({tag})",
                         self.check_cmd(files, cache=cache, repo=repo, rev=rev))
            shutil.rmtree(cache, ignore_errors=True)
            if s is None:
                return math.nan
            total += s.wall
        return total

    def b4_block(self) -> None:
        """b4-check of the last patch of the series on stdin (cold), against a cold check
        of the files it touches at both sides (what the check has to analyse)."""
        if not getattr(self, "repo_info", None):
            self.row("b4-check", "b4-check: one patch, cold", status="no repo")
            return
        repo, _, commits = self.repo_info
        commit, files = commits[-1]
        parent = self.git(repo, "rev-parse", f"{commit}^")
        patch = self.git(repo, "format-patch", "-1", "--stdout", commit).encode() + b"\n"
        runs, baseline = [], []
        for rnd in range(1, self.repeats + 1):
            tag = f"round {rnd}/{self.repeats}"
            cache = self.fresh("cache")
            s = self.run(f"b4-check of one patch ({len(files)} file(s)), cold ({tag})",
                         cli("b4-check", "--repo", str(repo), "--base", parent,
                             "--cache-dir", str(cache)), stdin=patch, cwd=repo)
            shutil.rmtree(cache, ignore_errors=True)
            if s:
                runs.append(s)
            total = self.both_sides(repo, commit, files, tag)
            if not math.isnan(total):
                baseline.append(total)
        r = self.figure("b4-check", "b4-check: one patch, cold", runs)
        self.against(r, "checks of its files, both sides",
                     statistics.median(baseline) if baseline else None, 3.0)

    def html_block(self) -> None:
        """--format html after a warm cache, against the warm check itself: the report
        reads the results (and the traces the check stored); it never analyses again."""
        runs, warm = [], []
        for rnd in range(1, self.repeats + 1):
            tag = f"round {rnd}/{self.repeats}"
            cache = self.fresh("cache")
            if not self.run(f"check to fill the cache ({tag})",
                            self.check_cmd(self.check_paths, cache=cache, jobs=2)):
                shutil.rmtree(cache, ignore_errors=True)
                continue
            s = self.run(f"warm check ({tag})",
                         self.check_cmd(self.check_paths, cache=cache, jobs=1))
            if s:
                warm.append(s.wall)
            argv = ["check", "--repo", str(self.tree), "--jobs", "1", "-q", "--format",
                    "html", "-o", str(self.fresh("html")), "--cache-dir", str(cache),
                    *self.check_paths]
            s = self.run(f"check --format html, warm ({tag})", cli(*argv))
            shutil.rmtree(cache, ignore_errors=True)
            if s:
                runs.append(s)
        what = "mm/" if not self.args.quick else "the same files"
        r = self.figure("html", f"html: check --format html {what}, warm", runs)
        self.against(r, "warm check --jobs 1", statistics.median(warm) if warm else None, 2.0)

    # ------------------------------------------------------------------ 6: the whole tree
    def whole_block(self) -> None:
        t0 = time.perf_counter()
        files = c_files(self.tree, ".")
        sizes = {f: (self.tree / f).stat().st_size for f in files}
        total = sum(sizes.values())
        self.log(f"whole tree: {len(files)} .c files, {total / 1e6:.1f} MB "
                 f"(listed in {time.perf_counter() - t0:.1f} s)")
        cold = self.rows.get("cold-j2")
        if self.args.quick:
            want = 8
            sample = files[:: max(1, len(files) // want)][:want]
        else:
            # the cold --jobs 2 rate on mm/ says how much fits in the cap
            cap = self.args.whole_cap
            rate = (self.mm_bytes / cold.value) if cold and cold.value else 1e5
            if total / rate <= cap:
                sample = files
            else:
                stride = math.ceil(total / (rate * cap * 0.8))
                sample = files[::stride]
        nbytes = sum(sizes[f] for f in sample)
        whole = len(sample) == len(files)
        fl = self.run(f"floor on {len(sample)} files",
                      [sys.executable, str(Path(__file__).resolve()), "_floor",
                       self.write_list("whole", [str(self.tree / f) for f in sample])])
        cache = self.fresh("cache")
        timeout = None if self.args.quick else max(self.args.whole_cap * 2.5, 120)
        out = self.tmp / "whole.json"
        s = self.run(f"check --jobs 2 of {len(sample)} files ({nbytes / 1e6:.1f} MB)",
                     self.check_cmd(sample, cache=cache, jobs=2, out=out), timeout=timeout)
        shutil.rmtree(cache, ignore_errors=True)
        label = ("every .c" if whole else
                 f"{len(sample)}/{len(files)} .c, every {len(files) // max(len(sample), 1)}th")
        rf = self.row("whole-files", f"whole tree: files/s ({label})", unit="files/s",
                      baseline_label="floor, same files")
        rm = self.row("whole-mb", f"whole tree: MB/s ({label})", unit="MB/s",
                      baseline_label="floor, same files")
        if s is None or fl is None:
            rf.status = rm.status = "failed"
            return
        for r, v, b in ((rf, len(sample) / s.wall, len(sample) / fl.wall),
                        (rm, nbytes / 1e6 / s.wall, nbytes / 1e6 / fl.wall)):
            r.value, r.baseline, r.ratio, r.rss, r.runs = v, b, b / v, s.rss, 1
            r.samples = [round(s.wall, 3)]
        summ = self.summary(out)
        est = total / (nbytes / s.wall)
        self.notes.append(
            f"whole tree: {len(files)} .c files, {total / 1e6:.0f} MB; "
            + ("measured all of them" if whole else
               f"a smoke sample of {len(sample)} files ({nbytes / 1e6:.2f} MB), extrapolated: "
               f"≈ {est / 60:.0f} min for the whole tree" if self.args.quick else
               f"measured an evenly spread subset (every {len(files) // len(sample)}th file by "
               f"path: {len(sample)} files, {nbytes / 1e6:.1f} MB) to stay within "
               f"--whole-cap {self.args.whole_cap:g} s, extrapolated: the whole tree would "
               f"take ≈ {est / 60:.0f} min with --jobs 2 (floor ≈ "
               f"{total / (nbytes / fl.wall) / 60:.0f} min)")
            + f"; {s.wall:.1f} s wall, {summ.get('files_error', '?')} files with an error, "
              f"{summ.get('files_degraded', '?')} degraded")

    # ------------------------------------------------------------------ 7: the anchors
    def kbuild(self) -> Path | None:
        for d in ([Path(self.args.kbuild)] if self.args.kbuild else []) + \
                 [self.tree, default_kbuild(self.tree)]:
            if d and (d / "include" / "generated" / "autoconf.h").is_file():
                return d
        return None

    def anchors_block(self) -> None:
        rs = self.row("anchor-sparse", "anchor: check mm/ --jobs 1 vs sparse (make C=2 mm/)")
        rc = self.row("anchor-cocci", "anchor: check mm/ --jobs 2 vs spatch, 4 locks/*.cocci")
        missing = [t for t in ("sparse", "spatch") if shutil.which(t) is None]
        kb = self.kbuild()
        how = (f"{'not installed: ' + GET_ANCHORS if missing else ''}"
               f"{'; ' if missing and kb is None else ''}"
               f"{'tree not prepared: ' + prepare_command(self.tree) if kb is None else ''}")
        if not self.args.anchors or missing or kb is None or self.args.quick:
            why = ("not run (--anchors)" if not self.args.anchors or self.args.quick
                   else "not installed / tree not prepared")
            rs.status = rc.status = why
            if how:
                self.notes.append(f"anchors: {how}")
            return
        rm = self.rows.get("cold-j1")
        o = [] if kb == self.tree else [f"O={kb}"]
        make = ["make", "-C", str(self.tree), *o]
        self.log("anchors: compiling mm/ once (untimed) so that C=2 times sparse alone")
        prep = self.run("make mm/ (untimed)", [*make, f"-j{os.cpu_count() or 1}", "mm/"],
                        ok=(0,))
        runs = []
        if prep is not None:
            n_obj = len(list((kb / "mm").rglob("*.o"))) if kb != self.tree else 0
            self.notes.append(f"sparse checks what defconfig builds: {n_obj} objects under "
                              f"mm/ (rmaplint and coccicheck read every file)")
            for rnd in range(1, self.args.anchor_repeats + 1):
                s = self.run(f"sparse: make C=2 mm/ ({rnd}/{self.args.anchor_repeats})",
                             [*make, "-j1", "C=2", "mm/"], ok=(0,))
                if s:
                    runs.append(s)
        self.anchor_row(rs, runs, rm, "sparse -j1")
        runs = []
        scripts = [self.tree / "scripts" / "coccinelle" / "locks" / c for c in COCCI_LOCKS]
        script = " && ".join(
            f"{' '.join(make)} coccicheck MODE=report J=2 M={self.tree / 'mm'} COCCI={c}"
            for c in scripts)
        for rnd in range(1, self.args.anchor_repeats + 1):
            s = self.run(f"coccicheck, 4 locks scripts ({rnd}/{self.args.anchor_repeats})",
                         ["sh", "-c", script], ok=(0,))
            if s:
                runs.append(s)
                reports = [x for x in s.out.splitlines() if ".c:" in x]
                s.extra["reports"] = len(reports)
        self.anchor_row(rc, runs, self.rows.get("cold-j2"), "spatch J=2")
        if runs:
            self.notes.append(f"coccicheck: {runs[-1].extra.get('reports', 0)} report lines "
                              f"from the 4 locks scripts over mm/ (J=2 like rmaplint's --jobs 2: "
                              f"one `make coccicheck` per script, in a row)")
        self.notes.append(f"anchors on the build folder {kb} (make O=…; the tree itself is "
                          f"never written); {self.args.anchor_repeats} run(s) each")

    def anchor_row(self, r: Row, runs: list[Sample], rm: Row | None, label: str) -> None:
        r.baseline_label = label
        r.target_text = "report"
        r.runs = len(runs)
        r.samples = [round(s.wall, 3) for s in runs]
        if not runs:
            r.status = "failed"
            return
        r.baseline = statistics.median(s.wall for s in runs)
        r.rss = max(s.rss for s in runs)
        if rm and rm.value:
            r.value = rm.value
            r.ratio = rm.value / r.baseline
        else:
            r.status = "no cold run"
        self.notes.append(f"{label}: peak RSS {fmt_rss(r.rss)} (the peak RSS column of the "
                          f"anchor rows is the tool's, not rmaplint's)")

    # ------------------------------------------------------------------ --profile
    def profile_block(self) -> None:
        prof = self.tmp / "check.prof"
        cache = self.fresh("cache")
        s = self.run("cProfile: cold check --jobs 1",
                     [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "analyzer.cli",
                      *self.check_cmd(self.check_paths, cache=cache, jobs=1)[3:]])
        shutil.rmtree(cache, ignore_errors=True)
        if s is None or not prof.is_file():
            self.profile_text = "profile: failed\n"
            return
        import pstats

        out = io.StringIO()
        out.write(f"cProfile of a cold `check {' '.join(self.check_paths)} --jobs 1` "
                  f"({s.wall:.1f} s under the profiler)\n")
        for key in ("tottime", "cumulative"):
            out.write(f"\n--- top 25 by {key} ---\n")
            st = pstats.Stats(str(prof), stream=out)
            st.strip_dirs().sort_stats(key).print_stats(25)
        self.profile_text = out.getvalue()
        if self.args.json:  # the raw profile beside the figures (pstats, snakeviz)
            keep = Path(self.args.json).with_suffix(".prof")
            shutil.copyfile(prof, keep)
            self.profile_text += f"\n(raw profile: {keep})\n"

    # ------------------------------------------------------------------ all
    def run_all(self) -> None:
        only = set(self.args.only.split(",")) if self.args.only else None
        self.mm_bytes = size_of(self.tree, self.scope)
        steps = [("main", self.main_block), ("history", self.history_block),
                 ("series", self.series_block), ("b4", self.b4_block),
                 ("html", self.html_block), ("whole", self.whole_block),
                 ("anchors", self.anchors_block)]
        for name, step in steps:
            if only and name not in only and not (name in ("series", "b4")
                                                  and "history" in only):
                continue
            try:
                step()
            except Exception as e:  # noqa: BLE001 - one broken step must not lose the rest
                self.failures.append(f"{name}: {type(e).__name__}: {e}")
        if self.args.profile:
            self.profile_block()
        labels = {"floor": "floor", "cold-j1": "cold: check --jobs 1",
                  "cold-j2": "cold: check --jobs 2", "warm-j1": "warm: check --jobs 1",
                  "warm-j2": "warm: check --jobs 2", "history-cold": "history, cold",
                  "history-per-rev": "history: each extra revision",
                  "series": "series: review of 3 patches, cold",
                  "b4-check": "b4-check: one patch, cold", "html": "html: check, warm",
                  "whole-files": "whole tree: files/s", "whole-mb": "whole tree: MB/s",
                  "rss-check": "peak RSS: check", "anchor-sparse": "anchor: sparse",
                  "anchor-cocci": "anchor: coccinelle"}
        targets = {"cold-j1": 3.0, "cold-j2": 1.8, "warm-j1": 0.1, "warm-j2": 0.1,
                   "history-per-rev": 2.0, "b4-check": 3.0, "html": 2.0, "rss-check": 1.0}
        for id_ in ROW_IDS:  # every row, run or not
            if id_ not in self.rows:
                t = targets.get(id_)
                self.row(id_, labels[id_], status="not run", target=t,
                         target_text=f"≤ {t:g}×" if t else "—")


def synthetic_function(i: int) -> str:
    """A small kernel-style function of ours appended by revision ``i`` (not kernel code)."""
    kind = i % 3
    if kind == 0:
        body = ("\tanon_vma_lock_write(anon_vma);\n"
                f"\t*count += {i};\n"
                "\tanon_vma_unlock_write(anon_vma);\n")
        params = "struct anon_vma *anon_vma, int *count"
    elif kind == 1:
        body = ("\ti_mmap_lock_read(mapping);\n"
                "\tif (!mapping_mapped(mapping)) {\n"
                "\t\ti_mmap_unlock_read(mapping);\n"
                "\t\treturn;\n"
                "\t}\n"
                f"\t*count -= {i};\n"
                "\ti_mmap_unlock_read(mapping);\n")
        params = "struct address_space *mapping, int *count"
    else:
        body = ("\tint n;\n\n"
                f"\tfor (n = 0; n < {i}; n++) {{\n"
                "\t\tanon_vma_lock_read(anon_vma);\n"
                "\t\t(*count)++;\n"
                "\t\tanon_vma_unlock_read(anon_vma);\n"
                "\t}\n")
        params = "struct anon_vma *anon_vma, int *count"
    return (f"\n/* rmaplint benchmark, revision {i}: a helper of ours, not kernel code. */\n"
            f"static void __maybe_unused rmaplint_bench_{i}({params})\n{{\n{body}}}\n")


def default_kbuild(tree: Path) -> Path:
    base = os.environ.get("RMAPLINT_CACHE")
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    cache = Path(base) if base else (Path(xdg) if os.path.isabs(xdg)
                                     else Path.home() / ".cache") / "rmaplint"
    return cache / f"kbuild-{tree.name}"


def prepare_command(tree: Path) -> str:
    kb = default_kbuild(tree)
    return (f"make -C {tree} O={kb} defconfig && make -C {tree} O={kb} -j2 prepare "
            f"(or --kbuild DIR)")


def code_digest() -> str:
    """A hash of the analyzer's sources: the run says when they changed under it."""
    import hashlib

    h = hashlib.sha1()
    for path in sorted((REPO / "analyzer").rglob("*.py")):
        try:
            h.update(path.as_posix().encode() + b"\0" + path.read_bytes())
        except OSError:
            pass
    return h.hexdigest()[:12]


def rmaplint_version() -> str:
    try:
        sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                "--untracked-files=no", "--", "analyzer"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return (sha or "?") + (" + uncommitted changes in analyzer/" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_floor"]:
        return floor_main(argv[1])
    p = argparse.ArgumentParser(prog="bench.py", description="rmaplint's benchmark: medians "
                                "beside baselines measured in the same run")
    p.add_argument("--tree", metavar="DIR", help="kernel tree (default: $RMAPLINT_KERNEL_TREE, "
                   "else Debian's linux-source-6.12 extracted under ~/.cache/rmaplint/kernel)")
    p.add_argument("--repeats", type=int, default=3, metavar="N",
                   help="runs per figure, the median is shown (default 3)")
    p.add_argument("--quick", action="store_true", help="smoke run: 4 small files, 1 repeat, "
                   "3 revisions, 8 files of the whole tree")
    p.add_argument("--anchors", action="store_true", help="also time sparse and Coccinelle "
                   f"(needs `{GET_ANCHORS}` and a prepared tree, see --kbuild)")
    p.add_argument("--kbuild", metavar="DIR", help="a prepared build folder for the anchors "
                   "(make O=DIR defconfig prepare; default ~/.cache/rmaplint/kbuild-<tree>)")
    p.add_argument("--anchor-repeats", type=int, default=1, metavar="N",
                   help="runs of each anchor (default 1: they are slow)")
    p.add_argument("--profile", action="store_true", help="cProfile a cold check --jobs 1 "
                   "and print the top 25 functions by tottime and by cumulative time")
    p.add_argument("--whole-cap", type=float, default=300.0, metavar="SECONDS",
                   help="wall clock the whole-tree run may take; beyond it an evenly spread "
                   "subset is measured and extrapolated (default 300)")
    p.add_argument("--only", metavar="STEPS", help="comma-separated subset of main,history,"
                   "series,b4,html,whole,anchors (the other rows print 'not run')")
    p.add_argument("--json", metavar="FILE", help="also write every figure and sample here")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    tree = Path(args.tree) if args.tree else default_tree()
    if tree is None or not (tree / "mm").is_dir():
        print(f"bench: no kernel tree{f' at {tree}' if tree else ''}: pass --tree DIR or "
              "apt-get install linux-source-6.12", file=sys.stderr)
        return 2
    tree = tree.resolve()
    t0 = time.perf_counter()
    version, digest = rmaplint_version(), code_digest()
    with tempfile.TemporaryDirectory(prefix="rmaplint-bench-") as tmp:
        bench = Bench(args, tree, Path(tmp))
        try:
            bench.run_all()
        except KeyboardInterrupt:
            print("bench: interrupted", file=sys.stderr)
            return 130
    meta = {"tree": str(tree),
            "tree_label": KERNEL_DIRNAME if tree.name == KERNEL_DIRNAME else tree.name,
            "machine": f"{platform.node()}, {os.cpu_count()} CPUs, Python "
                       f"{platform.python_version()}",
            "rmaplint": f"{version} (sources {digest})",
            "mode": ("--quick (a smoke run: not representative)" if args.quick
                     else f"repeats {bench.repeats}"),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "total_seconds": round(time.perf_counter() - t0, 1)}
    rows = [bench.rows[i] for i in ROW_IDS]
    notes = bench.notes + [f"failed: {f}" for f in bench.failures]
    if code_digest() != digest:
        notes.append(f"the analyzer's sources changed during the run ({digest} → "
                     f"{code_digest()}): the figures mix versions")
    notes.append(f"benchmark wall clock: {meta['total_seconds'] / 60:.1f} min")
    text = render(rows, meta, notes)
    print(text, end="")
    if bench.profile_text:
        print("\n" + bench.profile_text, end="")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"schema": "rmaplint-bench/1", "meta": meta, "rows": [r.to_json() for r in rows],
             "notes": notes, "profile": bench.profile_text}, indent=1) + "\n")
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
