"""Deregistration and registration, judged where traffic flows: requests through every vulcand.

vulcand's API reads etcd, so a listing there says nothing of the proxy. Each test ends a container
and times, from the container's end as Docker on its node reports it, how long each vulcand keeps
sending requests its way (round robin gives a dead server its turn: the request fails or hangs).
A restarted container must be a new registration: a new key, at the address and port it runs on.
"""

from __future__ import annotations

import time

import pytest

from wpcluster.checks.state import (
    check_registered_as_running,
    container_ended_at,
    etcd_servers,
    server_key_index,
    wait_traffic_avoids,
)
from wpcluster.checks.thresholds import DEREGISTERED_WITHIN, expired_within
from wpcluster.core.results import append_figures
from wpcluster.core.units import SIDEKICK_UNIT
from wpcluster.core.waits import eventually
from wpcluster.deployment.sidekick_settings import sidekick_settings

# A unit started again pulls nothing (the image is on the node) but must boot WordPress.
REREGISTERED_WITHIN = 60.0
# The sidekick's full reconcile while deregistration is judged on events: far past the test's length.
SLOWED_RECONCILE = 600


def server_of(cluster, fleet, unit):
    """The (backend, server id) a wordpress unit's container is registered as, its node and container."""
    placed = fleet.placed(unit)
    node = next(n for n in cluster.nodes if n.address == placed.ip)
    container = unit.removesuffix(".service").replace("@", "-")
    return ("wordpress", f"{node.name}.{container}"), node, container


def wait_registered_as_running(cluster, fleet, etcd, unit, created_after: int | None = None):
    """``unit``'s container registered at the address and port it runs on (under a key created after
    ``created_after``); returns its key, node and container."""
    def registered():
        placed = server_of(cluster, fleet, unit)
        check_registered_as_running(cluster, etcd, placed[0], created_after)
        return placed

    return eventually(registered, REREGISTERED_WITHIN, 0.5, what=f"{unit} registered as it runs")


def registered_before(cluster, fleet, etcd, gates, unit):
    """The precondition, checked here and not by the routing suite's gate (which also asks every
    vulcand's API: one that lost etcd cannot answer, and this test is what must find that out).
    If an earlier test found registration broken for good, this fails at once, naming it."""
    gates.fail_if_closed("site-registered")
    key, node, container = wait_registered_as_running(cluster, fleet, etcd, unit)
    return key, node, container, server_key_index(etcd, cluster.shape.site.vulcand_prefix, key)


def traffic_avoids_it(cluster, site, run_id, node, container, since: float, within: float, what: str) -> None:
    """From the container's end, every vulcand stops sending to it within ``within``; the figures are recorded."""
    ended = container_ended_at(node, container, since)
    vulcands = {f"vulcand on {n.name}": cluster.vulcand_url(n) for n in cluster.nodes if n.is_running()}
    timings = wait_traffic_avoids(site, vulcands, f"{container}@{node.name}", ended, within,
                                  cluster.shape.site.wordpress_instances, what)
    append_figures(run_id, "deregistration", {"test": what, "seconds_from_container_end": timings,
                                              "bound_seconds": within})


@pytest.mark.destructive
@pytest.mark.checks("site-registered")
def test_stopping_a_unit_deregisters_it_and_starting_brings_it_back(cluster, fleet, etcd, site, gates, run_id):
    unit = "wordpress@2.service"
    key, node, container, old_index = registered_before(cluster, fleet, etcd, gates, unit)
    since = time.time()
    fleet.stop(unit)
    try:
        traffic_avoids_it(cluster, site, run_id, node, container, since, DEREGISTERED_WITHIN,
                          f"fleetctl stop {unit} ended {container} on {node.name}")
    finally:
        fleet.start(unit)
    wait_registered_as_running(cluster, fleet, etcd, unit, old_index)


@pytest.mark.destructive
@pytest.mark.checks("site-registered")
def test_a_container_killed_behind_fleets_back_is_deregistered_on_its_event(cluster, fleet, etcd, site, gates,
                                                                            run_id):
    """Judged on Docker's die and kill events alone: the node's sidekick runs with its full reconcile
    (which repairs a missed event) slowed far past the bound, so a sidekick that ignored the events
    would keep refreshing the dead container's key, and the bound would not be met by a poll."""
    unit = "wordpress@3.service"
    _, node, _ = server_of(cluster, fleet, unit)
    with sidekick_settings(node, SIDEKICK_RECONCILE=str(SLOWED_RECONCILE)):
        key, node, container, old_index = registered_before(cluster, fleet, etcd, gates, unit)
        since = time.time()
        node.exec(f"docker kill {container}").check()
        try:
            traffic_avoids_it(cluster, site, run_id, node, container, since, DEREGISTERED_WITHIN,
                              f"docker kill {container} on {node.name} (its sidekick's full reconcile slowed to "
                              f"every {SLOWED_RECONCILE}s: only the container's events can deregister it)")
        finally:
            # The unit failed with its container; fleet does not restart it by itself.
            fleet.restart(unit)
    wait_registered_as_running(cluster, fleet, etcd, unit, old_index)


@pytest.mark.destructive
@pytest.mark.slow
@pytest.mark.checks("site-registered")
def test_with_its_sidekick_gone_a_dead_container_expires_by_ttl(cluster, fleet, etcd, site, gates, run_id):
    unit = "wordpress@4.service"
    key, node, container, _ = registered_before(cluster, fleet, etcd, gates, unit)
    # Stopped on that node alone: the sidekick is a global unit, and fleet would stop it everywhere.
    sidekick = f"{SIDEKICK_UNIT} on {node.name}"
    node.exec(f"systemctl stop {SIDEKICK_UNIT}").check()
    try:
        # The container still runs and nothing deletes its key: a sidekick that deregistered on its
        # own stop would be caught here, before the TTL could have run out.
        assert key in etcd_servers(etcd, cluster.shape.site.vulcand_prefix), (
            f"{key[1]} vanished the moment {sidekick} stopped")
        since = time.time()
        node.exec(f"docker kill {container}").check()
        traffic_avoids_it(cluster, site, run_id, node, container, since, expired_within(cluster.shape),
                          f"{container} was killed on {node.name} with {sidekick} stopped "
                          f"(TTL {cluster.shape.site.server_ttl}s)")
    finally:
        node.exec(f"systemctl start {SIDEKICK_UNIT}").check()
        fleet.restart(unit)
    wait_registered_as_running(cluster, fleet, etcd, unit)
