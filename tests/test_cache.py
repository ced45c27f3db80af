"""analyzer.cache: persistent, salted, corruption-tolerant pickle cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import analyzer.driver.cache as cache_module
from analyzer.driver.cache import Cache, default_cache_dir
from analyzer.source.reader import SourceFile

KEY = "ab" + "0" * 38
VALUE = SourceFile("mm/rmap.c", KEY, "int x;\n")


def entry_path(cache: Cache, kind: str, key: str) -> Path:
    assert cache.directory is not None
    return cache.directory / cache.salt / kind / key[:2] / key


def test_round_trip_and_layout(tmp_path: Path) -> None:
    cache = Cache(tmp_path, salt="rules-1")
    assert cache.get("parse", KEY) is None
    cache.put("parse", KEY, VALUE)
    assert cache.get("parse", KEY) == VALUE
    assert cache.get("summary", KEY) is None  # kinds are separate namespaces
    assert (cache.hits, cache.misses) == (1, 2)
    assert entry_path(cache, "parse", KEY).is_file()
    assert sorted(p.name for p in entry_path(cache, "parse", KEY).parent.iterdir()) == [KEY]

    again = Cache(tmp_path, salt="rules-1")  # a later run
    assert again.salt == cache.salt
    assert again.get("parse", KEY) == VALUE
    cache.put("parse", KEY, {"replaced": True})
    assert again.get("parse", KEY) == {"replaced": True}
    assert (again.hits, again.misses) == (2, 0)


def test_disabled_cache(tmp_path: Path) -> None:
    cache = Cache(None)
    assert not cache.enabled
    cache.put("parse", KEY, VALUE)
    assert cache.get("parse", KEY) is None
    assert (cache.hits, cache.misses) == (0, 1)


def test_salt_invalidates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Cache(tmp_path, salt="rules-1").put("parse", KEY, VALUE)
    assert Cache(tmp_path, salt="rules-2").get("parse", KEY) is None
    monkeypatch.setattr(cache_module, "__version__", "999.0")
    assert Cache(tmp_path, salt="rules-1").get("parse", KEY) is None
    monkeypatch.undo()
    monkeypatch.setattr(cache_module, "_code_fingerprint", lambda: "edited")
    assert Cache(tmp_path, salt="rules-1").get("parse", KEY) is None
    monkeypatch.undo()
    assert Cache(tmp_path, salt="rules-1").get("parse", KEY) == VALUE


@pytest.mark.parametrize("content", [b"", b"garbage", b"\x80\x05\x95", "pickle-of-missing-class"])
def test_corrupt_entries_are_misses(tmp_path: Path, content: bytes | str) -> None:
    cache = Cache(tmp_path)
    cache.put("parse", KEY, VALUE)
    path = entry_path(cache, "parse", KEY)
    if content == "pickle-of-missing-class":  # a class renamed or removed since it was stored
        content = path.read_bytes().replace(b"SourceFile", b"SourceGone")
    path.write_bytes(content)
    assert cache.get("parse", KEY) is None
    assert cache.misses == 1
    cache.put("parse", KEY, VALUE)  # a new put repairs it
    assert cache.get("parse", KEY) == VALUE


def test_unreadable_and_unwritable(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    entry_path(cache, "parse", KEY).mkdir(parents=True)  # a folder where the file goes
    assert cache.get("parse", KEY) is None
    cache.put("parse", KEY, VALUE)  # os.replace fails: ignored
    assert not [p for p in entry_path(cache, "parse", KEY).parent.iterdir() if p.name != KEY]

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    cache = Cache(blocked)
    cache.put("parse", KEY, VALUE)
    assert cache.get("parse", KEY) is None


def test_rejects_bad_names_and_none(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    for kind, key in [("../x", KEY), ("parse", "../../etc"), ("parse", "a"), ("", KEY),
                      ("parse", "a/b"), (".hidden", KEY)]:
        with pytest.raises(ValueError):
            cache.get(kind, key)
    with pytest.raises(ValueError):
        cache.put("parse", KEY, None)
    with pytest.raises(Exception):
        cache.put("parse", KEY, lambda: 0)  # not picklable: a bug, not a cache miss
    assert not os.path.exists(entry_path(cache, "parse", KEY))


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "rmaplint"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec says: ignore
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home/.cache/rmaplint"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == tmp_path / "home/.cache/rmaplint"


def test_traces_are_cached_beside_the_result(tmp_path: Path) -> None:
    """A plain check with the cache on stores each file's function traces (kind "trace",
    keyed like the result); asking for them later analyses nothing and gives what a fresh
    analysis gives."""
    from analyzer.driver.run import Checker
    from analyzer.model.lockmodel import load
    from analyzer.source.reader import TreeSource

    corpus = Path(__file__).resolve().parents[1] / "corpus" / "rules"
    model = load()
    path = "lock-dropped-in-loop.c"
    fresh = Checker(TreeSource(corpus), model, Cache(None)).check_file(path, traces=True)
    assert fresh.traces and fresh.text is not None and not fresh.cached

    cold = Checker(TreeSource(corpus), model, Cache(tmp_path, salt=model.digest))
    plain = cold.check_file(path)
    assert plain.traces is None and plain.text is None  # not asked for: not carried
    assert cold.cache.misses_of("result") == 1

    warm = Checker(TreeSource(corpus), model, Cache(tmp_path, salt=model.digest))
    warm.project.analyse_file = None  # any analysis would fail
    traced = warm.check_file(path, traces=True)
    assert traced.cached and warm.cache.hits_of("result") == 1
    assert warm.cache.hits_of("trace") == 1 and warm.cache.misses_of("trace") == 0
    assert traced.traces == fresh.traces and traced.text == fresh.text
    assert traced.findings == fresh.findings
    events = {ev.kind for ft in traced.traces for ev in ft.events}
    assert events == {"acquire", "release"}
