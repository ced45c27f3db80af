"""The project installs as a real (non-editable) package: the console script runs, every
subpackage is included and the rules data ships as ``analyzer.rules``.

The build runs offline (``--no-build-isolation --no-deps --no-index``) in a venv that sees
the system site-packages, so the build backend from ``[build-system] requires`` (setuptools,
wheel) must be installed there; ``.ci/run`` installs it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What the installed interpreter reports about the package (run from outside the checkout,
# so that the checkout's own analyzer/ cannot shadow the installed one).
PROBE = """
import importlib, importlib.resources, json, sys
names = sys.argv[1:]
out = {"files": {}, "rules": []}
for name in names:
    try:
        out["files"][name] = importlib.import_module(name).__file__
    except Exception as err:
        out["files"][name] = "ERROR " + repr(err)
out["rules"] = sorted(p.name for p in importlib.resources.files("analyzer.rules").iterdir())
print(json.dumps(out))
"""

def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


def source_packages() -> list[str]:
    """Every package of the checkout's analyzer/ (folders with __init__.py), plus the rules."""
    found = [
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in sorted((ROOT / "analyzer").rglob("__init__.py"))
        if "__pycache__" not in init.parts
    ]
    return found + ["analyzer.rules"]


def missing_build_requirements(python: Path, cwd: Path) -> list[str]:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    missing = []
    for req in requires:
        name = re.match(r"[A-Za-z0-9_.-]+", req)
        assert name, f"cannot read build requirement {req!r}"
        probe = f"import importlib.metadata as m; m.version({name.group(0)!r})"
        check = run([str(python), "-c", probe], cwd)
        if check.returncode != 0:
            missing.append(req)
    return missing


def see_outer(python: Path, cwd: Path) -> None:
    import site

    outer = [p for p in site.getsitepackages() if Path(p).is_dir()]
    if sys.prefix == sys.base_prefix or not outer:
        return
    inner = run([str(python), "-c", "import site; print(site.getsitepackages()[0])"], cwd)
    assert inner.returncode == 0, inner.stderr
    (Path(inner.stdout.strip()) / "outer-venv.pth").write_text("\n".join(outer) + "\n")


def test_real_install_ships_cli_packages_and_rules(tmp_path: Path) -> None:
    # Build from a copy so the checkout gets no build/ or *.egg-info litter.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis",
        ".venv-ci", ".venv"))
    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path)
    assert made.returncode == 0, (
        f"python -m venv failed (Debian: apt-get install python3-venv):\n{made.stderr}")
    python = venv / "bin" / "python"
    # --system-site-packages shows the *base* interpreter's packages; when the tests run in
    # a virtualenv (an activated one, or .ci/run's .venv-ci/), the build backend is in that
    # one: let the new venv see it too
    see_outer(python, tmp_path)

    missing = missing_build_requirements(python, tmp_path)
    assert not missing, (
        f"build requirements missing for an offline build: {missing}; "
        f"run: python3 -m pip install {' '.join(repr(r) for r in missing)}")

    pip = run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--no-build-isolation", "--no-index", str(src)], tmp_path)
    assert pip.returncode == 0, f"pip install failed:\n{pip.stdout}\n{pip.stderr}"
    assert not list(venv.glob("lib/python*/site-packages/__editable__*")), "editable install"

    cli = run([str(venv / "bin" / "rmaplint"), "--help"], tmp_path)
    assert cli.returncode == 0, f"rmaplint --help exited {cli.returncode}:\n{cli.stderr}"
    assert cli.stdout.strip(), "rmaplint --help printed nothing"

    packages = source_packages()
    probe = run([str(python), "-c", PROBE, *packages], tmp_path)
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout)
    for name, file in report["files"].items():
        assert file.startswith(str(venv)), f"{name} not installed (add it to pyproject.toml): {file}"

    shipped = sorted(p.name for p in (ROOT / "rules").glob("*.toml"))
    assert shipped, "rules/ has no *.toml files to ship"
    installed = [n for n in report["rules"] if n.endswith(".toml")]
    assert installed == shipped
