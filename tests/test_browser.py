"""The HTML reports in a real browser: Playwright driving Debian's chromium (headless, no
network, installed by .ci/run; never ``playwright install``).

Opens the report of the corpus series review and of the real 6.12 ``mm/rmap.c``, follows the
links to the ``anon_vma_clone`` lock-drop region, checks that its rows and gutter are shown,
that the keyboard navigation works, that every request the pages make is a ``file://`` URL
inside the report folder, and that a hostile comment renders as text (no dialog, no image).
Screenshots go to reports/ (CI artefacts); so do the size and load time of the page of
``mm/memory.c``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import in_ci

REPO_ROOT = Path(__file__).resolve().parents[1]
REPORTS = REPO_ROOT / "reports"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEW = {"width": 1400, "height": 900}


def _missing(what: str):
    if in_ci():
        pytest.fail(f"{what}; CI must install it (see .ci/run)")
    pytest.skip(what)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Python package playwright not installed (pip install '.[test]')")
    if not CHROMIUM.exists():
        _missing("Debian package chromium not installed (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Visit:
    """One browser context on one report folder: every request and dialog recorded."""

    def __init__(self, browser, folder: Path):
        self.folder = folder.resolve()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.ctx = browser.new_context(viewport=VIEW)
        self.ctx.on("request", lambda r: self.requests.append(r.url))
        self.page = self.ctx.new_page()
        self.page.on("dialog", self._dialog)

    def _dialog(self, d):
        self.dialogs.append(d.message)
        d.dismiss()

    def open(self, rel: str):
        self.page.goto((self.folder / rel).as_uri(), wait_until="load")
        return self.page

    def close(self) -> None:
        self.ctx.close()
        assert self.requests, "no request recorded"
        for url in self.requests:
            parts = urlsplit(url)
            assert parts.scheme == "file", url
            path = Path(unquote(parts.path)).resolve()
            assert self.folder in path.parents, url
            assert path.is_file(), url
        assert not self.dialogs, self.dialogs


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIT_") and k != "RMAPLINT_DEBUG"}
    env.update(PYTHONPATH=str(REPO_ROOT), HOME=str(home),
               XDG_CACHE_HOME=str(home / "xdg-cache"), XDG_CONFIG_HOME=str(home / "xdg-config"),
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
               GIT_CEILING_DIRECTORIES=str(home.parent))
    return env


def cli(home: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "analyzer.cli", *args], cwd=home,
                          env=clean_env(home), capture_output=True, timeout=900)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode in (0, 1), (proc.returncode, err)
    assert "Traceback" not in err, err
    return proc.stdout.decode()


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and 0 <= box["y"] < VIEW["height"] and box["height"] > 0


def row_classes(page, line: int) -> set[str]:
    return set((page.get_attribute(f"#L{line}", "class") or "").split())


def cell_classes(page, line: int) -> list[set[str]]:
    return [set(c.split()) for c in page.eval_on_selector_all(
        f"#L{line} td.gut i", "els => els.map(e => e.className)")]


def assert_drop_region(page, f: dict, lock: str) -> None:
    """The rows of a lock-drop finding and the gutter of its lock: held up to the release,
    released on the first line, not held inside, retaken on the last line."""
    fn = f"#fn-{f['function']}"
    assert page.locator(fn).is_visible()
    legend = page.inner_text(f"{fn} .fnhead .legend")
    assert lock in legend
    cols = page.eval_on_selector_all(f"{fn} .fnhead .legend .lk",
                                     "els => els.map(e => e.textContent)")
    col = next(i for i, c in enumerate(cols) if c.startswith(lock))
    for n in range(f["line"], f["end_line"] + 1):
        assert {"hit", f"s-{f['severity']}"} <= row_classes(page, n), n
        assert page.locator(f"#L{n}").is_visible()
    first = cell_classes(page, f["line"])[col]
    assert {"must", "rel"} <= first or {"may", "rel"} <= first, first
    inside = cell_classes(page, f["line"] + 1)[col]
    assert "gap" in inside and not {"must", "may"} & inside, inside
    title = page.get_attribute(f"#L{f['line']} td.gut", "title")
    assert f"releases {lock}" in title
    card = page.locator(f"#L{f['end_line']} + tr.card .finding")
    assert card.is_visible()
    assert f["message"] in card.inner_text()


def shot(page, name: str, above: int | None = None) -> Path:
    REPORTS.mkdir(exist_ok=True)
    if above is not None:
        page.evaluate(f"window.scrollBy(0, -{above})")
        page.wait_for_timeout(100)
    out = REPORTS / name
    page.screenshot(path=str(out))
    assert out.stat().st_size > 10_000
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


# --------------------------------------------------------------------------- corpus review


def test_corpus_series_review(browser, home, tmp_path):
    out = tmp_path / "review"
    cli(home, "demo", "--no-cache", "--format", "html",
        "-o", str(out))
    doc = json.loads(cli(home, "demo", "--no-cache",
                         "--format", "json"))
    drop = next(f for f in doc["patches"][0]["new"] if f["rule"] == "lock-dropped-in-loop"
                and f["function"] == "anon_vma_clone")
    v = Visit(browser, out)
    page = v.open("index.html")
    assert "rmaplint review" in page.title()
    assert page.locator("section.patch").count() == len(doc["patches"])
    assert page.locator("#verdict").is_visible()
    # the jump list leads to each patch
    page.click("nav.side ol.patches a[href='#patch-3']")
    page.wait_for_function("location.hash === '#patch-3'")
    assert in_view(page, "#patch-3 h2")
    page.click("nav.side ol.patches a[href='#patch-1']")
    page.wait_for_function("location.hash === '#patch-1'")
    assert in_view(page, "#patch-1 h2")
    p1 = page.locator("#patch-1")
    assert p1.locator(".badges .b-new").inner_text() == f"{len(doc['patches'][0]['new'])} new"
    # the diff hunk beside the annotated code, with the gutter
    assert p1.locator(".pair .diff tr.del").count() > 0
    assert p1.locator(".pair .annot td.gut i.rel").count() > 0
    page.evaluate("document.querySelector('#patch-1 .pair').scrollIntoView()")
    shot(page, "screenshot-review-index.png", above=120)
    # from the patch's finding to its region on the page of the file after the patch
    item = p1.locator("ul.plist li", has_text="lock-dropped-in-loop").filter(
        has=page.locator(".b-new")).first
    item.locator("a.goto").click()
    page.wait_for_load_state("load")
    assert f"files/{doc['patches'][0]['commit'][:12]}-" in page.url and "#F" in page.url
    anchor = page.url.split("#")[1]
    assert in_view(page, f"#{anchor}") and in_view(page, f"#L{drop['line']}")
    assert_drop_region(page, drop, "src->anon_vma->root->rwsem")
    assert "st-new" in row_classes(page, drop["line"])
    shot(page, "screenshot-review.png", above=200)
    # keyboard: n / p walk through the findings of the page
    page.keyboard.press("n")
    page.wait_for_function(f"location.hash !== '#{anchor}'")
    nxt = page.evaluate("location.hash")
    page.keyboard.press("p")
    page.wait_for_function(f"location.hash === '#{anchor}'")
    assert nxt != f"#{anchor}"
    # back to the index through the header
    page.click("header.top a.home")
    page.wait_for_load_state("load")
    assert page.url.endswith("index.html")
    v.close()


def test_hostile_comment_is_text(browser, home, tmp_path):
    from test_html import HOSTILE_C, HOSTILE_COMMENT

    tree = tmp_path / "tree"
    (tree / "mm").mkdir(parents=True)
    shutil.copyfile(REPO_ROOT / "corpus" / "rules" / "anon.h", tree / "mm" / "anon.h")
    (tree / "mm" / "hostile.c").write_text(HOSTILE_C)
    out = tmp_path / "html"
    cli(home, "check", "--repo", str(tree), "mm", "--no-cache", "--format", "html",
        "-o", str(out))
    v = Visit(browser, out)
    page = v.open("index.html")
    page.click("a.goto >> nth=0")
    page.wait_for_load_state("load")
    page.wait_for_timeout(200)
    assert page.inner_text("#L4 td.t") == HOSTILE_COMMENT
    assert "onerror=alert(2)" in page.inner_text("#L13 td.t")
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1
    assert page.locator("i", has_text="pinned").count() == 0
    assert page.evaluate("typeof window.alert") == "function"
    v.close()  # asserts no dialog was opened


# --------------------------------------------------------------------------- the real tree


@pytest.mark.kernel
def test_real_rmap(browser, home, kernel_tree, tmp_path):
    out = tmp_path / "rmap"
    # through the test's own cache (under its HOME): the JSON run reads what the HTML run
    # analysed, as a user's second look would
    cli(home, "check", "--repo", str(kernel_tree), "mm/rmap.c", "-q",
        "--format", "html", "-o", str(out))
    doc = json.loads(cli(home, "check", "--repo", str(kernel_tree), "mm/rmap.c",
                         "-q", "--format", "json"))
    drop = next(f for f in doc["findings"] if f["rule"] == "lock-dropped-in-loop"
                and f["function"] == "anon_vma_clone")
    v = Visit(browser, out)
    page = v.open("index.html")
    page.locator("#findings-table tr", has_text="lock-dropped-in-loop").locator("a.goto").click()
    page.wait_for_load_state("load")
    assert "files/mm_rmap.c.html#F" in page.url
    assert in_view(page, f"#L{drop['line']}")
    assert_drop_region(page, drop, "root->rwsem")
    # the jump list of the page: the function, then the finding again
    page.click("nav.side ol.fns a[href='#fn-anon_vma_clone']")
    page.wait_for_function("location.hash === '#fn-anon_vma_clone'")
    assert in_view(page, "#fn-anon_vma_clone .fnhead")
    page.locator("nav.side ol.jump a.j", has_text="lock-dropped-in-loop").click()
    assert in_view(page, f"#L{drop['line']}")
    shot(page, "screenshot-rmap.png", above=260)
    v.close()


@pytest.mark.kernel
def test_big_file_size_and_load_time(browser, home, kernel_tree, tmp_path):
    """mm/memory.c (~7000 lines, ~180 functions): the size of its page and how long the
    browser takes to load it, recorded in reports/html-measurements.json."""
    out = tmp_path / "memory"
    t0 = time.perf_counter()
    cli(home, "check", "--repo", str(kernel_tree), "mm/memory.c", "--no-cache", "-q",
        "--format", "html", "-o", str(out))
    generate = time.perf_counter() - t0
    page_file = out / "files" / "mm_memory.c.html"
    size = page_file.stat().st_size
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    lines = (kernel_tree / "mm" / "memory.c").read_text(errors="replace").count("\n")
    v = Visit(browser, out)
    page = v.page
    t0 = time.perf_counter()
    page.goto(page_file.as_uri(), wait_until="load")
    wall = time.perf_counter() - t0
    nav = page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                        " return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd}; })()")
    assert page.locator("tr[id^='L']").count() == lines
    # jump to the last function: rendered on demand, in view
    last = page.eval_on_selector_all("nav.side ol.fns a", "els => els.at(-1).hash")
    t0 = time.perf_counter()
    page.click(f"nav.side ol.fns a[href='{last}']")
    page.wait_for_function(f"location.hash === '{last}'")
    jump = time.perf_counter() - t0
    assert in_view(page, f"{last} .fnhead")
    shot(page, "screenshot-memory.png")
    requests = len(v.requests)
    v.close()
    m = {"file": "mm/memory.c", "lines": lines, "page_bytes": size, "folder_bytes": total,
         "generate_seconds": round(generate, 2), "load_wall_seconds": round(wall, 3),
         "dom_content_loaded_ms": round(nav["dcl"]), "load_event_ms": round(nav["load"]),
         "jump_to_last_function_seconds": round(jump, 3), "requests": requests}
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "html-measurements.json").write_text(json.dumps(m, indent=2) + "\n")
    print(json.dumps(m))
    assert size < 8_000_000, m
    assert nav["load"] < 10_000, m
    assert requests == 3, m  # the page, its style sheet and its script
