"""``ruff check analyzer`` and ``mypy analyzer`` are clean (configured in pyproject.toml).

Both are in the test extras, so .ci/run installs them; elsewhere a missing tool skips the
test, except under ``CI=true`` where it fails. .ci/run also runs both itself, before pytest.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import in_ci

REPO_ROOT = Path(__file__).resolve().parents[1]


def _run(module: str, *args: str) -> None:
    if importlib.util.find_spec(module) is None:
        msg = f"{module} is not installed (pip install '.[test]')"
        if in_ci():
            pytest.fail(f"{msg}; CI must install it (see .ci/run)")
        pytest.skip(msg)
    r = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO_ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{module} {' '.join(args)}:\n{r.stdout}{r.stderr}"


def test_ruff_clean():
    _run("ruff", "check", "--no-cache", "analyzer")


def test_mypy_clean(tmp_path):
    # a cache of its own: nothing written into the checkout, no race with another run
    _run("mypy", "--cache-dir", str(tmp_path / "mypy-cache"), "analyzer")
