"""The rules data is typed and validated on load, and ``--rules DIR`` governs all of it.

A typo in a rules file must not silently drop findings: an unknown key, a missing key, a
wrong type or a misspelt enum value is one line on stderr naming the file and the key, and
exit status 2. The frontend's data (``frontend.toml``) comes from the same folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.errors import InputError
from analyzer.model.enums import Action, LockKind, Mode
from analyzer.model.lockmodel import default_rules_dir, load

ROOT = Path(__file__).resolve().parent.parent


def rules_copy(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), d, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return d


def rmaplint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "analyzer.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_built_in_rules_load_as_typed_values():
    m = load()
    p = m.primitive("down_write_killable")
    assert p is not None and p.action is Action.TRYLOCK and p.mode is Mode.WRITE
    assert p.kind is LockKind.RWSEM
    s = next(s for s in m.protected.structures if s.field == "rb_root")
    assert s.walk is Mode.READ and s.modifiers["anon_vma_interval_tree_insert"] == 1
    assert "mm" in m.engine.summary_dirs and m.lockorder.tree_comment is not None
    assert m.frontend is not None and "list_for_each_entry" in m.frontend.fallback


@pytest.mark.parametrize("file, old, new, key", [
    ("protected.toml", "modifiers = [", "modifers = [", "modifers"),
    ("locks.toml", 'action = "acquire"', 'action = "aquire"', "action"),
    ("locks.toml", 'transparent = [', 'transparnt = [', "transparnt"),
    ("engine.toml", "summary_dirs = ", "summary_dir = ", "summary_dir"),
    ("lockorder.toml", 'marker = "Lock ordering in mm:"', 'mark = "x"', "mark"),
    ("frontend.toml", "[function_macros]", "[function_macro]", "function_macro"),
    ("protected.toml", 'field = "rb_root"', "", "field"),  # a missing required key
])
def test_a_typo_in_any_rules_file_is_one_line_and_exit_2(tmp_path, file, old, new, key):
    d = rules_copy(tmp_path)
    text = (d / file).read_text()
    assert old in text
    (d / file).write_text(text.replace(old, new, 1))
    with pytest.raises(InputError) as e:
        load(d)
    assert file in str(e.value) and key in str(e.value)
    (tmp_path / "mm").mkdir()
    (tmp_path / "mm" / "a.c").write_text("void f(void)\n{\n}\n")
    r = rmaplint("check", "--rules", str(d), "mm/a.c", cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and file in lines[0] and key in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_a_stray_toml_in_the_rules_folder_is_refused(tmp_path):
    d = rules_copy(tmp_path)
    (d / "lock.toml").write_text("x = 1\n")
    with pytest.raises(InputError, match="lock.toml: not a rules file"):
        load(d)


FIXTURE = """\
FIXTURE_DEFINE1(grow, struct widget *, w)
{
	spin_lock(&w->lock);
	w->n++;
	spin_unlock(&w->lock);
	return 0;
}
"""


def test_rules_dir_governs_the_frontend_data(tmp_path):
    """A function-defining macro declared only in the given rules folder's frontend.toml is
    read as a function with that folder, and not with the built-in rules."""
    d = rules_copy(tmp_path)
    text = (d / "frontend.toml").read_text()
    (d / "frontend.toml").write_text(text.replace(
        "[function_macros]\n", '[function_macros]\nFIXTURE_DEFINE = { symbol = "__fx_{0}" }\n'))
    assert load(d).frontend.function_macros["FIXTURE_DEFINE"] == "__fx_{0}"
    (tmp_path / "mm").mkdir()
    (tmp_path / "mm" / "w.c").write_text(FIXTURE)
    with_rules = rmaplint("explain", "--rules", str(d), "mm/w.c", "__fx_grow", cwd=tmp_path)
    assert with_rules.returncode == 0, with_rules.stderr
    assert "w->lock" in with_rules.stdout
    built_in = rmaplint("explain", "mm/w.c", "__fx_grow", cwd=tmp_path)
    assert built_in.returncode == 2 and "__fx_grow" in built_in.stderr
