"""Parse failures are visible: ``check`` says which functions were degraded, where and why
(``--list-degraded``, the JSON file entries).

The synthetic repositories are kernel-style C: patch 1 adds an error return that keeps a
spinlock (lock-imbalance), patch 2 breaks the function's syntax (garbage tokens in its body,
or an unbalanced parenthesis that leaves its body open and swallows the next function).

Every CLI run is a subprocess with ``--no-cache`` (or a ``--cache-dir`` under tmp_path), HOME
and XDG dirs in tmp_path, and no GIT_* variable from the caller.
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
FOO = "mm/foo.c"

BASE = """\
#include <linux/spinlock.h>

struct foo {
	spinlock_t lock;
	int count;
};

int foo_inc(struct foo *f, int n)
{
	spin_lock(&f->lock);
	f->count += n;
	spin_unlock(&f->lock);
	return 0;
}
"""

# patch 1: the error return keeps the lock
LEAK = BASE.replace("\tf->count += n;\n", "\tif (n < 0)\n\t\treturn -EINVAL;\n\tf->count += n;\n")
# patch 2: garbage tokens inside the body: foo_inc is degraded
GARBAGE = LEAK.replace("\tf->count += n;\n", "\tf->count += n @@ $$;\n")
GARBAGE_LINE = GARBAGE.splitlines().index("\tf->count += n @@ $$;") + 1

# a second function with its own finding, after foo_inc
PEEK = """
int foo_peek(struct foo *f)
{
	spin_lock(&f->lock);
	if (!f->count)
		return -ENOENT;
	spin_unlock(&f->lock);
	return 0;
}
"""
# an unbalanced brace in foo_inc: its body never closes and swallows foo_peek
OPEN = LEAK.replace("\tif (n < 0)\n", "\tif (n < 0) {\n")


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") and k != "RMAPLINT_DEBUG"}
    env.update(PYTHONPATH=str(REPO_ROOT), HOME=str(home),
               XDG_CACHE_HOME=str(home / "xdg-cache"), XDG_CONFIG_HOME=str(home / "xdg-config"),
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
               GIT_CEILING_DIRECTORIES=str(home.parent))
    return env


def run_cli(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analyzer.cli", *args], cwd=cwd or home,
                          env=clean_env(home), capture_output=True, timeout=300)


def out_of(proc: subprocess.CompletedProcess, codes=(0, 1)) -> str:
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode in codes, (proc.returncode, err)
    assert "Traceback" not in err, err
    return proc.stdout.decode()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


def review(home: Path, repo, rng: str, fmt: str = "text") -> str:
    return out_of(run_cli(home, "review", rng, "--repo", str(repo.path), "--no-cache",
                          "--format", fmt))


def history(home: Path, repo, rng: str, fmt: str = "text") -> str:
    return out_of(run_cli(home, "history", rng, "mm", "--repo", str(repo.path), "--no-cache",
                          "--format", fmt))


def leak_of(findings: list[dict], function: str = "foo_inc") -> dict:
    hits = [f for f in findings if f["rule"] == "lock-imbalance" and f["function"] == function]
    assert len(hits) == 1, findings
    return hits[0]


# --------------------------------------------------------------------------- check


def test_the_fixture_function_is_degraded(home, tmp_path):
    """What the tests below stand on: GARBAGE's foo_inc has a parse error, and check says
    where (the line of the garbage) and why, in JSON and with --list-degraded."""
    tree = tmp_path / "tree"
    (tree / "mm").mkdir(parents=True)
    (tree / FOO).write_text(GARBAGE)
    (tree / "mm" / "open.c").write_text(OPEN + PEEK)
    (tree / "mm" / "ok.c").write_text(LEAK)
    doc = json.loads(out_of(run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache",
                                    "--format", "json")))
    files = {f["path"]: f for f in doc["files"]}
    foo = files[FOO]
    assert foo["status"] == "degraded" and foo["degraded_functions"] == 1, foo
    [d] = foo["degraded"]
    assert d["function"] == "foo_inc" and d["analysed"] is True
    assert d["line"] == GARBAGE_LINE and d["column"] > 1
    assert "@@" in d["reason"], d
    assert files["mm/ok.c"]["degraded"] == [] and files["mm/ok.c"]["status"] == "ok"
    opened = {x["function"]: x for x in files["mm/open.c"]["degraded"]}
    assert opened["foo_inc"]["analysed"] is True and "expected '}'" in opened["foo_inc"]["reason"]
    assert opened["foo_peek"]["analysed"] is False  # swallowed: never analysed
    assert "inside foo_inc()" in opened["foo_peek"]["reason"]
    # the findings of a degraded function are not reported (the rules stay silent there)
    assert not [f for f in doc["findings"] if f["path"] != "mm/ok.c"], doc["findings"]

    text = out_of(run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache",
                          "--list-degraded"))
    lines = text.splitlines()
    summary = next(i for i, ln in enumerate(lines) if ln.startswith("rmaplint: "))
    listed = lines[summary + 1:]
    assert f"{FOO}:{GARBAGE_LINE}: foo_inc: degraded: cannot parse `n @@`" in listed, text
    assert any(re.fullmatch(r"mm/open\.c:\d+: foo_inc: degraded: expected '\}'.*", ln)
               for ln in listed), text
    assert any(re.fullmatch(r"mm/open\.c:\d+: foo_peek: not analysed: inside foo_inc\(\), "
                            r"whose body a parse error leaves open .*", ln)
               for ln in listed), text
    assert len(listed) == 3, text
    # without the option: no such lines, the summary ends the report
    plain = out_of(run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache"))
    assert plain.splitlines()[-1].startswith("rmaplint: "), plain
    assert ": degraded: " not in plain


def test_functions_hidden_in_unreadable_file_level_text():
    """An initializer that never closes swallows the functions after it: the frontend names
    them (kernel style: the head, then ``{`` alone on a line) so their findings are not
    counted as fixed; so is a function whose head a parse error ate; an unreadable
    declaration that holds no body hides nothing."""
    from analyzer.frontend.rewrite import IteratorTable
    from analyzer.frontend.treesitter import parse_file

    eaten = ("static int table[] = { 1, 2,\n#ifdef CONFIG_X\n\t3 @@,\n#endif\n\n"
             "static int foo_get(struct foo *f,\n\t\t   int n)\n{\n\treturn f->count;\n}\n\n"
             "int bar(void)\n{\n\treturn 1;\n}\n")
    pf = parse_file("mm/eat.c", eaten, IteratorTable())
    assert not pf.functions
    hidden = dict(pf.unreadable)
    assert set(hidden) == {"foo_get", "bar"}, pf.unreadable
    assert hidden["foo_get"].line == 6 and hidden["bar"].line == 12
    assert hidden["bar"].message.startswith("in text the parser could not read (lines 1-")
    # the junk eats the head of f into the declaration: f's body is left alone at file level
    headless = parse_file("mm/x.c", "static int x = ;\n@@@ junk\nint f(void)\n{\n"
                          "\treturn 0;\n}\n", IteratorTable())
    assert not headless.functions
    [(name, err)] = headless.unreadable
    assert name == "f" and (err.line, err.column) == (3, 5), err
    assert err.message.startswith("its head is text the parser could not read")
    clean = parse_file("mm/x.c", "static int x = ;\n@@@ junk;\n\nint g(void)\n{\n"
                       "\treturn 0;\n}\n", IteratorTable())
    assert [f.name for f in clean.functions] == ["g"] and clean.unreadable == ()


def test_degraded_functions_come_back_from_the_result_cache(home, tmp_path):
    tree = tmp_path / "tree"
    (tree / "mm").mkdir(parents=True)
    (tree / FOO).write_text(GARBAGE)
    cache = tmp_path / "cache"
    args = ("check", "--repo", str(tree), FOO, "--cache-dir", str(cache), "--format", "json")
    first = json.loads(out_of(run_cli(home, *args)))
    second = json.loads(out_of(run_cli(home, *args)))
    assert second["summary"]["cache_hits"] == 1
    assert second["files"] == first["files"] and first["files"][0]["degraded"], first


def test_list_degraded_is_for_the_text_report(home, tmp_path):
    tree = tmp_path / "tree"
    (tree / "mm").mkdir(parents=True)
    (tree / FOO).write_text(GARBAGE)
    for extra in (["--terse"], ["--format", "sarif"]):
        proc = run_cli(home, "check", "--repo", str(tree), FOO, "--no-cache",
                       "--list-degraded", *extra)
        err = proc.stderr.decode()
        assert proc.returncode == 2 and err.startswith("rmaplint: error: --list-degraded"), err


def test_a_file_that_cannot_be_analysed_has_a_location(home, tmp_path):
    tree = tmp_path / "tree"
    (tree / "mm").mkdir(parents=True)
    (tree / "mm" / "bad.c").write_bytes(b"int x;\0\0binary")
    text = out_of(run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache",
                          "--list-degraded"))
    assert re.search(r"^mm/bad\.c:1:1: error: cannot analyse the file: binary file", text,
                     re.M), text
