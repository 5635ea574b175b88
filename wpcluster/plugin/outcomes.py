"""Each test's outcome in this session, by node id, and those of the certification the controls come from.

A self-check seeds a defect and needs its target test to fail; that failure proves something only
if the same test passes on a healthy lab of this source and shape (its control). A target that
passed earlier in the session, or in the certification named by $WPCLUSTER_CONTROLS_FROM (its
JUnit; ``wpcluster selfcheck`` sets it only for a certification of this very source and shape),
has its control; the harness's self-checks read that here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wpcluster.junit import read_junit

OUTCOMES = pytest.StashKey[dict[str, str]]()
CONTROLS_ENV = "WPCLUSTER_CONTROLS_FROM"


def certified_outcomes(junit: Path) -> dict[str, str]:
    """Node id -> outcome of every test in a certification's JUnit (an xfail reads as skipped: no control)."""
    return {nodeid: case.outcome for nodeid, case in read_junit(junit).items()}


def pytest_configure(config: pytest.Config) -> None:
    source = os.environ.get(CONTROLS_ENV)
    config.stash[OUTCOMES] = certified_outcomes(Path(source)) if source else {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    outcomes = item.config.stash[OUTCOMES]
    if report.failed:
        outcomes[item.nodeid] = "failed" if report.when == "call" else "error"
    elif report.skipped:
        outcomes.setdefault(item.nodeid, "skipped")
    elif report.when == "call":
        outcomes[item.nodeid] = "passed"
    return report


@pytest.fixture(scope="session")
def session_outcomes(request: pytest.FixtureRequest) -> dict[str, str]:
    """Node id -> "passed", "failed", "error" or "skipped", for every test run so far in this session
    and, under ``wpcluster selfcheck``, every test of the certification its controls come from."""
    return request.config.stash[OUTCOMES]
