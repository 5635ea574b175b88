"""A node's daemons replaced under load: its Docker daemon restarted, its etcd member replaced.

Neither takes the node away from fleet. Operators do both: a Docker upgrade restarts dockerd, and
a member whose disk died is removed, wiped and added back as a new member (etcd's runtime
reconfiguration). The site must not notice more than a node kill lets it, and nothing may move.
"""

from __future__ import annotations

import pytest
import requests

from tests.failover.bounds import assert_node_fault_bounds
from wpcluster.checkers import check_nothing_moved, check_site_whole
from wpcluster.faults import busiest_node
from wpcluster.waits import eventually

pytestmark = [pytest.mark.destructive, pytest.mark.slow]

# How long the cluster runs on two members before the third is added back: long enough for
# heartbeats, registrations and TTL expiries to go through the two, well short of fleet's agent TTL.
MEMBER_GONE_SECONDS = 10.0


def test_restarting_dockerd_brings_the_nodes_units_back_in_place(cluster, fleet, nemesis, observe, thresholds):
    """Expected: restarting the Docker daemon of the node with the most public containers stops every
    container there; systemd restarts each unit that requires docker.service once it is back, so the
    units come back on the same node without fleet or an operator: nothing moves, the site is whole
    again (every container registered and reached through every vulcand) within the recovery goal
    (the agent TTL + 15 s: nothing here waits for the TTL), and through the top LB the error rate and
    the brownout stay within the node-kill bounds (its checks take the node's vulcand out, its
    retries skip the node's stopped servers until their keys go)."""
    victim = busiest_node(cluster)
    before = fleet.targets()
    with observe(cluster.nodes, recover_within=thresholds.recovery_goal_seconds) as obs:
        nemesis.restart_dockerd(victim)
        obs.fault = nemesis.records[-1]
    assert obs.recovered_at is not None, (
        f"the site was not whole within {thresholds.recovery_goal_seconds:g}s of restarting dockerd on "
        f"{victim.name}: {obs.not_recovered}")
    check_nothing_moved(fleet, before)
    assert_node_fault_bounds(obs.verdict, thresholds, f"dockerd restarted on {victim.name}")


def member_ids(cluster, via) -> dict[str, str]:
    url = cluster.shape.etcd_client_url(via.address) + "/v2/members"
    return {m.get("name", ""): m["id"] for m in requests.get(url, timeout=5).json()["members"]}


def test_replacing_an_etcd_member_under_load_keeps_the_site_and_registrations(cluster, fleet, etcd, site, nemesis,
                                                                              observe, thresholds):
    """Expected: one member is stopped, removed, wiped and added back empty. Two members of three keep
    the quorum throughout, so the site keeps serving through the top LB within the node-kill bounds
    (the LB's etcd check takes the node's vulcand out while its member is gone). Afterwards etcd lists
    the node under a new member ID with every member healthy, and the new member carries the
    cluster: a unit restarted after the replacement is registered, and every vulcand (the node's,
    which reads etcd through the new member, included) routes to it."""
    victim, peer = cluster.nodes[2], cluster.nodes[0]
    with observe(cluster.nodes, recover_within=thresholds.recovery_seconds) as obs:
        old = nemesis.remove_member(victim)
        obs.fault = nemesis.records[-1]
        obs.reader.read_until(obs.fault.started + MEMBER_GONE_SECONDS)
        nemesis.add_member_back(victim)
    assert obs.recovered_at is not None, (
        f"no full recovery after replacing {victim.name}'s etcd member: {obs.not_recovered}")
    new = member_ids(cluster, peer).get(victim.name)
    assert new not in (None, old), f"{victim.name}'s member ID after the replacement is {new} (was {old})"
    assert_node_fault_bounds(obs.verdict, thresholds, f"{victim.name}'s etcd member replaced")
    # The new member follows: a registration made after it joined reaches every vulcand.
    public = [u for u in fleet.list_units() if u.name.startswith("wordpress@")]
    unit = next((u for u in public if u.ip == victim.address), public[0]).name
    fleet.restart(unit)
    eventually(lambda: check_site_whole(cluster, fleet, etcd, site), thresholds.recovery_goal_seconds, 1,
               what=f"{unit} registered again and routed by every vulcand after the replacement")
