"""Which source a run certified: one digest of the code, images, units and tests, and of the shape.

The self-check run takes its targets' controls from a certification's JUnit only when that
certification ran this very source on this very shape; the digest is how it tells. Files a run
writes itself (results, benchmark figures, caches) are not part of it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from wpcluster.core.shape import PROJECT_ROOT

# What decides how the deployment is built and judged.
SOURCE_FOLDERS = ("wpcluster", "tests", "images", "units", "loadtests")
SKIPPED_PARTS = {"__pycache__", ".pytest_cache"}
SKIPPED_SUFFIXES = {".pyc"}


def source_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """Every file under the source folders, in a fixed order, caches left out."""
    files = []
    for folder in SOURCE_FOLDERS:
        for path in (root / folder).rglob("*"):
            if path.is_file() and not SKIPPED_PARTS & set(path.parts) and path.suffix not in SKIPPED_SUFFIXES:
                files.append(path)
    return sorted(files)


def source_digest(shape_file: Path, root: Path = PROJECT_ROOT) -> str:
    """A digest of every source file's path and bytes, and of the shape file's bytes."""
    digest = hashlib.sha256()
    for path in [*source_files(root), shape_file]:
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else "shape"
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
