"""Gray network failures on one node: random packet loss to its peers, and a bandwidth cap.

Neither takes the node away: it stays listed, keeps its units and its etcd member. They cost
latency, not availability, and that is what is asserted: through the top LB, the node-kill error
bound and the brownout bound hold, and fleet moves nothing.
"""

from __future__ import annotations

import pytest

from tests.failover.load import steady_readers
from wpcluster.checks.state import check_nothing_moved
from wpcluster.clients.etcd import keys_client
from wpcluster.clients.fleet import registry_targets
from wpcluster.core.waits import holds_for
from wpcluster.faults import PACKET_LOSS as LOSS
from wpcluster.faults import bandwidth_cap, busiest_node, lossy_node

pytestmark = [pytest.mark.destructive, pytest.mark.slow, pytest.mark.spread_as_deployed]

# Each gray fault is held past fleet's agent TTL by this much (its engine reconciles every 2 s, and a
# listing takes a moment): a node that fleet would wrongly give up on is given up on inside the window.
PAST_AGENT_TTL_SECONDS = 5.0


def hold_gray_fault(cluster, fleet, observe, thresholds, victim, inject, heal, what):
    """Readers, then ``inject``; fleet must move nothing past its agent TTL; ``heal``; the top LB judged."""
    before = fleet.targets()
    hold = cluster.shape.fleet_agent_ttl_seconds + PAST_AGENT_TTL_SECONDS
    # fleet's registry read through the other nodes' members: fleetctl asks any member it likes, and
    # one behind the fault's link stretched the hold by 6-7 s.
    around = keys_client([cluster.shape.etcd_client_url(n.address) for n in cluster.nodes if n.name != victim.name])
    with observe(cluster.nodes, recover_within=thresholds.recovery_seconds) as obs:
        obs.fault = inject()
        holds_for(lambda: check_nothing_moved(lambda: registry_targets(around), before), hold, 2,
                  what=f"fleet keeping every unit in place with {what}")
        heal()


@pytest.mark.represents("gray")
def test_packet_loss_between_a_node_and_its_peers_costs_latency_not_the_site(cluster, fleet, nemesis, observe,
                                                                            thresholds):
    """Expected: with one packet in five between one node and the others dropped, etcd keeps its
    quorum, fleet keeps the node and every unit where it is (TCP retransmits; nothing times out
    for good), and through the top LB the error rate and the brownout stay within their bounds."""
    victim = lossy_node(cluster)

    def inject():
        nemesis.lossy_links(victim, LOSS)
        return nemesis.records[-1]

    hold_gray_fault(cluster, fleet, observe, thresholds, victim, inject, lambda: nemesis.mend_links(victim),
                    f"{LOSS:.0%} packet loss on {victim.name}'s links")


def test_a_node_behind_a_bandwidth_cap_keeps_the_site_serving(request, cluster, fleet, nemesis, observe,
                                                             thresholds):
    """Expected: with everything the busiest node sends capped (tbf) at faults.network.bandwidth_cap for the
    readers' rates, a link its share of the load overfills, fleet keeps the node and every unit where
    it is, and through the top LB the error rate and the brownout stay within their bounds: the site
    routes around a slow node."""
    # Not the lossy node: quarantined again within a minute, a node stays out twice as long after its
    # votes stop (outliers.eject_ttl: a node that flaps), which the packet-loss test just before left.
    victim = busiest_node(cluster, besides=lossy_node(cluster))
    cap = bandwidth_cap(steady_readers(request.config, cluster).scale)

    def inject():
        nemesis.cap_bandwidth(victim, cap)
        return nemesis.records[-1]

    hold_gray_fault(cluster, fleet, observe, thresholds, victim, inject, lambda: nemesis.uncap_bandwidth(victim),
                    f"{victim.name} capped at {cap}")
