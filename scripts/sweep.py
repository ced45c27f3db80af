#!/usr/bin/env python3
"""Whole-tree sweep: ``rmaplint check`` over every .c and .h file of a kernel tree.

    python3 scripts/sweep.py /path/to/linux-source-6.12            # the whole tree
    python3 scripts/sweep.py TREE mm fs/ext4 --jobs 2 --budget 5   # some folders
    python3 scripts/sweep.py TREE --sample                         # what CI runs

Each file goes through the same ``Checker.check_file`` as ``rmaplint check``: an exception in
one file is that file's ``error`` status with a one-line reason, and the run goes on.

Budgets, so one pathological function cannot stall the run:

* soft, per function: every solve of a function's lock states
  (``analyzer.locks.dataflow.solve_function`` as the engine calls it) and every function's
  rule checks run under a ``SIGPROF`` timer of
  ``--budget`` seconds of CPU time; on expiry the file's status is ``timeout`` naming the
  function;
* parsing another file for the tree's shared tables (a header's inline helpers, a
  helper's body in another file) pauses the budget: it is not the function's own cost;
* hard, per file: the worker reports each step to this process, which kills a worker that
  stays silent past the step's allowance of wall-clock time (a hang inside C code that a
  signal cannot interrupt): the file is ``timeout`` (or ``error`` when the worker died of
  a crash) and a fresh worker takes the next file.

The engine is not changed for this: the worker wraps
``analyzer.locks.dataflow.solve_function``, ``analyzer.driver.project.solve_functions``,
``analyzer.driver.project.Project.parse`` and ``analyzer.checks.run_checks`` in its own
process.

Prints: files, ok/degraded/error/timeout, functions, degraded share (functions with parse
errors) and unconverged functions (solves that hit the round cap), total time, the slowest
files and the reason of every error/timeout file. ``--json FILE`` writes every file's record.
Exit status: 0 when the goals hold (no error, no timeout, degraded share under 5 %), 1 when
not, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

try:
    import analyzer  # noqa: F401 - the installed package
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: Budgets count the worker's CPU time (SIGPROF), not the wall clock: a busy machine
#: (CI, other jobs) slows a function down without making it time out.
_TIMER, _SIGNAL = signal.ITIMER_PROF, signal.SIGPROF

#: The CI sample: the rmap core, a scheduler, a file system and library code.
SAMPLE = ("mm", "kernel/sched", "fs/ext4", "lib")
DEGRADED_GOAL = 0.05
FILES_PER_WORKER = 400  # a worker keeps every parsed header: start afresh now and then


class FunctionTimeout(BaseException):
    """A function's budget ran out. A BaseException: ``Checker.check_file`` turns any
    Exception into an ``error`` status (and caches it); a timeout must get through it."""

    def __init__(self, function: str, phase: str, seconds: float):
        super().__init__(f"{phase} of {function}() exceeded the {seconds:g} s budget")
        self.function = function
        self.phase = phase


@dataclass
class Record:
    path: str
    size: int
    status: str = "pending"
    functions: int = 0
    degraded: int = 0
    unconverged: int = 0
    findings: int = 0
    seconds: float = 0.0
    reason: str | None = None
    slowest_function: str | None = None
    slowest_function_seconds: float = 0.0

    def to_json(self) -> dict:
        return dict(self.__dict__)


# --------------------------------------------------------------------------- the worker

_conn: Connection | None = None
_budget = 5.0
_stats: dict = {}


def _say(*msg) -> None:
    if _conn is not None:
        _conn.send(msg)


def _on_alarm(signum, frame):
    # raised where the signal lands; where Python swallows it (a weakref or __del__
    # callback: "Exception ignored in ..."), the re-armed timer raises it again shortly
    signal.setitimer(_TIMER, 0.05)
    raise FunctionTimeout(_stats.get("current", "?"), _stats.get("phase", "analysis"), _budget)


class _Budget:
    """``with _Budget(name, phase):`` — SIGPROF after the per-function budget of CPU time. Nested
    budgets (a check that solves another function) restore the outer one's remaining time."""

    def __init__(self, name: str, phase: str):
        self.name, self.phase = name, phase

    def __enter__(self):
        self.outer = signal.getitimer(_TIMER)[0]
        self.outer_step = (_stats.get("current"), _stats.get("phase"))
        _stats["current"], _stats["phase"] = self.name, self.phase
        _say("step", f"{self.phase} of {self.name}()")
        self.cpu0 = time.process_time()
        signal.setitimer(_TIMER,
                         min(_budget, self.outer) if self.outer > 0 else _budget)

    def __exit__(self, *exc):
        signal.setitimer(_TIMER, 0)
        used = time.process_time() - self.cpu0  # what the budget counts
        if self.outer > 0:
            _stats["current"], _stats["phase"] = self.outer_step
            signal.setitimer(_TIMER, max(self.outer - used, 0.001))
        if used > _stats.get("slowest", (None, -1.0))[1]:
            _stats["slowest"] = (self.name, used)
        return False


def _install_budgets() -> None:
    """Wrap the engine's per-function steps in this (worker) process only."""
    from analyzer import checks
    from analyzer.driver import project as engine
    from analyzer.locks import dataflow

    base_solve = dataflow.solve_function
    base_solve_functions = engine.solve_functions
    base_run_checks = checks.run_checks

    def solve_function(tr, *args, **kwargs):
        with _Budget(tr.fn.name, "lock-state solve"):
            res = base_solve(tr, *args, **kwargs)
        if not res.converged:
            _stats.setdefault("unconverged", set()).add(tr.fn.name)
        return res

    def solve_functions(fns, *args, **kwargs):
        _say("functions", len(fns))
        return base_solve_functions(fns, *args, **kwargs)

    def run_checks(file, model, only=None):
        from dataclasses import replace

        found = []
        for fa in file.functions:
            with _Budget(fa.function.name, "rule checks"):
                found.extend(base_run_checks(replace(file, functions=[fa]), model, only))
        return found

    base_parse = engine.Project.parse

    def parse(self, path):
        """Another file (a header, a helper's file) parsed for the tree's shared tables: not
        the function's own cost, so its budget pauses; the watchdog allows for the size."""
        if path in self._parsed:
            return base_parse(self, path)
        remaining = signal.getitimer(_TIMER)[0]
        signal.setitimer(_TIMER, 0)
        step = (_stats.get("current"), _stats.get("phase"))
        _say("parse", path)
        try:
            return base_parse(self, path)
        finally:
            if remaining > 0:
                _say("step", f"{step[1]} of {step[0]}()")
                signal.setitimer(_TIMER, remaining)

    dataflow.solve_function = solve_function
    engine.solve_functions = solve_functions
    checks.run_checks = run_checks
    engine.Project.parse = parse


def _worker(conn: Connection, root: str, budget: float, cache_dir: str | None) -> None:
    global _conn, _budget
    _conn, _budget = conn, budget
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    signal.signal(_SIGNAL, _on_alarm)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 6000))  # as analyzer.run's workers
    _install_budgets()
    from analyzer.driver.cache import Cache
    from analyzer.model.lockmodel import load
    from analyzer.driver.run import Checker
    from analyzer.source.reader import TreeSource

    model = load(None)
    checker = Checker(TreeSource(root), model,
                      Cache(Path(cache_dir) if cache_dir else None, salt=model.digest))
    while True:
        path = conn.recv()
        if path is None:
            return
        _stats.clear()
        t0 = time.perf_counter()
        try:
            rep = checker.check_file(path)
            out = {"status": rep.status, "functions": rep.functions,
                   "degraded": rep.degraded_functions, "findings": len(rep.findings),
                   "reason": rep.error}
        except FunctionTimeout as e:
            signal.setitimer(_TIMER, 0)
            out = {"status": "timeout", "reason": str(e)}
        except RecursionError:
            out = {"status": "error", "reason": "nesting too deep to analyse"}
        except Exception as e:  # noqa: BLE001 - isolation, like check_file itself
            msg = str(e).splitlines()[0] if str(e) else ""
            out = {"status": "error", "reason": f"internal error: {type(e).__name__}: {msg}"}
        out["seconds"] = time.perf_counter() - t0
        out["unconverged"] = len(_stats.get("unconverged", ()))
        slow = _stats.get("slowest")
        if slow:
            out["slowest_function"], out["slowest_function_seconds"] = slow
        conn.send(("done", out))


# --------------------------------------------------------------------------- the parent


@dataclass
class _Slot:
    proc: mp.Process
    conn: Connection
    done: int = 0
    record: Record | None = None
    deadline: float = 0.0
    step: str = "start"
    functions: int = 0


@dataclass
class Sweep:
    root: Path
    files: list[Record]
    jobs: int = 2
    budget: float = 5.0
    cache_dir: str | None = None
    progress: bool = True
    seconds: float = 0.0
    ctx: mp.context.BaseContext = field(default_factory=lambda: mp.get_context("fork"))

    # allowances of the hard watchdog (seconds of silence from a worker)
    def _parse_allowance(self, rec: Record) -> float:
        return 60 + 30 * rec.size / 1e6 + 4 * self.budget

    def _step_allowance(self) -> float:
        return 2 * self.budget + 15

    def _spawn(self) -> _Slot:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker, args=(child, str(self.root), self.budget,
                                                       self.cache_dir), daemon=True)
        proc.start()
        child.close()
        return _Slot(proc, parent)

    @staticmethod
    def _stop(slot: _Slot, kill: bool) -> None:
        if kill:
            slot.proc.kill()
        else:
            try:
                slot.conn.send(None)
            except OSError:
                pass
        slot.proc.join(10)
        if slot.proc.is_alive():
            slot.proc.kill()
            slot.proc.join()
        slot.conn.close()

    def _assign(self, slot: _Slot, rec: Record) -> None:
        slot.record, slot.step, slot.functions = rec, "reading and parsing", 0
        slot.deadline = time.monotonic() + self._parse_allowance(rec)
        rec.status = "running"
        slot.conn.send(rec.path)

    def run(self) -> None:
        t0 = time.perf_counter()
        # largest files first, so the workers finish together
        todo = sorted(self.files, key=lambda r: (-r.size, r.path))
        todo.reverse()  # pop() from the end
        slots = [self._spawn() for _ in range(max(1, min(self.jobs, len(todo))))]
        finished = 0
        last_print = 0.0
        try:
            for s in slots:
                if todo:
                    self._assign(s, todo.pop())
            while any(s.record is not None for s in slots):
                busy = [s for s in slots if s.record is not None]
                timeout = max(0.0, min(s.deadline for s in busy) - time.monotonic())
                ready = wait([s.conn for s in busy], timeout=min(timeout, 5.0))
                now = time.monotonic()
                for i, s in enumerate(slots):
                    if s.record is None:
                        continue
                    if s.conn in ready:
                        try:
                            msg = s.conn.recv()
                        except (EOFError, OSError):
                            self._died(s)
                            slots[i] = self._replace(s, todo, kill=True)
                            finished += 1
                            continue
                        if msg[0] == "step":
                            s.step = msg[1]
                            s.deadline = now + self._step_allowance()
                        elif msg[0] == "parse":
                            s.step = f"parsing {msg[1]}"
                            try:
                                size = os.stat(self.root / msg[1]).st_size
                            except OSError:
                                size = 0
                            s.deadline = now + self._parse_allowance(Record(msg[1], size))
                        elif msg[0] == "functions":
                            s.functions = msg[1]
                            s.deadline = now + self._step_allowance()
                        elif msg[0] == "done":
                            self._finish(s.record, msg[1])
                            s.record = None
                            s.done += 1
                            finished += 1
                            if s.done >= FILES_PER_WORKER and todo:
                                slots[i] = s = self._replace(s, todo, kill=False)
                            elif todo:
                                self._assign(s, todo.pop())
                    elif now > s.deadline:
                        rec = s.record
                        rec.status = "timeout"
                        rec.reason = (f"killed: no progress for "
                                      f"{now - s.deadline + self._step_allowance():.0f} s "
                                      f"during {s.step}")
                        rec.functions = s.functions
                        slots[i] = self._replace(s, todo, kill=True)
                        finished += 1
                if self.progress and time.monotonic() - last_print > 30:
                    last_print = time.monotonic()
                    el = time.perf_counter() - t0
                    print(f"sweep: {finished}/{len(self.files)} files, {el:.0f} s",
                          file=sys.stderr, flush=True)
        finally:
            for s in slots:
                self._stop(s, kill=s.record is not None)
        self.seconds = time.perf_counter() - t0

    def _replace(self, s: _Slot, todo: list[Record], kill: bool) -> _Slot:
        s.record = None
        self._stop(s, kill)
        new = self._spawn()
        if todo:
            self._assign(new, todo.pop())
        return new

    def _died(self, s: _Slot) -> None:
        s.proc.join(5)
        code = s.proc.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        rec = s.record
        rec.status = "error"
        rec.reason = f"worker died ({how}) during {s.step}"
        rec.functions = s.functions

    @staticmethod
    def _finish(rec: Record, out: dict) -> None:
        for k, v in out.items():
            setattr(rec, k, v)

    # ------------------------------------------------------------------ figures
    def summary(self) -> dict:
        by = {st: sum(r.status == st for r in self.files)
              for st in ("ok", "degraded", "error", "timeout")}
        fns = sum(r.functions for r in self.files)
        deg = sum(r.degraded for r in self.files)
        unc = sum(r.unconverged for r in self.files)
        return {"files": len(self.files), **by, "functions": fns, "degraded_functions": deg,
                "degraded_share": deg / fns if fns else 0.0, "unconverged_functions": unc,
                "findings": sum(r.findings for r in self.files),
                "seconds": round(self.seconds, 1), "jobs": self.jobs, "budget": self.budget,
                "goals_met": by["error"] == 0 and by["timeout"] == 0
                and (deg / fns if fns else 0.0) < DEGRADED_GOAL}

    def table(self, slowest: int = 10) -> str:
        s = self.summary()
        lines = [
            f"sweep of {self.root} ({self.jobs} jobs, {self.budget:g} s per function)",
            f"  files          {s['files']}",
            f"  ok             {s['ok']}",
            f"  degraded       {s['degraded']}",
            f"  error          {s['error']}",
            f"  timeout        {s['timeout']}",
            f"  functions      {s['functions']}",
            f"  degraded fns   {s['degraded_functions']} "
            f"({100 * s['degraded_share']:.2f} %, goal < {100 * DEGRADED_GOAL:g} %)",
            f"  unconverged    {s['unconverged_functions']} (solves that hit the round cap)",
            f"  findings       {s['findings']}",
            f"  time           {s['seconds']:.1f} s",
            f"  goals          {'met' if s['goals_met'] else 'NOT met'}",
            f"slowest {slowest} files:",
        ]
        for r in sorted(self.files, key=lambda r: -r.seconds)[:slowest]:
            fn = (f"  (slowest function {r.slowest_function}() "
                  f"{r.slowest_function_seconds:.2f} s CPU)" if r.slowest_function else "")
            lines.append(f"  {r.seconds:8.2f} s  {r.path}  [{r.status}, {r.functions} fns]{fn}")
        bad = [r for r in self.files if r.status in ("error", "timeout")]
        if bad:
            lines.append("error and timeout files:")
            for r in sorted(bad, key=lambda r: r.path):
                lines.append(f"  {r.status:8} {r.path}: {r.reason}")
        return "\n".join(lines) + "\n"


def list_files(root: Path, folders: list[str]) -> list[Record]:
    """Every .c and .h file under ``folders`` as ``rmaplint check`` lists them (symlinks,
    unreadable files and .git skipped)."""
    from analyzer.source.reader import TreeSource

    src = TreeSource(root)
    out = []
    for p in src.list_files(folders or [""], suffixes=(".c", ".h")):
        try:
            size = os.stat(root / p).st_size
        except OSError:
            size = 0
        out.append(Record(p, size))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="sweep.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path, help="the kernel tree (e.g. an extracted "
                    "linux-source-6.12)")
    ap.add_argument("folders", nargs="*", help="folders or files under ROOT (default: all)")
    ap.add_argument("--sample", action="store_true",
                    help=f"the CI sample: {', '.join(SAMPLE)} (instead of FOLDERS)")
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--budget", type=float, default=5.0, metavar="SECONDS",
                    help="per function: lock-state solve and rule checks (default 5)")
    ap.add_argument("--stride", type=int, default=1, metavar="N",
                    help="only every Nth file of the sorted listing (a systematic sample to "
                    "estimate a whole-tree run)")
    ap.add_argument("--exclude", action="append", default=[], metavar="FOLDER",
                    help="leave out FOLDER (or a file) (repeatable)")
    ap.add_argument("--cache-dir", help="result cache (default: none, every file analysed)")
    ap.add_argument("--json", metavar="FILE", help="write the summary and every file's record")
    ap.add_argument("--slowest", type=int, default=10, metavar="N")
    ap.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    args = ap.parse_args(argv)
    if args.jobs < 1 or args.budget <= 0 or args.stride < 1:
        ap.error("--jobs, --budget and --stride must be positive")
    if not args.root.is_dir():
        ap.error(f"{args.root}: no such directory")
    if args.sample and args.folders:
        ap.error("--sample and FOLDERS exclude each other")
    folders = list(SAMPLE) if args.sample else args.folders
    from analyzer.errors import InputError

    try:
        files = list_files(args.root.resolve(), folders)
    except InputError as e:
        print(f"sweep.py: error: {e}", file=sys.stderr)
        return 2
    excluded = [x.strip("/") for x in args.exclude]
    files = [r for r in files
             if not any(r.path == x or r.path.startswith(x + "/") for x in excluded)]
    files = files[::args.stride]
    sweep = Sweep(args.root.resolve(), files, args.jobs, args.budget, args.cache_dir,
                  progress=not args.quiet)
    sweep.run()
    sys.stdout.write(sweep.table(args.slowest))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"summary": sweep.summary(), "folders": folders or ["."],
             "exclude": args.exclude, "stride": args.stride,
             "files": [r.to_json() for r in sorted(sweep.files, key=lambda r: r.path)]},
            indent=1) + "\n")
    return 0 if sweep.summary()["goals_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
