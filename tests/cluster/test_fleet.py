"""fleet: machines, the seed's hello unit, and placement on live machines only."""

from __future__ import annotations

import time

import pytest

from wpcluster.checks.state import check_etcd_healthy, check_fleet_machines
from wpcluster.core.results import append_figures
from wpcluster.core.shape import PROJECT_ROOT, fleet_version
from wpcluster.core.units import unit_plan
from wpcluster.core.waits import GiveUp, eventually, holds_for

UNITS = PROJECT_ROOT / "units"
UNIT_ACTIVE_WITHIN = 60.0
# fleetd retries registering with a doubling back-off (1, 2, 4 ... 64 s) after it lost etcd,
# so a node whose member was stopped by an earlier test can take this long to come back.
MACHINES_BACK_WITHIN = 150.0


@pytest.fixture(autouse=True)
def every_machine_listed(request, cluster, fleet, gates):
    """Start each test with every node registered in fleet."""
    gates.require(request, "fleet-machines", lambda: check_fleet_machines(cluster, fleet) or True,
                  MACHINES_BACK_WITHIN)


def test_fleetctl_is_the_pinned_release(fleet):
    assert f"v{fleet.version()}" == fleet_version()


def test_list_machines_shows_every_node_with_its_ip(cluster, fleet):
    check_fleet_machines(cluster, fleet)
    machines = fleet.list_machines()
    assert len({m.machine_id for m in machines}) == len(machines), f"machine ids repeat: {machines}"


def wait_active(fleet, name: str, within: float = UNIT_ACTIVE_WITHIN):
    def active():
        unit = fleet.unit(name)
        assert unit is not None, f"{name} is not listed"
        if unit.active == "failed":
            raise GiveUp(f"{name} failed on {unit.ip}: {fleet.journal(name, lines=15)}")
        assert (unit.active, unit.sub) == ("active", "running"), f"{name} is {unit.active}/{unit.sub}"
        return unit

    return eventually(active, within, 1, what=f"{name} active")


@pytest.mark.changes
def test_hello_unit_runs_logs_and_is_destroyed(cluster, fleet):
    fleet.submit(UNITS / "hello.service")
    try:
        fleet.start("hello.service")
        unit = wait_active(fleet, "hello.service")
        assert unit.ip in {n.address for n in cluster.nodes}
        eventually(lambda: "Hello World" in fleet.journal("hello.service", lines=20), 30, 1,
                   what="'Hello World' in hello.service's journal (fleetctl journal over SSH)")
    finally:
        fleet.destroy("hello.service")
    eventually(lambda: fleet.unit("hello.service") is None, 30, 0.5, what="hello.service gone from fleet")
    host = cluster.node(next(n.name for n in cluster.nodes if n.address == unit.ip))
    eventually(lambda: "hello" not in host.exec("docker ps --format '{{.Names}}'").stdout.split(), 30, 0.5,
               what=f"hello container gone from {host.name}")


@pytest.mark.destructive
@pytest.mark.slow
def test_units_are_placed_on_live_machines_only(cluster, fleet, nemesis):
    dead = cluster.nodes[-1]
    live = {n.address for n in cluster.nodes if n is not dead}
    nemesis.kill_node(dead)
    ttl = cluster.shape.fleet_agent_ttl_seconds
    eventually(lambda: {m.ip for m in fleet.list_machines()} == live, ttl + 30, 1,
               what=f"fleet dropping killed {dead.name} from its machines")

    names = [f"hello@{i}.service" for i in range(1, 5)]
    fleet.submit(UNITS / "hello@.service")
    try:
        fleet.start(*names)
        placed = {name: wait_active(fleet, name).ip for name in names}
        wrong = {name: ip for name, ip in placed.items() if ip not in live}
        assert not wrong, f"units placed on a dead machine ({dead.address}): {wrong}"
    finally:
        fleet.destroy(*names, "hello@.service")


# A node that comes back (its etcd member restarted, or the node rebooted) is listed by fleet and
# runs a unit scheduled to it within this. Measured on 2 cores (results/<run>/bench/fleet_rejoin.json):
# the machine stays listed through a member outage and runs a unit 3.4 s after it; a rebooted
# node is listed again in 1.2 s and runs a unit 4.4 s later.
REJOINS_WITHIN = 30.0
# More writes than etcd's v2 event history keeps (1000): a member that missed them cannot resume
# a watch from where it stopped, as after an outage of many minutes on a busy cluster.
WRITES_DURING_OUTAGE = 1200


def machine_of(fleet, node):
    return eventually(lambda: next(m for m in fleet.list_machines() if m.ip == node.address), REJOINS_WITHIN, 1,
                      what=f"fleet listing {node.name}")


def pinned_unit(tmp_path, name: str, machine_id: str):
    """A hello unit that fleet may place only on ``machine_id``."""
    path = tmp_path / name
    path.write_text((UNITS / "hello@.service").read_text() + f"\n[X-Fleet]\nMachineID={machine_id}\n")
    return path


def takes_a_unit(fleet, node, tmp_path, label: str) -> float:
    """Schedule a unit that only ``node`` may run; seconds until it runs there."""
    started = time.monotonic()
    machine = machine_of(fleet, node)
    name = f"hello@{label}.service"
    fleet.submit(pinned_unit(tmp_path, name, machine.machine_id))
    try:
        fleet.start(name)
        unit = wait_active(fleet, name, within=REJOINS_WITHIN)
        assert unit.ip == node.address, f"{name} pinned to {node.name} runs on {unit.ip}"
        return round(time.monotonic() - started, 1)
    finally:
        fleet.destroy(name)


@pytest.mark.destructive
@pytest.mark.slow
def test_a_member_outage_past_the_agent_ttl_keeps_the_machine_and_its_units(cluster, fleet, nemesis, etcd,
                                                                           tmp_path, run_id):
    node = cluster.nodes[1]
    site_units = {name for _, name in unit_plan(cluster.shape)}  # not the hellos an earlier test is destroying
    before = sorted(u.name for u in fleet.list_units() if u.ip == node.address and u.name in site_units)
    hold = 2 * cluster.shape.fleet_agent_ttl_seconds
    nemesis.stop_member(node)
    for i in range(WRITES_DURING_OUTAGE):
        etcd.write(f"/wpcluster-test/outage/k{i % 50}", str(i))
    # fleetd on the node reaches the other members: its machine must not drop out at any moment.
    holds_for(lambda: node.address in {m.ip for m in fleet.list_machines()}, hold, 1,
              what=f"fleet listing {node.name} with its etcd member down")
    nemesis.start_member(node)
    eventually(lambda: check_etcd_healthy(cluster) or True, REJOINS_WITHIN, 0.5, what=f"{node.name}'s member back")
    after = sorted(u.name for u in fleet.list_units() if u.ip == node.address and u.name in site_units)
    assert set(before) <= set(after), f"units moved off {node.name} during its member's outage: " \
                                      f"{sorted(set(before) - set(after))}"
    took = takes_a_unit(fleet, node, tmp_path, "after-member-outage")
    append_figures(run_id, "fleet_rejoin", {"fault": f"etcd member down {hold:g}s", "unit_runs_seconds": took})


@pytest.mark.destructive
@pytest.mark.slow
def test_a_rebooted_node_is_listed_again_and_takes_units(cluster, fleet, nemesis, tmp_path, run_id):
    node = cluster.nodes[2]
    nemesis.stop_node(node)
    started = time.monotonic()
    nemesis.start_node(node)
    machine_of(fleet, node)
    listed = round(time.monotonic() - started, 1)
    took = takes_a_unit(fleet, node, tmp_path, "after-reboot")
    assert listed + took <= REJOINS_WITHIN, f"{node.name} took {listed}s to be listed and {took}s to run a unit"
    append_figures(run_id, "fleet_rejoin", {"fault": "node reboot", "listed_seconds": listed,
                                            "unit_runs_seconds": took})
