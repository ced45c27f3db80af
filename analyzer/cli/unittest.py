"""``rmaplint unittest``: build and run the kernel's userland unit-test suites.

Exit codes: 0 every suite passed (or the tree has no such suite), 1 a suite failed its
tests, did not build, timed out or lacks a system dependency, 2 usage or input error.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError, UsageError


def add_unittest_parser(sub) -> None:
    u = sub.add_parser("unittest", help="build and run the kernel's userland unit tests "
                       "(tools/testing/vma, radix-tree; KUnit on request)")
    u.add_argument("--tree", metavar="DIR", help="a kernel tree on disk, uncommitted "
                       "changes included; built in a temporary copy (default: the enclosing "
                       "git work tree, else the current directory)")
    u.add_argument("--repo", metavar="DIR", help="a kernel git repository (with --rev; "
                   "default: the enclosing one)")
    u.add_argument("--rev", metavar="REV", help="build this revision, in a temporary "
                   "worktree that is removed afterwards (default with --repo: HEAD)")
    u.add_argument("--suite", action="append", metavar="NAME", help="vma, radix-tree or "
                   "kunit:DIR (a UML build: slow); repeat or separate with commas "
                   "(default: every suite of the table but KUnit)")
    u.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="make -jN (default: the number of CPUs)")
    u.add_argument("--in-place", action="store_true", help="build in --tree itself instead "
                   "of a temporary copy (leaves objects and binaries there)")
    u.add_argument("--reports-dir", metavar="DIR", default=None,
                   help="where each suite's build.log and run.log go (default: a new folder "
                   "in ~/.cache/rmaplint/reports, printed on stderr; never the tree)")
    u.add_argument("--timeout-scale", type=float, default=1.0, metavar="F",
                   help="multiply every build and run timeout of the table by F")
    u.add_argument("--table", metavar="FILE", help="suite table (default: the built-in "
                   "rules/unittests.toml)")
    u.add_argument("--format", choices=("text", "json"), default="text",
                   help="report format (default text: one status per suite)")
    u.add_argument("-o", "--output", metavar="FILE", help="write the report here (default "
                   "stdout)")
    u.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    u.set_defaults(func=cmd_unittest)


def _suites(args, table) -> list[str]:
    names: list[str] = []
    for item in args.suite or []:
        names += [n.strip() for n in item.split(",") if n.strip()]
    if args.suite is not None and not names:
        raise UsageError("--suite: no suite named")
    return names or sorted(table.suites)


def cmd_unittest(args) -> int:
    from ..report.unittests import unittest_json, unittest_text
    from ..unittests.results import Prepared, PrepareMethod, UnittestRun
    from ..unittests.runner import load_table, run_suites, run_suites_at
    from .main import _git_toplevel, _write

    if args.timeout_scale <= 0:
        raise UsageError("--timeout-scale must be positive")
    table = load_table(Path(args.table).resolve() if args.table else None)
    names = _suites(args, table)
    for n in names:
        table.suite(n)  # an unknown suite is a usage error before anything is built
    prepared = Prepared(PrepareMethod.NONE)
    if args.tree is not None and (args.repo is not None or args.rev is not None):
        raise UsageError("--tree cannot be combined with --repo/--rev (a tree is built as "
                         "it is on disk; a revision comes from a repository)")
    if args.in_place and (args.repo is not None or args.rev is not None):
        raise UsageError("--in-place is for --tree (a revision is always built in a "
                         "temporary worktree)")
    if args.repo is not None and not Path(args.repo).is_dir():
        raise InputError(f"--repo {args.repo}: no such directory")
    if args.tree is not None and not Path(args.tree).is_dir():
        raise InputError(f"--tree {args.tree}: no such directory")
    from .main import _logs_dir

    reports = _logs_dir(args, "unittest")
    import sys

    if sys.stderr.isatty() and not args.quiet:
        print(f"rmaplint: building and running {', '.join(names)} (logs in {reports})",
              file=sys.stderr)
    if args.repo is not None or args.rev is not None:
        base = Path(args.repo).resolve() if args.repo is not None else Path.cwd()
        if not base.is_dir():
            raise InputError(f"--repo {args.repo}: no such directory")
        repo = _git_toplevel(base)
        if repo is None:
            raise InputError(f"{base} is not a git repository"
                             + ("" if args.repo is not None else " (use --repo DIR)"))
        sha, results = run_suites_at(repo, args.rev or "HEAD", names, args.jobs, reports,
                                     args.timeout_scale, table=table, prepared=prepared)
        run = UnittestRun(str(repo), sha, results, prepared)
    else:
        if args.tree is not None:
            tree = Path(args.tree).resolve()
            if not tree.is_dir():
                raise InputError(f"--tree {args.tree}: no such directory")
        else:
            tree = _git_toplevel(Path.cwd()) or Path.cwd()
        results = run_suites(tree, names, args.jobs, reports, args.timeout_scale,
                             table=table, in_place=args.in_place, prepared=prepared)
        run = UnittestRun(str(tree), None, results, prepared)
    _write(args, unittest_json(run) if args.format == "json" else unittest_text(run))
    return 0 if run.ok else 1
