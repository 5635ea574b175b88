"""Workers on one machine (``pytest -n N``): the suites that judge goodput share one worker.

Each worker certifies a lab of its own, but workers started on this machine (xdist's ``popen``) share
its cores. The load suite measures throughput and the failover suite judges every fault's goodput
against its session's reference rate: two of them at once on two cores failed their own baselines
before any fault (bench/results/parallel_failover_2cores.json). So here they run on one worker, one
after another, as one unit of work; every other test file is a unit of its own, as under
``--dist loadfile``. Workers on other hosts (``--tx ssh=...``) keep the distribution asked for.
"""

from __future__ import annotations

import pytest
from xdist.scheduler import LoadFileScheduling

from wpcluster.timings import FAILOVER_SUITE, LOAD_SUITE

# The unit of work every load and failover test belongs to when the workers share a machine.
PACED = "load and failover, on one worker"
PACED_SUITES = (FAILOVER_SUITE, LOAD_SUITE)
# The distributions this replaces when every worker is local: those that would split the paced suites.
SPLITTING = ("load", "loadfile", "loadscope", "worksteal")


class PacedOnOneWorker(LoadFileScheduling):
    """Load by file, except that the paced suites' files are one unit, sent to one worker whole."""

    def _split_scope(self, nodeid: str) -> str:
        if nodeid.startswith(tuple(f"{suite}/" for suite in PACED_SUITES)):
            return PACED
        return super()._split_scope(nodeid)


def paced_on_one_worker(config: pytest.Config) -> bool:
    """Whether this run's workers all share this machine under a distribution that would split the paced
    suites: then this module schedules them."""
    return config.getoption("dist", None) in SPLITTING and local_workers(config)


def local_workers(config: pytest.Config) -> bool:
    """Whether every worker runs on this machine (``-n N`` or ``--tx popen...``)."""
    specs = config.getoption("tx", None) or []
    return bool(specs) and all(spec.split("//")[0].split("*")[-1] == "popen" for spec in specs)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log) -> LoadFileScheduling | None:  # noqa: ANN001 - xdist's Producer
    if paced_on_one_worker(config):
        return PacedOnOneWorker(config, log)
    return None


def pytest_report_header(config: pytest.Config) -> str | None:
    if paced_on_one_worker(config):
        return (f"wpcluster: workers on this machine share its cores: {', '.join(PACED_SUITES)} run on one worker, "
                "one after another; every other file goes to the next free worker")
    return None
