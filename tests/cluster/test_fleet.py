"""fleet: machines, the seed's hello unit, and placement on live machines only."""

from __future__ import annotations

import pytest

from wpcluster.checkers import check_fleet_machines
from wpcluster.shape import PROJECT_ROOT, fleet_version
from wpcluster.waits import GiveUp, eventually

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


def wait_active(fleet, name: str):
    def active():
        unit = fleet.unit(name)
        assert unit is not None, f"{name} is not listed"
        if unit.active == "failed":
            raise GiveUp(f"{name} failed on {unit.ip}: {fleet.journal(name, lines=15)}")
        assert (unit.active, unit.sub) == ("active", "running"), f"{name} is {unit.active}/{unit.sub}"
        return unit

    return eventually(active, UNIT_ACTIVE_WITHIN, 1, what=f"{name} active")


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
    ttl = float(cluster.shape.fleet_agent_ttl.rstrip("s"))
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
