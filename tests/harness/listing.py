"""A pytest plugin for checks that need to know what a selection holds: ``--list-to=PATH`` writes
every collected test's node id and its markers (name -> the first such marker's arguments) to PATH as
JSON (with ``--collect-only``), so a check reads pytest's own items instead of parsing its terminal
output. ``collected`` runs such a collection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wpcluster.core.shape import PROJECT_ROOT


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--list-to", default="", help="write the collected tests and their markers to this JSON file")


def pytest_collection_finish(session: pytest.Session) -> None:
    path = session.config.getoption("--list-to")
    if path:
        listed = {item.nodeid: {m.name: list(m.args) for m in reversed(list(item.iter_markers()))}
                  for item in session.items}
        Path(path).write_text(json.dumps(listed, indent=2, default=str))


def collected(selection: list[str], folder: Path, env: dict[str, str] | None = None) -> dict[str, dict[str, list]]:
    """Node id -> {marker name: its arguments} of every test ``selection`` collects (in ``env``)."""
    listing = folder / "collected.json"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only",
                           "-p", "tests.harness.listing", f"--list-to={listing}", *selection],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert listing.exists(), f"collecting {selection} listed nothing (exit {done.returncode}):\n{done.stdout[-2000:]}"
    return json.loads(listing.read_text())
