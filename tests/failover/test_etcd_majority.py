"""etcd loses its majority: no leader, no writes, no TTL expiry; the site must keep serving on its last routes."""

from __future__ import annotations

import pytest

from wpcluster.checkers import check_etcd_healthy, check_registered_as_running, server_key_index
from wpcluster.clients.etcd import cluster_health
from wpcluster.waits import eventually, holds_for

pytestmark = [pytest.mark.destructive, pytest.mark.slow]

# Held past the server TTL: every registration would have expired by now if anything expired them.
def hold_seconds(cluster) -> float:
    return cluster.shape.site.server_ttl + 10.0


REREGISTERED_WITHIN = 60.0


def test_losing_the_etcd_majority_keeps_the_site_on_its_last_routes(cluster, fleet, etcd, nemesis, observe,
                                                                    thresholds):
    """Expected: with two members of three stopped, no member can commit; every vulcand keeps
    routing by what it last saw and the top LB falls back to the vulcands that still serve, so
    through the top LB the error rate and the brownout stay within their bounds. After the
    members return: etcd is healthy again, the sidekicks' registrations were not lost to TTLs that
    ran out during the outage, and a unit restarted afterwards is registered under a new key."""
    lost = cluster.nodes[1:]
    with observe(cluster.nodes, recover_within=thresholds.recovery_seconds) as obs:
        nemesis.lose_majority(lost)
        obs.fault = nemesis.records[-1]

        def no_quorum():
            # /health is false on a member that cannot commit; a lone old leader may still call
            # itself leader in its stats for a while, so health is what is judged.
            health = cluster_health(cluster.etcd_endpoints, names=[n.name for n in cluster.nodes])
            assert not any(m.healthy for m in health.endpoints), f"a member is still healthy: {health.describe()}"
            return True

        eventually(no_quorum, 15, 0.5, what="etcd without a quorum")
        holds_for(no_quorum, hold_seconds(cluster), 2, what="etcd staying without a quorum")
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
