"""etcd loses its majority: no leader, no writes, no TTL expiry; the site must keep serving on its last routes."""

from __future__ import annotations

import logging
import time

import pytest

from wpcluster.checks.state import check_etcd_healthy, check_registered_as_running, server_key_index
from wpcluster.clients.etcd import cluster_health
from wpcluster.clients.fleet import agents_hurt_by_etcd_outage, machine_lease_ends, quietest_etcd_outage_start
from wpcluster.core.waits import eventually, holds_for

pytestmark = [pytest.mark.destructive, pytest.mark.slow]

log = logging.getLogger(__name__)

# What a majority loss adds to its hold: stopping the second member, starting one again and its election.
STOP_AND_RETURN_SECONDS = 2.5
REREGISTERED_WITHIN = 60.0


def hold_seconds(cluster) -> float:
    """Without a quorum for the server TTL: every registration's TTL has run out when etcd is back."""
    return float(cluster.shape.site.server_ttl)


def begin_quietly_for_fleet(cluster, etcd, outage: float) -> None:
    """Wait (at most one fleet beat period) for the moment an etcd outage of ``outage`` s disturbs the
    fewest fleet agents, and log those it will.

    What this test certifies is the site on its last routes and the sidekicks' registrations kept;
    fleet v1.0.0's reaction to an etcd outage (a server restart that can hang, coreos/fleet#1716, or a
    machine key that runs out, after which the engine moves the node's units) depends on where each
    agent is in its beat when etcd goes, so it is left to chance no more than it must be."""
    ttl = cluster.shape.fleet_agent_ttl_seconds
    ends = machine_lease_ends(etcd)
    start = quietest_etcd_outage_start(time.time(), outage, ends, ttl)
    hurt = agents_hurt_by_etcd_outage(start, outage, ends, ttl)
    log.info("etcd majority loss in %.1fs; fleet agents it may disturb: %s", start - time.time(), hurt or "none")
    time.sleep(max(0.0, start - time.time()))


def test_losing_the_etcd_majority_keeps_the_site_on_its_last_routes(cluster, fleet, etcd, nemesis, observe,
                                                                    thresholds):
    """Expected: with two members of three stopped, no member can commit; every vulcand keeps
    routing by what it last saw and the top LB falls back to the vulcands that still serve, so
    through the top LB the error rate and the brownout stay within their bounds. After the
    members return: etcd is healthy again, the sidekicks' registrations were not lost to TTLs that
    ran out during the outage, and a unit restarted afterwards is registered under a new key."""
    lost = cluster.nodes[1:]
    hold = hold_seconds(cluster)
    with observe(cluster.nodes, recover_within=thresholds.recovery_seconds) as obs:
        begin_quietly_for_fleet(cluster, etcd, hold + STOP_AND_RETURN_SECONDS)
        nemesis.lose_majority(lost)
        obs.fault = nemesis.records[-1]
        quorum_lost = time.monotonic()

        def no_quorum():
            # /health is false on a member that cannot commit; a lone old leader may still call
            # itself leader in its stats for a while, so health is what is judged.
            health = cluster_health(cluster.etcd_endpoints, names=[n.name for n in cluster.nodes])
            assert not any(m.healthy for m in health.endpoints), f"a member is still healthy: {health.describe()}"
            return True

        eventually(no_quorum, 15, 0.5, what="etcd without a quorum")
        holds_for(no_quorum, hold - (time.monotonic() - quorum_lost), 2, what="etcd staying without a quorum")
        nemesis.restore_majority(lost)
        eventually(lambda: check_etcd_healthy(cluster) or True, 45, 0.5, what="etcd2 healthy after the members return")

    unit = "wordpress@1.service"
    placed = fleet.placed(unit)
    node = next(n for n in cluster.nodes if n.address == placed.ip)
    key = ("wordpress", f"{node.name}.wordpress-1")
    old_index = server_key_index(etcd, cluster.shape.site.vulcand_prefix, key)
    fleet.restart(unit)

    def registered_anew():
        now = fleet.placed(unit)
        where = next(n for n in cluster.nodes if n.address == now.ip)
        check_registered_as_running(cluster, etcd, ("wordpress", f"{where.name}.wordpress-1"), old_index)
        return True

    eventually(registered_anew, REREGISTERED_WITHIN, 1, what=f"{unit} registered anew after the majority returned")
