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
    """One fault: what, on which node, and its start and end (monotonic seconds)."""

    kind: str
    node: str
    started: float
    ended: float | None = None


@dataclass
class Nemesis:
    cluster: Cluster
    records: list[FaultRecord] = field(default_factory=list)
    _undo: list[tuple[FaultRecord, Callable[[], object]]] = field(default_factory=list)

    def _begin(self, kind: str, node: Node, undo: Callable[[], object]) -> FaultRecord:
        record = FaultRecord(kind, node.name, time.monotonic())
        self.records.append(record)
        self._undo.append((record, undo))
        say(f"fault: {kind} on {node.name}")
        return record

    def _end(self, record: FaultRecord) -> None:
        record.ended = time.monotonic()
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

    # ---- power --------------------------------------------------------------------------
    def kill_node(self, node: Node) -> None:
        node.kill()
        self._begin("node-kill", node, node.start)

    def restart_node(self, node: Node) -> None:
        self._undo_latest("node-kill", node)

    def heal_all(self) -> None:
        """Undo every fault still in force, newest first; report but do not stop at a failing undo."""
        for record, undo in reversed(list(self._undo)):
            try:
                undo()
            except Exception as exc:  # noqa: BLE001 - keep healing the rest
                say(f"could not undo {record.kind} on {record.node}: {exc}")
            self._end(record)
