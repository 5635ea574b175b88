"""The session's time ledger: each test's setup, call and teardown next to the steps, waits and faults
the harness records itself, written when the session ends.

It goes where ``$WPCLUSTER_TIME_LEDGER`` says (``wpcluster certify`` names one per session:
``results/<run>/time/bringup.json``, ``.../suites.json``), else to ``time/pytest-<pid>.json``
beside the session's JUnit file (``results/<run>/``). The variable is taken out of the environment at once, so
a nested session (a self-check) writes its own ledger into its own results folder instead of
overwriting its parent's. The report adds up every ledger of the run
(``wpcluster.timings.time_table``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from wpcluster import timings

LEDGER_ENV = "WPCLUSTER_TIME_LEDGER"
_STARTED = pytest.StashKey[float]()
_LEDGER = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_LEDGER] = os.environ.pop(LEDGER_ENV, "")


def pytest_sessionstart(session: pytest.Session) -> None:
    timings.clear()
    session.config.stash[_STARTED] = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item):  # noqa: ANN201 - a hook wrapper
    timings.set_current_test(item.nodeid)
    yield
    timings.set_current_test("")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # A report's start and duration are the phase's own (pytest measures them).
    timings.record(timings.TEST, f"{report.nodeid} {report.when}", report.start, report.duration,
                   ok=not report.failed)


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if config.option.collectonly or hasattr(config, "workerinput") or _STARTED not in config.stash:
        return
    started = config.stash[_STARTED]
    if config.stash[_LEDGER]:
        path = Path(config.stash[_LEDGER])
    elif config.option.xmlpath:  # beside the session's JUnit (a unit-test session's stays in .tox)
        path = Path(config.option.xmlpath).parent / timings.TIME_DIR / f"pytest-{os.getpid()}.json"
    else:
        return
    timings.record(timings.SESSION, path.stem, started, time.time() - started, ok=session.testsfailed == 0)
    timings.write(path, path.stem, timings.spans())
