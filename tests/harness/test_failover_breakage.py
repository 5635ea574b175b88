"""The failover suite must fail, naming what did not recover, when recovery is broken on purpose."""

from __future__ import annotations

import pytest

from tests.harness.nested import run_nested
from wpcluster.checkers import check_every_public_container_reached
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


DB_PAUSE = "tests/failover/test_site_services.py::test_mariadb_lost_fails_fast_and_recovers[pause]"
# What makes a WordPress container fail fast on a lost database (images/wordpress): PHP's connect
# and read timeouts, and the wpdb drop-in that does not retry a lost connection.
FAIL_FAST_FILES = ("/etc/php/8.2/apache2/conf.d/20-wpcluster.ini", "/var/lib/wordpress/wp-content/db.php")


@pytest.mark.destructive
@pytest.mark.slow
def test_db_fault_suite_names_pages_that_hang_without_the_fail_fast_settings(cluster, deployment, site):
    """Take the fail-fast settings out of every WordPress container (PHP's defaults: a minute to connect,
    a day to read, five reconnects): the frozen-MariaDB test must fail, naming the requests that hung."""
    moved = []
    for node in cluster.nodes:
        for name in node.exec("docker ps --format '{{.Names}}' --filter name=wordpress").stdout.split():
            aside = " && ".join(f"mv {path} /tmp/{path.rsplit('/', 1)[1]}.off" for path in FAIL_FAST_FILES)
            if node.exec(f"docker exec {name} sh -c '{aside} && apache2ctl graceful'").ok:
                moved.append((node, name))
    assert moved, "no WordPress container to break"
    try:
        nested = run_nested("db-without-fail-fast", DB_PAUSE, timeout=600)
    finally:
        back = " && ".join(f"mv /tmp/{path.rsplit('/', 1)[1]}.off {path}" for path in FAIL_FAST_FILES)
        for node, name in moved:
            # Graceful: the socket stays open, so no request is refused (a refusal makes vulcand's
            # rebalancer starve that server for a while, and the next suite finds it unreached).
            node.exec(f"docker exec {name} sh -c '{back} && apache2ctl graceful'")
        eventually(lambda: check_every_public_container_reached(cluster, site) or True, 180, 2,
                   what="every public container reached through every vulcand again")
    nested.prove(DB_PAUSE, r"requests hung past the readers' timeout with MariaDB paused")
