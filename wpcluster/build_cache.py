"""Where build outputs are kept between runs, and the content hashes that name them.

Images, Go binaries, Python wheels and tools are each cached under a key made of everything they
are built from, so a warm run reuses them and a changed input rebuilds exactly what it feeds.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from wpcluster.progress import say


def cache_dir() -> Path:
    """The cache's root (``$WPCLUSTER_CACHE``, or ~/.cache/wpcluster), made on first use."""
    path = Path(os.environ.get("WPCLUSTER_CACHE", Path.home() / ".cache" / "wpcluster"))
    path.mkdir(parents=True, exist_ok=True)
    return path


_lock_depth: dict[str, int] = {}
_lock_fds: dict[str, int] = {}
_thread_lock = threading.RLock()


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Hold the cache's lock ``name`` across processes (runs sharing one engine and one cache build
    an image, a binary, a wheelhouse once: the second waits, then finds it cached). Re-entrant within
    a process, where an image's build asks for its base's."""
    with _thread_lock:
        if _lock_depth.get(name, 0) == 0:
            fd = os.open(cache_dir() / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                say(f"waiting for another run to finish building ({name})")
                fcntl.flock(fd, fcntl.LOCK_EX)
            _lock_fds[name] = fd
        _lock_depth[name] = _lock_depth.get(name, 0) + 1
        try:
            yield
        finally:
            _lock_depth[name] -= 1
            if _lock_depth[name] == 0:
                os.close(_lock_fds.pop(name))


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
