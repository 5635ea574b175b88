"""Deregistration and registration, judged where traffic flows: requests through every vulcand.

vulcand's API reads etcd, so a listing there says nothing of the proxy. Each test ends a container
and times, from the container's end as Docker on its node reports it, how long each vulcand keeps
sending requests its way (round robin gives a dead server its turn: the request fails or hangs).
A restarted container must be a new registration: a new key, at the address and port it runs on.
"""

from __future__ import annotations

import time

import pytest

from wpcluster.checkers import (
    check_registered_as_running,
    container_ended_at,
    etcd_servers,
    server_key_index,
    wait_traffic_avoids,
)
from wpcluster.results import append_figures
from wpcluster.waits import eventually

# The sidekick acts on Docker's die event at once; this allows for etcd's watch and vulcand's reload.
DEREGISTERED_WITHIN = 5.0
# A unit started again pulls nothing (the image is on the node) but must boot WordPress.
REREGISTERED_WITHIN = 60.0
# With the sidekick gone nothing deletes the key: it expires by its TTL (etcd's expiry sweep is
# 0.5 s) and vulcand's watch follows.
TTL_SLACK = 2.0


def server_of(cluster, fleet, unit):
    """The (backend, server id) a wordpress unit's container is registered as, its node and container."""
    placed = fleet.placed(unit)
    node = next(n for n in cluster.nodes if n.address == placed.ip)
    container = unit.removesuffix(".service").replace("@", "-")
    return ("wordpress", f"{node.name}.{container}"), node, container


def vulcands(cluster):
    return {f"vulcand on {n.name}": cluster.vulcand_url(n) for n in cluster.nodes if n.is_running()}


def public_servers(cluster) -> int:
    return cluster.shape.site.wordpress_instances


def key_index(etcd, cluster, key) -> int:
    return server_key_index(etcd, cluster.shape.site.vulcand_prefix, key)


def wait_registered_as_running(cluster, fleet, etcd, unit, old_index: int | None):
    def registered():
        key, _, _ = server_of(cluster, fleet, unit)
        check_registered_as_running(cluster, etcd, key, old_index)
        return key

    return eventually(registered, REREGISTERED_WITHIN, 0.5, what=f"{unit} registered as it runs")


def registered_before(cluster, fleet, etcd, gates, unit):
    """The precondition, checked here and not by the routing suite's gate (which also asks every
    vulcand's API: one that lost etcd cannot answer, and this test is what must find that out).
    If an earlier test found registration broken for good, this fails at once, naming it."""
    gates.fail_if_closed("site-registered")

    def as_running():
        key, node, container = server_of(cluster, fleet, unit)
        check_registered_as_running(cluster, etcd, key)
        return key, node, container

    return eventually(as_running, REREGISTERED_WITHIN, 0.5, what=f"{unit} registered as it runs, before the test")


def record(run_id, test, figures):
    append_figures(run_id, "deregistration", {"test": test, **figures})


@pytest.mark.destructive
@pytest.mark.checks("site-registered")
def test_stopping_a_unit_deregisters_it_and_starting_brings_it_back(cluster, fleet, etcd, site, gates, run_id):
    unit = "wordpress@2.service"
    key, node, container = registered_before(cluster, fleet, etcd, gates, unit)
    old_index = key_index(etcd, cluster, key)
    since = time.time()
    fleet.stop(unit)
    try:
        ended = container_ended_at(node, container, since)
        timings = wait_traffic_avoids(site, vulcands(cluster), f"{container}@{node.name}", ended,
                                      DEREGISTERED_WITHIN, public_servers(cluster),
                                      f"fleetctl stop {unit} ended {container} on {node.name}")
        record(run_id, "fleetctl stop", {"seconds_from_container_end": timings})
    finally:
        fleet.start(unit)
    wait_registered_as_running(cluster, fleet, etcd, unit, old_index)


@pytest.mark.destructive
@pytest.mark.checks("site-registered")
def test_a_container_killed_behind_fleets_back_is_deregistered(cluster, fleet, etcd, site, gates, run_id):
    unit = "wordpress@3.service"
    key, node, container = registered_before(cluster, fleet, etcd, gates, unit)
    old_index = key_index(etcd, cluster, key)
    since = time.time()
    node.exec(f"docker kill {container}").check()
    try:
        ended = container_ended_at(node, container, since)
        timings = wait_traffic_avoids(site, vulcands(cluster), f"{container}@{node.name}", ended,
                                      DEREGISTERED_WITHIN, public_servers(cluster),
                                      f"docker kill {container} on {node.name}")
        record(run_id, "docker kill", {"seconds_from_container_end": timings})
    finally:
        # The unit failed with its container; fleet does not restart it by itself.
        fleet.restart(unit)
    wait_registered_as_running(cluster, fleet, etcd, unit, old_index)


@pytest.mark.destructive
@pytest.mark.slow
@pytest.mark.checks("site-registered")
def test_with_its_sidekick_gone_a_dead_container_expires_by_ttl(cluster, fleet, etcd, site, gates, run_id):
    unit = "wordpress@4.service"
    key, node, container = registered_before(cluster, fleet, etcd, gates, unit)
    sidekick = eventually(lambda: next(u.name for u in fleet.list_units()
                                       if u.name.startswith("discovery@") and u.ip == node.address),
                          30, 0.5, what=f"fleet listing the sidekick on {node.name}")
    fleet.stop(sidekick)
    try:
        # The container still runs and nothing deletes its key: a sidekick that deregistered on its
        # own stop would be caught here, before the TTL could have run out.
        assert key in etcd_servers(etcd, cluster.shape.site.vulcand_prefix), (
            f"{key[1]} vanished the moment {sidekick} stopped")
        since = time.time()
        node.exec(f"docker kill {container}").check()
        ended = container_ended_at(node, container, since)
        ttl = cluster.shape.site.server_ttl
        timings = wait_traffic_avoids(site, vulcands(cluster), f"{container}@{node.name}", ended,
                                      ttl + TTL_SLACK, public_servers(cluster),
                                      f"{container} was killed on {node.name} with {sidekick} stopped (TTL {ttl}s)")
        record(run_id, "TTL", {"seconds_from_container_end": timings, "server_ttl": ttl})
    finally:
        fleet.start(sidekick)
        fleet.restart(unit)
    wait_registered_as_running(cluster, fleet, etcd, unit, None)
