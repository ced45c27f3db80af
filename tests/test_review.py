"""``rmaplint review`` on the corpus series (corpus/history): what each patch introduces and
fixes, the verdict of the series, the JSON and email reports, and bad input.

The corpus series reproduces the anon_vma clean-up in three patches:

1. locks the source anon_vma once before the walk: the helper-based lock drop
   (``unlock_anon_vma_root`` → ``lock_anon_vma_root``) goes away, a new drop
   (``anon_vma_unlock_write`` → ``anon_vma_lock_write`` around the sleeping allocation) and
   ``root-assumed-shared`` come in;
2. only changes a comment;
3. allocates first and takes the lock once afterwards: the new drop goes away again.

Every CLI run is a subprocess with ``--no-cache`` or a ``--cache-dir`` under tmp_path, HOME and
XDG_CACHE_HOME in tmp_path, and no GIT_* variable from the caller.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.workflow.corpus import CorpusRepo, build_history

REPO_ROOT = Path(__file__).resolve().parents[1]
ANON = "mm/anon.c"
FINDING_KEYS = {"rule", "severity", "path", "function", "line", "end_line", "message",
                "locks", "related", "fingerprint", "justification", "column", "end_column",
                "kind", "args"}
PATCH_KEYS = {"index", "subject", "commit", "files", "new", "fixed", "unchanged",
              "not_analysed"}
SUBJECTS = ["mm/anon: lock the source anon_vma once instead of per chain",
            "mm/anon: explain what anon_vma_fork() attaches",
            "mm/anon: allocate chains before taking the anon_vma lock"]


# --------------------------------------------------------------------------- running it


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") and k != "RMAPLINT_DEBUG"}
    env.update(PYTHONPATH=str(REPO_ROOT), HOME=str(home),
               XDG_CACHE_HOME=str(home / "xdg-cache"), XDG_CONFIG_HOME=str(home / "xdg-config"),
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
               GIT_CEILING_DIRECTORIES=str(home.parent), **extra)
    return env


def run_cli(home: Path, *args: str, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzer.cli", *args], cwd=cwd or home,
                          env={**clean_env(home), **(env or {})}, capture_output=True,
                          timeout=timeout)


def git(repo: Path, *args: str, home: Path | None = None) -> str:
    out = subprocess.run(["git", *args], cwd=repo, env=clean_env(home or repo.parent),
                         capture_output=True, check=True)
    return out.stdout.decode()


def ok_json(proc: subprocess.CompletedProcess, codes=(0, 1)) -> dict:
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode in codes, (proc.returncode, err)
    assert "Traceback" not in err, err
    return json.loads(proc.stdout)


def assert_input_error(proc: subprocess.CompletedProcess, *needles: str,
                       stdout_empty: bool = True) -> str:
    """Exit 2, exactly one stderr line ``rmaplint: error: ...``, no traceback."""
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, (proc.returncode, err, proc.stdout[:500])
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rmaplint: error: "), err
    if stdout_empty:
        assert proc.stdout == b"", proc.stdout[:500]
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


# --------------------------------------------------------------------------- the corpus


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> CorpusRepo:
    return build_history(tmp_path_factory.mktemp("corpus") / "repo")


def file_at(corpus: CorpusRepo, rev: str, path: str = ANON) -> list[str]:
    return git(corpus.path, "show", f"{rev}:{path}").splitlines()


def line_of(lines: list[str], text: str, after: int = 0) -> int:
    """1-based number of the first line after line ``after`` whose stripped text is ``text``."""
    for i in range(after, len(lines)):
        if lines[i].strip() == text:
            return i + 1
    raise AssertionError(f"no line {text!r} after line {after}")


def drop_region(lines: list[str], unlock: str, relock: str) -> tuple[int, int]:
    """(unlock line, relock line) of the lock drop in anon_vma_clone's loop: the unlock in
    ``if (unlikely(!avc))`` and the first relock after it."""
    start = line_of(lines, "int anon_vma_clone(struct vm_area_struct *dst, "
                           "struct vm_area_struct *src)")
    branch = line_of(lines, "if (unlikely(!avc)) {", start)
    a = line_of(lines, unlock, branch)
    return a, line_of(lines, relock, a)


def new_drop(corpus: CorpusRepo) -> tuple[int, int]:
    """Patch 1's drop, in patch 1's version of mm/anon.c."""
    return drop_region(file_at(corpus, corpus.commits[0]), "anon_vma_unlock_write(src->anon_vma);",
                       "anon_vma_lock_write(src->anon_vma);")


def old_drop(corpus: CorpusRepo) -> tuple[int, int]:
    """The helper-based drop, in the base version."""
    return drop_region(file_at(corpus, corpus.base), "unlock_anon_vma_root(root);",
                       "root = lock_anon_vma_root(root, anon_vma);")


def pick(findings: list[dict], rule: str, function: str = "anon_vma_clone") -> list[dict]:
    return [f for f in findings if f["rule"] == rule and f["function"] == function
            and f["path"] == ANON]


def the_drop(findings: list[dict], region: tuple[int, int]) -> dict:
    found = [f for f in pick(findings, "lock-dropped-in-loop")
             if (f["line"], f["end_line"]) == region]
    assert len(found) == 1, (region, findings)
    return found[0]


@pytest.fixture(scope="module")
def range_doc(corpus, home) -> dict:
    return ok_json(run_cli(home, "review", "main..series", "--repo", str(corpus.path),
                           "--format", "json", "--no-cache"))


@pytest.fixture(scope="module")
def mbox_doc(corpus, home) -> dict:
    # from inside the repository, without --repo: the mbox goes on HEAD (main)
    return ok_json(run_cli(home, "review", str(corpus.mbox), "--format", "json",
                           "--no-cache", cwd=corpus.path))


def assert_finding_schema(f: dict) -> None:
    assert set(f) == FINDING_KEYS, sorted(f)
    assert f["severity"] in ("note", "warning", "error")
    assert isinstance(f["line"], int) and isinstance(f["end_line"], int)
    assert 1 <= f["line"] <= f["end_line"]
    assert isinstance(f["locks"], list) and isinstance(f["related"], list)
    for r in f["related"]:
        assert set(r) == {"path", "line", "column", "message"}
    assert re.fullmatch(r"[0-9a-f]{20}", f["fingerprint"]), f["fingerprint"]
    assert f["justification"] is None or isinstance(f["justification"], str)


def assert_review_schema(doc: dict, base: str) -> None:
    assert set(doc) == {"schema", "base", "patches", "verdict"}, sorted(doc)
    assert doc["schema"] == "rmaplint-review/1"
    assert doc["base"] == base
    assert [p["index"] for p in doc["patches"]] == list(range(1, len(doc["patches"]) + 1))
    for p in doc["patches"]:
        assert set(p) == PATCH_KEYS, sorted(p)
        assert re.fullmatch(r"[0-9a-f]{40}", p["commit"])
        for key in ("new", "fixed", "unchanged"):
            for f in p[key]:
                assert_finding_schema(f)
        for f in p["not_analysed"]:
            assert_not_analysed_schema(f)
    assert set(doc["verdict"]) == {"remaining", "transient", "not_analysed"}
    for key in ("remaining", "transient"):
        for f in doc["verdict"][key]:
            assert_finding_schema(f)
    for f in doc["verdict"]["not_analysed"]:
        assert_not_analysed_schema(f)


def assert_not_analysed_schema(f: dict) -> None:
    """A finding the patch (or the end) could not look for: the finding and why."""
    why = f["not_analysed"]
    assert_finding_schema({k: v for k, v in f.items() if k != "not_analysed"})
    assert isinstance(why["reason"], str) and why["reason"]
    assert "degraded" in why or "error" in why, why


def assert_corpus_review(doc: dict, corpus: CorpusRepo) -> None:
    """What the series does, patch by patch, and the verdict."""
    assert_review_schema(doc, corpus.base)
    p1, p2, p3 = doc["patches"]
    assert [p["subject"] for p in doc["patches"]] == SUBJECTS
    # patch 2 also documents mm/counter.c, which the corpus's unit-test suite compiles
    assert [p["files"] for p in doc["patches"]] == [[ANON], [ANON, "mm/counter.c"], [ANON]]

    # 1: the new drop and root-assumed-shared come in, the helper-based drop goes
    drop = the_drop(p1["new"], new_drop(corpus))
    assert drop["severity"] == "warning"
    lines1 = file_at(corpus, corpus.commits[0])
    assert "anon_vma_unlock_write" in drop["message"] and "anon_vma_lock_write" in drop["message"]
    shared = pick(p1["new"], "root-assumed-shared")
    assert shared, p1["new"]
    insert = line_of(lines1, "anon_vma_interval_tree_insert(avc, &anon_vma->rb_root);")
    assert any(f["line"] <= insert <= f["end_line"] for f in shared), shared
    old = the_drop(p1["fixed"], old_drop(corpus))
    assert "unlock_anon_vma_root" in old["message"]
    assert old["fingerprint"] not in {f["fingerprint"] for f in p1["new"]}
    assert not pick(p1["fixed"], "root-assumed-shared")

    # 2: a comment: nothing new, nothing fixed
    assert p2["new"] == [] and p2["fixed"] == [], p2

    # 3: the drop is fixed (the same finding patch 1 introduced), none comes back
    assert drop["fingerprint"] in {f["fingerprint"] for f in p3["fixed"]}
    assert the_drop(p3["fixed"], new_drop(corpus)) == drop  # unchanged lines in patch 2
    assert not pick(p3["new"], "lock-dropped-in-loop")

    # verdict
    remaining, transient = doc["verdict"]["remaining"], doc["verdict"]["transient"]
    assert pick(remaining, "root-assumed-shared")
    assert not [f for f in remaining if f["rule"] == "lock-dropped-in-loop"]
    assert drop["fingerprint"] in {f["fingerprint"] for f in transient}
    assert old["fingerprint"] not in {f["fingerprint"] for f in transient + remaining}
    assert not set(f["fingerprint"] for f in transient) & set(f["fingerprint"]
                                                               for f in remaining)


def per_patch(doc: dict) -> list[dict]:
    """The findings of each patch without the commit ids (an applied mbox has its own)."""
    return [{"subject": p["subject"], "files": p["files"],
             **{k: p[k] for k in ("new", "fixed", "unchanged")}} for p in doc["patches"]]


# --------------------------------------------------------------------------- 1. the series


def test_range_review(range_doc, corpus):
    assert_corpus_review(range_doc, corpus)
    assert [p["commit"] for p in range_doc["patches"]] == list(corpus.commits)


def test_mbox_review(mbox_doc, corpus):
    assert_corpus_review(mbox_doc, corpus)
    # applied through a temporary index with the mails' authors, dates and messages: the
    # very commits of the series (git am would have made its own, with its committer)
    assert [p["commit"] for p in mbox_doc["patches"]] == list(corpus.commits)


def test_mbox_and_range_give_the_same_findings(mbox_doc, range_doc):
    assert per_patch(mbox_doc) == per_patch(range_doc)
    assert mbox_doc["verdict"] == range_doc["verdict"]


def test_mbox_review_is_reproducible(corpus, home, mbox_doc):
    """The same mbox on the same base makes the same commits: the report is the same."""
    again = ok_json(run_cli(home, "review", str(corpus.mbox), "--repo", str(corpus.path),
                            "--base", "main", "--format", "json", "--no-cache"))
    assert again == mbox_doc


def finding_re(kind: str, region: tuple[int, int], rule: str, sev: str = "warning") -> str:
    """The finding line of a review (and the note of its region's end)."""
    a, b = region
    return (r"^mm/anon\.c:%d:\d+: %s: %s: .* \[%s\]\n  mm/anon\.c:%d:\d+: note: the region "
            r"ends here$" % (a, sev, kind, re.escape(rule), b))


def test_demo(corpus, home, tmp_path, mbox_doc):
    """``rmaplint demo``: the corpus series on its base; exit 0 although it has findings
    (they are its point); nothing written anywhere unless -o."""
    cwd = tmp_path / "elsewhere"  # not in any git repository
    cwd.mkdir()
    proc = run_cli(home, "demo", "--no-cache", "--format", "json", cwd=cwd)
    doc = ok_json(proc, codes=(0,))
    assert_corpus_review(doc, corpus)
    assert doc == mbox_doc  # the same corpus, the same mbox, the same base
    assert any(f["severity"] == "warning" for f in doc["verdict"]["remaining"])

    text = run_cli(home, "demo", "--no-cache", cwd=cwd)
    out = text.stdout.decode()
    assert text.returncode == 0, text.stderr
    assert "[1/3] " + SUBJECTS[0] in out and "[3/3] " + SUBJECTS[2] in out
    assert re.search(finding_re("new", new_drop(corpus), "lock-dropped-in-loop"), out, re.M), out
    assert re.search(r"^mm/anon\.c:%d:\d+: note: fixed: .* \[lock-dropped-in-loop\]$"
                     % old_drop(corpus)[0], out, re.M), out
    assert re.search(r"^mm/anon\.c:%d:\d+: warning: transient: .*\(added by patch 1, removed "
                     r"by patch 3: bisection sees it\) \[lock-dropped-in-loop\]$"
                     % new_drop(corpus)[0], out, re.M), out
    assert re.search(r"^mm/anon\.c:\d+:\d+: warning: remaining: .* \[root-assumed-shared\]$",
                     out, re.M), out
    mail = run_cli(home, "demo", "--no-cache", "--format", "email", cwd=cwd)
    assert mail.returncode == 0 and sorted(read_mails(mail.stdout)) == [1, 3]
    assert list(cwd.iterdir()) == []  # no reports/ folder, nothing
    # -o writes where it says
    out_file = tmp_path / "demo.json"
    assert run_cli(home, "demo", "--no-cache", "--format", "json", "-o", str(out_file),
                   cwd=cwd).returncode == 0
    assert json.loads(out_file.read_text()) == doc


def test_text_review_of_a_range(corpus, home):
    proc = run_cli(home, "review", "main..series", "--repo", str(corpus.path), "--no-cache")
    out = proc.stdout.decode()
    assert proc.returncode in (0, 1) and not proc.stderr, proc.stderr
    assert out.startswith(f"rmaplint review of main..series on {corpus.base[:12]}: 3 patch(es)")
    block2 = out.split("[2/3] ")[1].split("[3/3] ")[0]
    assert "no findings in the code it touches" in block2 or \
        not re.search(r": (new|fixed): ", block2), block2


# --------------------------------------------------------------------------- email


def read_mails(data: bytes, tmp: Path | None = None) -> dict[int, "email.message.Message"]:
    """Patch index → its reply, read back with the standard library's mailbox."""
    import email.policy
    import mailbox
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "replies.mbox"
        path.write_bytes(data)
        box = mailbox.mbox(str(path), create=False)
        try:
            msgs = [email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
                    for m in box]
        finally:
            box.close()
    out = {}
    for m in msgs:
        got = re.match(r"^Re: \[(?:RFC )?PATCH(?: v\d+)? (\d+)/(\d+)\] ", m["Subject"])
        assert got, m["Subject"]
        out[int(got.group(1))] = m
    return out


def mails(text: str) -> dict[int, list[str]]:
    """Patch index → the lines of its reply's body."""
    return {i: m.get_content().splitlines()
            for i, m in read_mails(text.encode("utf-8", "surrogateescape")).items()}


def blocks(lines: list[str]) -> list[tuple[str, list[str]]]:
    """("quote", quoted lines without '> ') and ("text", a paragraph joined by spaces)."""
    out: list[tuple[str, list[str]]] = []
    for ln in lines:
        if ln.startswith(">"):
            body = ln[2:] if ln.startswith("> ") else ln[1:]
            if out and out[-1][0] == "quote":
                out[-1][1].append(body)
            else:
                out.append(("quote", [body]))
        elif ln.strip():
            if out and out[-1][0] == "text" and out[-1][1]:
                out[-1][1][0] += " " + ln.strip()
            else:
                out.append(("text", [ln.strip()]))
        elif out and out[-1][0] == "text":
            out.append(("gap", []))
    return [b for b in out if b[0] != "gap"]


def quoted(block: list[str], text: str, signs: str) -> bool:
    """Is ``text`` (one source line) quoted as a diff line starting with one of ``signs``?"""
    return any(q[:1] in signs and q[1:].rstrip() == text.rstrip() for q in block)


def assert_commented(mail: list[str], f: dict, lead: str, source: list[str],
                     signs: str) -> None:
    """The comment on ``f`` comes right under the quoted line it is about: the first line of
    its region that the patch adds (``+``; removes, ``-``, for a fixed one), else its first
    line in the hunk."""
    bs = blocks(mail)
    region = f"line {f['line']}" if f["line"] == f["end_line"] else \
        f"lines {f['line']}-{f['end_line']}"
    want = f"{lead} a {f['rule']} {f['severity']} in {f['function']}() ({region})"
    at = [i for i, (kind, body) in enumerate(bs) if kind == "text" and body[0].startswith(want)]
    assert len(at) == 1, (want, "\n".join(mail))
    quote_i = max(i for i in range(at[0]) if bs[i][0] == "quote")
    assert all(bs[i][0] == "text" for i in range(quote_i + 1, at[0]))  # other comments only
    q = bs[quote_i][1]
    # the quote ends with a line of the region, marked as the patch changes it when one is
    in_region = [source[n - 1] for n in range(f["line"], f["end_line"] + 1)]
    last = q[-1]
    assert last[:1] in signs and last[1:].rstrip() in [t.rstrip() for t in in_region], \
        (last, in_region)
    # and the file's header and the hunk's are quoted above it
    head = [bs[i][1] for i in range(quote_i + 1) if bs[i][0] == "quote"]
    flat = [ln for part in head for ln in part]
    assert any(ln.startswith("diff --git a/mm/anon.c b/mm/anon.c") for ln in flat)
    assert any(ln.startswith("@@ ") for ln in flat)


def test_email(corpus, home, range_doc):
    proc = run_cli(home, "review", "main..series", "--repo", str(corpus.path), "--no-cache",
                   "--format", "email")
    assert proc.returncode in (0, 1), proc.stderr
    text = proc.stdout.decode()
    by_patch = mails(text)
    assert sorted(by_patch) == [1, 3]  # patch 2 changes no finding: no reply
    p1, _, p3 = range_doc["patches"]
    base, v1, v2 = (file_at(corpus, c) for c in (corpus.base, *corpus.commits[:2]))

    replies = read_mails(proc.stdout)
    assert replies[1]["Subject"] == f"Re: [PATCH 1/3] {SUBJECTS[0]}"
    assert replies[1]["To"] == "Corpus Author <corpus@example.org>"
    assert replies[1]["In-Reply-To"] is None  # a range has no Message-Id to answer
    m1 = by_patch[1]
    assert "wrote:" in m1[0] and "Corpus Author <corpus@example.org>" in m1[0]
    while not m1[-1]:
        m1 = m1[:-1]
    assert m1[-2:] == ["-- ", "rmaplint"]
    assert_commented(m1, the_drop(p1["new"], new_drop(corpus)), "This patch introduces", v1,
                     "+ ")
    for f in pick(p1["new"], "root-assumed-shared"):
        assert_commented(m1, f, "This patch introduces", v1, "+ ")
    assert_commented(m1, the_drop(p1["fixed"], old_drop(corpus)), "This patch removes", base,
                     "- ")
    # the lock drop lines themselves, as added
    assert "> +\t\t\tanon_vma_unlock_write(src->anon_vma);" in m1
    assert "> +\t\t\tanon_vma_lock_write(src->anon_vma);" in m1

    m3 = by_patch[3]
    assert replies[3]["Subject"] == f"Re: [PATCH 3/3] {SUBJECTS[2]}"
    assert_commented(m3, the_drop(p3["fixed"], new_drop(corpus)), "This patch removes", v2,
                     "- ")
    assert "> -\t\t\tanon_vma_unlock_write(src->anon_vma);" in m3
    # every line of a reply is a quote, a header, the comment text or the signature
    for ln in m1 + m3:
        assert len(ln) <= 100 or ln.startswith(">"), ln


# --------------------------------------------------------------------------- 2. bad input


def test_not_an_mbox(corpus, home, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n"
                    "From here on nothing is a patch.\nSed do eiusmod tempor.\n" * 20)
    assert_input_error(run_cli(home, "review", str(junk), "--repo", str(corpus.path),
                               "--no-cache"), "notes.txt", "not an mbox")
    binary = tmp_path / "random.bin"
    binary.write_bytes(bytes(range(256)) * 16)
    assert_input_error(run_cli(home, "review", str(binary), "--repo", str(corpus.path),
                               "--no-cache"), "random.bin")


def test_empty_mbox(corpus, home, tmp_path):
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    assert_input_error(run_cli(home, "review", str(empty), "--repo", str(corpus.path),
                               "--no-cache"), "empty.mbox", "empty")
    blank = tmp_path / "blank.mbox"
    blank.write_text("\n\n   \n")
    assert_input_error(run_cli(home, "review", str(blank), "--repo", str(corpus.path),
                               "--no-cache"), "blank.mbox")


def broken_mbox(corpus: CorpusRepo, dest: Path) -> Path:
    """The corpus mbox with a context line of patch 2 edited: git am --3way stops there."""
    text = corpus.mbox.read_text()
    i, j = text.index("[PATCH 2/3]"), text.index("[PATCH 3/3]")
    ctx = " int anon_vma_fork(struct vm_area_struct *vma, struct vm_area_struct *pvma)\n"
    part = text[i:j]
    assert ctx in part
    dest.write_text(text[:i] + part.replace(ctx, ctx.replace("pvma)", "parent)"), 1) + text[j:])
    return dest


def test_patch_that_does_not_apply(corpus, home, tmp_path, range_doc):
    bad = broken_mbox(corpus, tmp_path / "broken.mbox")
    args = ("review", str(bad), "--repo", str(corpus.path), "--base", "main", "--no-cache")

    proc = run_cli(home, *args)
    line = assert_input_error(proc, "patch 2", "mm/anon.c", stdout_empty=False)
    assert "does not apply" in line
    out = proc.stdout.decode()
    assert f"[1/3] {SUBJECTS[0]}" in out  # the patch before it is reported
    assert "[2/3]" not in out and "[3/3]" not in out
    assert re.search(finding_re("new", new_drop(corpus), "lock-dropped-in-loop"), out,
                     re.M), out

    proc = run_cli(home, *args, "--format", "json")
    assert_input_error(proc, "patch 2", "mm/anon.c", stdout_empty=False)
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "rmaplint-review/1" and len(doc["patches"]) == 1
    assert per_patch(doc) == per_patch(range_doc)[:1]
    assert doc["failure"]["index"] == 2 and doc["failure"]["file"] == ANON
    assert doc["failure"]["subject"] == SUBJECTS[1]

    proc = run_cli(home, *args, "--format", "email")
    assert_input_error(proc, "patch 2", stdout_empty=False)
    assert sorted(mails(proc.stdout.decode())) == [1]


def test_patch_one_does_not_apply(corpus, home, tmp_path):
    """Against the end of the series, patch 1 conflicts: nothing is reported, exit 2."""
    proc = run_cli(home, "review", str(corpus.mbox), "--repo", str(corpus.path),
                   "--base", "series", "--no-cache", "--format", "json")
    assert_input_error(proc, "patch 1", stdout_empty=False)
    doc = json.loads(proc.stdout)
    assert doc["patches"] == [] and doc["failure"]["index"] == 1


@pytest.mark.parametrize("series", ["main..nope", "nope..series", "nope"])
def test_unknown_revision(corpus, home, series):
    assert_input_error(run_cli(home, "review", series, "--repo", str(corpus.path),
                               "--no-cache"), "nope")


def test_unknown_base(corpus, home):
    assert_input_error(run_cli(home, "review", str(corpus.mbox), "--repo", str(corpus.path),
                               "--base", "nope", "--no-cache"), "nope")


def test_empty_range(corpus, home):
    assert_input_error(run_cli(home, "review", "series..main", "--repo", str(corpus.path),
                               "--no-cache"), "series..main")


def test_repo_not_a_git_repository(corpus, home, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert_input_error(run_cli(home, "review", "main..series", "--repo", str(plain),
                               "--no-cache"), "not a git repository")
    assert_input_error(run_cli(home, "review", "main..series", "--repo",
                               str(tmp_path / "missing"), "--no-cache"), "missing")
    # no --repo, run outside any repository
    assert_input_error(run_cli(home, "review", "main..series", "--no-cache", cwd=plain),
                       "not in a git repository")


def test_option_looking_range(corpus, home, tmp_path):
    marker = tmp_path / "pwned"
    for series in (f"--upload-pack=touch {marker}", f"--upload-pack=touch {marker}..main",
                   f"main..--upload-pack=touch {marker}", "--output=x..main", "-h..main"):
        proc = run_cli(home, "review", "--repo", str(corpus.path), "--no-cache", "--", series)
        assert_input_error(proc)
    assert not marker.exists()
    assert not (corpus.path / "x").exists()
    assert_input_error(run_cli(home, "review", str(corpus.mbox), "--repo", str(corpus.path),
                               "--base", f"--upload-pack=touch {marker}", "--no-cache"))
    assert not marker.exists()


def test_branch_with_shell_metacharacters(tmp_path, home, range_doc):
    corpus = build_history(tmp_path / "repo")
    branch = "a;b$(touch${IFS}PWNED)|c&`touch${IFS}PWNED2`"
    git(corpus.path, "check-ref-format", "--branch", branch)
    git(corpus.path, "branch", branch, "series")
    series = f"main..{branch}"
    for cwd in (corpus.path, tmp_path):
        proc = run_cli(home, "review", series, "--repo", str(corpus.path), "--no-cache",
                       "--format", "json", cwd=cwd)
        doc = ok_json(proc)
        assert per_patch(doc) == per_patch(range_doc)
        assert doc["verdict"] == range_doc["verdict"]
    text = run_cli(home, "review", series, "--repo", str(corpus.path), "--no-cache")
    assert f"rmaplint review of {series} on" in text.stdout.decode()
    mail = run_cli(home, "review", series, "--repo", str(corpus.path), "--no-cache",
                   "--format", "email")
    assert sorted(mails(mail.stdout.decode())) == [1, 3]
    for d in (corpus.path, tmp_path, home):
        assert not list(d.rglob("PWNED*"))


def test_review_ignores_the_callers_git_environment(corpus, home, tmp_path, range_doc):
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    hook_env = {"GIT_DIR": str(other / ".git"), "GIT_INDEX_FILE": str(other / ".git" / "index"),
                "GIT_WORK_TREE": str(other)}
    doc = ok_json(run_cli(home, "review", "main..series", "--repo", str(corpus.path),
                          "--format", "json", "--no-cache", env=hook_env))
    assert per_patch(doc) == per_patch(range_doc)


# --------------------------------------------------------------------------- mail as b4 gives it


def threaded_mbox(corpus: CorpusRepo, dest: Path, home: Path) -> Path:
    """The series as b4/lore give it: a cover letter, Message-Ids, a v2 prefix, To and Cc,
    and a reply to patch 2 in the middle of the thread."""
    out = git(corpus.path, "-c", "user.name=A U Thor", "-c", "user.email=author@example.org",
              "format-patch", "--stdout", "--no-stat", "--thread=shallow",
              "--cover-letter", "--subject-prefix=PATCH v2", "--to=linux-mm@kvack.org",
              "--cc=Reviewer <reviewer@example.org>", f"{corpus.base}..series", home=home)
    assert out.lower().count("\nmessage-id: <") == 4  # cover letter + 3 patches
    reply = ("From reviewer Mon Sep 17 00:00:00 2001\nFrom: Reviewer <reviewer@example.org>\n"
             "Subject: Re: [PATCH v2 2/3] " + SUBJECTS[1] + "\nMessage-ID: <reply@example.org>"
             "\n\n> diff --git a/mm/anon.c b/mm/anon.c\nLooks fine.\n\n")
    i = out.index("From ", out.index("[PATCH v2 2/3]"))
    dest.write_text(out[:i] + reply + out[i:])
    return dest


def test_cover_letter_mbox_is_reviewed_and_replies_are_threaded(corpus, home, tmp_path,
                                                                mbox_doc):
    import email.policy
    import mailbox

    mbox = threaded_mbox(corpus, tmp_path / "v2.mbox", home)
    args = ("review", str(mbox), "--repo", str(corpus.path), "--base", "main", "--no-cache")
    doc = ok_json(run_cli(home, *args, "--format", "json"))
    assert per_patch(doc) == per_patch(mbox_doc)  # cover letter and reply skipped
    proc = run_cli(home, *args, "--format", "email")
    assert proc.returncode in (0, 1), proc.stderr
    # the patches as mailed, read with the standard library
    box = mailbox.mbox(str(mbox), create=False)
    sent = {}
    for m in box:
        m = email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
        got = re.match(r"\[PATCH v2 (\d)/3\]", m["Subject"])
        if got and got.group(1) != "0":
            sent[int(got.group(1))] = m
    box.close()
    replies = read_mails(proc.stdout)
    assert sorted(replies) == [1, 3]
    for i, r in replies.items():
        patch = sent[i]
        msgid = patch["Message-ID"].strip()
        assert r["In-Reply-To"].strip() == msgid
        assert r["References"].split()[-1] == msgid
        assert patch["In-Reply-To"].strip() in r["References"].split()  # the cover letter
        assert r["Subject"] == "Re: " + " ".join(patch["Subject"].split())
        assert r["Subject"].startswith(f"Re: [PATCH v2 {i}/3] ")
        assert r["To"] == patch["From"]
        assert "linux-mm@kvack.org" in r["Cc"] and "reviewer@example.org" in r["Cc"]
        assert r["Message-ID"] and r["Message-ID"].strip() != msgid
    # the comment right under the + line it is about
    body = replies[1].get_content().splitlines()
    v1 = file_at(corpus, corpus.commits[0])
    a, _ = new_drop(corpus)
    i = body.index("> +" + v1[a - 1])
    assert body[i + 1] == "" and body[i + 2].startswith(
        "This patch introduces a lock-dropped-in-loop warning in anon_vma_clone()")
    # the same patches with an RFC prefix keep it
    rfc = tmp_path / "rfc.mbox"
    rfc.write_text(mbox.read_text().replace("[PATCH v2 ", "[RFC PATCH v2 "))
    proc = run_cli(home, "review", str(rfc), "--repo", str(corpus.path), "--base", "main",
                   "--no-cache", "--format", "email")
    assert all(m["Subject"].startswith(f"Re: [RFC PATCH v2 {i}/3] ")
               for i, m in read_mails(proc.stdout).items())


def test_only_a_cover_letter(corpus, home, tmp_path):
    text = git(corpus.path, "format-patch", "--stdout", "--cover-letter", "-1", "series",
               home=home)
    cover = text[:text.index("From ", 10)]
    (tmp_path / "cover.mbox").write_text(cover + "diff --git a/x b/x\n" if "diff --git" not in
                                         cover else cover)
    assert_input_error(run_cli(home, "review", str(tmp_path / "cover.mbox"), "--repo",
                               str(corpus.path), "--no-cache"), "cover letter")


def test_default_reviews_the_branch_over_its_upstream(corpus, home, tmp_path, range_doc):
    """No SERIES in a repository: @{upstream}..HEAD; without an upstream, one line naming how."""
    repo = build_history(tmp_path / "repo").path
    git(repo, "checkout", "-q", "series", home=home)
    assert_input_error(run_cli(home, "review", "--no-cache", cwd=repo), "no upstream",
                       "rmaplint review origin/master..HEAD")
    git(repo, "branch", "-q", "--set-upstream-to=main", home=home)
    doc = ok_json(run_cli(home, "review", "--no-cache", "--format", "json", cwd=repo / "mm"))
    assert per_patch(doc) == per_patch(range_doc)
    git(repo, "checkout", "-q", "main", home=home)
    git(repo, "checkout", "-q", "-b", "topic", home=home)
    git(repo, "branch", "-q", "--set-upstream-to=main", home=home)
    proc = run_cli(home, "review", "--no-cache", cwd=repo)
    assert proc.returncode == 0 and proc.stdout == b""
    assert b"nothing to review" in proc.stderr
    # outside a repository: one line that names the way
    out = tmp_path / "out"
    out.mkdir()
    assert_input_error(run_cli(home, "review", "--no-cache", cwd=out), "rmaplint demo")


def test_fail_on_transient(corpus, home):
    """Patch 1 adds a lock drop patch 3 removes: bisection meets it."""
    args = ("review", "main..series", "--repo", str(corpus.path), "--no-cache", "--format",
            "json", "--select", "lock-dropped-in-loop")
    plain = run_cli(home, *args)
    doc = ok_json(plain, codes=(0,))  # the drop is gone at the end: the series is clean
    assert doc["verdict"]["remaining"] == [] and doc["verdict"]["transient"]
    strict = run_cli(home, *args, "--fail-on-transient")
    assert ok_json(strict, codes=(1,)) == doc


def test_select_ignore_and_baseline(corpus, home, tmp_path, range_doc):
    base = ("review", "main..series", "--repo", str(corpus.path), "--no-cache", "--format",
            "json")
    only = ok_json(run_cli(home, *base, "--select", "walk-unlocked"))
    assert {f["rule"] for p in only["patches"] for f in p["new"] + p["fixed"]} <= \
        {"walk-unlocked"}
    none = ok_json(run_cli(home, *base, "--ignore", "walk-unlocked,root-assumed-shared",
                           "--ignore", "lock-dropped-in-loop"))
    assert not none["verdict"]["remaining"]
    assert_input_error(run_cli(home, *base, "--select", "lock-droped-in-loop"),
                       "did you mean 'lock-dropped-in-loop'")
    # a baseline of what the series leaves behind: review is quiet, exit 0
    bl = tmp_path / "baseline.json"
    bl.write_text(json.dumps({"schema": "rmaplint-baseline/1", "findings": [
        {"fingerprint": f["fingerprint"]} for f in range_doc["verdict"]["remaining"]]}))
    quiet = run_cli(home, *base, "--baseline", str(bl))
    assert ok_json(quiet, codes=(0,))["verdict"]["remaining"] == []
    # the same from the project's .rmaplint.toml, then from git config
    repo = build_history(tmp_path / "cfg").path
    (repo / ".rmaplint.toml").write_text(f'baseline = "{bl}"\nfail-on = "error"\n')
    doc = ok_json(run_cli(home, "review", "main..series", "--no-cache", "--format", "json",
                          cwd=repo), codes=(0,))
    assert doc["verdict"]["remaining"] == []
    (repo / ".rmaplint.toml").write_text('ignre = ["walk-unlocked"]\n')
    assert_input_error(run_cli(home, "review", "main..series", "--no-cache", cwd=repo),
                       "unknown key 'ignre'", "did you mean 'ignore'")
    (repo / ".rmaplint.toml").unlink()
    git(repo, "config", "--add", "rmaplint.ignore", "walk-unlocked,root-assumed-shared",
        home=home)
    git(repo, "config", "--add", "rmaplint.ignore", "lock-dropped-in-loop", home=home)
    doc = ok_json(run_cli(home, "review", "main..series", "--no-cache", "--format", "json",
                          cwd=repo), codes=(0,))
    assert doc["verdict"]["remaining"] == []
