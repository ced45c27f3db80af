"""Command line: arguments → pipeline → reporter → exit code. Nothing else lives here.

Exit codes: 0 nothing at or above --fail-on, 1 findings, 2 usage or input error (one line).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .. import __version__
from .unittest import add_unittest_parser
from ..errors import InputError, UsageError
from ..findings.finding import severity_rank


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage otherwise)
        raise UsageError(message)


def _git_toplevel(cwd: Path) -> Path | None:
    try:
        from ..source.reader import git_env

        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd,
                             capture_output=True, text=True, timeout=30, env=git_env())
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def _root(args) -> tuple[Path | None, Path | None]:
    """(tree root, repo) for the source: --repo wins, else the enclosing git work tree."""
    if args.repo is not None:
        repo = Path(args.repo).resolve()
        if not repo.is_dir():
            raise InputError(f"--repo {args.repo}: no such directory")
        return repo, repo
    top = _git_toplevel(Path.cwd())
    if args.rev is not None:
        if top is None:
            raise InputError(f"--rev {args.rev}: {Path.cwd()} is not in a git repository "
                             "(use --repo DIR)")
        return top, top
    return top or Path.cwd(), None


def _paths(args, root: Path) -> list[str]:
    out = []
    for p in args.paths:
        if os.path.isabs(p):
            out.append(p)
        elif args.repo is None:
            out.append(str((Path.cwd() / p).resolve()) if args.rev is None
                       else str(Path.cwd() / p))
        else:
            out.append(p)
    if args.rev is not None and args.repo is None:
        # paths relative to the repository top for a revision
        out = [os.path.relpath(p, root) if os.path.isabs(p) else p for p in out]
    return out


def _frontend(args, root: Path | None):
    """--frontend: the prepared tree's BuildConfig for clang, None for tree-sitter. ``auto``
    falls back to tree-sitter with one line on stderr; ``clang`` on an unprepared tree is an
    InputError naming the command that prepares it."""
    kind = getattr(args, "frontend", "tree-sitter")
    if kind == "tree-sitter":
        return None
    from ..frontend.clang import FrontendUnavailable, build_config

    build_dir = getattr(args, "build_dir", None)
    try:
        return build_config(root or Path.cwd(), build_dir)
    except FrontendUnavailable as e:
        if kind == "clang":
            raise
        print(f"rmaplint: --frontend auto: {e}; using tree-sitter", file=sys.stderr)
        return None


def _cache_dir(args) -> str | None:
    if args.no_cache:
        return None
    if args.cache_dir:
        return str(Path(args.cache_dir).resolve())
    from ..driver.cache import default_cache_dir

    return str(default_cache_dir())


def _write(args, text: str) -> None:
    # Source text holds the bytes of non-UTF-8 files as surrogates: write them back as the
    # same bytes, whatever the encoding and error handler of stdout.
    data = text.encode("utf-8", "surrogateescape")
    if args.output and args.output != "-":
        out = Path(args.output)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
        except OSError as e:
            raise InputError(f"cannot write {args.output}: {e.strerror or e}") from None
        return
    buf = getattr(sys.stdout, "buffer", None)
    if buf is None:  # a text-only stream (tests): it takes str
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    buf.write(data)
    buf.flush()


def _to_terminal(args) -> bool:
    """Writing to a terminal (rich output), not to a file or a pipe."""
    return (not args.output or args.output == "-") and sys.stdout.isatty()


def _html(args, build) -> None:
    """--format html: -o names a folder (default reports/html); say where its index is."""
    if args.output == "-":
        raise UsageError("--format html writes a folder: -o DIR, not -")
    out = Path(args.output or os.path.join("reports", "html"))
    try:
        index = build(out)
    except OSError as e:
        raise InputError(f"cannot write {out}: {e.strerror or e}") from None
    print(f"rmaplint: HTML report: {index}")


def cmd_check(args) -> int:
    from ..report.jsonfmt import check_json
    from ..report.text import check_text
    from ..driver.run import SourceSpec, check_paths

    root, repo = _root(args)
    spec = SourceSpec(str(root), str(repo) if repo else None, args.rev,
                      str(Path(args.rules).resolve()) if args.rules else None, _cache_dir(args),
                      _frontend(args, root))
    paths = _paths(args, root) if args.paths else ["mm"]
    progress = None
    bar = None
    if sys.stderr.isatty() and not args.quiet:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("analysing", total=None)

        def progress(i, n, path):
            bar.update(task, total=n, completed=i + 1, description=path)

    try:
        run = check_paths(spec, paths, jobs=args.jobs, progress=progress)
    finally:
        if bar is not None:
            bar.stop()
    if args.write_baseline:
        from ..findings.finding import write_baseline

        try:
            write_baseline(args.write_baseline, run.findings)
        except OSError as e:
            raise InputError(f"cannot write {args.write_baseline}: {e.strerror or e}") \
                from None
    if args.baseline:
        from ..findings.finding import read_baseline

        run.apply_baseline(read_baseline(args.baseline))
    if args.format == "json":
        _write(args, check_json(run))
    elif args.format == "sarif":
        from ..report.sarif import check_sarif

        _write(args, check_sarif(run, root, args.rev))
    elif args.format == "html":
        from ..report.html import check_html

        _html(args, lambda out: check_html(run, spec, out))
    elif not args.plain and _to_terminal(args):
        from ..report.terminal import check_rich

        with spec.open() as source:
            _write(args, check_rich(run, lambda p: source.read(p).text))
    else:
        _write(args, check_text(run))
    threshold = severity_rank(args.fail_on)
    failing = [f for f in run.findings
               if severity_rank(f.severity) >= threshold and not f.justification]
    return 1 if failing else 0


def cmd_explain(args) -> int:
    from ..driver.project import Project
    from ..report.explain import explain
    from ..model.lockmodel import load
    from ..report.jsonfmt import explain_json
    from ..report.text import explain_text
    from ..source.reader import open_source

    root, repo = _root(args)
    model = load(Path(args.rules).resolve() if args.rules else None)
    path = _paths(args, root)[0]
    clang = _frontend(args, root)
    with open_source(root, repo, args.rev) as source:
        files = source.list_files([path], suffixes=None)
        if len(files) != 1:
            raise InputError(f"{args.paths[0]}: expected one file")
        project = Project(source, model, clang=clang)
        fa_file = project.analyse_file(files[0])
        if fa_file.status == "error":
            raise InputError(f"{files[0]}: {fa_file.error}")
        fa = fa_file.function(args.function)
        if fa is None:
            raise InputError(f"no function '{args.function}' in {files[0]}")
        ex = explain(fa, fa_file.source.text)
    _write(args, explain_json(ex) if args.format == "json" else explain_text(ex))
    return 0


def cmd_frontends_diff(args) -> int:
    from ..frontend.clang import build_config
    from ..workflow.frontends_diff import diff_json, diff_text, frontends_diff
    from ..model.lockmodel import load
    from ..source.reader import open_source

    root, repo = _root(args)
    model = load(Path(args.rules).resolve() if args.rules else None)
    clang = build_config(root or Path.cwd(), args.build_dir)  # one line, exit 2, if not
    paths = _paths(args, root)
    with open_source(root, repo, args.rev) as source:
        files = source.list_files(paths, suffixes=(".c",))
        if not files:
            raise InputError("no C files under " + " ".join(args.paths))
        d = frontends_diff(source, model, files, clang, all_branches=args.all_branches)
    _write(args, diff_json(d) if args.format == "json" else diff_text(d))
    return 0


def _model_cache(args):
    from ..driver.cache import Cache
    from ..model.lockmodel import load

    model = load(Path(args.rules).resolve() if args.rules else None)
    cdir = _cache_dir(args)
    return model, Cache(Path(cdir) if cdir else None, salt=model.digest)


def _repo_for(args) -> Path:
    if args.repo is not None:
        repo = Path(args.repo).resolve()
        if not repo.is_dir():
            raise InputError(f"--repo {args.repo}: no such directory")
        top = _git_toplevel(repo)
        if top is None:
            raise InputError(f"--repo {args.repo}: " + ("a bare git repository; give one "
                             "with a work tree" if _is_bare(repo) else "not a git repository"))
        return top
    top = _git_toplevel(Path.cwd())
    if top is None:
        raise InputError(f"{Path.cwd()} is " + ("a bare git repository; give one with a work "
                         "tree" if _is_bare(Path.cwd()) else "not in a git repository")
                         + " (use --repo DIR)")
    return top


def _is_bare(path: Path) -> bool:
    try:
        from ..source.reader import git_env

        out = subprocess.run(["git", "rev-parse", "--is-bare-repository"], cwd=path,
                             capture_output=True, text=True, timeout=30, env=git_env())
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and out.stdout.strip() == "true"


def _fails(findings, fail_on: str) -> bool:
    threshold = severity_rank(fail_on)
    return any(severity_rank(f.severity) >= threshold and not f.justification
               for f in findings)


def _unittests_hook(args, repo: Path, base: str):
    if args.unittests is None:
        return None
    from ..unittests.per_patch import UnitTestsPerPatch

    suites = [x for part in args.unittests for x in part.split(",") if x] or ["vma"]
    return UnitTestsPerPatch(repo, base, suites, args.jobs,
                             Path(args.reports_dir) / "unittests")


def cmd_review(args) -> int:
    import tempfile

    from ..report.review import review_email, review_json, review_text
    from ..workflow.review import review_series

    model, cache = _model_cache(args)
    fmt = {"json": review_json, "email": review_email}.get(args.format, review_text)

    def emit(res, text_suffix: str = "") -> None:
        if args.format == "html":
            from ..report.html import review_html

            _html(args, lambda out: review_html(res, out, model, cache))
        elif args.format == "sarif":
            from ..report.sarif import review_sarif

            _write(args, review_sarif(res))
        else:
            _write(args, fmt(res) + (text_suffix if args.format == "text" else ""))

    if args.series is None:
        # the embedded default: the corpus history's series on its base
        from ..workflow.corpus import build_history

        with tempfile.TemporaryDirectory(prefix="rmaplint-corpus-") as tmp:
            corpus = build_history(Path(tmp) / "repo")
            hook = _unittests_hook(args, corpus.path, corpus.base)
            res = review_series(corpus.path, str(corpus.mbox), corpus.base, model, cache,
                                on_patch=hook, clang=_frontend(args, corpus.path))
            res.label = "the corpus series (corpus/history)"
            reports = Path(args.reports_dir)
            try:
                reports.mkdir(parents=True, exist_ok=True)
                (reports / "corpus-review.json").write_text(review_json(res))
                (reports / "corpus-review.eml").write_text(review_email(res))
            except OSError as e:
                raise InputError(f"cannot write {reports}: {e.strerror or e}") from None
            emit(res, f"report files: {reports / 'corpus-review.json'}, "
                      f"{reports / 'corpus-review.eml'}\n")
    else:
        repo = _repo_for(args)
        series = args.series
        if Path(series).is_file():
            series = str(Path(series).resolve())
        hook = None
        if args.unittests is not None:
            from ..workflow.review import resolve

            base = args.base or (series.split("..")[0] or "HEAD"
                                 if ".." in series and not Path(series).is_file() else "HEAD")
            hook = _unittests_hook(args, repo, resolve(repo, base))
        res = review_series(repo, series, args.base, model, cache, on_patch=hook,
                            clang=_frontend(args, repo))
        emit(res)
    if res.failure is not None:
        fl = res.failure
        print(f"rmaplint: error: patch {fl.index} ({fl.subject}) does not apply"
              + (f" to {fl.file}" if fl.file else "") + f": {fl.message}", file=sys.stderr)
        return 2
    return 1 if _fails(res.remaining, args.fail_on) else 0


def cmd_history(args) -> int:
    from ..workflow.history import history
    from ..report.history import history_json, history_text

    model, cache = _model_cache(args)
    repo = _repo_for(args)
    res = history(repo, args.range, args.paths or ["mm"], model, cache)
    if args.format == "html":
        from ..report.html import history_html

        _html(args, lambda out: history_html(res, repo, out, model, cache))
    elif args.format == "sarif":
        from ..report.sarif import history_sarif

        _write(args, history_sarif(res, repo))
    else:
        _write(args, history_json(res) if args.format == "json" else history_text(res))
    return 0


def cmd_b4_check(args) -> int:
    from ..workflow.b4 import b4_check, b4_json

    stdin = getattr(sys.stdin, "buffer", None)
    if stdin is None or sys.stdin.isatty():
        raise InputError("b4-check reads one patch on stdin "
                         "(e.g. git format-patch -1 --stdout | rmaplint b4-check)")
    data = stdin.read()
    repo = _repo_for(args)
    model, cache = _model_cache(args)
    verdict = b4_check(repo, data, args.base, model, cache)
    _write(args, b4_json([verdict]))
    return 0  # the verdict is in the JSON: b4 reads the exit status only without one


def _hook_names(args) -> list[str]:
    return [n for n, on in (("pre-commit", args.pre_commit), ("pre-push", args.pre_push)) if on]


def cmd_hook_install(args) -> int:
    from ..workflow.hook import install

    repo = _repo_for(args)
    run_args = ["--fail-on", args.fail_on]
    if args.strict:
        run_args.append("--strict")
    if args.rules:
        rules = Path(args.rules).resolve()
        from ..model.lockmodel import load

        load(rules)  # a typo fails now, not at every commit
        run_args += ["--rules", str(rules)]
    if args.no_cache:
        run_args.append("--no-cache")
    elif args.cache_dir:
        run_args += ["--cache-dir", str(Path(args.cache_dir).resolve())]
    for line in install(repo, _hook_names(args) or ["pre-commit"], args.force, run_args):
        print(line)
    return 0


def cmd_hook_uninstall(args) -> int:
    from ..workflow.hook import HOOKS, uninstall

    for line in uninstall(_repo_for(args), _hook_names(args) or list(HOOKS)):
        print(line)
    return 0


def cmd_hook_run(args) -> int:
    """Exit 1 when the commit/push adds findings at or above --fail-on; an internal error
    is one line and exit 0 (the commit goes through), or exit 2 with --strict."""
    from ..workflow.hook import blocking, finding_line, pre_commit_findings, pre_push_findings

    what = "commit" if args.name == "pre-commit" else "push"
    try:
        repo = _repo_for(args)
        model, cache = _model_cache(args)
        if args.name == "pre-commit":
            new = pre_commit_findings(repo, model, cache)
        else:
            # git writes the pushed refs on stdin; run by hand at a terminal, there are none
            lines = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
            new = pre_push_findings(repo, lines, model, cache)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - a broken checker must not stop git
        if os.environ.get("RMAPLINT_DEBUG"):
            raise
        msg = str(e).splitlines()[0] if str(e) else ""
        kind = "" if isinstance(e, InputError) else f"internal error: {type(e).__name__}: "
        if args.strict:
            print(f"rmaplint hook: {args.name} check failed: {kind}{msg} "
                  f"(--strict: {what} blocked)", file=sys.stderr)
            return 2
        print(f"rmaplint hook: {args.name} check skipped: {kind}{msg} "
              f"({what} allowed; --strict blocks instead)", file=sys.stderr)
        return 0
    new = [f for f in new if not f.justification]
    block = blocking(new, args.fail_on)
    if not new:
        return 0
    if block:
        print(f"rmaplint: {what} blocked: {len(block)} new finding(s) at or above "
              f"{args.fail_on}:", file=sys.stderr)
    else:
        print(f"rmaplint: {len(new)} new finding(s) below {args.fail_on} "
              f"({what} allowed):", file=sys.stderr)
    for f in new:
        print(finding_line(f), file=sys.stderr)
    if block:
        print(f"rmaplint: justify one with /* rmaplint: allow <rule> -- why */ in its "
              f"region, or skip the check with git {what} --no-verify", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rmaplint", description="Lock-state analysis of the Linux kernel's rmap "
                "locking rules.")
    p.add_argument("--version", action="version", version=f"rmaplint {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    def common(sp, *, paths_nargs="*", formats=("text", "json")):
        sp.add_argument("--repo", metavar="DIR", help="tree or git repository (default: the "
                        "enclosing git work tree, else the current directory)")
        sp.add_argument("--rev", metavar="REV", help="read files from this git revision "
                        "(the work tree is not touched)")
        sp.add_argument("--format", choices=formats, default="text")
        sp.add_argument("-o", "--output", metavar="FILE", help="write the report here (with "
                        "--format html: a folder, default reports/html)" if "html" in formats
                        else "write the report here")
        sp.add_argument("--rules", metavar="DIR", help="rules folder (default: built in)")
        frontend_opts(sp)

    def frontend_opts(sp):
        sp.add_argument("--frontend", choices=("tree-sitter", "clang", "auto"),
                        default="tree-sitter", help="parser: tree-sitter (any revision, no "
                        "build), clang (libclang on a prepared tree: make defconfig && make "
                        "prepare), auto (clang where usable)")
        sp.add_argument("--build-dir", metavar="DIR", help="clang: the O= build folder of the "
                        "prepared tree (default: the tree itself)")

    c = sub.add_parser("check", help="analyse files or folders (default mm/)")
    c.add_argument("paths", nargs="*", metavar="PATH")
    common(c, formats=("text", "json", "sarif", "html"))
    c.add_argument("--plain", action="store_true", help="text: path:line: severity: rule: "
                   "message lines even on a terminal (the default when piped)")
    c.add_argument("--jobs", "-j", type=int, default=1, metavar="N")
    c.add_argument("--fail-on", choices=("error", "warning", "note"), default="warning")
    c.add_argument("--cache-dir", metavar="DIR")
    c.add_argument("--no-cache", action="store_true")
    c.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    c.add_argument("--baseline", metavar="FILE", help="do not report findings recorded in "
                   "this baseline (matched by fingerprint, which survives line shifts)")
    c.add_argument("--write-baseline", metavar="FILE", help="record every finding of this run "
                   "as the baseline")
    c.set_defaults(func=cmd_check)

    e = sub.add_parser("explain", help="lock state before every line of one function")
    e.add_argument("paths", nargs=1, metavar="PATH")
    e.add_argument("function", metavar="FUNCTION")
    common(e)
    e.set_defaults(func=cmd_explain)

    fd = sub.add_parser("frontends-diff", help="run tree-sitter and clang on the same files "
                        "and report where their lock states or findings differ")
    fd.add_argument("paths", nargs="+", metavar="PATH")
    common(fd)
    fd.add_argument("--all-branches", action="store_true", help="tree-sitter reads every #if "
                    "branch (its default) instead of the prepared configuration's")
    fd.set_defaults(func=cmd_frontends_diff, frontend="clang")

    r = sub.add_parser("review", help="review a patch series (mbox or A..B) patch by patch; "
                       "without SERIES, the corpus series")
    r.add_argument("series", nargs="?", metavar="SERIES")
    r.add_argument("--repo", metavar="DIR", help="the repository (default: the enclosing one)")
    r.add_argument("--base", metavar="REV", help="apply an mbox on this revision (default HEAD)")
    r.add_argument("--format", choices=("text", "json", "email", "sarif", "html"),
                   default="text")
    r.add_argument("-o", "--output", metavar="FILE", help="write the report here (with "
                   "--format html: a folder, default reports/html)")
    r.add_argument("--rules", metavar="DIR", help="rules folder (default: built in)")
    frontend_opts(r)
    r.add_argument("--fail-on", choices=("error", "warning", "note"), default="warning")
    r.add_argument("--cache-dir", metavar="DIR")
    r.add_argument("--no-cache", action="store_true")
    r.add_argument("--reports-dir", metavar="DIR", default="reports",
                   help="where the embedded default writes its report files (default reports/)")
    r.add_argument("--unittests", nargs="?", action="append", const="vma", metavar="SUITES",
                   help="also build and run the kernel's userland test suites (default vma) "
                   "on the base and after each patch that changes what they compile")
    r.add_argument("--jobs", "-j", type=int, default=2, metavar="N",
                   help="make -j for --unittests builds")
    r.set_defaults(func=cmd_review)

    h = sub.add_parser("history", help="findings across the commits of a range: when each "
                       "appeared and disappeared")
    h.add_argument("range", metavar="REV_RANGE")
    h.add_argument("paths", nargs="*", metavar="PATH")
    h.add_argument("--repo", metavar="DIR", help="the repository (default: the enclosing one)")
    h.add_argument("--format", choices=("text", "json", "sarif", "html"), default="text")
    h.add_argument("-o", "--output", metavar="FILE", help="write the report here (with "
                   "--format html: a folder, default reports/html)")
    h.add_argument("--rules", metavar="DIR", help="rules folder (default: built in)")
    h.add_argument("--cache-dir", metavar="DIR")
    h.add_argument("--no-cache", action="store_true")
    h.set_defaults(func=cmd_history)

    b = sub.add_parser("b4-check", help="b4's per-patch check: one patch on stdin, "
                       "b4's check JSON on stdout (b4.review-perpatch-check-cmd)")
    b.add_argument("--repo", metavar="DIR", help="the repository (default: the enclosing one)")
    b.add_argument("--base", metavar="REV", help="apply the patch on this revision "
                   "(default HEAD)")
    b.add_argument("-o", "--output", metavar="FILE", help="write the JSON here")
    b.add_argument("--rules", metavar="DIR", help="rules folder (default: built in)")
    b.add_argument("--cache-dir", metavar="DIR")
    b.add_argument("--no-cache", action="store_true")
    b.set_defaults(func=cmd_b4_check)

    k = sub.add_parser("hook", help="git hooks that block a commit or push adding findings")
    ksub = k.add_subparsers(dest="hook_command", parser_class=_Parser, required=True)

    def which(sp, verb):
        sp.add_argument("--pre-commit", action="store_true", help=f"{verb} the pre-commit hook")
        sp.add_argument("--pre-push", action="store_true", help=f"{verb} the pre-push hook")
        sp.add_argument("--repo", metavar="DIR",
                        help="the repository (default: the enclosing one)")

    def run_opts(sp):
        sp.add_argument("--fail-on", choices=("error", "warning", "note"), default="warning",
                        help="block on new findings at or above this (default warning)")
        sp.add_argument("--strict", action="store_true",
                        help="block when the check itself fails (default: let it through)")
        sp.add_argument("--rules", metavar="DIR", help="rules folder (default: built in)")
        sp.add_argument("--cache-dir", metavar="DIR")
        sp.add_argument("--no-cache", action="store_true")

    ki = ksub.add_parser("install", help="write the hook (default --pre-commit); the run "
                         "options are stored in it")
    which(ki, "install")
    ki.add_argument("--force", action="store_true",
                    help="replace a hook that is not ours (kept as <name>.rmaplint-backup)")
    run_opts(ki)
    ki.set_defaults(func=cmd_hook_install)

    ku = ksub.add_parser("uninstall", help="remove our hooks (default both); a foreign "
                         "hook is left alone")
    which(ku, "uninstall")
    ku.set_defaults(func=cmd_hook_uninstall)

    kr = ksub.add_parser("run", help="what the installed hook runs")
    kr.add_argument("name", choices=("pre-commit", "pre-push"))
    kr.add_argument("hook_args", nargs="*", metavar="ARG",
                    help="what git passes the hook (pre-push: remote name and URL)")
    kr.add_argument("--repo", metavar="DIR", help="the repository (default: the enclosing one)")
    run_opts(kr)
    kr.set_defaults(func=cmd_hook_run)
    add_unittest_parser(sub)
    return p


def _sigterm_unwinds() -> None:
    """SIGTERM unwinds like Ctrl-C, so every temporary folder and worktree is removed."""
    import signal

    def on_term(signum, frame):
        raise _Terminated

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (embedded use): leave the handler alone
        pass


class _Terminated(KeyboardInterrupt):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    _sigterm_unwinds()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if getattr(args, "jobs", 1) < 1:
            raise UsageError("--jobs must be at least 1")
        return args.func(args)
    except InputError as e:
        print(f"rmaplint: error: {e}", file=sys.stderr)
        return 2
    except _Terminated:
        print("rmaplint: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("rmaplint: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # noqa: BLE001 - never a traceback for the user
        if os.environ.get("RMAPLINT_DEBUG"):
            raise
        msg = str(e).splitlines()[0] if str(e) else ""
        print(f"rmaplint: internal error: {type(e).__name__}: {msg} "
              "(set RMAPLINT_DEBUG=1 for a traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
