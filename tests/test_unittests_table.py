"""rules/unittests.toml is read strictly, like every other rules file (analyzer/datafile.py):
an unknown key (a typo), a missing required key or a value of the wrong type, in any suite or
family, is an InputError naming the file, the table and the key — one line and exit status 2
on the command line — instead of a key silently ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.cli.main import main
from analyzer.errors import InputError
from analyzer.unittests import runner as ut

CORPUS_TABLE = Path(__file__).resolve().parents[1] / "corpus" / "unittests" / "unittests.toml"


def variant(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    """A copy of the built-in table with the first ``count`` ``old`` replaced by ``new``."""
    text = ut.default_table_path().read_text()
    assert old in text, f"rules/unittests.toml no longer has {old!r}: update this test"
    path = tmp_path / "unittests.toml"
    path.write_text(text.replace(old, new, count))
    return path


def load_error(path: Path) -> str:
    with pytest.raises(InputError) as e:
        ut.load_table(path)
    msg = str(e.value)
    assert len(msg.splitlines()) == 1, msg
    assert msg.startswith(f"{path}: "), msg
    return msg


@pytest.mark.parametrize("path", [None, CORPUS_TABLE], ids=["builtin", "corpus"])
def test_every_key_of_the_tables_is_known(path):
    t = ut.load_table(path)
    for name in t.suites:
        t.suite(name)
    for fam in t.families:
        t.suite(f"{fam}:lib/kunit")


def test_a_typo_in_a_key_is_an_error_naming_file_table_and_key(tmp_path):
    path = variant(tmp_path, "build_timeout = 900", "build_timout = 900")
    msg = load_error(path)
    assert "[suite.vma]" in msg and "'build_timout'" in msg and "unknown key" in msg
    assert "build_timeout" in msg  # the known keys are listed


def test_a_missing_required_key_is_an_error_naming_file_table_and_key(tmp_path):
    path = variant(tmp_path, 'format = "tests-run"\n', "")
    msg = load_error(path)
    assert "[suite.vma]" in msg and "'format'" in msg and "missing" in msg


@pytest.mark.parametrize("old,new,needles", [
    # a suite that is not asked for is checked too
    ('binary = "main"', 'binry = "main"', ["[suite.radix-tree]", "'binry'"]),
    ('cwd = "."', 'cwdir = "."', ["[family.kunit]", "'cwdir'"]),
    ("[defaults]\nbuild_timeout", "[defaults]\nbuild_timout", ["[defaults]", "'build_timout'"]),
    ("\n[programs]\n", "\n[program]\n", ["'program'", "unknown key"]),
    ("[suite.vma]\n", "[suites.vma]\n", ["'suites'", "unknown key"]),
    ("build_timeout = 900", 'build_timeout = "900"', ["'build_timeout'", "expected a number"]),
    ('run = [["./vma"]]', 'run = ["./vma"]', ["'run'", "expected a list of commands"]),
    ('build = ["make", "-j{jobs}"]', 'build = "make"', ["'build'", "list of strings"]),
    ('"urcu.h" = "liburcu-dev"', '"urcu.h" = 1', ["'urcu.h'", "expected a string"]),
    ('format = "tests-run"', 'format = "tap"', ["'format'", "unknown format 'tap'"]),
    ('path = "tools/testing/vma"', "path = 3", ["[suite.vma]", "'path'", "expected a string"]),
])
def test_other_mistakes_are_errors_too(tmp_path, old, new, needles):
    msg = load_error(variant(tmp_path, old, new))
    for n in needles:
        assert n in msg, msg


@pytest.mark.parametrize("old,new,key", [
    ("build_timeout = 900", "build_timout = 900", "build_timout"),
    ('format = "tests-run"\n', "", "format"),
])
def test_cli_reports_a_bad_table_in_one_line_with_exit_2(tmp_path, capsys, monkeypatch,
                                                         old, new, key):
    path = variant(tmp_path, old, new)
    monkeypatch.chdir(tmp_path)
    rc = main(["unittest", "--table", str(path), "--suite", "vma", "--tree", str(tmp_path),
               "--reports-dir", str(tmp_path / "r")])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert str(path) in err and f"'{key}'" in err, err
    assert not (tmp_path / "r").exists()  # nothing was built
