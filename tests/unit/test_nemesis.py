"""Faults as objects: each injects, heals and records itself through the nemesis, which heals what is
still in force at teardown; the catalogue builds named faults with their victims. No Docker: the
cluster, its nodes and its service hosts are fakes that remember what was done to them."""

from __future__ import annotations

import time

import pytest

from wpcluster.core import ledger, progress
from wpcluster.core.cluster import Cluster, ExecResult
from wpcluster.core.shape import load_shape
from wpcluster.faults import (
    BandwidthCap,
    DockerdRestart,
    MajorityLost,
    MemberReplace,
    Nemesis,
    NodeKill,
    PacketLoss,
    Partition,
    PathLatency,
    ServiceStop,
    build,
)
from wpcluster.faults import catalogue as catalogue_module
from wpcluster.faults import members as member_faults


class FakeNode:
    """A node that remembers every call; ``failing`` names calls (or command words) that raise."""

    def __init__(self, name: str, address: str, log: list[tuple[str, str, object]]) -> None:
        self.name, self.address, self.log = name, address, log
        self.failing: set[str] = set()
        self.acted_at: dict[str, float] = {}
        self.stdout = ""

    def _call(self, what: str, arg: object = None) -> None:
        self.acted_at[what] = time.time()
        self.log.append((self.name, what, arg))
        if what in self.failing:
            raise RuntimeError(f"{what} failed on {self.name}")

    def exec(self, command: str, timeout: float = 60) -> ExecResult:
        self._call("exec", command)
        failed = any(word in command for word in self.failing)
        return ExecResult(command, 1 if failed else 0, self.stdout, "refused" if failed else "")

    def kill(self) -> None:
        self._call("kill")

    def stop(self) -> None:
        self._call("stop")

    def start(self) -> None:
        self._call("start")

    def pause(self) -> None:
        self._call("pause")

    def unpause(self) -> None:
        self._call("unpause")

    def partition(self, peers: list[FakeNode]) -> None:
        self._call("partition", [p.name for p in peers])

    def heal(self) -> None:
        self._call("heal")

    def is_running(self) -> bool:
        return True


class FakeHost:
    def __init__(self, role: str, log: list[tuple[str, str, object]]) -> None:
        self.role, self.log = role, log

    def stop(self) -> None:
        self.log.append((self.role, "stop", None))

    def start(self) -> None:
        self.log.append((self.role, "start", None))

    def pause(self) -> None:
        self.log.append((self.role, "pause", None))

    def unpause(self) -> None:
        self.log.append((self.role, "unpause", None))


class FakePath:
    def __init__(self, role: str, log: list[tuple[str, str, object]]) -> None:
        self.role, self.log = role, log

    def add_latency(self, latency_ms: int, jitter_ms: int = 0) -> str:
        self.log.append((self.role, "latency", latency_ms))
        return f"{self.role}-latency-toxic"

    def stall(self) -> str:
        self.log.append((self.role, "stall", None))
        return f"{self.role}-stall-toxic"

    def remove(self, name: str) -> None:
        self.log.append((self.role, "remove", name))


class FakeCluster:
    """Nodes and nothing outside fleet, as an inventory or vagrant cluster (the interface's defaults)."""

    provider = "fake"
    service_host = Cluster.service_host
    service_path = Cluster.service_path

    def __init__(self, size: int = 3) -> None:
        self.shape = load_shape()
        self.log: list[tuple[str, str, object]] = []
        self.nodes = [FakeNode(f"core-0{i + 1}", f"172.30.0.{11 + i}", self.log) for i in range(size)]


class FakeLab(FakeCluster):
    """A cluster with the site's hosts and a fault proxy in front of them, as the lab has."""

    def service_host(self, role: str) -> FakeHost:
        return FakeHost(role, self.log)

    def service_path(self, role: str) -> FakePath:
        return FakePath(role, self.log)


@pytest.fixture(autouse=True)
def said(monkeypatch):
    lines: list[str] = []
    progress.set_sink(lines.append)
    yield lines
    progress.set_sink(None)


def fake_nemesis(monkeypatch, size: int = 3) -> Nemesis:
    """A nemesis on a lab-like fake whose catalogue victims need no fleet and no Docker: the admin and the
    busiest node are the first one."""
    cluster = FakeLab(size)
    monkeypatch.setattr(catalogue_module, "admin_node", lambda c: c.nodes[0])
    monkeypatch.setattr(catalogue_module, "busiest_node", lambda c: c.nodes[0])
    return Nemesis(cluster)


def test_a_fault_is_recorded_from_just_before_its_action_until_its_heal(said):
    cluster = FakeCluster()
    nemesis = Nemesis(cluster)
    victim = cluster.nodes[1]
    ledger.clear()
    fault = nemesis.partition(victim)
    assert isinstance(fault, Partition) and fault.in_force and nemesis.in_force() == [fault]
    assert nemesis.records == [fault.record] and fault.record.kind == "partition" and fault.record.node == "core-02"
    assert fault.record.started <= victim.acted_at["partition"]
    assert cluster.log == [("core-02", "partition", ["core-01", "core-03"])]
    assert said == ["fault: partition on core-02"]
    nemesis.heal(victim)
    assert cluster.log[-1] == ("core-02", "heal", None)
    assert not fault.in_force and fault.record.started <= fault.record.ended and nemesis.in_force() == []
    assert [(s.kind, s.name) for s in ledger.spans() if s.kind == ledger.FAULT] == [
        (ledger.FAULT, "partition on core-02")]


def test_a_failed_action_leaves_nothing_to_heal_unless_it_may_have_stopped_half_done():
    cluster = FakeCluster()
    nemesis = Nemesis(cluster)
    cluster.nodes[0].failing.add("kill")
    with pytest.raises(RuntimeError, match="kill failed"):
        nemesis.kill_node(cluster.nodes[0])
    assert nemesis.records == [] and nemesis.in_force() == []
    # The majority's members stop one by one: the one stopped before the failure is started again.
    cluster.nodes[2].failing.add("systemctl stop")
    with pytest.raises(RuntimeError, match="exited 1"):
        nemesis.lose_majority(cluster.nodes[1:])
    assert [r.describe() for r in nemesis.records] == ["etcd-majority-lost on core-02+core-03"]
    cluster.nodes[2].failing.clear()
    nemesis.heal_all()
    started = [(name, arg) for name, what, arg in cluster.log if what == "exec" and "start" in str(arg)]
    assert started == [("core-02", "systemctl start etcd2.service"), ("core-03", "systemctl start etcd2.service")]
    assert nemesis.records[0].ended is not None


def test_heal_all_heals_newest_first_and_keeps_going_past_a_failing_heal(said):
    cluster = FakeCluster()
    nemesis = Nemesis(cluster)
    a, b, c = cluster.nodes
    nemesis.kill_node(a)
    nemesis.partition(b)
    nemesis.lossy_links(c, 0.2)
    b.failing.add("heal")
    cluster.log.clear()
    nemesis.heal_all()
    assert [(name, what) for name, what, _ in cluster.log] == [("core-03", "exec"), ("core-02", "heal"),
                                                               ("core-01", "start")]
    assert "could not undo partition on core-02: heal failed on core-02" in said
    assert all(r.ended is not None for r in nemesis.records) and nemesis.in_force() == []


def test_healing_twice_or_healing_what_is_not_in_force_is_harmless():
    cluster = FakeCluster()
    nemesis = Nemesis(cluster)
    fault = nemesis.pause_node(cluster.nodes[0])
    fault.heal()
    ended = fault.record.ended
    fault.heal()
    nemesis.resume_node(cluster.nodes[0])
    nemesis.heal(cluster.nodes[1])  # never partitioned
    nemesis.heal_all()
    assert [what for _, what, _ in cluster.log] == ["pause", "unpause"]
    assert fault.record.ended == ended


def test_a_failing_heal_leaves_the_fault_in_force_for_teardown():
    cluster = FakeCluster()
    nemesis = Nemesis(cluster)
    fault = nemesis.stop_node(cluster.nodes[0])
    cluster.nodes[0].failing.add("start")
    with pytest.raises(RuntimeError, match="start failed"):
        nemesis.start_node(cluster.nodes[0])
    assert fault.in_force and nemesis.in_force() == [fault]
    cluster.nodes[0].failing.clear()
    nemesis.heal_all()
    assert not fault.in_force


def test_faults_of_one_class_on_different_nodes_heal_independently():
    cluster = FakeCluster()
    nemesis = Nemesis(cluster)
    first, second = nemesis.lossy_links(cluster.nodes[0], 0.2), nemesis.lossy_links(cluster.nodes[1], 0.1)
    assert (first.kind, second.kind) == ("packet-loss 20%", "packet-loss 10%")
    nemesis.mend_links(cluster.nodes[1])
    assert first.in_force and not second.in_force
    assert cluster.log[-1] == ("core-02", "exec", "iptables -F WPCLUSTER-LOSS 2>/dev/null || true")
    second.inject()  # a healed fault can be injected again, with a record of its own
    assert len(nemesis.records) == 3 and nemesis.in_force() == [first, second]


def test_a_shorthand_heal_takes_the_latest_fault_of_its_class_on_its_target_only():
    cluster = FakeCluster()
    nemesis = Nemesis(cluster)
    node = cluster.nodes[0]
    kill = nemesis.kill_node(node)
    cut = nemesis.partition(node)
    nemesis.heal(node)
    assert kill.in_force and not cut.in_force
    revived: list[str] = []
    web = nemesis.kill_container(node, "wordpress-1", lambda: revived.append("wordpress-1"))
    admin = nemesis.kill_container(node, "wordpress-admin", lambda: revived.append("wordpress-admin"))
    assert (web.kind, admin.kind) == ("container-kill wordpress-1", "container-kill wordpress-admin")
    nemesis.revive_container(node, "wordpress-1")
    assert revived == ["wordpress-1"] and admin.in_force and not web.in_force


def test_service_faults_act_on_the_role_host_and_the_path_to_it():
    cluster = FakeLab()
    nemesis = Nemesis(cluster)
    db = cluster.service_host("db")
    stop = nemesis.stop_service(db)
    assert stop.record.describe() == "db-stop on db"
    nemesis.start_service(db)
    slow = nemesis.slow_path(cluster.service_path("s3"), 300)
    assert slow.kind == "s3-latency 300ms"
    nemesis.speed_path(cluster.service_path("s3"))  # found by its role, whichever handle was passed
    assert cluster.log == [("db", "stop", None), ("db", "start", None), ("s3", "latency", 300),
                           ("s3", "remove", "s3-latency-toxic")]
    assert not stop.in_force and not slow.in_force


def test_a_dockerd_restart_stays_open_until_teardown():
    cluster = FakeCluster()
    nemesis = Nemesis(cluster)
    fault = nemesis.restart_dockerd(cluster.nodes[1])
    assert isinstance(fault, DockerdRestart)
    fault.heal()
    assert fault.in_force  # the verdict's during window runs to the full recovery
    nemesis.heal_all()
    assert not fault.in_force


def test_a_frozen_fleetd_is_resumed_by_the_pid_read_before_freezing_it():
    cluster = FakeCluster()
    nemesis = Nemesis(cluster)
    node = cluster.nodes[1]
    node.stdout = "4242\n"
    assert nemesis.freeze_fleetd(node) == 4242
    nemesis.thaw_fleetd(node)
    assert [arg for _, _, arg in cluster.log] == [
        "systemctl show --property=MainPID --value fleet.service", "kill -STOP 4242",
        "kill -CONT 4242 2>/dev/null || true"]


class FakeEtcd:
    """etcd's members API as a peer answers it; a member added back takes its name once asked for its health
    (it has started)."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.members = [{"id": f"{i + 1}{i + 1}", "name": n.name, "peerURLs": [cluster.shape.etcd_peer_url(n.address)]}
                        for i, n in enumerate(cluster.nodes)]
        self.calls: list[tuple[str, str]] = []

    def __call__(self, cluster, node, method, path, **kwargs):
        self.calls.append((method, path))
        if method == "DELETE":
            self.members = [m for m in self.members if m["id"] != path.rsplit("/", 1)[1]]
        elif method == "POST":
            self.members.append({"id": "44", "name": "", "peerURLs": kwargs["json"]["peerURLs"]})
        elif path == "/health":
            for member in self.members:
                member["name"] = member["name"] or node.name
        body = {"health": "true"} if path == "/health" else {"members": [dict(m) for m in self.members]}
        return type("Reply", (), {"json": lambda self: body})()


def test_a_replaced_member_is_recorded_by_its_old_id_and_added_back_as_a_new_member(monkeypatch):
    cluster = FakeCluster()
    nemesis = Nemesis(cluster)
    api = FakeEtcd(cluster)
    monkeypatch.setattr(member_faults, "etcd_request", api)
    victim = cluster.nodes[2]
    assert nemesis.remove_member(victim) == "33"
    assert nemesis.records[-1].kind == "etcd-member-replace 33"
    assert ("DELETE", "/v2/members/33") in api.calls
    assert [arg for name, _, arg in cluster.log if name == "core-03"] == [
        "systemctl stop etcd2.service", "rm -rf /var/lib/etcd2/member"]
    nemesis.add_member_back(victim)
    assert not nemesis.in_force() and [m["name"] for m in api.members] == ["core-01", "core-02", "core-03"]
    stop, wipe, rejoin, cleanup = [arg for name, _, arg in cluster.log if name == "core-03"]
    peers = ",".join(f"{n.name}={cluster.shape.etcd_peer_url(n.address)}" for n in cluster.nodes)
    assert "ETCD_INITIAL_CLUSTER=%s\n" in rejoin and f"'{peers}'" in rejoin
    assert "ETCD_INITIAL_CLUSTER_STATE=existing" in rejoin and "systemctl start --no-block etcd2.service" in rejoin
    assert cleanup.startswith("rm -f /etc/systemd/system/etcd2.service.d/rejoin.conf /etc/etcd2-rejoin.env")


def test_available_says_why_a_cluster_cannot_have_a_fault():
    bare, lab = Nemesis(FakeCluster()), Nemesis(FakeLab())
    assert "does not run the site's db host" in ServiceStop(bare, "db").available(bare.cluster)
    assert "no fault proxy in front of the site's s3 host" in PathLatency(bare, "s3", 300).available(bare.cluster)
    assert ServiceStop(lab, "db").available(lab.cluster) is None
    assert PathLatency(lab, "s3", 300).available(lab.cluster) is None
    small = Nemesis(FakeCluster(2))
    assert "at least three members" in MajorityLost(small, small.cluster.nodes[1:]).available(small.cluster)
    assert "no majority" in MajorityLost(lab, lab.cluster.nodes[2:]).available(lab.cluster)
    assert MajorityLost(lab, lab.cluster.nodes[1:]).available(lab.cluster) is None
    assert "quorum" in MemberReplace(small, small.cluster.nodes[1]).available(small.cluster)
    alone = Nemesis(FakeCluster(1))
    assert "no node but core-01" in Partition(alone, alone.cluster.nodes[0]).available(alone.cluster)
    stranger = FakeCluster(4).nodes[3]
    assert "core-04 is not a node of this cluster" in NodeKill(lab, stranger).available(lab.cluster)


def test_the_catalogue_builds_each_named_fault_on_todays_victim(monkeypatch):
    nemesis = fake_nemesis(monkeypatch)
    built = {name: build(name, nemesis) for name in catalogue_module.catalogue()}
    assert list(built) == ["node-kill", "packet-loss", "bandwidth-cap", "etcd-majority-lost", "db-stop", "db-pause",
                           "s3-stop", "dockerd-restart", "etcd-member-replace", "fleetd-freeze", "db-latency",
                           "db-stall", "s3-latency", "s3-stall"]
    assert {name: f.describe() for name, f in built.items()} == {
        "node-kill": "node-kill on core-01", "packet-loss": "packet-loss 20% on core-02",
        "bandwidth-cap": "bandwidth-cap 1000kbit on core-01",
        "etcd-majority-lost": "etcd-majority-lost on core-02+core-03", "db-stop": "db-stop on db",
        "db-pause": "db-pause on db", "s3-stop": "s3-stop on s3", "dockerd-restart": "dockerd-restart on core-02",
        "etcd-member-replace": "etcd-member-replace on core-03", "fleetd-freeze": "fleetd-freeze on core-02",
        "db-latency": "db-latency 20ms on db", "db-stall": "db-stall on db", "s3-latency": "s3-latency 300ms on s3",
        "s3-stall": "s3-stall on s3"}
    assert all(f.available(nemesis.cluster) is None and not f.in_force for f in built.values())
    assert isinstance(built["bandwidth-cap"], BandwidthCap) and isinstance(built["packet-loss"], PacketLoss)
    fault = build("s3-stall", nemesis).inject()
    fault.heal()
    assert nemesis.cluster.log[-2:] == [("s3", "stall", None), ("s3", "remove", "s3-stall-toxic")]


def test_an_unknown_catalogue_name_is_refused_with_the_names_it_has(monkeypatch):
    with pytest.raises(ValueError, match=r"no fault 'meteor'; the catalogue has node-kill, packet-loss, .*s3-stall$"):
        build("meteor", fake_nemesis(monkeypatch))
