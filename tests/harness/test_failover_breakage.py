"""The failover suite must fail, naming what did not recover, when recovery is broken on purpose."""

from __future__ import annotations

import pytest

from tests.harness.nested import run_nested
from wpcluster.deploy import UNITS_DIR
from wpcluster.waits import eventually

ADMIN = "wordpress-admin.service"
NODE_KILL = "tests/failover/test_node_loss.py::test_killing_the_admin_node_moves_admin_and_keeps_the_site_up"


@pytest.mark.destructive
@pytest.mark.slow
def test_node_kill_suite_names_a_unit_pinned_to_the_dead_machine(cluster, fleet, deployment, tmp_path):
    # Pin the admin unit to the machine it runs on: fleet can then never move it off a dead node.
    placed = fleet.placed(ADMIN)
    pinned = tmp_path / ADMIN
    unit = (UNITS_DIR / ADMIN).read_text()
    # fleet refuses MachineID beside Conflicts; one admin unit needs no Conflicts anyway.
    pinned.write_text(unit.split("[X-Fleet]")[0] + f"[X-Fleet]\nMachineID={placed.machine_id}\n")
    fleet.destroy(ADMIN)
    deployment.wait_released([ADMIN])
    try:
        fleet.submit(pinned)
        fleet.start(ADMIN)
        deployment.wait_units_active()
        nested = run_nested("admin-pinned-to-the-killed-node", NODE_KILL, timeout=900)
    finally:
        fleet.destroy(ADMIN)
        deployment.wait_released([ADMIN])
        fleet.submit(UNITS_DIR / ADMIN)
        fleet.start(ADMIN)
        eventually(lambda: deployment.wait_units_active(timeout=0) or True, 180, 2, what="the admin unit back")
    nested.prove(NODE_KILL, r"did not fully recover .*wordpress-admin\.service")
