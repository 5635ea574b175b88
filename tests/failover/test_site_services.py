"""The site's hosts outside fleet fail under load: the S3 store down, MariaDB stopped, MariaDB frozen.

People who run this stack lose these more often than a whole node. Each test holds its fault for
``HOLD_SECONDS`` of readers and heals it; leaving ``observe`` judges every entry point by the
fault's bounds (wpcluster.checks.thresholds.fault_bounds).
"""

from __future__ import annotations

import pytest

from wpcluster.core.waits import holds_for

pytestmark = [pytest.mark.destructive, pytest.mark.slow]

# How long each service fault is held under load: long enough for many requests in the window
# and for Apache's workers to pile up behind a host that does not answer.
HOLD_SECONDS = 15.0


@pytest.mark.represents("absorbed")
def test_the_s3_store_down_leaves_pages_rendering(cluster, nemesis, observe, site, thresholds):
    """Expected: nothing on a reader's path talks to the store (pages render from MariaDB; only their
    asset URLs point at the bucket), so while it is down every entry point keeps its error rate
    within the node-kill bound and its goodput never browns out; pages still link the bucket."""
    store = cluster.service_host("s3")
    with observe(cluster.nodes, recover_within=thresholds.recovery_seconds) as obs:
        nemesis.stop_service(store)
        obs.fault = nemesis.records[-1]
        holds_for(lambda: site.get("/").status == 200, HOLD_SECONDS, 1, what="the home page rendering with S3 down")
        nemesis.start_service(store)


@pytest.mark.parametrize("fault", [pytest.param("stop", marks=pytest.mark.represents("database lost")), "pause"])
def test_mariadb_lost_fails_fast_and_recovers(cluster, nemesis, observe, thresholds, fault):
    """Expected: while MariaDB is stopped (its address gone) or frozen (connections accepted and never
    answered), every page fails fast: WordPress answers an error page and no request through any
    entry point hangs past the readers' timeout, because a hung request holds an Apache worker and
    a visitor's browser alike. Once MariaDB answers again, goodput is back above the brownout line
    within the service-recovery bound, and no acknowledged post is lost."""
    db = cluster.service_host("db")
    inject, heal = ((nemesis.stop_service, nemesis.start_service) if fault == "stop"
                    else (nemesis.pause_service, nemesis.resume_service))
    with observe(cluster.nodes, recover_within=thresholds.recovery_seconds) as obs:
        inject(db)
        obs.fault = nemesis.records[-1]
        obs.read_until(obs.fault.started + HOLD_SECONDS)
        heal(db)
