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


_worker_process = False


def pytest_configure(config: pytest.Config) -> None:
    global _worker_process
    config.stash[_LEDGER] = os.environ.pop(LEDGER_ENV, "")
    workerinput = getattr(config, "workerinput", None)
    _worker_process = workerinput is not None
    if workerinput is not None:  # a parallel worker writes beside its controller's ledger
        config.stash[_LEDGER] = workerinput.get("wpcluster_ledger", "")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # noqa: ANN001 - xdist's WorkerController
    """xdist, in the controller: tell each worker where its ledger goes (``<session>-gwN.json``)."""
    ledger = node.config.stash.get(_LEDGER, "") or _default_path(node.config)
    if ledger:
        path = Path(ledger)
        node.workerinput["wpcluster_ledger"] = str(path.with_name(f"{path.stem}-{node.gateway.id}.json"))


def _default_path(config: pytest.Config) -> str:
    """Beside the session's JUnit (a unit-test session's stays in .tox); "" without one."""
    if not config.option.xmlpath:
        return ""
    return str(Path(config.option.xmlpath).parent / timings.TIME_DIR / f"pytest-{os.getpid()}.json")


def pytest_sessionstart(session: pytest.Session) -> None:
    timings.clear()
    session.config.stash[_STARTED] = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item):  # noqa: ANN201 - a hook wrapper
    timings.set_current_test(item.nodeid)
    yield
    timings.set_current_test("")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # A report's start and duration are the phase's own (pytest measures them). Under xdist the
    # controller receives every worker's reports and records them; a worker does not, twice.
    if _worker_process:
        return
    timings.record(timings.TEST, f"{report.nodeid} {report.when}", report.start, report.duration,
                   ok=not report.failed)


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if config.option.collectonly or _STARTED not in config.stash:
        return
    # Imported here: a plugin module imported by another before pytest registers it loses assertion
    # rewriting (pytest warns).
    from wpcluster.plugin.gather import on_this_host

    ledger = on_this_host(config, config.stash[_LEDGER]) or ("" if _worker_process else _default_path(config))
    if not ledger:
        return
    path, started = Path(ledger), config.stash[_STARTED]
    # A worker's own stretch is not the run's wall time (its controller's session is): kind "worker".
    kind = timings.WORKER if _worker_process else timings.SESSION
    timings.record(kind, path.stem, started, time.time() - started, ok=session.testsfailed == 0)
    timings.write(path, path.stem, timings.spans())
