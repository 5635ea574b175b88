"""The self-checks' controls: each target passes on a healthy lab before its defect is seeded."""

from __future__ import annotations

import pytest

from tests.harness.nested import establish_controls, run_missing_controls


@pytest.fixture(scope="session")
def every_control(request: pytest.FixtureRequest, session_outcomes: dict[str, str], deployment) -> None:  # noqa: ANN001
    """Every target of the session's self-checks that has no outcome yet (none from the certification
    the controls come from) runs once, in one nested session on the healthy lab, before the first defect."""
    targets = sorted({target for item in request.session.items
                      for marker in item.iter_markers("controls") for target in marker.args})
    ran = run_missing_controls(targets, session_outcomes)
    if ran:
        print(f"\ncontrols: {len(ran)} targets run on the healthy lab before the first defect", flush=True)


@pytest.fixture(autouse=True)
def controlled(request: pytest.FixtureRequest, session_outcomes: dict[str, str]) -> None:
    """Before a self-check's body seeds its defect: every target named by its ``controls`` marker passed
    on a healthy lab: in the certification the controls come from, in the session's control run, or
    in a nested control run now."""
    marker = request.node.get_closest_marker("controls")
    if marker is not None:
        request.getfixturevalue("every_control")
        establish_controls(tuple(marker.args), session_outcomes, request.node.name)
