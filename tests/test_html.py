"""``--format html``: a self-contained folder for ``check``, ``review`` and ``history``.

Checked on the pages themselves (parsed with ``html.parser``): hostile source text (a
``</script>`` and an ``<img onerror>`` in a C comment, string and justification) is escaped,
every link and resource stays inside the folder and resolves (file and anchor), the lock-state
gutter shows where a lock is held, released and retaken, findings are regions with cards,
review patches have their badges, hunks and verdict, history has its timeline.

CLI runs are subprocesses with ``--no-cache``, HOME in tmp_path, no GIT_* of the caller.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from analyzer.workflow.corpus import build_history

REPO_ROOT = Path(__file__).resolve().parents[1]
HOSTILE_COMMENT = "/* </script><img src=x onerror=alert(1)> */"

HOSTILE_C = r"""// SPDX-License-Identifier: GPL-2.0
#include "anon.h"

/* </script><img src=x onerror=alert(1)> */
void hostile_walk(struct widget_list *wl)
{
	struct widget *w;
	const char *s = "<b>\"bold\"</b> & '</script>'";

	spin_lock(&wl->lock);
	list_for_each_entry(w, &wl->widgets, node) {
		w->count = 0;
		spin_unlock(&wl->lock);	/* <img src=x onerror=alert(2)> */
		cond_resched();
		spin_lock(&wl->lock);
	}
	spin_unlock(&wl->lock);
}

void hostile_justified(struct widget_list *wl)
{
	struct widget *w;

	spin_lock(&wl->lock);
	list_for_each_entry(w, &wl->widgets, node) {
		spin_unlock(&wl->lock);
		/* rmaplint: allow lock-dropped-in-loop — <i>pinned</i> by wl->users */
		cond_resched();
		spin_lock(&wl->lock);
	}
	spin_unlock(&wl->lock);
}
"""


# --------------------------------------------------------------------------- helpers


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
                          env=clean_env(home), capture_output=True, timeout=600)


def ok(proc: subprocess.CompletedProcess, codes=(0, 1)) -> str:
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode in codes, (proc.returncode, err)
    assert "Traceback" not in err, err
    return proc.stdout.decode()


class Page(HTMLParser):
    """What the tests look at in one page: tags, ids, links, and the source rows."""

    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.path = path
        self.tags: list[tuple[str, dict]] = []
        self.ids: set[str] = set()
        self.rows: dict[int, dict] = {}
        self._row: dict | None = None
        self._td: str | None = None
        self._stack: list[str] = []
        self.text: list[str] = []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "tr" and re.fullmatch(r"L\d+", a.get("id", "")):
            self._row = {"cls": set((a.get("class") or "").split()), "cells": [],
                         "title": "", "text": "", "anchors": []}
            self.rows[int(a["id"][1:])] = self._row
        elif tag == "td" and self._row is not None:
            self._td = a.get("class")
            if self._td == "gut":
                self._row["title"] = a.get("title", "")
        elif tag == "i" and self._row is not None and self._td == "gut":
            self._row["cells"].append(set((a.get("class") or "").split()))
        elif tag == "a" and self._row is not None and "fa" in (a.get("class") or ""):
            self._row["anchors"].append(a["id"])

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None
        if tag == "td":
            self._td = None

    def handle_data(self, data):
        self.text.append(data)
        if self._row is not None and self._td == "t":
            self._row["text"] += data

    def links(self) -> list[tuple[str, str, str]]:
        return [(tag, k, v) for tag, a in self.tags for k, v in a.items()
                if k in ("href", "src", "action", "data", "poster", "srcset") and v]


def pages(folder: Path) -> dict[Path, Page]:
    return {p: Page(p) for p in sorted(folder.rglob("*.html"))}


def assert_self_contained(folder: Path) -> None:
    """Every href/src is a relative link to a file of the folder (and anchor that exists);
    no script but ours, no inline event handler, no remote URL in CSS or JS."""
    parsed = pages(folder)
    root = folder.resolve()
    assert parsed, "no page written"
    for path, page in parsed.items():
        for tag, attr, value in page.links():
            parts = urlsplit(value)
            assert not parts.scheme and not parts.netloc, (path, tag, attr, value)
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            assert root in target.parents or target == root, (path, value)
            assert target.is_file(), f"{path.name}: broken link {value}"
            if parts.fragment:
                ids = parsed[target].ids if target in parsed else set()
                assert parts.fragment in ids, f"{path.name}: no anchor {value}"
        for tag, a in page.tags:
            assert not any(k.startswith("on") for k in a), (path, tag, a)
            assert tag not in ("img", "iframe", "object", "embed", "base", "form"), (path, tag)
            if tag == "script":
                assert a.get("src", "").endswith("assets/report.js"), (path, a)
            if tag == "link":
                assert a.get("href", "").endswith("assets/report.css"), (path, a)
    for asset in (folder / "assets").iterdir():
        text = asset.read_text()
        assert not re.search(r"url\(|@import|https?:|//[a-z]", text, re.I), asset


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, home) -> tuple[Path, Path]:
    """A tree with a hostile C file, and its check report."""
    tree = tmp_path_factory.mktemp("hostile-tree")
    (tree / "mm").mkdir()
    shutil.copyfile(REPO_ROOT / "corpus" / "rules" / "anon.h", tree / "mm" / "anon.h")
    (tree / "mm" / "hostile.c").write_text(HOSTILE_C)
    out = tmp_path_factory.mktemp("hostile-report") / "html"
    text = ok(run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache",
                      "--format", "html", "-o", str(out)))
    assert str(out / "index.html") in text
    return tree, out


@pytest.fixture(scope="module")
def corpus_review(tmp_path_factory, home) -> tuple[Path, dict]:
    """The embedded default review as HTML, and as JSON."""
    base = tmp_path_factory.mktemp("review")
    out = base / "html"
    text = ok(run_cli(home, "demo", "--no-cache",
                      "--format", "html", "-o", str(out)))
    assert "index.html" in text
    doc = json.loads(ok(run_cli(home, "demo", "--no-cache", "--format", "json")))
    return out, doc


# --------------------------------------------------------------------------- check


def test_hostile_source_is_text(hostile):
    tree, out = hostile
    page_path = out / "files" / "mm_hostile.c.html"
    raw = page_path.read_text()
    assert "<img" not in raw and "onerror=alert(1)>" not in raw
    assert raw.count("<script") == 1  # ours, at the end
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in raw
    page = Page(page_path)
    # the text a browser shows is the source, character for character
    assert page.rows[4]["text"] == HOSTILE_COMMENT
    assert page.rows[8]["text"] == '\tconst char *s = "<b>\\"bold\\"</b> & \'</script>\'";'
    # the justification (from a comment) is text too
    assert "<i>pinned</i>" not in raw
    assert "Justified in the code: <i>pinned</i> by wl->users" in "".join(page.text)
    assert_self_contained(out)


def test_every_line_and_function_has_its_row(hostile):
    tree, out = hostile
    page = Page(out / "files" / "mm_hostile.c.html")
    src = (tree / "mm" / "hostile.c").read_text().split("\n")[:-1]
    assert sorted(page.rows) == list(range(1, len(src) + 1))
    for n, line in enumerate(src, 1):
        assert page.rows[n]["text"] == line, n
    assert {"fn-hostile_walk", "fn-hostile_justified"} <= page.ids


def test_gutter_shows_the_drop_and_the_retake(hostile):
    tree, out = hostile
    page = Page(out / "files" / "mm_hostile.c.html")
    rows = page.rows
    # hostile_walk: lock at 10, loop at 11, unlock at 13, relock at 15, unlock at 17
    assert rows[9]["cells"] and not ({"must", "may"} & rows[9]["cells"][0])
    assert "acq" in rows[10]["cells"][0]
    for n in (11, 12, 13):
        assert {"w", "must"} <= rows[n]["cells"][0], n
        assert "wl->lock: write, must" in rows[n]["title"]
    assert "rel" in rows[13]["cells"][0] and "releases wl->lock" in rows[13]["title"]
    for n in (14, 15):  # dropped: not held before these lines
        assert not ({"must", "may"} & rows[n]["cells"][0]), n
    assert "gap" in rows[14]["cells"][0]  # inside the finding's region
    assert "acq" in rows[15]["cells"][0]  # retaken here
    assert {"w", "must"} <= rows[16]["cells"][0]
    assert "rel" in rows[17]["cells"][0]
    # lines outside every function have no gutter
    assert rows[1]["cells"] == [] and rows[4]["cells"] == []
    # the legend names the lock and its class
    raw = (out / "files" / "mm_hostile.c.html").read_text()
    assert re.search(r'class="lk"><i class="k0 w must"></i>wl-&gt;lock <small>widget_list.lock'
                     r"</small>", raw)


def test_findings_are_regions_with_cards_and_a_jump_list(hostile):
    tree, out = hostile
    path = out / "files" / "mm_hostile.c.html"
    page = Page(path)
    raw = path.read_text()
    for n in (13, 14, 15):
        assert {"hit", "s-warning"} <= page.rows[n]["cls"], n
    assert "hit" not in page.rows[12]["cls"] and "hit" not in page.rows[16]["cls"]
    assert page.rows[13]["anchors"] == ["F1"] and page.rows[26]["anchors"] == ["F2"]
    # jump list → anchors; card → rule doc and related location
    jump = [a["href"] for t, a in page.tags if t == "a" and "j" in (a.get("class") or "").split()]
    assert jump == ["#F1", "#F2"]
    assert 'href="../rules/lock-dropped-in-loop.html"' in raw
    assert 'href="#L11">mm/hostile.c:11: loop starts here' in raw
    assert 'class="finding s-warning justified"' in raw
    doc = Page(out / "rules" / "lock-dropped-in-loop.html")
    heads = [t for t, _ in doc.tags if t == "h3"]
    assert len(heads) >= 5 and "What it does" in "".join(doc.text)
    index = (out / "index.html").read_text()
    assert 'href="files/mm_hostile.c.html#F1"' in index
    assert 'href="files/mm_hostile.c.html#F2"' in index


def test_a_few_files_all_get_a_page(hostile):
    tree, out = hostile
    assert (out / "files" / "mm_anon.h.html").is_file()  # no finding, but few files
    index = Page(out / "index.html")
    assert ("a", {"href": "files/mm_anon.h.html"}) in index.tags


def test_rerun_replaces_its_own_files_only(hostile, home, tmp_path):
    tree, _ = hostile
    out = tmp_path / "html"
    ok(run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache", "--format", "html",
               "-o", str(out)))
    stale = out / "files" / "stale.html"
    stale.write_text("old")
    manifest = (out / ".rmaplint-html").read_text().splitlines()
    (out / ".rmaplint-html").write_text("\n".join(manifest + ["files/stale.html"]) + "\n")
    mine = out / "notes.txt"
    mine.write_text("keep")
    ok(run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache", "--format", "html",
               "-o", str(out)))
    assert not stale.exists() and mine.read_text() == "keep"
    assert (out / "index.html").is_file()
    # a folder that is not ours and not empty is refused, untouched
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "index.html").write_text("someone else's")
    proc = run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache", "--format", "html",
                   "-o", str(foreign))
    assert proc.returncode == 2 and b"not an rmaplint report" in proc.stderr
    assert (foreign / "index.html").read_text() == "someone else's"
    assert sorted(p.name for p in foreign.iterdir()) == ["index.html"]


def test_html_after_a_warm_check_analyses_nothing(hostile, tmp_path, monkeypatch, capsys):
    """A plain check leaves each file's result and traces in the cache: the HTML report of
    the same files reads them, analysing nothing again, and draws the same pages as a run
    without a cache (issue 17: html within 2x a warm check)."""
    from analyzer.cli.main import main
    from analyzer.driver.cache import Cache
    from analyzer.driver.project import Project

    tree, reference = hostile
    monkeypatch.setenv("HOME", str(tmp_path))
    base = ["check", "--repo", str(tree), "mm", "--cache-dir", str(tmp_path / "cache"), "-q"]
    main([*base, "--format", "json"])  # cold: analyses every file, fills the cache
    analysed: list[str] = []
    misses: list[tuple[str, int]] = []
    real_analyse, real_get = Project.analyse_file, Cache.get

    def analyse_file(self, path, *a, **k):
        analysed.append(path)
        return real_analyse(self, path, *a, **k)

    def get(self, kind, key):
        value = real_get(self, kind, key)
        if value is None:
            misses.append((kind, key))
        return value

    monkeypatch.setattr(Project, "analyse_file", analyse_file)
    monkeypatch.setattr(Cache, "get", get)
    out = tmp_path / "html"
    main([*base, "--format", "html", "-o", str(out)])
    assert str(out / "index.html") in capsys.readouterr().out
    assert analysed == []
    assert not [k for k, _ in misses if k in ("result", "trace")]
    pages = sorted(p.relative_to(out) for p in (out / "files").iterdir())
    assert pages == sorted(p.relative_to(reference) for p in (reference / "files").iterdir())
    for rel in pages:
        assert (out / rel).read_text() == (reference / rel).read_text(), rel


def test_html_needs_a_folder(hostile, home, tmp_path):
    tree, _ = hostile
    proc = run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache", "--format", "html",
                   "-o", "-")
    assert proc.returncode == 2 and b"folder" in proc.stderr
    f = tmp_path / "file"
    f.write_text("x")
    proc = run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache", "--format", "html",
                   "-o", str(f))
    assert proc.returncode == 2 and b"not a directory" in proc.stderr


def test_default_folder_is_in_the_cache_and_printed(hostile, home, tmp_path):
    """Nothing written into the current folder unasked: a new folder in the cache."""
    tree, _ = hostile
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    out = ok(run_cli(home, "check", "--repo", str(tree), "mm", "--no-cache", "--format",
                     "html", cwd=cwd))
    index = Path(re.search(r"rmaplint: HTML report: (\S+)", out).group(1))
    assert index.is_file() and index.name == "index.html"
    assert str(index).startswith(str(home / "xdg-cache" / "rmaplint" / "reports"))
    assert list(cwd.iterdir()) == []


def test_highlight_keeps_every_line():
    from analyzer.report.html import highlight

    text = "int a;\r\nchar *b = \"x\ry\";\f\n/* multi\nline </script> */\n\udcff\x01end"
    lines = highlight(text)
    assert len(lines) == len(text.split("\n"))
    plain = [html.unescape(re.sub(r"<[^>]+>", "", str(x))) for x in lines]
    assert plain[0] == "int a;"  # the \r of a CRLF line is dropped
    assert plain[1] == 'char *b = "x\u240dy";\u240c'  # a lone \r and \f are shown
    assert plain[3] == "line </script> */" and "&lt;/script&gt;" in str(lines[3])
    assert plain[4] == "\ufffd\u2401end"
    assert 'class="cm"' in str(lines[2]) and 'class="cm"' in str(lines[3])


def test_highlight_colours_the_tokens_of_the_c_parse():
    from markupsafe import escape

    from analyzer.report.html import highlight

    text = ("#include <linux/mm.h>\nstatic int f(struct page *p) // one\n{\n"
            "\treturn p->x > 0x10 ? 'c' : sizeof(long); /* two */\n\tgoto out;\n}\n")
    lines = [str(x) for x in highlight(text)]

    def cls(n: int, token: str) -> str | None:
        m = re.search(r'<span class="(\w+)">' + re.escape(str(escape(token))) + "</span>",
                      lines[n])
        return m.group(1) if m else None

    assert (cls(0, "#include"), cls(0, "<linux/mm.h>")) == ("cp", "cpf")
    assert (cls(1, "static"), cls(1, "int"), cls(1, "struct"), cls(1, "// one")) == \
        ("k", "kt", "k", "c1")
    assert (cls(3, "return"), cls(3, "0x10"), cls(3, "'c'"), cls(3, "sizeof"),
            cls(3, "/* two */"), cls(3, "->")) == ("k", "m", "sc", "k", "cm", "o")
    assert cls(4, "goto") == "k" and cls(5, "}") == "p"
    # a fragment that is no whole C file (a diff's hunk) keeps its text and its lines
    frag = "\t\tif (x) {\n\tfoo(\"a\");\n"
    assert [html.unescape(re.sub(r"<[^>]+>", "", str(x))) for x in highlight(frag)] == \
        frag.split("\n")


# --------------------------------------------------------------------------- review


def test_review_report(corpus_review):
    out, doc = corpus_review
    assert_self_contained(out)
    index = Page(out / "index.html")
    raw = (out / "index.html").read_text()
    for p in doc["patches"]:
        sec = f"patch-{p['index']}"
        assert sec in index.ids
        body = raw[raw.index(f'id="{sec}"'):]
        nxt = re.search(r'<section class="patch" id="patch-\d+"', body[10:])
        body = body[:nxt.start() + 10] if nxt else body
        for label in ("new", "fixed", "unchanged"):
            n = len(p[label])
            assert f'<span class="badge b-{label}{" zero" if not n else ""}">{n} {label}' \
                   f"</span>" in body, (sec, label)
            assert body.count(f'<span class="badge b-{label}">{label}</span>') >= n
        if p["new"] or p["fixed"]:  # the diff hunk beside the annotated code
            assert '<div class="pair">' in body and '<table class="diff code">' in body
            assert '<div class="annot">' in body and '<td class="gut"' in body
    v = doc["verdict"]
    assert f"{len(v['remaining'])} remaining</span>" in raw
    assert f"{len(v['transient'])} transient</span>" in raw
    assert "verdict" in index.ids


def test_review_links_the_new_lock_drop_to_its_region(corpus_review):
    out, doc = corpus_review
    p1 = doc["patches"][0]
    drop = next(f for f in p1["new"] if f["rule"] == "lock-dropped-in-loop")
    raw = (out / "index.html").read_text()
    m = re.search(r'<span class="badge b-new">new</span><span class="sev sev-warning">warning'
                  r'</span> <a href="rules/lock-dropped-in-loop.html">lock-dropped-in-loop</a> '
                  r'<a class="goto" href="(files/[^"#]+)#(F\d+)">mm/anon.c:(\d+)-(\d+)</a>', raw)
    assert m, "patch 1's new lock drop is not linked"
    assert (int(m.group(3)), int(m.group(4))) == (drop["line"], drop["end_line"])
    page = Page(out / m.group(1))
    assert m.group(1).startswith(f"files/{p1['commit'][:12]}-")
    assert page.rows[drop["line"]]["anchors"] == [m.group(2)]
    for n in range(drop["line"], drop["end_line"] + 1):
        assert {"hit", "st-new"} <= page.rows[n]["cls"]
    assert any("rel" in c for c in page.rows[drop["line"]]["cells"])
    assert any("gap" in c for c in page.rows[drop["line"] + 1]["cells"])
    assert any("acq" in c for c in page.rows[drop["end_line"]]["cells"])
    # the fixed one is shown on the parent's page
    fixed = next(f for f in p1["fixed"] if f["rule"] == "lock-dropped-in-loop")
    m = re.search(r'<span class="badge b-fixed">fixed</span>.*?<a class="goto" href="(files/'
                  r'[^"#]+)#(F\d+)">mm/anon.c:%d-%d</a>' % (fixed["line"], fixed["end_line"]),
                  raw)
    assert m and m.group(1).startswith(f"files/{doc['base'][:12]}-")


def test_review_shows_extra_results_generically(tmp_path):
    from analyzer.driver.cache import Cache
    from analyzer.model.lockmodel import load
    from analyzer.report.html import review_html
    from analyzer.workflow.review import review_series

    corpus = build_history(tmp_path / "repo")
    model = load()
    res = review_series(corpus.path, str(corpus.mbox), corpus.base, model, Cache(None),
                        snapshots=True)
    # the shape review --unittests gives (one document per suite), and anything else
    res.patches[0].extra = {
        "unittests": [{"suite": "vma", "status": "passed", "tests_run": 12, "reused": False},
                      {"suite": "radix-tree", "status": "build-failed", "reused": True,
                       "first_error": {"message": "<script>alert(3)</script>",
                                       "location": "tools/testing/radix-tree/main.c:1"}}],
        "notes": ["vma passed", "radix-tree build-failed"],
    }
    out = tmp_path / "html"
    review_html(res, out)
    raw = (out / "index.html").read_text()
    assert "Companion results" in raw
    assert "<dt>unittests</dt>" in raw and "<th>suite</th><th>status</th>" in raw
    assert "<td>radix-tree</td><td>build-failed</td>" in raw
    assert "<li>radix-tree build-failed</li>" in raw
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in raw and "<script>alert" not in raw
    assert_self_contained(out)


# --------------------------------------------------------------------------- history


def test_history_timeline(tmp_path, home):
    corpus = build_history(tmp_path / "repo")
    rng = f"{corpus.base}..{corpus.commits[-1]}"
    out = tmp_path / "html"
    ok(run_cli(home, "history", rng, "--repo", str(corpus.path), "--no-cache", "--format",
               "html", "-o", str(out)))
    doc = json.loads(ok(run_cli(home, "history", rng, "--repo", str(corpus.path),
                                "--no-cache", "--format", "json")))
    assert_self_contained(out)
    raw = (out / "index.html").read_text()
    page = Page(out / "index.html")
    rows = [a["id"] for t, a in page.tags if t == "tr" and a.get("id", "").startswith("h-")]
    assert len(rows) == len(doc["findings"])
    cols = [a for t, a in page.tags if t == "th" and "c" in (a.get("class") or "").split()]
    assert len(cols) == 1 + len(doc["revisions"])  # the start, then each commit
    introduced = sum(f["introduced"] is not None for f in doc["findings"])
    removed = sum(f["removed"] is not None for f in doc["findings"])
    assert raw.count('<td class="c in">+</td>') == introduced
    assert raw.count('<td class="c out">\u2212</td>') == removed
    # each finding links to the annotated file where it was last seen
    links = re.findall(r'<a class="goto" href="(files/[^"]+)">', raw)
    assert len(links) == len(doc["findings"])
    assert "Per function" in raw and "anon_vma_clone()" in raw
