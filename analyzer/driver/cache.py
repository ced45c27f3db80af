"""A content-addressed cache that survives between runs (parsed files, summaries, ...).

Entries are pickles at ``<directory>/<salt>/<kind>/<key[:2]>/<key>``. ``key`` should be a
content hash (a :class:`~analyzer.source.SourceFile` blob id, or a hash of several); ``kind``
names what is stored ("parse", "summary"). The salt is a hash of the analyzer's version, of its
own code and of a caller-provided string (e.g. a hash of the rules data), so upgrading or
editing the analyzer or changing the rules starts a fresh namespace instead of reading stale
values. Old namespaces are left alone; deleting the directory is always safe.

A cache must never change or break a result: an entry that cannot be read or unpickled is a
miss, and a failure to write is ignored. Writes are atomic (temporary file + ``os.replace``),
so concurrent runs sharing a directory see either a whole entry or none.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import tempfile
from pathlib import Path

from .. import __version__

__all__ = ["Cache", "default_cache_dir"]

_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/rmaplint``, else ``~/.cache/rmaplint``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "rmaplint"


# rules/ and corpus/ are installed as analyzer.rules and analyzer.corpus_data: their
# __init__.py exist in an installed package and not in a checkout's analyzer/ (the rules'
# own content is in the salt through the rules digest)
_DATA_PACKAGES = frozenset({"rules", "corpus_data"})


def _code_fingerprint() -> str:
    """Hash of the analyzer package's Python sources: a code change without a version bump
    (a development checkout) must not reuse values an older pipeline produced."""
    h = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]  # analyzer/
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).parts
        if rel[0] in _DATA_PACKAGES or "__pycache__" in rel:
            continue  # data folders mapped into an installed package (rules/, corpus/)
        try:
            data = path.read_bytes()
        except OSError:
            continue
        h.update(path.relative_to(package).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()


class Cache:
    """``get``/``put`` of picklable values by (kind, key). ``Cache(None)`` is disabled: every
    ``get`` is a miss and ``put`` does nothing. ``hits`` and ``misses`` count ``get`` calls."""

    def __init__(self, directory: Path | None, salt: str = "") -> None:
        self.directory = Path(directory) if directory is not None else None
        h = hashlib.sha256()
        for part in (__version__, _code_fingerprint() if directory is not None else "", salt):
            h.update(part.encode("utf-8", "surrogateescape") + b"\0")
        self.salt = h.hexdigest()[:24]
        self.hits = 0
        self.misses = 0
        self.by_kind: dict[str, list[int]] = {}  # kind → [hits, misses]

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def _path(self, kind: str, key: str) -> Path | None:
        if not _NAME_RE.fullmatch(kind):
            raise ValueError(f"invalid cache kind {kind!r}")
        if len(key) < 2 or not _NAME_RE.fullmatch(key):
            raise ValueError(f"invalid cache key {key!r}")
        if self.directory is None:
            return None
        return self.directory / self.salt / kind / key[:2] / key

    def get(self, kind: str, key: str) -> object | None:
        """The value stored for (kind, key), or None on a miss (absent, unreadable, corrupt)."""
        path = self._path(kind, key)
        value = None
        if path is not None:
            try:
                with open(path, "rb") as f:
                    value = pickle.load(f)
            except Exception:  # absent, unreadable, truncated, or from classes that changed
                value = None
        counts = self.by_kind.setdefault(kind, [0, 0])
        if value is None:
            self.misses += 1
            counts[1] += 1
        else:
            self.hits += 1
            counts[0] += 1
        return value

    def hits_of(self, kind: str) -> int:
        return self.by_kind.get(kind, [0, 0])[0]

    def misses_of(self, kind: str) -> int:
        return self.by_kind.get(kind, [0, 0])[1]

    def put(self, kind: str, key: str, value: object) -> None:
        """Store ``value`` (not None: None means a miss). Errors writing are ignored; a value
        that cannot be pickled is a programming error and raises."""
        if value is None:
            raise ValueError("Cache.put: None cannot be stored (get returns None for a miss)")
        path = self._path(kind, key)
        if path is None:
            return
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        tmp = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.replace(tmp, path)
            tmp = None
        except OSError:
            pass  # read-only or full disk: run without caching this value
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def __repr__(self) -> str:
        where = self.directory / self.salt if self.directory is not None else "disabled"
        return f"Cache({where}, hits={self.hits}, misses={self.misses})"
