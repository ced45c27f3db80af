"""Shared fixtures: real kernel trees (Debian's linux-source-6.12 and linux-source-6.1) and
throwaway git repos."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from analyzer.driver.cache import default_cache_dir

KERNEL_TARBALL = Path("/usr/src/linux-source-6.12.tar.xz")
KERNEL_DIRNAME = "linux-source-6.12"  # the tarball's single top folder
KERNEL_MISSING = "Debian package linux-source-6.12 not installed (apt-get install linux-source-6.12)"

# the older tree: benchmarks/realbugs/ puts fixes merged before v6.1-rc1 back into it
KERNEL61_TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
KERNEL61_DIRNAME = "linux-source-6.1"
KERNEL61_MISSING = "Debian package linux-source-6.1 not installed (apt-get install linux-source-6.1)"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


# --------------------------------------------------------------------------- kernel tree


def kernel_cache_dir() -> Path:
    """Where the tarball is extracted: ``$RMAPLINT_CACHE/kernel``, else the analyzer's
    cache directory (``~/.cache/rmaplint``) ``/kernel``."""
    base = os.environ.get("RMAPLINT_CACHE")
    return (Path(base) if base else default_cache_dir()) / "kernel"


def tarball_stamp(tarball: Path) -> str:
    """What the marker records: a new package version means a new extraction."""
    st = tarball.stat()
    return f"{tarball} {st.st_size} {st.st_mtime_ns}\n"


def extract_once(tarball: Path, base: Path, dirname: str = KERNEL_DIRNAME) -> Path:
    """Extract ``tarball`` (whose single top folder is ``dirname``) under ``base`` unless a
    complete extraction of this very tarball is there. Completeness is a marker written after
    tar succeeded; the tree is extracted beside its final place and renamed in, so a killed
    run leaves no half tree behind it. A lock file serializes concurrent test sessions."""
    base.mkdir(parents=True, exist_ok=True)
    tree = base / dirname
    marker = base / f".{dirname}.complete"
    stamp = tarball_stamp(tarball)
    with open(base / f".{dirname}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tree.is_dir() and marker.is_file() and marker.read_text() == stamp:
            return tree
        marker.unlink(missing_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".extract-", dir=base))
        try:
            subprocess.run(
                ["tar", "-xJf", str(tarball), "--no-same-owner", "-C", str(work)],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if not (work / dirname).is_dir():
                raise RuntimeError(f"{tarball} has no top folder {dirname}/")
            if tree.exists():  # an older or half-extracted tree: move it aside, then delete
                old = Path(tempfile.mkdtemp(prefix=".old-", dir=base))
                tree.rename(old / dirname)
            (work / dirname).rename(tree)
            tmp_marker = base / f".{dirname}.complete.tmp"
            tmp_marker.write_text(stamp)
            os.replace(tmp_marker, marker)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            for old in base.glob(".old-*"):
                shutil.rmtree(old, ignore_errors=True)
    return tree


@pytest.fixture(scope="session")
def kernel_tree() -> Path:
    """Root of an extracted linux-source-6.12 tree (read-only: never modify it).

    ``$RMAPLINT_KERNEL_TREE`` names an already extracted tree. Otherwise Debian's tarball is
    extracted once into the cache. Without the package the test is skipped, except under
    ``CI=true`` where a missing package is a broken CI setup and fails."""
    return _kernel_tree("RMAPLINT_KERNEL_TREE", KERNEL_TARBALL, KERNEL_DIRNAME, KERNEL_MISSING)


@pytest.fixture(scope="session")
def kernel_tree_61() -> Path:
    """Root of an extracted linux-source-6.1 tree (read-only: never modify it), as
    ``kernel_tree`` is for 6.12: ``$RMAPLINT_KERNEL_TREE_61`` names an extracted tree, else
    Debian's tarball is extracted once into the cache; without the package the test is
    skipped, except under ``CI=true`` where it fails."""
    return _kernel_tree("RMAPLINT_KERNEL_TREE_61", KERNEL61_TARBALL, KERNEL61_DIRNAME,
                        KERNEL61_MISSING)


def _kernel_tree(variable: str, tarball: Path, dirname: str, missing: str) -> Path:
    given = os.environ.get(variable)
    if given:
        tree = Path(given)
        if not (tree / "mm").is_dir():
            pytest.fail(f"{variable}={given} is not an extracted kernel tree")
        return tree
    if not tarball.is_file():
        if in_ci():
            pytest.fail(f"{missing}; CI must install it (see .ci/run)")
        pytest.skip(missing)
    try:
        return extract_once(tarball, kernel_cache_dir(), dirname)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as err:
        detail = getattr(err, "stderr", b"") or b""
        pytest.fail(f"cannot extract {tarball}: {err} {detail.decode(errors='replace')}")


@pytest.fixture(scope="session")
def kernel_mm_cache(tmp_path_factory) -> Path:
    """One result cache for the session's checks of the kernel tree's mm/: the first test
    that checks it fills it (tests/test_cli.py's check of mm/), the others read it back:
    tests/test_independence.py tests that a cache another run filled gives what a fresh
    run finds, tests/test_workflow_habits.py prints every finding from it. Never the
    user's cache."""
    return tmp_path_factory.mktemp("kernel-mm-cache")


@pytest.fixture(scope="session")
def prepared_kernel_tree(kernel_tree: Path) -> Path:
    """The same tree after ``make defconfig && make prepare`` (what --frontend clang needs),
    done once: a marker records it, a lock serializes concurrent sessions. Without the build
    tools the test is skipped, except under ``CI=true`` (.ci/run installs them)."""
    marker = kernel_tree / ".rmaplint-prepared"
    if marker.is_file() and (kernel_tree / "include/generated/autoconf.h").is_file():
        return kernel_tree
    tools = ["make", "gcc", "flex", "bison", "bc"]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        msg = f"cannot prepare the kernel tree: {', '.join(missing)} not installed"
        if in_ci():
            pytest.fail(msg + " (see .ci/run)")
        pytest.skip(msg)
    with open(kernel_tree.parent / f".{kernel_tree.name}.prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.is_file():
            jobs = str(os.cpu_count() or 1)
            for target in (["defconfig"], ["-j", jobs, "prepare"]):
                r = subprocess.run(["make", "-C", str(kernel_tree), *target],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
                    pytest.fail(f"make {' '.join(target)} failed: {' | '.join(tail)}")
            marker.write_text("make defconfig && make prepare\n")
    return kernel_tree


# --------------------------------------------------------------------------- git repos


class Symlink(str):
    """A file content meaning "make this path a symlink to <target>"."""


#: One revision: path -> content (str or bytes), a Symlink, or None to delete the path.
Revision = Mapping[str, "str | bytes | Symlink | None"]


def _git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="rmaplint tests",
        GIT_AUTHOR_EMAIL="tests@rmaplint.invalid",
        GIT_COMMITTER_NAME="rmaplint tests",
        GIT_COMMITTER_EMAIL="tests@rmaplint.invalid",
        GIT_AUTHOR_DATE="2024-01-01T00:00:00 +0000",
        GIT_COMMITTER_DATE="2024-01-01T00:00:00 +0000",
    )
    return env


@dataclass(frozen=True)
class GitRepo:
    """A throwaway repository: ``commits[i]`` is the sha of the i-th revision given."""

    path: Path
    commits: tuple[str, ...]
    env: Mapping[str, str]

    def git(self, *args: str) -> str:
        """Run git in the repository; its stdout (stripped)."""
        out = subprocess.run(
            ["git", *args], cwd=self.path, env=dict(self.env),
            check=True, capture_output=True,
        )
        return out.stdout.decode().strip()


@pytest.fixture
def make_git_repo(tmp_path: Path) -> Callable[..., GitRepo]:
    """``make_git_repo({"a.c": "..."}, {"a.c": None, "b.c": b"..."}, name="repo")`` builds
    a repository with one commit per revision (each applied on top of the previous one)
    on branch ``main``, and leaves the work tree at the last commit."""

    def make(*revisions: Revision, name: str = "repo") -> GitRepo:
        path = tmp_path / name
        path.mkdir()
        env = _git_env(tmp_path)
        repo = GitRepo(path, (), env)
        repo.git("init", "-q", "-b", "main")
        commits = []
        for i, revision in enumerate(revisions):
            for rel, content in revision.items():
                target = path / rel
                if target.is_symlink() or target.exists():
                    target.unlink()
                if content is None:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, Symlink):
                    target.symlink_to(str(content))
                elif isinstance(content, str):
                    target.write_bytes(content.encode())
                else:
                    target.write_bytes(content)
            repo.git("add", "-A")
            repo.git("commit", "-q", "--allow-empty", "-m", f"revision {i}")
            commits.append(repo.git("rev-parse", "HEAD"))
        return GitRepo(path, tuple(commits), env)

    return make
