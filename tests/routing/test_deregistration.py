"""Deregistration: a stopped, killed or orphaned container leaves vulcand within a stated bound."""

from __future__ import annotations

import pytest

from wpcluster.checkers import etcd_servers, site_containers, vulcand_servers
from wpcluster.waits import eventually

# The sidekick acts on Docker's stop/die events at once; this allows for etcd and vulcand's watch.
DEREGISTERED_WITHIN = 5.0
# A unit started again pulls nothing (the image is on the node) but must boot WordPress.
REREGISTERED_WITHIN = 60.0


def server_of(cluster, fleet, unit):
    """The (backend, server id) a wordpress unit's container is registered as, and its node."""
    placed = fleet.placed(unit)
    node = next(n for n in cluster.nodes if n.address == placed.ip)
    container = unit.removesuffix(".service").replace("@", "-")
    return ("wordpress", f"{node.name}.{container}"), node, container


def registered(cluster, etcd, vulcand, key) -> dict[str, bool]:
    places = {"etcd": key in etcd_servers(etcd, cluster.shape.site.vulcand_prefix)}
    places.update({f"vulcand@{n}": key in vulcand_servers(api) for n, api in vulcand.items()})
    return places


def wait_registered(cluster, etcd, vulcand, key, want: bool, within: float, why: str):
    def settled():
        places = registered(cluster, etcd, vulcand, key)
        wrong = [p for p, present in places.items() if present != want]
        assert not wrong, f"{key[1]} still {'missing from' if want else 'present in'} {wrong}"
        return True

    eventually(settled, within, 0.25, what=f"{key[1]} {'registered' if want else 'deregistered'} ({why})")


@pytest.mark.destructive
def test_stopping_a_unit_deregisters_it_and_starting_brings_it_back(cluster, fleet, etcd, vulcand):
    unit = "wordpress@2.service"
    key, _, _ = server_of(cluster, fleet, unit)
    fleet.stop(unit)
    try:
        # fleet may report the unit stopped while `docker stop` still waits for Apache to exit; the
        # bound counts from the container's end, which is when the sidekick hears of it.
        eventually(lambda: key not in site_containers(cluster), 30, 0.25,
                   what=f"{key[1]} no longer running after fleetctl stop")
        wait_registered(cluster, etcd, vulcand, key, False, DEREGISTERED_WITHIN, f"fleetctl stop {unit}")
    finally:
        fleet.start(unit)
    key, _, _ = server_of(cluster, fleet, unit)
    wait_registered(cluster, etcd, vulcand, key, True, REREGISTERED_WITHIN, f"fleetctl start {unit}")


@pytest.mark.destructive
def test_a_container_killed_behind_fleets_back_is_deregistered(cluster, fleet, etcd, vulcand):
    unit = "wordpress@3.service"
    key, node, container = server_of(cluster, fleet, unit)
    node.exec(f"docker kill {container}").check()
    try:
        wait_registered(cluster, etcd, vulcand, key, False, DEREGISTERED_WITHIN, f"docker kill on {node.name}")
    finally:
        # The unit failed with its container; fleet does not restart it by itself.
        fleet.restart(unit)


@pytest.mark.destructive
@pytest.mark.slow
def test_servers_expire_by_ttl_when_the_sidekick_stops(cluster, fleet, etcd, vulcand):
    unit = "wordpress@4.service"
    key, node, _ = server_of(cluster, fleet, unit)
    sidekick = eventually(lambda: next(u.name for u in fleet.list_units()
                                       if u.name.startswith("discovery@") and u.ip == node.address),
                          30, 0.5, what=f"fleet listing the sidekick on {node.name}")
    fleet.stop(sidekick)
    try:
        # The container still runs and nothing deletes its key: a sidekick that deregistered on its
        # own stop would be caught here, before the TTL could have run out.
        assert registered(cluster, etcd, vulcand, key)["etcd"], f"{key[1]} vanished the moment {sidekick} stopped"
        # Now only its TTL (plus one heartbeat it may have just refreshed) ends it.
        site = cluster.shape.site
        wait_registered(cluster, etcd, vulcand, key, False, site.server_ttl + site.heartbeat + 5,
                        f"{sidekick} stopped on {node.name}; TTL {site.server_ttl}s")
    finally:
        fleet.start(sidekick)
    wait_registered(cluster, etcd, vulcand, key, True, REREGISTERED_WITHIN, f"{sidekick} started again")
