"""Where an analysed revision comes from (SARIF's ``versionControlProvenance``): the
repository's public address and the commit, asked of git by the caller of a report."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..source.reader import git_env
from .results import Provenance


def provenance(root: Path | str | None, rev: str | None) -> Provenance | None:
    """The provenance of ``rev`` (a commit) in the repository at ``root``: None without a
    revision, or when the repository has no origin remote that is a URL."""
    if root is None or not rev:
        return None
    uri = remote_uri(root)
    return Provenance(uri, rev) if uri is not None else None


def remote_uri(root) -> str | None:
    """The repository's public address (its origin remote), when it has one that is a URL
    and not a local path; credentials are stripped."""
    try:
        out = subprocess.run(["git", "remote", "get-url", "origin"], cwd=root,
                             capture_output=True, text=True, env=git_env(), timeout=30,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    url = out.stdout.strip()
    if out.returncode != 0 or not url:
        return None
    m = re.fullmatch(r"([\w.-]+@)?([\w.-]+):(?!//)(.+)", url)  # scp-like git@host:path
    if m and "/" not in m.group(2):
        return f"ssh://{m.group(2)}/{m.group(3)}"
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http", "ssh", "git") or not parts.hostname:
        return None
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def commit_of(root, rev: str) -> str:
    """``rev`` as a commit id (itself when git cannot say)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "--end-of-options",
                              f"{rev}^{{commit}}"], cwd=root, capture_output=True, text=True,
                             env=git_env(), timeout=30)
    except (OSError, subprocess.SubprocessError):
        return rev
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else rev
