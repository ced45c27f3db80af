#!/usr/bin/env python3
"""rmaplint's real-bug corpus: upstream-fixed kernel locking bugs, put back into a real tree,
and whether the engine of this checkout reports them.

    python3 benchmarks/realbugs.py [--tree-61 DIR] [--tree-612 DIR] [--case ID ...]
                                   [--jobs N] [--json FILE] [--update-expect]

The data is ``benchmarks/realbugs/cases/<id>.toml``, one case per file (the format is
described in ``benchmarks/realbugs/README.md``): a fix merged upstream before v6.1-rc1, the
file and function it touched, and one or more ``[[hunk]]`` tables, each the text as it is in
the Debian tree (``fixed``, the post-fix state) and the same text with the fix reversed
(``buggy``). A case quotes only the lines the fix changed and the few lines of context that
make them unique; the rest of the file comes from the tree at run time.

For each case, in a temporary folder:

  tree       a throwaway copy of the kernel tree the case names (``tree = "6.1"``: Debian's
             linux-source-6.1, ``"6.12"``: linux-source-6.12): hard links (``cp -al``) of
             ``include/``, ``arch/x86/include/``, ``mm/``, the case file's own folder and
             ``.clang-format`` -- not the whole tree. The case file is then unlinked and
             written anew, so the cached tree behind the hard links is never written.
  git        a repository over that copy with two commits: the fixed state, then the buggy
             state (every hunk applied in order, ``fixed`` -> ``buggy``; each ``fixed`` must
             occur exactly once). The objects of the unchanged files are hashed once per run
             into a shared store (``objects/info/alternates``) and the fixed commit is built
             from its trees with plumbing, so a case costs one file's hashing, not 60 MB's.
             Both commits stay, so ``review`` or ``history`` can be run on the copy by hand
             (``--keep`` leaves the folders behind).
  analysis   ``python -m analyzer.cli check --format json --no-cache --quiet FILE`` of this
             checkout (``PYTHONPATH`` = the repository root, ``cwd`` = the copy): once on the
             work tree (the buggy state), once with ``--rev`` of the fixed commit.

A case is **detected** when the buggy state has a finding (note, warning or error) in the
case's function that the fixed state does not have, and that finding touches the code the
fix changed: its region, or one of its related lines, within two lines of a buggy hunk (a
finding the fix only happens to reword elsewhere in the function is not a detection). Findings are compared as multisets of
keys ``(rule, function, locks, message with every number removed)``: fingerprints and lines
move when the hunk adds or removes lines, the rule, the lock and the wording do not. A buggy
finding is new when its key occurs more often in the buggy state than in the fixed one; the
detecting rule is that of the most severe new finding (error > warning > note). **Noise** is
the number of findings in the function whose key is present in both states (the function's
findings that the fix does not change). Findings in other functions are not counted: a case
names the function where the fix is.

Output: one table (case id, class, tree, result, rule and severity, noise), then recall
overall and per class; ``--json FILE`` writes every case's result. ``--update-expect``
rewrites each case's ``[expect]`` table from the run (status and rule; a hand-written
``reason`` of a miss is kept). A case that cannot be run (hunk not found, tree missing,
analyzer crash or bad JSON) is reported as ``error`` with the reason and the run goes on.

Exit status: 0 when every case's outcome matched its ``[expect]`` status, 1 otherwise, 2 on
bad arguments (an unknown ``--case``, no cases, a tree folder that is not a kernel tree).

Nothing here is imported by the ``analyzer`` package; tests/test_realbugs.py imports this
file to validate the cases and to run them.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES_DIR = REPO / "benchmarks" / "realbugs" / "cases"

#: tree label -> (folder name in the cache, Debian tarball, environment variable naming it)
TREES = {
    "6.1": ("linux-source-6.1", Path("/usr/src/linux-source-6.1.tar.xz"),
            "RMAPLINT_KERNEL_TREE_61"),
    "6.12": ("linux-source-6.12", Path("/usr/src/linux-source-6.12.tar.xz"),
             "RMAPLINT_KERNEL_TREE"),
}

CLASSES = ("error-path-leak", "double-lock", "unlock-unheld", "lock-order", "sleep-in-atomic",
           "reclaim-under-lock", "missing-lock", "lock-dropped-stale", "wrong-mode",
           "interprocedural")
REQUIRED = ("id", "commit", "subject", "fixes", "merged", "source", "tree", "file", "function",
            "class", "lock", "description", "hunk", "expect")
EXPECT_KEYS = ("status", "rule", "reason")
HUNK_KEYS = ("fixed", "buggy")
STATUSES = ("detected", "missed")
#: every case must be merged before this release (later fixes are a held-out set)
CUTOFF = (6, 1)
CUTOFF_DATE = "2022-10-16"  # the day v6.1-rc1 was tagged

#: folders every throwaway tree gets (beside the case file's own folder)
COMMON_DIRS = ("include", "arch/x86/include", "mm")
COMMON_FILES = (".clang-format",)

SEVERITY_RANK = {"error": 3, "warning": 2, "note": 1}
CHECK_TIMEOUT = 600.0


# ============================================================================ the cases

@dataclass
class Case:
    id: str
    path: Path
    data: dict

    def __getattr__(self, name):  # case.file, case.function, ...
        try:
            return self.__dict__["data"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def hunks(self) -> list[dict]:
        return self.data.get("hunk", [])

    @property
    def expect(self) -> dict:
        return self.data.get("expect", {})


def load_case(path: Path) -> Case:
    with open(path, "rb") as f:
        data = tomllib.load(f)
    return Case(str(data.get("id", path.stem)), path, data)


def load_cases(cases_dir: Path = CASES_DIR) -> list[Case]:
    return [load_case(p) for p in sorted(cases_dir.glob("*.toml"))]


def parse_merged(text: str) -> tuple[tuple[int, ...] | None, str | None]:
    """The release (``v5.19`` -> (5, 19)) and the date (``YYYY-MM-DD``) a ``merged`` string
    names; either may be None. The string starts with the first release that contains the
    fix, and may go on with the evidence in words (``"v5.1 (posted 2019-03-03, ...)"``)."""
    m = re.match(r"\s*v(\d+)\.(\d+)(?:\.(\d+))?(?:-rc(\d+))?\b", text)
    version = tuple(int(g) for g in m.groups()[:2]) if m else None
    d = re.search(r"\b(\d{4}-\d{2}-\d{2})\b", text)
    return version, (d.group(1) if d else None)


def validate_case(case: Case) -> list[str]:
    """What is wrong with a case file's structure (no tree needed); empty when nothing."""
    d = case.data
    problems = []
    for k in REQUIRED:
        if k not in d:
            problems.append(f"missing key {k!r}")
    for k in d:
        if k not in REQUIRED:
            problems.append(f"unknown key {k!r}")
    if d.get("id") != case.path.stem:
        problems.append(f"id {d.get('id')!r} is not the file name {case.path.stem!r}")
    if d.get("class") not in CLASSES:
        problems.append(f"class {d.get('class')!r} is not one of {', '.join(CLASSES)}")
    if d.get("tree") not in TREES:
        problems.append(f"tree {d.get('tree')!r} is not one of {', '.join(TREES)}")
    for k in ("commit", "fixes"):
        v = d.get(k, "")
        if not isinstance(v, str) or (v or k == "commit") and not re.fullmatch(r"[0-9a-f]{12,40}", v):
            problems.append(f"{k} {v!r} is not 12 to 40 hex digits" + (" or \"\"" if k == "fixes" else ""))
    for k in ("subject", "merged", "source", "file", "function", "lock", "description"):
        if k in d and (not isinstance(d[k], str) or not d[k].strip()):
            problems.append(f"{k} is empty or not a string")
    if isinstance(d.get("file"), str) and (d["file"].startswith("/") or ".." in d["file"].split("/")):
        problems.append("file must be a path inside the tree")
    version, date = parse_merged(d.get("merged", "") if isinstance(d.get("merged"), str) else "")
    if version is None and date is None:
        problems.append(f"merged {d.get('merged')!r} names neither a release (vX.Y) nor a date")
    elif version is not None and version >= CUTOFF:
        problems.append(f"merged {d.get('merged')!r}: not before v6.1-rc1")
    elif version is None and date >= CUTOFF_DATE:
        problems.append(f"merged {d.get('merged')!r}: dated on or after v6.1-rc1 ({CUTOFF_DATE})")
    hunks = d.get("hunk")
    if not isinstance(hunks, list) or not hunks:
        problems.append("no [[hunk]]")
    else:
        for i, h in enumerate(hunks):
            if not isinstance(h, dict):
                problems.append(f"hunk {i} is not a table")
                continue
            for k in HUNK_KEYS:
                if not isinstance(h.get(k), str) or not h.get(k):
                    problems.append(f"hunk {i}: {k} missing or empty")
            for k in h:
                if k not in HUNK_KEYS:
                    problems.append(f"hunk {i}: unknown key {k!r}")
            if h.get("fixed") == h.get("buggy"):
                problems.append(f"hunk {i}: buggy is the same as fixed")
    exp = d.get("expect")
    if not isinstance(exp, dict):
        problems.append("no [expect] table")
    else:
        for k in exp:
            if k not in EXPECT_KEYS:
                problems.append(f"expect: unknown key {k!r}")
        if exp.get("status") not in STATUSES:
            problems.append(f"expect.status {exp.get('status')!r} is not detected or missed")
        if exp.get("status") == "detected" and not exp.get("rule"):
            problems.append("expect.rule is empty for a detected case")
        if exp.get("status") == "missed" and not str(exp.get("reason", "")).strip():
            problems.append("expect.reason is empty for a missed case")
    return problems


def apply_hunks(text: str, hunks: list[dict], *, reverse: bool = False) -> str:
    """The file text with each hunk's ``fixed`` replaced by its ``buggy`` (``reverse``:
    the other way). A text that does not occur exactly once is a ValueError."""
    src, dst = ("buggy", "fixed") if reverse else ("fixed", "buggy")
    for i, h in enumerate(hunks):
        n = text.count(h[src])
        if n != 1:
            raise ValueError(f"hunk {i}: {src} text found {n} times in the file (needs 1)")
        text = text.replace(h[src], h[dst], 1)
    return text


def check_in_tree(case: Case, tree: Path) -> list[str]:
    """Problems of a case against its tree: the file exists, every ``fixed`` occurs exactly
    once (in order: hunk i is looked for after hunks 0..i-1 are applied), the result differs."""
    path = tree / case.file
    if not path.is_file():
        return [f"{case.file} is not in {tree}"]
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    try:
        buggy = apply_hunks(text, case.hunks)
    except ValueError as e:
        return [str(e)]
    if buggy == text:
        return ["the hunks change nothing"]
    return []


# ============================================================================ the trees

def cache_base() -> Path:
    base = os.environ.get("RMAPLINT_CACHE")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "rmaplint"


def default_tree(label: str, *, extract: bool = True) -> Path | None:
    """The tree for a label: its environment variable, else the extraction under the cache
    (``~/.cache/rmaplint/kernel/<dirname>``, complete when its marker is there), else -- when
    ``extract`` and the Debian tarball is installed -- extracted there once (beside its
    place, then renamed in, as tests/conftest.py does). None when there is none."""
    dirname, tarball, env = TREES[label]
    given = os.environ.get(env)
    if given:
        return Path(given)
    kernel = cache_base() / "kernel"
    tree = kernel / dirname
    marker = kernel / f".{dirname}.complete"
    if (tree / "mm").is_dir() and marker.is_file():
        return tree
    if not extract or not tarball.is_file():
        return None
    print(f"realbugs: extracting {tarball} into {kernel} (once)", file=sys.stderr)
    kernel.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".extract-", dir=kernel))
    try:
        subprocess.run(["tar", "-xJf", str(tarball), "--no-same-owner", "-C", str(work)],
                       check=True)
        if tree.exists():
            shutil.rmtree(tree)
        (work / dirname).rename(tree)
        st = tarball.stat()
        marker.write_text(f"{tarball} {st.st_size} {st.st_mtime_ns}\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tree


def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
               GIT_AUTHOR_NAME="rmaplint realbugs", GIT_AUTHOR_EMAIL="realbugs@rmaplint.invalid",
               GIT_COMMITTER_NAME="rmaplint realbugs",
               GIT_COMMITTER_EMAIL="realbugs@rmaplint.invalid",
               GIT_AUTHOR_DATE="2024-01-01T00:00:00 +0000",
               GIT_COMMITTER_DATE="2024-01-01T00:00:00 +0000")
    return env


def git(cwd: Path, env: dict, *args: str, input: str | None = None) -> str:
    r = subprocess.run(["git", *args], cwd=cwd, env=env, input=input, capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:3])}: {(r.stderr or r.stdout).strip()[:300]}")
    return r.stdout.strip()


def link_copy(src: Path, dst: Path) -> None:
    """``cp -al src dst`` (hard links; dst's parent is created)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(src), str(dst)], check=True, capture_output=True)


def case_dirs(case: Case) -> list[str]:
    own = str(Path(case.file).parent)
    dirs = list(COMMON_DIRS)
    if not any(own == d or own.startswith(d + "/") for d in dirs):
        dirs.append(own)
    return dirs


class Store:
    """One shared object store per kernel tree and run: a repository over hard-link copies
    of every folder the selected cases need, committed once. Case repositories borrow its
    objects (``objects/info/alternates``) and take their fixed state from its trees."""

    def __init__(self, tree: Path, dirs: list[str], root: Path, env: dict):
        self.tree, self.root, self.env = tree, root, env
        self.dirs = sorted(set(dirs))
        root.mkdir(parents=True)
        for d in self.dirs:
            if (tree / d).is_dir():
                link_copy(tree / d, root / d)
        for f in COMMON_FILES:
            if (tree / f).is_file():
                link_copy(tree / f, root / f)
        git(root, env, "init", "-q")
        git(root, env, "add", "-A")
        git(root, env, "commit", "-q", "--no-verify", "-m", "tree")
        self.commit = git(root, env, "rev-parse", "HEAD")
        self.objects = root / ".git" / "objects"

    def subtree(self, path: str) -> str | None:
        try:
            return git(self.root, self.env, "rev-parse", f"{self.commit}:{path}")
        except RuntimeError:
            return None


@dataclass
class CaseTree:
    path: Path
    fixed: str  # commit ids
    buggy: str


def build_case_tree(case: Case, store: Store, dest: Path, env: dict) -> CaseTree:
    """The throwaway copy of one case: work tree of hard links, HEAD the buggy commit whose
    parent is the fixed one. The case file is unlinked before it is written."""
    tree = store.tree
    dirs = case_dirs(case)
    dest.mkdir(parents=True)
    for d in dirs:
        if (tree / d).is_dir():
            link_copy(tree / d, dest / d)
    for f in COMMON_FILES:
        if (tree / f).is_file():
            link_copy(tree / f, dest / f)
    git(dest, env, "init", "-q")
    (dest / ".git" / "objects" / "info" / "alternates").write_text(f"{store.objects}\n")
    for d in dirs:
        sub = store.subtree(d)
        if sub:
            git(dest, env, "read-tree", f"--prefix={d}/", sub)
    for f in COMMON_FILES:
        blob = store.subtree(f)
        if blob:
            git(dest, env, "update-index", "--add", "--cacheinfo", f"100644,{blob},{f}")
    fixed = git(dest, env, "commit-tree", git(dest, env, "write-tree"), "-m",
                f"{case.id}: fixed state (tree {case.tree})")
    target = dest / case.file
    text = target.read_text(encoding="utf-8", errors="surrogateescape")
    buggy_text = apply_hunks(text, case.hunks)
    target.unlink()  # a hard link into the cached tree: never write through it
    target.write_text(buggy_text, encoding="utf-8", errors="surrogateescape")
    git(dest, env, "update-index", "--add", "--", case.file)
    buggy = git(dest, env, "commit-tree", git(dest, env, "write-tree"), "-p", fixed, "-m",
                f"{case.id}: the fix reversed ({case.commit[:12]})")
    git(dest, env, "update-ref", "HEAD", buggy)
    return CaseTree(dest, fixed, buggy)


# ============================================================================ analysis

def run_check(cwd: Path, path: str, *, rev: str | None = None, env: dict | None = None,
              timeout: float = CHECK_TIMEOUT, cache: Path | None = None) -> list[dict]:
    """This checkout's ``check --format json`` of one file; its findings. ``cache``: the
    result cache to use (None: none). A crash, a timeout, output that is not the JSON
    report, or a file the analyzer could not read is a RuntimeError."""
    argv = [sys.executable, "-m", "analyzer.cli", "check", "--format", "json", "--quiet",
            *(["--cache-dir", str(cache)] if cache is not None else ["--no-cache"])]
    if rev:
        argv += ["--rev", rev]
    argv.append(path)
    e = dict(env or os.environ)
    e["PYTHONPATH"] = str(REPO) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    try:
        r = subprocess.run(argv, cwd=cwd, env=e, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"check timed out after {timeout:.0f} s") from None
    if r.returncode not in (0, 1):
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"check exited {r.returncode}: {tail[0][:300]}")
    try:
        doc = json.loads(r.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"check printed no JSON report: {r.stdout[:200]!r}") from None
    for f in doc.get("files", []):
        if f.get("status") == "error":
            raise RuntimeError(f"check could not analyse {f.get('path')}: {f.get('error')}")
    return doc.get("findings", [])


def finding_key(f: dict) -> tuple:
    """What identifies a finding across the two states (not its lines or fingerprint)."""
    message = re.sub(r"\d+", "#", f.get("message", ""))
    return (f.get("rule"), f.get("function"), tuple(f.get("locks") or ()), message)


def compare(buggy: list[dict], fixed: list[dict], function: str) -> tuple[list[dict], list[dict]]:
    """(new, noise): the buggy state's findings in ``function`` that the fixed state does not
    have (multiset difference of keys), and those it has too."""
    left: dict[tuple, int] = {}
    for f in fixed:
        if f.get("function") == function:
            k = finding_key(f)
            left[k] = left.get(k, 0) + 1
    new, noise = [], []
    for f in sorted((f for f in buggy if f.get("function") == function),
                    key=lambda f: (f.get("line", 0), f.get("rule", ""))):
        k = finding_key(f)
        if left.get(k, 0) > 0:
            left[k] -= 1
            noise.append(f)
        else:
            new.append(f)
    return new, noise


def hunk_lines(path: Path, hunks: list[dict]) -> list[tuple[int, int]]:
    """The line spans of the buggy hunks in the buggy file."""
    text = path.read_text(errors="replace")
    out = []
    for h in hunks:
        body = h.get("buggy", "").strip("\n")
        i = text.find(body) if body else -1
        if i < 0:
            continue
        first = text.count("\n", 0, i) + 1
        out.append((first, first + body.count("\n")))
    return out


def touches(f: dict, spans: list[tuple[int, int]], slack: int = 2) -> bool:
    lines = [(f.get("line", 0), f.get("end_line", f.get("line", 0)))]
    lines += [(r.get("line", 0), r.get("line", 0)) for r in f.get("related") or ()]
    return not spans or any(a <= e + slack and b >= s - slack
                            for a, b in lines for s, e in spans)


@dataclass
class Result:
    id: str
    cls: str
    tree: str
    file: str
    function: str
    status: str  # detected | missed | error
    rule: str = ""
    severity: str = ""
    noise: int = 0
    error: str = ""
    expected: str = ""
    expected_rule: str = ""
    new: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    kept: str = ""  # the throwaway tree, with --keep

    @property
    def matches(self) -> bool:
        return self.status == self.expected

    def to_json(self) -> dict:
        d = asdict(self)
        d["class"] = d.pop("cls")
        d["matches_expect"] = self.matches
        return d


def run_case(case: Case, store: Store, work: Path, env: dict, keep: bool = False,
             cache: Path | None = None) -> Result:
    res = Result(case.id, case.data.get("class", ""), case.data.get("tree", ""),
                 case.data.get("file", ""), case.data.get("function", ""), "error",
                 expected=case.expect.get("status", ""),
                 expected_rule=case.expect.get("rule", ""))
    t0 = time.perf_counter()
    dest = work / case.id
    own_cache = cache is None
    cache = cache or work / f"{case.id}.cache"
    try:
        ct = build_case_tree(case, store, dest, env)
        # one cache for the case's two states, outside its tree: the fixed state's run
        # reads what the buggy one computed for every file but the one the fix changed,
        # as a review of the fix would (values are keyed by blob and what they depend on:
        # run_cases shares one cache between the cases of a tree, whose files are the
        # same blobs but for each case's own)
        buggy = run_check(ct.path, case.file, env=env, cache=cache)
        fixed = run_check(ct.path, case.file, rev=ct.fixed, env=env, cache=cache)
        new, noise = compare(buggy, fixed, case.function)
        spans = hunk_lines(ct.path / case.file, case.hunks)
        new = [f for f in new if touches(f, spans)]
        res.noise = len(noise)
        res.new = new
        if new:
            top = max(new, key=lambda f: SEVERITY_RANK.get(f.get("severity"), 0))
            res.status, res.rule, res.severity = "detected", top["rule"], top["severity"]
        else:
            res.status = "missed"
    except (RuntimeError, ValueError, OSError, subprocess.CalledProcessError) as e:
        res.status, res.error = "error", str(e)
    finally:
        res.seconds = round(time.perf_counter() - t0, 2)
        if own_cache:
            shutil.rmtree(cache, ignore_errors=True)
        if keep and dest.exists():
            res.kept = str(dest)
        else:
            shutil.rmtree(dest, ignore_errors=True)
    return res


def run_cases(cases: list[Case], trees: dict[str, Path | None], *, jobs: int = 2,
              keep_dir: Path | None = None, progress=None) -> list[Result]:
    """Run ``cases`` (in parallel, ``jobs`` at a time); one Result each, in case order. A case
    whose tree is missing is an error result. ``keep_dir``: build there and keep the copies."""
    results: dict[str, Result] = {}
    tmp = Path(keep_dir) if keep_dir else Path(tempfile.mkdtemp(prefix="rmaplint-realbugs-"))
    tmp.mkdir(parents=True, exist_ok=True)
    env = git_env(tmp)
    try:
        stores: dict[str, Store] = {}
        runnable = []
        for c in cases:
            tree = trees.get(c.data.get("tree"))
            if tree is None or not (Path(tree) / "mm").is_dir():
                label = c.data.get("tree")
                results[c.id] = Result(c.id, c.data.get("class", ""), str(label),
                                       c.data.get("file", ""), c.data.get("function", ""),
                                       "error", error=f"no kernel tree for {label!r}",
                                       expected=c.expect.get("status", ""),
                                       expected_rule=c.expect.get("rule", ""))
            else:
                runnable.append(c)
        for label in sorted({c.data["tree"] for c in runnable}):
            dirs = [d for c in runnable if c.data["tree"] == label for d in case_dirs(c)]
            stores[label] = Store(Path(trees[label]).resolve(), dirs, tmp / f"store-{label}", env)
        lock = threading.Lock()

        def one(c: Case) -> Result:
            r = run_case(c, stores[c.data["tree"]], tmp / "cases", env, keep=bool(keep_dir),
                         cache=tmp / f"cache-{c.data['tree']}")
            if progress:
                with lock:
                    progress(r)
            return r

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for r in pool.map(one, runnable):
                results[r.id] = r
    finally:
        if not keep_dir:
            shutil.rmtree(tmp, ignore_errors=True)
    return [results[c.id] for c in cases]


# ============================================================================ reporting

def recall(results: list[Result]) -> tuple[int, int, dict[str, tuple[int, int]]]:
    detected = sum(r.status == "detected" for r in results)
    per: dict[str, tuple[int, int]] = {}
    for r in results:
        d, n = per.get(r.cls, (0, 0))
        per[r.cls] = (d + (r.status == "detected"), n + 1)
    return detected, len(results), dict(sorted(per.items()))


def render(results: list[Result]) -> str:
    rows = [("case", "class", "tree", "result", "rule (severity)", "noise", "expect")]
    for r in results:
        found = f"{r.rule} ({r.severity})" if r.status == "detected" else ""
        exp = "ok" if r.matches else f"MISMATCH (expected {r.expected or '?'})"
        rows.append((r.id, r.cls, r.tree, r.status, found, str(r.noise), exp))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for i, row in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    errors = [r for r in results if r.status == "error"]
    if errors:
        out.append("")
        out.append("errors:")
        out += [f"  {r.id}: {r.error}" for r in errors]
    d, n, per = recall(results)
    out.append("")
    out.append(f"recall: {d}/{n}" + (f" ({100 * d / n:.0f}%)" if n else ""))
    for cls, (cd, cn) in per.items():
        out.append(f"  {cls:<20} {cd}/{cn}")
    mism = [r.id for r in results if not r.matches]
    out.append(f"expect: {len(results) - len(mism)}/{len(results)} as recorded"
               + (f"; differ: {', '.join(mism)}" if mism else ""))
    return "\n".join(out) + "\n"


def toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def update_expect(case: Case, r: Result) -> bool:
    """Rewrite the case file's ``[expect]`` table (the last table of the file) from a run.
    The reason of a miss is kept when the case already had one. Returns whether the file
    changed. Errors leave the file alone."""
    if r.status == "error":
        return False
    reason = ""
    if r.status == "missed":
        reason = str(case.expect.get("reason", "")).strip() or "TODO: diagnose"
    block = (f"[expect]\nstatus = {toml_str(r.status)}\nrule = {toml_str(r.rule)}\n"
             f"reason = {toml_str(reason)}\n")
    text = case.path.read_text(encoding="utf-8")
    m = re.search(r"^\[expect\][ \t]*$", text, re.M)
    new_text = (text[:m.start()] if m else text.rstrip("\n") + "\n\n") + block
    if new_text == text:
        return False
    case.path.write_text(new_text, encoding="utf-8")
    return True


# ============================================================================ main

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="realbugs.py", description="rmaplint on real upstream "
                                "locking bugs put back into a Debian kernel tree")
    p.add_argument("--tree-61", metavar="DIR", help="linux-source-6.1 tree (default: "
                   "$RMAPLINT_KERNEL_TREE_61, else ~/.cache/rmaplint/kernel/linux-source-6.1, "
                   "extracted from Debian's tarball once)")
    p.add_argument("--tree-612", metavar="DIR", help="linux-source-6.12 tree (default: "
                   "$RMAPLINT_KERNEL_TREE, else ~/.cache/rmaplint/kernel/linux-source-6.12)")
    p.add_argument("--case", action="append", metavar="ID", default=[],
                   help="run only this case (repeatable)")
    p.add_argument("--cases-dir", metavar="DIR", default=str(CASES_DIR),
                   help=argparse.SUPPRESS)
    p.add_argument("--jobs", "-j", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                   help="cases analysed at once (default: 2, or 1 on one CPU)")
    p.add_argument("--json", metavar="FILE", help="write every case's result here")
    p.add_argument("--update-expect", action="store_true",
                   help="rewrite each case's [expect] status and rule from this run")
    p.add_argument("--keep", metavar="DIR", help="build the throwaway trees under DIR and "
                   "keep them (to run explain, review or history on a case by hand)")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0) and 2
    if args.jobs < 1:
        print("realbugs: --jobs must be at least 1", file=sys.stderr)
        return 2
    cases_dir = Path(args.cases_dir)
    if not cases_dir.is_dir():
        print(f"realbugs: no cases folder {cases_dir}", file=sys.stderr)
        return 2
    cases = load_cases(cases_dir)
    if args.case:
        known = {c.id for c in cases}
        unknown = [i for i in args.case if i not in known]
        if unknown:
            print(f"realbugs: unknown case {', '.join(unknown)}", file=sys.stderr)
            return 2
        cases = [c for c in cases if c.id in set(args.case)]
    if not cases:
        print("realbugs: no cases", file=sys.stderr)
        return 2
    for c in cases:
        problems = validate_case(c)
        if problems:
            print(f"realbugs: {c.path.name}: {'; '.join(problems)}", file=sys.stderr)
    trees: dict[str, Path | None] = {}
    for label, given in (("6.1", args.tree_61), ("6.12", args.tree_612)):
        if given:
            if not (Path(given) / "mm").is_dir():
                print(f"realbugs: {given} is not a kernel tree (no mm/)", file=sys.stderr)
                return 2
            trees[label] = Path(given)
        elif any(c.data.get("tree") == label for c in cases):
            trees[label] = default_tree(label)
    t0 = time.perf_counter()

    def progress(r: Result) -> None:
        print(f"  {r.id}: {r.status}{' ' + r.rule if r.rule else ''} ({r.seconds:.1f} s)",
              file=sys.stderr)

    results = run_cases(cases, trees, jobs=args.jobs,
                        keep_dir=Path(args.keep) if args.keep else None, progress=progress)
    print(render(results), end="")
    print(f"wall clock: {time.perf_counter() - t0:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"schema": "rmaplint-realbugs/1",
             "trees": {k: str(v) if v else None for k, v in trees.items()},
             "cases": [r.to_json() for r in results]}, indent=1) + "\n")
    if args.update_expect:
        by_id = {c.id: c for c in cases}
        changed = [r.id for r in results if update_expect(by_id[r.id], r)]
        print(f"updated [expect] of {len(changed)} case(s)"
              + (f": {', '.join(changed)}" if changed else ""))
    return 0 if all(r.matches for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
