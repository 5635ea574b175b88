"""A node's daemons replaced under load: its Docker daemon restarted, its etcd member replaced, its
fleetd hung.

None takes the node away from fleet for long. Operators do both: a Docker upgrade restarts dockerd, and
a member whose disk died is removed, wiped and added back as a new member (etcd's runtime
reconfiguration). The site must not notice more than a node kill lets it, and nothing may move.
"""

from __future__ import annotations

import pytest
import requests

from wpcluster.checks.state import check_nothing_moved, check_registered_as_running, check_site_whole, server_key_index
from wpcluster.core.cluster import node_at
from wpcluster.core.units import container_of
from wpcluster.core.waits import eventually
from wpcluster.faults import busiest_node, fleetd_api_status, fleetd_pid

pytestmark = [pytest.mark.destructive, pytest.mark.slow]

# How long the cluster runs on two members before the third is added back: long enough for
# heartbeats, registrations and TTL expiries to go through the two, well short of fleet's agent TTL.
MEMBER_GONE_SECONDS = 10.0
# Past the watchdog's grace: its 1 s poll and two 2 s probe timeouts, systemd's 2 s RestartSec and
# a fresh fleetd's start.
WATCHDOG_SLACK = 10.0


def watchdog_grace(node) -> float:
    """The grace fleet-watchdog.service gives a fleetd that does not serve (its unit is the one place
    it is set)."""
    shown = node.exec("systemctl show --property=Environment --value fleet-watchdog.service").check().stdout
    grace = dict(item.split("=", 1) for item in shown.split() if "=" in item).get("GRACE")
    assert grace, f"fleet-watchdog.service on {node.name} sets no GRACE: {shown!r} (is the watchdog installed?)"
    return float(grace)


@pytest.mark.spread_as_deployed
@pytest.mark.represents("daemon")
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
    check_nothing_moved(fleet.targets, before)


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
        obs.read_until(obs.fault.started + MEMBER_GONE_SECONDS)
        nemesis.add_member_back(victim)
    new = member_ids(cluster, peer).get(victim.name)
    assert new not in (None, old), f"{victim.name}'s member ID after the replacement is {new} (was {old})"
    # The new member follows: a registration made after it joined reaches every vulcand.
    public = [u for u in fleet.list_units() if u.name.startswith("wordpress@")]
    placed = next((u for u in public if u.ip == victim.address), public[0])
    unit = placed.name

    def server_key(ip: str) -> tuple[str, str]:
        return "wordpress", f"{node_at(cluster.nodes, ip).name}.{container_of(unit)}"

    old_index = server_key_index(etcd, cluster.shape.site.vulcand_prefix, server_key(placed.ip))
    fleet.restart(unit)

    def registered_anew_and_routed() -> bool:
        # A new key (created after the restart), not the registration from before it, then every route.
        check_registered_as_running(cluster, etcd, server_key(fleet.placed(unit).ip), old_index)
        return check_site_whole(cluster, etcd, site)

    eventually(registered_anew_and_routed, thresholds.recovery_goal_seconds, 1,
               what=f"{unit} registered anew and routed by every vulcand after the replacement")


def test_a_hung_fleetd_is_restarted_and_the_node_stays_in_the_cluster(cluster, fleet, nemesis, observe, thresholds):
    """Expected: a fleetd that stops serving while etcd is healthy (frozen here; fleet v1.0.0 hangs
    so in its own restart after an etcd outage, coreos/fleet#1716) is killed by the node's fleet
    watchdog within its grace, and systemd starts a fresh one; the node is back among fleet's machines
    within the agent TTL after that, the site is whole within the recovery goal, and through the top
    LB the error rate and the brownout stay within the node-kill bounds: a hung scheduler must cost
    the site no more than a dead node."""
    victim = cluster.nodes[1]
    grace = watchdog_grace(victim)
    ttl = cluster.shape.fleet_agent_ttl_seconds
    with observe(cluster.nodes, recover_within=thresholds.recovery_goal_seconds) as obs:
        frozen = nemesis.freeze_fleetd(victim)
        obs.fault = nemesis.records[-1]

        def replaced() -> bool:
            pid = fleetd_pid(victim)
            state = "not running" if not pid else f"PID {pid}, the frozen one"
            assert pid not in (0, frozen), f"fleetd on {victim.name} is {state}"
            return True

        eventually(replaced, grace + WATCHDOG_SLACK, 1,
                   what=f"the fleet watchdog replacing the frozen fleetd (PID {frozen}) on {victim.name}")

        def serving_and_listed() -> bool:
            # Serving means registered: the frozen one's machine key may outlive it, so a listing
            # alone proves nothing.
            code = fleetd_api_status(victim)
            assert code == "200", f"the fresh fleetd on {victim.name} answers its API with {code or 'nothing'}"
            machines = [m.ip for m in fleet.list_machines()]
            assert victim.address in machines, f"fleet lists {machines}, not {victim.name} ({victim.address})"
            return True

        # A fresh fleetd registers once its frozen predecessor's machine key has expired.
        eventually(serving_and_listed, ttl + WATCHDOG_SLACK, 1,
                   what=f"the fresh fleetd on {victim.name} registered and serving")
        nemesis.thaw_fleetd(victim)
