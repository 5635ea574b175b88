"""The self-checks' controls: each target passes on the healthy lab before its defect is seeded."""

from __future__ import annotations

import pytest

from tests.harness.nested import establish_controls


@pytest.fixture(autouse=True)
def controlled(request: pytest.FixtureRequest, session_outcomes: dict[str, str]) -> None:
    """Before a self-check's body seeds its defect: every target named by its ``controls`` marker passed
    on the healthy lab, in this session or in a nested control run now."""
    marker = request.node.get_closest_marker("controls")
    if marker is not None:
        establish_controls(tuple(marker.args), session_outcomes, request.node.name)
