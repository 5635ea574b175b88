"""The nemesis: one session's faults, what is still in force, and the heal of it all at teardown."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from wpcluster.core import ledger
from wpcluster.core.cluster import Cluster, Node, ServiceHost, ServicePath
from wpcluster.core.history import FaultRecord
from wpcluster.core.progress import say
from wpcluster.faults.base import Fault
from wpcluster.faults.container import ContainerKill
from wpcluster.faults.daemons import DockerdRestart, FleetdFreeze
from wpcluster.faults.links import BandwidthCap, PacketLoss, Partition
from wpcluster.faults.members import MajorityLost, MemberKill, MemberReplace, MemberStop, check_member_joined
from wpcluster.faults.power import NodeKill, NodePause, NodeStop
from wpcluster.faults.services import PathLatency, PathStall, ServicePause, ServiceStop

F = TypeVar("F", bound=Fault)


@dataclass
class Nemesis:
    """Every fault of one session: ``records`` in the order they began, and the faults still in force,
    which ``heal_all`` heals at teardown even when the test failed.

    Its methods below are the suites' shorthand: each builds one fault on its target and injects it
    (``partition(node)``), or heals the latest fault of that class still in force there (``heal(node)``).
    """

    cluster: Cluster
    records: list[FaultRecord] = field(default_factory=list)
    _in_force: list[Fault] = field(default_factory=list, repr=False)

    # ---- what faults tell the nemesis ---------------------------------------------------
    def began(self, fault: Fault, started: float) -> FaultRecord:
        """Record ``fault`` as in force since ``started`` (``Fault.inject`` calls it)."""
        record = fault.record = FaultRecord(fault.kind, fault.where, started)
        self.records.append(record)
        self._in_force.append(fault)
        say(f"fault: {record.kind} on {record.node}")
        return record

    def ended(self, fault: Fault) -> None:
        """Record ``fault`` as healed now (``Fault.heal`` calls it)."""
        record = fault.record
        if record is None or record.ended is not None:
            return
        record.ended = time.time()
        ledger.record(ledger.FAULT, record.describe(), record.started, record.ended - record.started)
        self._in_force = [f for f in self._in_force if f is not fault]

    def in_force(self) -> list[Fault]:
        """The faults injected and not healed, oldest first."""
        return list(self._in_force)

    def latest(self, cls: type[F], where: str, matches: Callable[[F], bool] = lambda _: True) -> F | None:
        """The newest fault of class ``cls`` in force on ``where`` (a node's or a role's name) that ``matches``."""
        return next((f for f in reversed(self._in_force) if isinstance(f, cls) and f.where == where and matches(f)),
                    None)

    def _heal_latest(self, cls: type[Fault], where: str) -> None:
        if fault := self.latest(cls, where):
            fault.heal()

    def heal_all(self) -> None:
        """Undo every fault still in force, newest first; report but do not stop at a failing undo."""
        for fault in reversed(list(self._in_force)):
            try:
                fault._undo()
            except Exception as exc:  # noqa: BLE001 - keep healing the rest
                say(f"could not undo {fault.describe()}: {exc}")
            self.ended(fault)

    # ---- etcd members ------------------------------------------------------------------
    def stop_member(self, node: Node) -> MemberStop:
        """Stop the node's etcd2 member cleanly; systemd will not restart it until asked."""
        return MemberStop(self, node).inject()

    def start_member(self, node: Node) -> None:
        self._heal_latest(MemberStop, node.name)

    def kill_member(self, node: Node) -> MemberKill:
        """SIGKILL the node's etcd2 member and keep it down until ``restart_member``."""
        return MemberKill(self, node).inject()

    def restart_member(self, node: Node) -> None:
        self._heal_latest(MemberKill, node.name)

    def remove_member(self, node: Node) -> str:
        """Stop ``node``'s etcd member, remove it from the cluster (through a peer) and wipe its data;
        return its old member ID. ``add_member_back`` joins it again as a new, empty member."""
        return MemberReplace(self, node).inject().removed

    def add_member_back(self, node: Node) -> None:
        self._heal_latest(MemberReplace, node.name)

    def check_member_joined(self, node: Node) -> bool:
        """``node``'s member answers healthy and a peer lists it by name; AssertionError saying which is not so."""
        return check_member_joined(self.cluster, node)

    def lose_majority(self, nodes: list[Node]) -> MajorityLost:
        """Stop the etcd members of ``nodes`` (a majority): no leader, no writes, no TTL expiry."""
        return MajorityLost(self, nodes).inject()

    def restore_majority(self, nodes: list[Node]) -> None:
        self._heal_latest(MajorityLost, MajorityLost.where_of(nodes))

    # ---- network -------------------------------------------------------------------------
    def partition(self, node: Node) -> Partition:
        """Cut ``node`` off from every other node of the cluster, both ways."""
        return Partition(self, node).inject()

    def heal(self, node: Node) -> None:
        self._heal_latest(Partition, node.name)

    def lossy_links(self, node: Node, probability: float) -> PacketLoss:
        """Drop ``probability`` of the packets between ``node`` and every other node, both ways."""
        return PacketLoss(self, node, probability).inject()

    def mend_links(self, node: Node) -> None:
        self._heal_latest(PacketLoss, node.name)

    def cap_bandwidth(self, node: Node, rate: str) -> BandwidthCap:
        """Everything ``node`` sends leaves through a token bucket of ``rate`` (tc's units: "1mbit")."""
        return BandwidthCap(self, node, rate).inject()

    def uncap_bandwidth(self, node: Node) -> None:
        self._heal_latest(BandwidthCap, node.name)

    # ---- a node's daemons ------------------------------------------------------------------
    def restart_dockerd(self, node: Node) -> DockerdRestart:
        """Restart the node's dockerd as an upgrade does; the fault stays open until ``heal_all``."""
        return DockerdRestart(self, node).inject()

    def freeze_fleetd(self, node: Node) -> int:
        """Freeze the node's fleetd (SIGSTOP) and return its PID; ``thaw_fleetd`` resumes it if it still lives."""
        return FleetdFreeze(self, node).inject().pid

    def thaw_fleetd(self, node: Node) -> None:
        self._heal_latest(FleetdFreeze, node.name)

    # ---- power --------------------------------------------------------------------------
    def kill_node(self, node: Node) -> NodeKill:
        """Power the node off at once; ``restart_node`` boots it again."""
        return NodeKill(self, node).inject()

    def restart_node(self, node: Node) -> None:
        self._heal_latest(NodeKill, node.name)

    def stop_node(self, node: Node) -> NodeStop:
        """Shut the node down cleanly; ``start_node`` boots it again."""
        return NodeStop(self, node).inject()

    def start_node(self, node: Node) -> None:
        self._heal_latest(NodeStop, node.name)

    def pause_node(self, node: Node) -> NodePause:
        """Freeze every process on the node: it holds its addresses and answers nothing (a gray failure)."""
        return NodePause(self, node).inject()

    def resume_node(self, node: Node) -> None:
        self._heal_latest(NodePause, node.name)

    # ---- the site's hosts outside fleet ------------------------------------------------------
    def stop_service(self, host: ServiceHost) -> ServiceStop:
        """Stop MariaDB or the S3 store; ``start_service`` starts it and waits until it listens."""
        return ServiceStop(self, host.role, host).inject()

    def start_service(self, host: ServiceHost) -> None:
        self._heal_latest(ServiceStop, host.role)

    def pause_service(self, host: ServiceHost) -> ServicePause:
        """Freeze MariaDB or the S3 store: connections are accepted and never answered (a gray failure)."""
        return ServicePause(self, host.role, host).inject()

    def resume_service(self, host: ServiceHost) -> None:
        self._heal_latest(ServicePause, host.role)

    def slow_path(self, path: ServicePath, latency_ms: int, jitter_ms: int = 0) -> PathLatency:
        """Every answer from MariaDB or the S3 store reaches the site ``latency_ms`` late (the fault proxy)."""
        return PathLatency(self, path.role, latency_ms, jitter_ms, path).inject()

    def speed_path(self, path: ServicePath) -> None:
        self._heal_latest(PathLatency, path.role)

    def stall_path(self, path: ServicePath) -> PathStall:
        """Connections to MariaDB or the S3 store open and then carry nothing, either way, until
        ``unstall_path``."""
        return PathStall(self, path.role, path).inject()

    def unstall_path(self, path: ServicePath) -> None:
        self._heal_latest(PathStall, path.role)

    # ---- one container -----------------------------------------------------------------
    def kill_container(self, node: Node, name: str, undo: Callable[[], object]) -> ContainerKill:
        """SIGKILL one container behind its scheduler's back; ``undo`` brings it back (a fleet restart)."""
        return ContainerKill(self, node, name, undo).inject()

    def revive_container(self, node: Node, name: str) -> None:
        if fault := self.latest(ContainerKill, node.name, lambda f: f.container == name):
            fault.heal()
