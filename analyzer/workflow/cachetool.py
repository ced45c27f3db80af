"""``rmaplint cache info|prune``: keep ``~/.cache/rmaplint`` bounded.

The cache is ``<root>/<namespace>/<kind>/<xx>/<key>`` (:mod:`analyzer.driver.cache`): a new
rmaplint version, a code change or new rules start a new namespace and leave the old ones
unread. Reports nobody named a place for go to ``<root>/reports/``. ``prune`` removes the
namespaces other than the current ones (those touched in the last day are kept: another
rmaplint may be using them), reports older than 30 days, then — with ``--max-size`` — the
least recently used entries until the rest fits. ``<root>/kernel`` (the test suite's
extracted kernel tree) is never touched.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

KEEP = {"kernel"}
DAY = 86400


def _size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def _current_namespaces() -> set[str]:
    """The namespaces this rmaplint reads (one per rules digest: the built-in rules')."""
    from ..driver.cache import Cache
    from ..model.lockmodel import load

    try:
        model = load(None)
        return {Cache(Path("/nonexistent"), salt=model.digest).salt}
    except Exception:  # noqa: BLE001 - a broken rules folder must not stop a prune
        return set()


def _namespaces(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [d for d in root.iterdir()
            if d.is_dir() and d.name not in KEEP and d.name != "reports"]


def cache_info(root: Path) -> str:
    out = [f"cache: {root}"]
    if not root.is_dir():
        return out[0] + " (empty)\n"
    current = _current_namespaces()
    total = 0
    for d in sorted(_namespaces(root)):
        n = _size(d)
        total += n
        kinds = ", ".join(f"{k.name} {_size(k) / 2**20:.1f} MiB" for k in sorted(d.iterdir())
                          if k.is_dir())
        out.append(f"  {d.name}{' (current)' if d.name in current else ''}: "
                   f"{n / 2**20:.1f} MiB ({kinds})")
    rep = root / "reports"
    if rep.is_dir():
        n = _size(rep)
        total += n
        out.append(f"  reports: {n / 2**20:.1f} MiB in {sum(1 for _ in rep.iterdir())} "
                   "folder(s)")
    out.append(f"total {total / 2**20:.1f} MiB (rmaplint cache prune --max-size 1G bounds it)")
    return "\n".join(out) + "\n"


def prune(root: Path, max_size: int | None = None, everything: bool = False,
          now: float | None = None) -> tuple[int, int, int]:
    """(entries removed, bytes freed, bytes left)."""
    now = time.time() if now is None else now
    removed = freed = 0
    if not root.is_dir():
        return 0, 0, 0
    current = _current_namespaces()

    def drop(p: Path) -> None:
        nonlocal removed, freed
        n = _size(p) if p.is_dir() else p.lstat().st_size
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed += 1
        freed += n

    for d in _namespaces(root):
        if everything or (d.name not in current and now - d.stat().st_mtime > DAY):
            drop(d)
    rep = root / "reports"
    if rep.is_dir():
        for d in rep.iterdir():
            if everything or now - d.stat().st_mtime > 30 * DAY:
                drop(d)
    if max_size is not None:
        entries = []
        for base in [*_namespaces(root), rep]:
            for dirpath, _, files in os.walk(base):
                for f in files:
                    p = Path(dirpath) / f
                    try:
                        st = p.lstat()
                    except OSError:
                        continue
                    entries.append((max(st.st_atime, st.st_mtime), st.st_size, p))
        total = sum(e[1] for e in entries)
        for _, size, p in sorted(entries):
            if total <= max_size:
                break
            try:
                p.unlink()
            except OSError:
                continue
            removed += 1
            freed += size
            total -= size
    left = sum(_size(d) for d in [*_namespaces(root), rep] if d.exists())
    return removed, freed, left
