"""A node cut off from the others: its member refuses writes, the majority reschedules, the heal leaves no twins."""

from __future__ import annotations

import secrets as random

import etcd as python_etcd
import pytest

from wpcluster.checks.state import check_units_on_live_machines
from wpcluster.clients.etcd import member_client
from wpcluster.core.units import wordpress_units
from wpcluster.core.waits import eventually

pytestmark = [pytest.mark.destructive, pytest.mark.slow, pytest.mark.spread_as_deployed]


def test_partitioned_node_is_replaced_and_leaves_no_twin_after_the_heal(cluster, fleet, nemesis, observe, site,
                                                                        thresholds):
    victim, survivor = cluster.nodes[-1], cluster.nodes[0]
    isolated = member_client(cluster.shape.etcd_client_url(victim.address), timeout=2)
    majority = member_client(cluster.shape.etcd_client_url(survivor.address))
    written = {}
    with observe([n for n in cluster.nodes if n is not victim], recover_within=thresholds.recovery_seconds + 60) as obs:
        nemesis.partition(victim)
        obs.fault = nemesis.records[-1]
        obs.try_post(f"while {victim.name} is cut off")

        def refuses_writes():
            try:
                isolated.write("/wpcluster-test/partition/probe", "minority")
            except python_etcd.EtcdException:
                return True
            raise AssertionError(f"{victim.name}'s member still accepts writes")

        eventually(refuses_writes, 20, 0.5, what=f"{victim.name}'s member refusing writes")
        for i in range(5):
            key, value = f"/wpcluster-test/partition/k{i}", random.token_hex(6)
            majority.write(key, value)
            written[key] = value
        eventually(lambda: victim.address not in {m.ip for m in fleet.list_machines()},
                   thresholds.recovery_seconds, 1, what=f"fleet on the majority dropping {victim.name}")
        units = wordpress_units(cluster.shape)
        eventually(lambda: check_units_on_live_machines(cluster, fleet.schedule(), units) or True,
                   thresholds.recovery_seconds, 1, what="the site's units rescheduled on the majority")
        nemesis.heal(victim)
    # Leaving the block waited for full recovery (which includes no container running on two nodes)
    # and judged the verdict.

    def caught_up():
        stale = {k: v for k, v in written.items() if isolated.read(k).value != v}
        assert not stale, f"{victim.name} has not caught up on {sorted(stale)}"
        return True

    eventually(caught_up, 30, 0.5, what=f"{victim.name}'s member caught up after the heal")
