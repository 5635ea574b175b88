"""The failover readers' load on this machine: a share of the healthy site's measured capacity.

Measured once per run, before any fault and before any seeded defect, and handed to nested
self-check sessions through the environment: a defect is judged at the load the healthy site was
judged at, never at a load scaled down to what the broken site can still serve.
"""

from __future__ import annotations

import os

import pytest

from wpcluster.core.progress import say, step
from wpcluster.core.results import append_figures
from wpcluster.fixtures.options import RUN_KEY
from wpcluster.load.generator import LOAD_SHARE, READER_PATHS, CapacityError, SteadyLoad, measure_capacity, steady_load

# Successes/s the healthy site served through the top LB, as the run's first measurement found it:
# the one record of it, which this session's later tests and the nested sessions it starts read.
CAPACITY_ENV = "WPCLUSTER_SITE_CAPACITY"


def steady_readers(config: pytest.Config, cluster) -> SteadyLoad:
    """The readers' rates (generator.steady_load) from the site's capacity: the run's own measurement
    if one was made (the environment holds it), else measured now and kept in the run's figures and
    the environment. A machine too small to judge on fails the test that asks."""
    measured = CAPACITY_ENV not in os.environ
    if measured:
        with step("measuring the site's capacity through the top LB (closed loop, the readers' pages)"):
            os.environ[CAPACITY_ENV] = str(measure_capacity(f"http://{cluster.site_address}",
                                                            cluster.shape.site_authority, READER_PATHS))
    capacity = float(os.environ[CAPACITY_ENV])
    try:
        load = steady_load(capacity, len(cluster.nodes))
    except CapacityError as refused:
        pytest.fail(str(refused), pytrace=False)
    if measured:
        say(f"{capacity:.1f} successes/s: readers at {load.lb_rate}/s through the top LB and "
            f"{load.vulcand_rate}/s on each vulcand ({load.scale:g} of their full rates)")
        append_figures(config.stash[RUN_KEY], "failover-load", {**load.__dict__, "load_share": LOAD_SHARE})
    return load
