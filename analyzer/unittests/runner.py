"""The kernel's userland unit tests: build each suite, run it, read what it printed.

What a suite is — its folder, build and run commands, output format, timeouts, the Debian
packages it needs — is data (``rules/unittests.toml``); this module knows no suite by name.
Each suite ends with one status:

``passed``              built and ran, every test passed (with counts)
``tests-failed``        built; some tests failed (their names, the first assert and file:line)
``build-failed``        the build stopped (the first compiler or linker error and file:line)
``missing-dependency``  a header, library or program is not installed (and its Debian package)
``not-present``         the tree has no such suite (an older kernel)
``timed-out``           the build or the run took longer than its timeout

Where the build happens: never in the user's tree unless asked (``in_place``). By default the
tree is copied to a temporary folder that is removed afterwards. Only the top-level folders
the table's ``copy`` names are taken (tools/, mm/, include/, lib/ for vma: a sixth of a
kernel tree's files — removing 90,000 files takes longer than making them), never ``.git``.
They are hard-linked (``cp -al``: about a second), except ``tools/``, which is copied for
real because every userland suite writes its objects and generated files there — a hard link
shares the file, so a build that rewrote a linked file would rewrite the user's. Where hard
links are impossible (another file system, no permission) everything is copied. A revision is
checked out in a temporary git worktree instead (:func:`run_suites_at`), built in place, and
removed. A --tree that is a git work tree is still copied as it is on disk, uncommitted
changes included: that is what the user has in front of them.

Builds and runs are started in their own process group; a timeout (or Ctrl-C) kills the
whole group. Logs go to ``<reports_dir>/<suite>/build.log`` and ``run.log``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..datafile import Table as DataTable
from ..datafile import read_toml
from ..errors import InputError, UsageError
from .results import (  # noqa: F401
    OK_STATUSES,
    SCHEMA,
    STATUSES,
    Failure,
    Prepared,
    PrepareMethod,
    SuiteResult,
    UnitStatus,
    UnittestRun,
)

_MARK = "### rmaplint: "  # our own lines in the logs (parsers skip them)
_TERM_GRACE = 5.0  # seconds between SIGTERM and SIGKILL of a timed-out process group


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Suite:
    name: str
    path: str
    present: tuple[str, ...]
    cwd: str
    programs: tuple[str, ...]
    build: tuple[str, ...]
    binary: str | None
    run: tuple[tuple[str, ...], ...]
    format: str
    build_timeout: float
    run_timeout: float
    sources: tuple[str, ...]
    include_dirs: tuple[str, ...]
    packages: dict[str, str]  # header / -llib / lib*.so glob -> Debian package
    program_packages: dict[str, str]
    requires: tuple[str, ...] = ()  # system headers checked before building
    copy: tuple[str, ...] | None = None  # top-level folders the build reads (None: all)

    @property
    def slug(self) -> str:
        """The suite's name as one folder name (kunit:lib/kunit -> kunit-lib_kunit)."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.name.replace(":", "-", 1)).strip("_")


@dataclass(frozen=True)
class Table:
    suites: dict[str, dict]
    families: dict[str, dict]
    defaults: dict
    programs: dict[str, str]
    source: Path

    def names(self) -> list[str]:
        return sorted(self.suites) + [f"{f}:<arg>" for f in sorted(self.families)]

    def suite(self, name: str) -> Suite:
        """The suite asked for as ``name`` (``vma``, ``kunit:lib/kunit``)."""
        if name in self.suites:
            return self._build(name, self.suites[name], None, f"[suite.{name}]")
        fam, sep, arg = name.partition(":")
        if sep and fam in self.families:
            arg = arg.strip()
            if arg.startswith("/"):
                arg = ""
            arg = arg.rstrip("/")
            if not arg or arg.startswith("-") or ".." in PurePosixPath(arg).parts:
                raise UsageError(f"--suite {name}: {fam}: needs a folder of the tree, "
                                 f"e.g. {fam}:lib/kunit")
            return self._build(f"{fam}:{arg}", self.families[fam], arg, f"[family.{fam}]")
        raise UsageError(f"unknown suite '{name}' (known: {', '.join(self.names())})")

    def _build(self, name: str, d: dict, arg: str | None, where: str) -> Suite:
        """The suite of table ``d`` (``where`` names it in messages), ``{arg}`` replaced by
        ``arg``. Every key is read through :class:`~analyzer.datafile.Table`: an unknown one
        (a typo), a missing one or a value of the wrong type is an InputError."""

        def sub(v):
            if isinstance(v, str):
                return v.replace("{arg}", arg) if arg is not None else v
            if isinstance(v, (list, tuple)):
                return tuple(sub(x) for x in v)
            if isinstance(v, dict):
                return {sub(k): sub(x) for k, x in v.items()}
            return v

        t = DataTable(str(self.source), where, d)
        path = sub(t.str("path"))
        build = sub(t.strs("build"))
        run = tuple(tuple(c) for c in sub(_commands(t, "run")))
        fmt = t.str("format")
        if fmt not in PARSERS:
            t.fail(f"unknown format '{fmt}' (known: {', '.join(sorted(PARSERS))})", "format")
        suite = Suite(
            name=name, path=path,
            present=sub(t.strs("present", (f"{path}/Makefile",))),
            cwd=sub(t.str("cwd", path)), programs=t.strs("programs", ()),
            build=tuple(build), binary=t.str("binary", None), run=run, format=fmt,
            build_timeout=float(t.number("build_timeout",
                                         self.defaults.get("build_timeout", 1200))),
            run_timeout=float(t.number("run_timeout", self.defaults.get("run_timeout", 600))),
            sources=sub(t.strs("sources", (f"{path}/**",))),
            include_dirs=sub(t.strs("include_dirs", ())),
            packages=dict(sub(_str_map(t, "packages"))), program_packages=dict(self.programs),
            requires=tuple(sub(t.strs("requires", ()))),
            copy=tuple(sub(t.strs("copy"))) if "copy" in d else None)
        t.used.add("copy")  # known, for the message about an unknown key, when absent
        t.str("description", None)  # for the reader of the table: shown nowhere
        t.done()
        return suite


def _commands(t: DataTable, key: str) -> tuple[tuple[str, ...], ...]:
    """A list of commands, each a list of strings (``run = [["./vma"]]``)."""
    if key not in t.data:
        t.fail("missing", key)
    t.used.add(key)
    v = t.data[key]
    if not isinstance(v, list) or not all(
            isinstance(c, list) and all(isinstance(x, str) for x in c) for c in v):
        t.fail(f"expected a list of commands (lists of strings), got {v!r}", key)
    return tuple(tuple(c) for c in v)


def _str_map(t: DataTable, key: str) -> dict[str, str]:
    """A table of strings whose keys the author chooses (``[suite.vma.packages]``)."""
    m = t.table(key, {})
    out = {k: m.str(k) for k in list(m.data)}
    m.done()
    return out


def default_table_path() -> Path:
    from ..model.lockmodel import default_rules_dir

    return default_rules_dir() / "unittests.toml"


def load_table(path: Path | None = None) -> Table:
    """The suite table, read strictly like every rules file (:mod:`analyzer.datafile`): an
    unknown key, a missing one or a value of the wrong type, in any suite or family (asked
    for or not), is an InputError naming the file, the table and the key."""
    path = path or default_table_path()
    data, _ = read_toml(path)
    top = DataTable(str(path), "", data)
    suites = top.mapping("suite")
    families = top.mapping("family")
    dt = top.table("defaults", {})
    defaults = {k: v for k in ("build_timeout", "run_timeout")
                if (v := dt.number(k, None)) is not None}  # absent: Table._build's
    dt.done()
    programs = _str_map(top, "programs")
    top.done()
    table = Table(suites, families, defaults, programs, path)
    for name, d in suites.items():
        table._build(name, d, None, f"[suite.{name}]")
    for name, d in families.items():
        table._build(f"{name}:<arg>", d, None, f"[family.{name}]")
    return table


# --------------------------------------------------------------------------- which files


def _glob_re(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _norm(path: str) -> str:
    p = os.path.normpath(path.replace("\\", "/")).lstrip("/")
    return "" if p == "." else p


def suites_affected(changed_paths, suite: str, *, table: Table | None = None,
                    tree: Path | None = None) -> bool:
    """Whether a change to any of ``changed_paths`` (tree-relative) can change what ``suite``
    compiles: its own folder and the kernel files it includes, by the table's ``sources``
    globs — and, given the ``tree``, by following the suite's #include lines and Makefile
    prerequisites too (:func:`suite_sources`)."""
    s = (table or load_table()).suite(suite)
    pats = [_glob_re(p) for p in s.sources]
    derived = suite_sources(tree, s) if tree is not None else set()
    for p in changed_paths:
        p = _norm(str(p))
        if p in derived or any(r.match(p) for r in pats):
            return True
    return False


_INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
_MAKE_REF = re.compile(r"(?<![\w./*-])((?:\.\./)+[\w./+*-]+|[\w+-]+(?:/[\w.+-]+)*\.[ch]\b)")


def suite_sources(tree: Path, suite: Suite | str, *, table: Table | None = None) -> set[str]:
    """The tree-relative files a suite compiles, as far as its files say: every file of its
    folder, and, followed transitively, the files its sources ``#include`` (quoted: beside
    the including file first, then the table's ``include_dirs``; angled: the include_dirs)
    and the ``../``-paths its Makefiles name. System headers are not in the tree and drop
    out. An over-approximation (#if is not evaluated), which is the safe side."""
    if isinstance(suite, str):
        suite = (table or load_table()).suite(suite)
    tree = Path(tree)
    seen: set[str] = set()
    todo: list[str] = []

    def add(rel: str) -> None:
        rel = _norm(rel)
        if rel and rel not in seen and not rel.startswith("..") and (tree / rel).is_file():
            seen.add(rel)
            todo.append(rel)

    base = tree / suite.path
    if base.is_dir():
        for fp in sorted(base.rglob("*")):
            if fp.is_file():
                add(str(fp.relative_to(tree)))
    dirs = [_norm(d) for d in suite.include_dirs]
    while todo:
        rel = todo.pop()
        name = PurePosixPath(rel).name
        here = str(PurePosixPath(rel).parent)
        try:
            text = (tree / rel).read_text(errors="replace")
        except OSError:
            continue
        if name.endswith((".c", ".h")):
            for kind, inc in _INCLUDE.findall(text):
                cands = ([os.path.join(here, inc)] if kind == '"' else []) + \
                        [os.path.join(d, inc) for d in dirs]
                for c in cands:
                    c = _norm(c)
                    if not c.startswith("..") and (tree / c).is_file():
                        add(c)
                        break
        elif name == "Makefile" or name.endswith(".mk"):
            for ref in _MAKE_REF.findall(text):
                for d in (here, suite.cwd):  # an included .mk names paths from the cwd
                    p = _norm(os.path.join(d, ref))
                    if p.startswith(".."):
                        continue
                    if "*" in p:
                        for g in sorted(tree.glob(p)):
                            add(str(g.relative_to(tree)))
                    else:
                        add(p)
    return seen


# --------------------------------------------------------------------------- processes


@dataclass
class Proc:
    returncode: int | None  # None: timed out
    seconds: float
    missing_program: str | None = None


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(LC_ALL="C", LANG="C", LANGUAGE="C")
    env.pop("MAKEFLAGS", None)
    env.pop("MFLAGS", None)
    return env


def _kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    try:
        p.wait(timeout=_TERM_GRACE)
    except subprocess.TimeoutExpired:
        pass
    try:  # whatever is left of the group, even after the leader exited
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.wait(timeout=_TERM_GRACE)
    except subprocess.TimeoutExpired:
        pass


def run_logged(argv: list[str], cwd: Path, log, timeout: float) -> Proc:
    """Run ``argv`` in ``cwd`` in a process group of its own, stdout and stderr appended to
    the open binary file ``log``; past ``timeout`` seconds (or on Ctrl-C) the whole group is
    killed."""
    log.write(f"{_MARK}$ {' '.join(argv)}    (in {cwd})\n".encode())
    log.flush()
    start = time.monotonic()
    try:
        p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, env=_env(), start_new_session=True)
    except FileNotFoundError:
        log.write(f"{_MARK}{argv[0]}: command not found\n".encode())
        return Proc(127, 0.0, missing_program=argv[0])
    except OSError as e:
        log.write(f"{_MARK}{argv[0]}: {e.strerror or e}\n".encode())
        return Proc(126, 0.0)
    try:
        try:
            rc = p.wait(timeout=max(timeout, 0.01))
        except subprocess.TimeoutExpired:
            _kill_group(p)
            secs = time.monotonic() - start
            log.write(f"\n{_MARK}timed out after {secs:.1f}s; process group killed\n".encode())
            return Proc(None, secs)
    except BaseException:
        _kill_group(p)
        raise
    try:  # a child left behind in the group (a daemonised helper): not ours to keep
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    secs = time.monotonic() - start
    log.write(f"\n{_MARK}exit status {rc} after {secs:.1f}s\n".encode())
    return Proc(rc, secs)


# --------------------------------------------------------------------------- dependencies


def _lookup(packages: dict[str, str], key: str) -> str | None:
    for pat, pkg in packages.items():
        if key == pat or fnmatch.fnmatchcase(key, pat):
            return pkg
    return None


def _header_found(header: str) -> bool:
    """Whether the C compiler finds ``<header>`` on the system include path."""
    try:
        out = subprocess.run(["cc", "-E", "-x", "c", "-", "-o", os.devnull],
                             input=f"#include <{header}>\n", capture_output=True, text=True,
                             timeout=60, env=_env())
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0


def precheck(suite: Suite) -> tuple[str, str] | None:
    """(package, what is missing) for the first missing program or header, else None."""
    for prog in suite.programs:
        if shutil.which(prog) is None:
            pkg = suite.program_packages.get(prog, prog)
            return pkg, f"program '{prog}' not found"
    if shutil.which("cc") is None:
        return None
    for header in suite.requires:
        if not _header_found(header):
            pkg = _lookup(suite.packages, header) or "(unknown: not in the table)"
            return pkg, f"header <{header}> not found"
    return None


_MISSING_HEADER = re.compile(r"fatal error: ([^\s:]+): No such file or directory")
_MISSING_LIB = re.compile(r"cannot find -l([\w+.-]+)")
_MISSING_SO = re.compile(r"error while loading shared libraries: ([^\s:]+)")
_MISSING_PROG = re.compile(r"(?:^make(?:\[\d+\])?: |^/bin/sh: (?:\d+: )?|^sh: (?:\d+: )?)"
                           r"([\w.+-]+): (?:No such file or directory|Command not found|"
                           r"not found)", re.M)


def missing_dependency(suite: Suite, text: str) -> tuple[str, str] | None:
    """(package, the log line) when a build or run log shows a system dependency missing:
    a header or library that the table maps to a package, or a program."""
    for m in _MISSING_HEADER.finditer(text):
        pkg = _lookup(suite.packages, m.group(1))
        if pkg:
            return pkg, _line_at(text, m.start())
    for m in _MISSING_LIB.finditer(text):
        pkg = _lookup(suite.packages, f"-l{m.group(1)}")
        if pkg:
            return pkg, _line_at(text, m.start())
    for m in _MISSING_SO.finditer(text):
        pkg = _lookup(suite.packages, m.group(1))
        if pkg:
            return pkg, _line_at(text, m.start())
    for m in _MISSING_PROG.finditer(text):
        prog = m.group(1)
        if prog in suite.program_packages:
            return suite.program_packages[prog], _line_at(text, m.start())
    return None


def _line_at(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start:end if end >= 0 else len(text)].strip()


# --------------------------------------------------------------------------- locations


class _Locator:
    """Turns a path as a build or test printed it (relative to the folder it ran in, or
    absolute inside the temporary copy) into a tree-relative one."""

    def __init__(self, root: Path, cwd_rel: str):
        self.roots = sorted({str(root), str(root.resolve())}, key=len, reverse=True)
        self.cwd_rel = cwd_rel

    def path(self, p: str) -> str:
        if os.path.isabs(p):
            for r in self.roots:
                if p == r or p.startswith(r + "/"):
                    return _norm(os.path.relpath(p, r))
            return os.path.normpath(p)
        rel = os.path.normpath(os.path.join(self.cwd_rel, p))
        return p if rel.startswith("..") else rel

    def loc(self, p: str, line: str | int | None) -> str:
        return f"{self.path(p)}:{line}" if line not in (None, "") else self.path(p)


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if not ln.startswith(_MARK)]


# --------------------------------------------------------------------------- build errors

_CC_ERROR = re.compile(r"^(?P<file>[^\s:][^:]*?):(?P<line>\d+):(?:(?P<col>\d+):)? "
                       r"(?:fatal )?error: (?P<msg>.*)$")
_LD_IN_FUNC = re.compile(r"^(?:\S*ld(?:\.\w+)?|collect2): (?P<obj>[^:]+): in function "
                         r"[`'‘](?P<func>[^'’]+)['’]:$")
_LD_UNDEF_LINE = re.compile(r"^(?:\S*ld(?:\.\w+)?: )?(?P<file>[^\s:][^:]*?):(?P<line>\d+): "
                            r"(?P<msg>(?:undefined reference|multiple definition) .*)$")
_LD_UNDEF_SECT = re.compile(r"^(?:\S*ld(?:\.\w+)?: )?(?P<file>[^\s:][^:]*?):\((?P<sect>[^)]*)\): "
                            r"(?P<msg>(?:undefined reference|multiple definition) .*)$")
_LD_OTHER = re.compile(r"^(?:\S*/)?ld(?:\.\w+)?: (?P<msg>.*)$")
_GENERIC = re.compile(r"\berror\b|\bError \d+\b|^make(?:\[\d+\])?: \*\*\*", re.I)


def first_build_error(text: str, loc: _Locator) -> Failure | None:
    """The first compiler or linker error of a build log, with its tree-relative file:line."""
    func = None
    fallback = None
    for ln in _lines(text):
        m = _CC_ERROR.match(ln)
        if m:
            return Failure(None, m.group("msg").strip(), loc.loc(m.group("file"), m.group("line")))
        m = _LD_IN_FUNC.match(ln)
        if m:
            func = m.group("func")
            continue
        m = _LD_UNDEF_LINE.match(ln)
        if m:
            msg = m.group("msg").strip() + (f" (in function {func}())" if func else "")
            return Failure(None, msg, loc.loc(m.group("file"), m.group("line")))
        m = _LD_UNDEF_SECT.match(ln)
        if m:
            msg = m.group("msg").strip() + (f" (in function {func}())" if func else "")
            return Failure(None, msg, loc.path(m.group("file")))
        m = _LD_OTHER.match(ln)
        if m and fallback is None and "warning" not in ln:
            fallback = Failure(None, ln.strip(), None)
        elif fallback is None and _GENERIC.search(ln) and "warning" not in ln.lower() \
                and not ln.lstrip().startswith(("cc ", "gcc ", "clang ")):
            fallback = Failure(None, ln.strip(), None)
    return fallback


# --------------------------------------------------------------------------- run output


@dataclass
class Parsed:
    tests_run: int | None = None
    passed: int | None = None
    failed: int | None = None
    failures: list[Failure] = field(default_factory=list)
    complete: bool = False  # the output's own closing line was seen


_SANITIZER = re.compile(r"^(?:==\d+==)?(?:ERROR|WARNING): (?:Address|Leak|Undefined|Thread|Memory)"
                        r"Sanitizer.*$|^.*runtime error: .*$", re.M)
_GLIBC_ASSERT = re.compile(r"^(?:\S+: )?(?P<file>[^\s:]+):(?P<line>\d+): (?P<func>[^:]+): "
                           r"Assertion [`'](?P<expr>.*)' failed\.$")


def parse_tests_run(text: str, loc: _Locator) -> Parsed:
    """tools/testing/vma: "Assert FAILED at FILE:LINE:FUNC(): EXPR is FALSE." then
    "Test NAME FAILED" for each failing test, and "N tests run, N passed, N failed." last."""
    out = Parsed()
    pending: list[Failure] = []
    summary = re.compile(r"^(\d+) tests? run, (\d+) passed, (\d+) failed\.?\s*$")
    assert_re = re.compile(r"^Assert FAILED at (?P<file>.+?):(?P<line>\d+):(?P<func>[^:]+?)"
                           r"\(\): (?P<msg>.*)$")
    test_re = re.compile(r"^Test (\S+) FAILED\s*$")
    for ln in _lines(text):
        m = assert_re.match(ln)
        if m:
            msg = m.group("msg").strip().removesuffix(".")
            pending.append(Failure(None, f"{msg} (in {m.group('func')}())",
                                   loc.loc(m.group("file"), m.group("line"))))
            continue
        m = test_re.match(ln)
        if m:
            first = pending[0] if pending else Failure(None, "failed (no assert message)")
            out.failures.append(Failure(m.group(1), first.message, first.location))
            pending = []
            continue
        m = summary.match(ln)
        if m:
            out.tests_run, out.passed, out.failed = (int(g) for g in m.groups())
            out.complete = True
    return out


def parse_tests_passed(text: str, loc: _Locator) -> Parsed:
    """tools/testing/radix-tree: each test group prints "NAME: P of R tests passed"; a failed
    check prints "BUG at FUNC:LINE", a failed assert() glibc's "FILE:LINE: FUNC: Assertion
    `EXPR' failed." (and aborts); main prints "tests completed" at its end."""
    out = Parsed()
    group = re.compile(r"^(?P<name>[\w -]+?): (?P<p>\d+) of (?P<r>\d+) tests passed\s*$")
    bug = re.compile(r"^BUG at (?P<func>[\w.]+):(?P<line>\d+)")
    run = passed = 0
    seen_group = False
    pending: list[Failure] = []
    for ln in _lines(text):
        m = group.match(ln)
        if m:
            seen_group = True
            p, r = int(m.group("p")), int(m.group("r"))
            run, passed = run + r, passed + p
            for f in pending:
                out.failures.append(Failure(m.group("name"), f.message, f.location))
            if p < r and not pending:
                out.failures.append(Failure(m.group("name"), f"{r - p} of {r} checks failed"))
            pending = []
            continue
        m = bug.match(ln)
        if m:
            pending.append(Failure(None, f"BUG at {m.group('func')}():{m.group('line')}", None))
            continue
        m = _GLIBC_ASSERT.match(ln)
        if m:
            out.failures.append(Failure(m.group("func").strip(),
                                        f"Assertion `{m.group('expr')}' failed",
                                        loc.loc(m.group("file"), m.group("line"))))
            continue
        if ln.strip() == "tests completed":
            out.complete = True
    out.failures += [Failure(f.test, f.message, f.location) for f in pending]
    if seen_group:
        out.tests_run, out.passed, out.failed = run, passed, run - passed
    return out


_KTAP_RESULT = re.compile(r"^(?P<ind>\s*)(?P<not>not )?ok (?P<n>\d+)(?: -)? ?(?P<name>[^#]*?)"
                          r"\s*(?:#\s*(?P<directive>\w+).*)?$")
_KTAP_PLAN = re.compile(r"^(?P<ind>\s*)1\.\.(?P<n>\d+)")
_KTAP_SUBTEST = re.compile(r"^(?P<ind>\s*)# Subtest: (?P<name>.+)$")
_KTAP_EXPECT = re.compile(r"^\s*# (?P<test>[\w.-]+): (?:EXPECTATION|ASSERTION) FAILED at "
                          r"(?P<file>[^\s:]+):(?P<line>\d+)")
_KTAP_PREFIX = re.compile(r"^\[\s*\d+\.\d+\]\s?")


def parse_ktap(text: str, loc: _Locator) -> Parsed:
    """KTAP (KUnit): nested "ok N name" / "not ok N name" lines, "# Subtest: NAME" headers,
    "# TEST: EXPECTATION FAILED at FILE:LINE" and the lines under it. A subtest's results are
    indented like its "# Subtest:" line; the result line that closes it is indented less
    (without indentation: the result line with the subtest's own name). A result with no
    subtests of its own is a test case; SKIPped cases are not counted as run."""
    out = Parsed()
    run = passed = failed = 0
    stack: list[dict] = [{"name": "", "ind": -1, "children": 0}]
    expect: dict[str, Failure] = {}
    last_expect: Failure | None = None
    for raw in _lines(text):
        ln = _KTAP_PREFIX.sub("", raw).expandtabs(8)
        if "TAP version" in ln:
            continue
        m = _KTAP_SUBTEST.match(ln)
        if m:
            stack.append({"name": m.group("name").strip(), "ind": len(m.group("ind")),
                          "children": 0})
            last_expect = None
            continue
        m = _KTAP_EXPECT.match(ln)
        if m:
            last_expect = Failure(m.group("test"), "", loc.loc(m.group("file"), m.group("line")))
            expect.setdefault(m.group("test"), last_expect)
            continue
        m = _KTAP_RESULT.match(ln)
        if m:
            name = m.group("name").strip()
            ind = len(m.group("ind"))
            directive = (m.group("directive") or "").upper()
            top = stack[-1]
            last_expect = None
            if len(stack) > 1 and (ind < top["ind"] or (
                    ind == top["ind"] == 0 and top["children"] > 0 and top["name"] == name)):
                stack.pop()
                stack[-1]["children"] += 1
                if len(stack) == 1:
                    out.complete = True
                continue
            top["children"] += 1
            if directive == "SKIP":
                continue
            run += 1
            full = f"{top['name']}.{name}" if top["name"] else name
            if m.group("not"):
                failed += 1
                f = expect.get(name)
                out.failures.append(Failure(full, (f.message if f else "") or "not ok",
                                            f.location if f else None))
            else:
                passed += 1
            continue
        if last_expect is not None:
            body = ln.strip().lstrip("#").strip()
            if body and len(last_expect.message) < 200:
                last_expect.message = f"{last_expect.message} {body}".strip()
    if run or out.complete:
        out.tests_run, out.passed, out.failed = run, passed, failed
    return out


PARSERS = {"tests-run": parse_tests_run, "tests-passed": parse_tests_passed,
           "ktap": parse_ktap}


def _crash(text: str, rc: int) -> str:
    """One line on why a run ended badly without its closing line."""
    m = _SANITIZER.search("\n".join(_lines(text)))
    if m:
        return m.group(0).strip()
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    if rc >= 128 + 1 and rc < 128 + 65:
        try:
            return f"killed by {signal.Signals(rc - 128).name}"
        except ValueError:
            pass
    return f"exit status {rc}"


# --------------------------------------------------------------------------- one suite


def _is_present(suite: Suite, exists) -> bool:
    return all(exists(p) for p in suite.present)


def _fmt(argv, suite: Suite, jobs: int) -> list[str]:
    return [a.replace("{jobs}", str(jobs)).replace("{path}", suite.path) for a in argv]


def run_one(root: Path, suite: Suite, jobs: int, logdir: Path, timeout_scale: float = 1.0,
            skip_precheck: bool = False) -> SuiteResult:
    """Build and run one present suite in the prepared tree ``root``."""
    res = SuiteResult(suite.name, UnitStatus.PASSED)
    cwd = root / suite.cwd
    loc = _Locator(root, _norm(suite.cwd))
    logdir.mkdir(parents=True, exist_ok=True)
    build_log = logdir / "build.log"
    run_log = logdir / "run.log"
    run_log.unlink(missing_ok=True)
    res.build_log = build_log
    with open(build_log, "wb") as log:
        missing = None if skip_precheck else precheck(suite)
        if missing is not None:
            pkg, what = missing
            log.write(f"{_MARK}not built: {what} (Debian package {pkg})\n".encode())
            res.status, res.package = UnitStatus.MISSING_DEPENDENCY, pkg
            res.detail = f"{what}: install Debian package {pkg}"
            res.first_error = Failure(None, what, None)
            return res
        proc = run_logged(_fmt(suite.build, suite, jobs), cwd, log,
                          suite.build_timeout * timeout_scale)
    res.build_seconds = proc.seconds
    text = build_log.read_text(errors="replace")
    if proc.missing_program:
        prog = proc.missing_program
        pkg = suite.program_packages.get(prog, prog)
        res.status, res.package = UnitStatus.MISSING_DEPENDENCY, pkg
        res.detail = f"program '{prog}' not found: install Debian package {pkg}"
        res.first_error = Failure(None, f"{prog}: command not found", None)
        return res
    if proc.returncode is None:
        res.status = UnitStatus.TIMED_OUT
        res.detail = f"build timed out after {proc.seconds:.0f}s"
        return res
    if proc.returncode != 0:
        dep = missing_dependency(suite, text)
        if dep is not None:
            res.status, res.package = UnitStatus.MISSING_DEPENDENCY, dep[0]
            m = _CC_ERROR.match(dep[1])
            res.first_error = (Failure(None, m.group("msg").strip(),
                                       loc.loc(m.group("file"), m.group("line")))
                               if m else Failure(None, dep[1], None))
            res.detail = f"install Debian package {dep[0]}"
            return res
        res.status = UnitStatus.BUILD_FAILED
        res.first_error = first_build_error(text, loc) or \
            Failure(None, f"build exited with status {proc.returncode}", None)
        res.detail = f"build exited with status {proc.returncode}"
        return res
    if suite.binary and not (cwd / suite.binary).exists():
        res.status = UnitStatus.BUILD_FAILED
        res.first_error = Failure(None, f"the build left no {suite.binary}",
                                  loc.path(suite.binary))
        res.detail = res.first_error.message
        return res

    # run
    res.run_log = run_log
    budget = suite.run_timeout * timeout_scale
    rcs: list[tuple[str, int]] = []
    timed_out = False
    with open(run_log, "wb") as log:
        spent = 0.0
        for cmd in suite.run:
            proc = run_logged(_fmt(cmd, suite, jobs), cwd, log, budget - spent)
            spent += proc.seconds
            if proc.returncode is None:
                timed_out = True
                break
            rcs.append((cmd[0], proc.returncode))
    res.run_seconds = spent
    text = run_log.read_text(errors="replace")
    parsed = PARSERS[suite.format](text, loc)
    res.tests_run, res.passed, res.failed = parsed.tests_run, parsed.passed, parsed.failed
    res.failures = parsed.failures
    if timed_out:
        res.status = UnitStatus.TIMED_OUT
        res.detail = f"run timed out after {spent:.0f}s"
        return res
    bad = [(c, rc) for c, rc in rcs if rc != 0]
    if bad and not parsed.failures:
        dep = missing_dependency(suite, text)
        if dep is not None:
            res.status, res.package = UnitStatus.MISSING_DEPENDENCY, dep[0]
            res.first_error = Failure(None, dep[1], None)
            res.detail = f"install Debian package {dep[0]}"
            return res
    if parsed.failures or bad or not parsed.complete or (parsed.failed or 0) > 0:
        res.status = UnitStatus.TESTS_FAILED
        if bad and not parsed.failures:
            bad_cmd, rc = bad[0]
            why = _crash(text, rc)
            what = "ended before its summary" if not parsed.complete else \
                "exited non-zero after its summary"
            res.failures.append(Failure(None, f"{bad_cmd}: {why} ({what})", None))
        elif not parsed.complete and not parsed.failures:
            res.failures.append(Failure(None, "no summary line in the output", None))
        n = len(res.failures)
        res.detail = f"{n} failing test{'s' if n != 1 else ''}"
        return res
    res.detail = (f"{res.tests_run} tests run, {res.passed} passed, {res.failed} failed"
                  if res.tests_run is not None else "passed")
    return res


# --------------------------------------------------------------------------- the tree


@contextmanager
def prepared_copy(tree: Path, prepared: Prepared, only: set[str] | None = None):
    """A temporary copy of ``tree`` to build in, removed on any exit (see the module
    docstring for what is linked and what is copied). ``only``: the top-level folders to
    take (top-level files are always taken); None: all."""
    tmp = Path(tempfile.mkdtemp(prefix="rmaplint-unittest-"))
    dest = tmp / "tree"
    dest.mkdir()
    start = time.monotonic()
    try:
        entries = sorted(e for e in os.listdir(tree) if e != ".git" and (
            only is None or e in only or not (tree / e).is_dir()))
        linked = [e for e in entries if e != "tools"]
        copied = [e for e in entries if e == "tools"]
        ok = True
        if linked:
            r = subprocess.run(["cp", "-al", "--", *linked, str(dest)], cwd=tree,
                               capture_output=True)
            ok = r.returncode == 0
        if ok and copied:
            r = subprocess.run(["cp", "-a", "--", *copied, str(dest)], cwd=tree,
                               capture_output=True)
            if r.returncode != 0:
                raise InputError(f"cannot copy {tree}: {_last(r.stderr)}")
        if ok:
            prepared.method = PrepareMethod.HARDLINK
        else:  # other file system, or not allowed to link: copy everything
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir()
            r = subprocess.run(["cp", "-a", "--", *entries, str(dest)], cwd=tree,
                               capture_output=True)
            if r.returncode != 0:
                raise InputError(f"cannot copy {tree}: {_last(r.stderr)}")
            prepared.method = PrepareMethod.COPY
        prepared.seconds = time.monotonic() - start
        yield dest
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    """Remove a folder: rm -rf first (several times faster than shutil.rmtree on a kernel
    tree's 90,000 files), shutil for whatever it left."""
    try:
        subprocess.run(["rm", "-rf", "--", str(path)], capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError):
        pass
    shutil.rmtree(path, ignore_errors=True)


def _last(b: bytes) -> str:
    lines = b.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "failed"


def _resolve_suites(names: list[str], table: Table) -> list[Suite]:
    out: list[Suite] = []
    for n in names:
        s = table.suite(n)
        if all(s.name != o.name for o in out):
            out.append(s)
    return out


def run_suites(tree: Path, suites: list[str], jobs: int, reports_dir: Path | None,
               timeout_scale: float = 1.0, *, table: Table | None = None,
               in_place: bool = False, prepared: Prepared | None = None) -> list[SuiteResult]:
    """Build and run ``suites`` (names as for --suite) of the kernel tree ``tree``.

    The tree is copied to a temporary folder first unless ``in_place`` (use that for a tree
    that is already a throwaway, e.g. a temporary worktree). Logs go to
    ``reports_dir/<suite>/`` (a temporary folder, dropped afterwards, when None; the results
    then name no log). ``prepared``, when given, is filled with how the tree was made ready."""
    tree = Path(tree)
    if not tree.is_dir():
        raise InputError(f"{tree}: no such directory")
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if timeout_scale <= 0:
        raise UsageError("--timeout-scale must be positive")
    table = table or load_table()
    wanted = _resolve_suites(suites, table)
    prepared = prepared if prepared is not None else Prepared(PrepareMethod.NONE)
    if reports_dir is not None:
        try:
            Path(reports_dir).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"cannot write {reports_dir}: {e.strerror or e}") from None
    with _term_as_interrupt():
        return _run_suites(tree, wanted, jobs, reports_dir, timeout_scale, in_place, prepared)


@contextmanager
def _term_as_interrupt():
    """SIGTERM unwinds like Ctrl-C, so the temporary copy is removed and the process
    groups of a build or run are killed (main thread only: signals are not for others)."""
    def on_term(signum, frame):
        raise KeyboardInterrupt

    old = None
    try:
        # a caller that already unwinds on SIGTERM (the CLI does) keeps its handler
        if not callable(signal.getsignal(signal.SIGTERM)):
            old = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        old = None
    try:
        yield
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _run_suites(tree: Path, wanted: list[Suite], jobs: int, reports_dir: Path | None,
                timeout_scale: float, in_place: bool, prepared: Prepared) -> list[SuiteResult]:
    results: dict[str, SuiteResult] = {}
    todo: list[Suite] = []
    for s in wanted:
        if _is_present(s, lambda p: (tree / p).exists()):
            todo.append(s)
        else:
            results[s.name] = SuiteResult(s.name, UnitStatus.NOT_PRESENT,
                                          detail=f"no {s.path}/ in this tree")
            if reports_dir is not None:  # no stale logs of an earlier tree beside the result
                for log in ("build.log", "run.log"):
                    (Path(reports_dir) / s.slug / log).unlink(missing_ok=True)
    # a missing dependency is known without a copy of the tree
    checked: dict[str, tuple[str, str] | None] = {s.name: precheck(s) for s in todo}

    keep_logs = reports_dir is not None
    logbase = Path(reports_dir) if reports_dir is not None else \
        Path(tempfile.mkdtemp(prefix="rmaplint-logs-"))
    try:
        def one(root: Path, s: Suite) -> SuiteResult:
            miss = checked[s.name]
            if miss is not None:
                res = SuiteResult(s.name, UnitStatus.MISSING_DEPENDENCY, package=miss[0],
                                  first_error=Failure(None, miss[1], None),
                                  detail=f"{miss[1]}: install Debian package {miss[0]}")
                d = logbase / s.slug
                d.mkdir(parents=True, exist_ok=True)
                (d / "run.log").unlink(missing_ok=True)
                (d / "build.log").write_text(f"{_MARK}not built: {miss[1]} "
                                             f"(Debian package {miss[0]})\n")
                res.build_log = d / "build.log"
                return res
            return run_one(root, s, jobs, logbase / s.slug, timeout_scale, skip_precheck=True)

        needs_build = [s for s in todo if checked[s.name] is None]
        if in_place or not needs_build:
            if needs_build:
                prepared.method = PrepareMethod.IN_PLACE
            for s in todo:
                results[s.name] = one(tree, s)
        else:
            only: set[str] | None = set()
            for s in needs_build:
                if s.copy is None:
                    only = None
                    break
                assert only is not None  # None only just before the break
                only |= {PurePosixPath(_norm(c)).parts[0] for c in s.copy if _norm(c)}
            with prepared_copy(tree, prepared, only) as root:
                for s in todo:
                    results[s.name] = one(root, s)
    finally:
        if not keep_logs:
            shutil.rmtree(logbase, ignore_errors=True)
    out = [results[s.name] for s in wanted]
    if not keep_logs:
        for r in out:
            r.build_log = r.run_log = None
    return out


def run_suites_at(repo: Path, rev: str, suites: list[str], jobs: int,
                  reports_dir: Path | None, timeout_scale: float = 1.0, *,
                  table: Table | None = None, prepared: Prepared | None = None
                  ) -> tuple[str, list[SuiteResult]]:
    """``run_suites`` on revision ``rev`` of the git repository ``repo``: checked out in a
    temporary worktree (removed afterwards, whatever happens), built there. (sha, results)"""
    from ..workflow.review import resolve, temporary_worktree

    sha = resolve(repo, rev)
    table = table or load_table()
    wanted = _resolve_suites(suites, table)
    prepared = prepared if prepared is not None else Prepared(PrepareMethod.NONE)

    def exists_at(p: str) -> bool:
        r = subprocess.run(["git", "cat-file", "-e", f"{sha}:{_norm(p)}"], cwd=repo,
                           capture_output=True)
        return r.returncode == 0

    if not any(_is_present(s, exists_at) for s in wanted):
        return sha, [SuiteResult(s.name, UnitStatus.NOT_PRESENT,
                                 detail=f"no {s.path}/ at {sha[:12]}")
                     for s in wanted]
    start = time.monotonic()
    with temporary_worktree(repo, sha) as wt:
        prepared.method, prepared.seconds = PrepareMethod.WORKTREE, time.monotonic() - start
        res = run_suites(wt, [s.name for s in wanted], jobs, reports_dir, timeout_scale,
                         table=table, in_place=True)
    prepared.method = PrepareMethod.WORKTREE
    return sha, res
