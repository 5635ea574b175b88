"""A fault verdict that could not be established is an error, not a failure.

pytest knows two red outcomes: a failure (the test's own assertion: the deployment broke a bound,
``verdict.Deviated``) and an error (something around the test went wrong). A verdict that could
not be reached (no steady baseline, a sick site before the fault, nothing read after it:
``verdict.NotEstablished``) must never read as the deployment's fault, so its report is made an
error, as pytest reports a test it could not set up (the terminal and the JUnit say "setup").
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from wpcluster.verdict import NotEstablished


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Generator[None, pytest.TestReport,
                                                                                        pytest.TestReport]:
    report = yield
    if call.when == "call" and call.excinfo is not None and call.excinfo.errisinstance(NotEstablished):
        report.when = "setup"
    return report
