"""Faults (Jepsen's nemesis): break the cluster on purpose, record when, and always undo.

Every fault goes through the ``Cluster``/``Node`` interface, so any provider
that implements those can be broken the same way. A ``Nemesis`` remembers
what it broke; ``heal_all`` undoes all of it and is called at teardown even
when the test failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from wpcluster.cluster import Cluster, Node
from wpcluster.progress import say

ETCD_UNIT = "etcd2.service"


@dataclass
class FaultRecord:
    """One fault: what, on which node, and its start and end (wall-clock seconds, for timelines)."""

    kind: str
    node: str
    started: float
    ended: float | None = None

    def describe(self) -> str:
        return f"{self.kind} on {self.node}"


@dataclass
class Nemesis:
    cluster: Cluster
    records: list[FaultRecord] = field(default_factory=list)
    _undo: list[tuple[FaultRecord, Callable[[], object]]] = field(default_factory=list)

    def _begin(self, kind: str, node: Node, undo: Callable[[], object]) -> FaultRecord:
        record = FaultRecord(kind, node.name, time.time())
        self.records.append(record)
        self._undo.append((record, undo))
        say(f"fault: {kind} on {node.name}")
        return record

    def _end(self, record: FaultRecord) -> None:
        record.ended = time.time()
        self._undo = [(r, u) for r, u in self._undo if r is not record]

    def _undo_latest(self, kind: str, node: Node) -> None:
        for record, undo in reversed(self._undo):
            if record.kind == kind and record.node == node.name:
                undo()
                self._end(record)
                return

    # ---- etcd member ----------------------------------------------------------------
    def stop_member(self, node: Node) -> None:
        """Stop the node's etcd2 member cleanly; systemd will not restart it until asked."""
        node.exec(f"systemctl stop {ETCD_UNIT}").check()
        self._begin("etcd-member-stop", node, lambda: node.exec(f"systemctl start {ETCD_UNIT}").check())

    def start_member(self, node: Node) -> None:
        self._undo_latest("etcd-member-stop", node)

    # ---- network ----------------------------------------------------------------------
    def partition(self, node: Node) -> None:
        """Cut ``node`` off from every other node of the cluster, both ways."""
        node.partition([n for n in self.cluster.nodes if n is not node])
        self._begin("partition", node, node.heal)

    def heal(self, node: Node) -> None:
        self._undo_latest("partition", node)

    def kill_member(self, node: Node) -> None:
        """SIGKILL the node's etcd2 member and keep it down until ``restart_member``."""
        node.exec(f"systemctl kill --signal=KILL {ETCD_UNIT}; systemctl stop {ETCD_UNIT}").check()
        self._begin("etcd-member-kill", node, lambda: node.exec(f"systemctl start {ETCD_UNIT}").check())

    def restart_member(self, node: Node) -> None:
        self._undo_latest("etcd-member-kill", node)

    # ---- power --------------------------------------------------------------------------
    def kill_node(self, node: Node) -> None:
        """Power the node off at once; ``restart_node`` boots it again."""
        node.kill()
        self._begin("node-kill", node, node.start)

    def restart_node(self, node: Node) -> None:
        self._undo_latest("node-kill", node)

    def stop_node(self, node: Node) -> None:
        """Shut the node down cleanly; ``start_node`` boots it again."""
        node.stop()
        self._begin("node-stop", node, node.start)

    def start_node(self, node: Node) -> None:
        self._undo_latest("node-stop", node)

    def pause_node(self, node: Node) -> None:
        """Freeze every process on the node: it holds its addresses and answers nothing (a gray failure)."""
        node.pause()
        self._begin("node-pause", node, node.unpause)

    def resume_node(self, node: Node) -> None:
        self._undo_latest("node-pause", node)

    # ---- one container -----------------------------------------------------------------
    def kill_container(self, node: Node, name: str, undo: Callable[[], object]) -> None:
        """SIGKILL one container behind its scheduler's back; ``undo`` brings it back (a fleet restart)."""
        node.exec(f"docker kill {name}").check()
        self._begin(f"container-kill {name}", node, undo)

    def revive_container(self, node: Node, name: str) -> None:
        self._undo_latest(f"container-kill {name}", node)

    def heal_all(self) -> None:
        """Undo every fault still in force, newest first; report but do not stop at a failing undo."""
        for record, undo in reversed(list(self._undo)):
            try:
                undo()
            except Exception as exc:  # noqa: BLE001 - keep healing the rest
                say(f"could not undo {record.kind} on {record.node}: {exc}")
            self._end(record)
