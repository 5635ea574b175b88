"""Where build outputs are kept between runs, and the content hashes that name them.

Images, Go binaries, Python wheels and tools are each cached under a key made of everything they
are built from, so a warm run reuses them and a changed input rebuilds exactly what it feeds.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from wpcluster.core.progress import say


def cache_dir() -> Path:
    """The cache's root (``$WPCLUSTER_CACHE``, or ~/.cache/wpcluster), made on first use."""
    path = Path(os.environ.get("WPCLUSTER_CACHE", Path.home() / ".cache" / "wpcluster"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def locked(path: Path, waiting: str = "") -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing) across processes for the block; say
    ``waiting`` when another process holds it first. The kernel drops it if this process dies."""
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                say(waiting)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def digest(parts: Iterable[bytes | str]) -> str:
    """A short hash of ``parts`` in order (each one delimited, so ("ab", "c") differs from ("a", "bc"))."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:12]


def tree_digest(root: Path, exclude: tuple[str, ...] = ()) -> str:
    """Hash every file under ``root`` (path, mode and content), skipping top-level ``exclude``."""
    parts: list[bytes | str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if rel.parts[0] in exclude:
            continue
        parts += [str(rel), oct(path.stat().st_mode & 0o111), path.read_bytes()]
    return digest(parts)
