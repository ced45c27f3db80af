"""The embedded default: build ``corpus/history`` into a throwaway git repository and mbox.

``corpus/history/base`` is the code base before the series; each ``patches/<dir>`` holds the
files as they are after that patch; ``series.toml`` gives subjects and messages. The builder
commits the base on ``main``, the series on the branch ``series``, and writes the series as an
mbox with ``git format-patch`` — what a reviewer gets from ``b4 am``. Dates and identities are
fixed, so the commits (and fingerprints) are the same on every machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import InputError


def corpus_dir() -> Path:
    """``corpus/`` as installed (package ``analyzer.corpus_data``) or next to analyzer/."""
    try:
        return Path(str(resources.files("analyzer.corpus_data")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "corpus"


@dataclass(frozen=True)
class CorpusRepo:
    path: Path
    base: str  # commit of the code base before the series
    commits: tuple[str, ...]  # the series, oldest first
    mbox: Path


def _git(repo: Path, *args: str, env: dict | None = None) -> str:
    out = subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=repo,
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise InputError(f"building the corpus history failed: git {args[0]}: "
                         f"{out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ''}")
    return out.stdout.strip()


def build_history(dest: Path, history: Path | None = None) -> CorpusRepo:
    """Create the corpus repository in ``dest`` (an empty or missing folder)."""
    history = history or corpus_dir() / "history"
    conf = tomllib.loads((history / "series.toml").read_text())
    dest.mkdir(parents=True, exist_ok=True)
    name, _, mail = conf["author"].partition(" <")
    mail = mail.rstrip(">")
    # no inherited GIT_* variable: GIT_DIR or GIT_INDEX_FILE from a git hook would make
    # these commands commit the corpus into the user's repository and switch its branch
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
           "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": mail,
           "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": mail,
           "GIT_AUTHOR_DATE": conf["date"], "GIT_COMMITTER_DATE": conf["date"],
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(dest)}
    _git(dest, "init", "-q", "-b", "main", ".", env=env)
    _overlay(history / "base", dest)
    _git(dest, "add", "-A", env=env)
    _git(dest, "commit", "-q", "-m", conf["base_subject"], env=env)
    base = _git(dest, "rev-parse", "HEAD", env=env)
    _git(dest, "checkout", "-q", "-b", "series", env=env)
    commits = []
    for p in conf["patch"]:
        _overlay(history / "patches" / p["dir"], dest)
        _git(dest, "add", "-A", env=env)
        msg = p["subject"] + "\n\n" + p["body"].strip() + "\n\nSigned-off-by: " + \
            conf["author"] + "\n"
        _git(dest, "commit", "-q", "-m", msg, env=env)
        commits.append(_git(dest, "rev-parse", "HEAD", env=env))
    mbox = dest / "series.mbox"
    text = _git(dest, "format-patch", "--stdout", "--no-stat",
                f"{base}..series", env=env)
    mbox.write_text(text + "\n")
    _git(dest, "checkout", "-q", "main", env=env)
    # the mbox is not part of the tree
    (dest / ".git" / "info").mkdir(exist_ok=True)
    (dest / ".git" / "info" / "exclude").write_text("series.mbox\n")
    return CorpusRepo(dest, base, tuple(commits), mbox)


def _overlay(src: Path, dest: Path) -> None:
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
        target = dest / rel
        if p.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)
