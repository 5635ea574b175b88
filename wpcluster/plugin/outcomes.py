"""Each test's outcome in this session, by node id.

A self-check seeds a defect and needs its target test to fail; that failure proves something only
if the same test passes on the healthy lab (its control). A target that already passed earlier in
the session, on the same lab, is its control; the harness's self-checks read that here.
"""

from __future__ import annotations

import pytest

OUTCOMES = pytest.StashKey[dict[str, str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[OUTCOMES] = {}


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
    """Node id -> "passed", "failed", "error" or "skipped", for every test run so far in this session."""
    return request.config.stash[OUTCOMES]
