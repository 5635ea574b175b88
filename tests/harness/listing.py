"""A pytest plugin for self-checks that need to know what a selection holds: ``--list-to=PATH``
writes every collected test's node id and marker names to PATH as JSON (with ``--collect-only``),
so a check reads pytest's own items instead of parsing its terminal output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--list-to", default="", help="write the collected tests and their markers to this JSON file")


def pytest_collection_finish(session: pytest.Session) -> None:
    path = session.config.getoption("--list-to")
    if path:
        Path(path).write_text(json.dumps({item.nodeid: sorted({m.name for m in item.iter_markers()})
                                          for item in session.items}, indent=2))
