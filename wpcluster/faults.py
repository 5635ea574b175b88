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

from wpcluster.cluster import Cluster, Node, ServiceHost
from wpcluster.progress import say

ETCD_UNIT = "etcd2.service"
LOSS_CHAIN = "WPCLUSTER-LOSS"
# The gray network faults' sizes, for the suites and the catalogue alike: one packet in five lost
# each way between a node and its peers; the node with the most public containers on a 1 Mbit/s
# link. Its share of the failover readers' pages (58 KB each) needs at least 4 Mbit/s, so the cap
# binds wherever fleet placed the containers (a 2 Mbit/s cap on a fixed node bound in one run and
# not in the next).
PACKET_LOSS = 0.2
BANDWIDTH_CAP = "1mbit"


def packet_loss_command(peers: list[Node], probability: float) -> str:
    """iptables, run on a node, that drops a random ``probability`` of its packets to and from ``peers``
    (the ``statistic`` match: this kernel has no netem)."""
    rules = [f"iptables -N {LOSS_CHAIN} 2>/dev/null || true", f"iptables -F {LOSS_CHAIN}"]
    for hook in ("INPUT", "OUTPUT", "FORWARD"):
        rules.append(f"iptables -C {hook} -j {LOSS_CHAIN} 2>/dev/null || iptables -I {hook} -j {LOSS_CHAIN}")
    drop = f"-m statistic --mode random --probability {probability:.3f} -j DROP"
    for peer in peers:
        rules += [f"iptables -A {LOSS_CHAIN} -s {peer.address} {drop}",
                  f"iptables -A {LOSS_CHAIN} -d {peer.address} {drop}"]
    return " && ".join(rules)


def interface_of(address: str) -> str:
    """Shell that prints the name of the node's interface holding ``address``."""
    return f"ip -o -4 addr show | awk '$4 ~ /^{address.replace('.', '[.]')}\\//{{print $2; exit}}'"


def bandwidth_cap_command(address: str, rate: str) -> str:
    """tc, run on a node: a token bucket (tbf) caps what leaves the interface holding ``address``."""
    return (f"dev=$({interface_of(address)}) && test -n \"$dev\" && "
            f"tc qdisc replace dev \"$dev\" root tbf rate {rate} burst 32kbit latency 400ms")


def bandwidth_uncap_command(address: str) -> str:
    return f"dev=$({interface_of(address)}) && tc qdisc del dev \"$dev\" root 2>/dev/null || true"


@dataclass
class FaultRecord:
    """One fault: what, on which node, and its start and end (wall-clock seconds, for timelines)."""

    kind: str
    node: str
    started: float
    ended: float | None = None

    def describe(self) -> str:
        return f"{self.kind} on {self.node}"


@dataclass(frozen=True)
class _Named:
    """What a fault acts on when it is not one node: a set of nodes, or a service host."""

    name: str


@dataclass
class Nemesis:
    cluster: Cluster
    records: list[FaultRecord] = field(default_factory=list)
    _undo: list[tuple[FaultRecord, Callable[[], object]]] = field(default_factory=list)

    def _begin(self, kind: str, node: Node | _Named, undo: Callable[[], object]) -> FaultRecord:
        record = FaultRecord(kind, node.name, time.time())
        self.records.append(record)
        self._undo.append((record, undo))
        say(f"fault: {kind} on {node.name}")
        return record

    def _end(self, record: FaultRecord) -> None:
        record.ended = time.time()
        self._undo = [(r, u) for r, u in self._undo if r is not record]

    def _undo_latest(self, kind: str, node: Node | _Named) -> None:
        self._undo_latest_prefix(kind, node, exact=True)

    def _undo_latest_prefix(self, kind: str, node: Node | _Named, exact: bool = False) -> None:
        for record, undo in reversed(self._undo):
            if (record.kind == kind if exact else record.kind.startswith(kind)) and record.node == node.name:
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

    def lossy_links(self, node: Node, probability: float) -> None:
        """Drop ``probability`` of the packets between ``node`` and every other node, both ways."""
        node.exec(packet_loss_command([n for n in self.cluster.nodes if n is not node], probability)).check()
        self._begin(f"packet-loss {probability:.0%}", node,
                    lambda: node.exec(f"iptables -F {LOSS_CHAIN} 2>/dev/null || true").check())

    def mend_links(self, node: Node) -> None:
        self._undo_latest_prefix("packet-loss", node)

    def cap_bandwidth(self, node: Node, rate: str) -> None:
        """Everything ``node`` sends leaves through a token bucket of ``rate`` (tc's units: "1mbit")."""
        node.exec(bandwidth_cap_command(node.address, rate)).check()
        self._begin(f"bandwidth-cap {rate}", node, lambda: node.exec(bandwidth_uncap_command(node.address)).check())

    def uncap_bandwidth(self, node: Node) -> None:
        self._undo_latest_prefix("bandwidth-cap", node)

    # ---- etcd majority ------------------------------------------------------------------------
    def lose_majority(self, nodes: list[Node]) -> None:
        """Stop the etcd members of ``nodes`` (a majority): no leader, no writes, no TTL expiry."""
        names = "+".join(n.name for n in nodes)
        self._begin("etcd-majority-lost", _Named(names),
                    lambda: [n.exec(f"systemctl start {ETCD_UNIT}").check() for n in nodes])
        for node in nodes:
            node.exec(f"systemctl stop {ETCD_UNIT}").check()

    def restore_majority(self, nodes: list[Node]) -> None:
        self._undo_latest("etcd-majority-lost", _Named("+".join(n.name for n in nodes)))

    # ---- the site's hosts outside fleet ------------------------------------------------------
    def stop_service(self, host: ServiceHost) -> None:
        """Stop MariaDB or the S3 store; ``start_service`` starts it and waits until it listens."""
        # Recorded before acting: a clean stop takes a while, and the requests it breaks count.
        self._begin(f"{host.role}-stop", _Named(host.role), host.start)
        host.stop()

    def start_service(self, host: ServiceHost) -> None:
        self._undo_latest(f"{host.role}-stop", _Named(host.role))

    def pause_service(self, host: ServiceHost) -> None:
        """Freeze MariaDB or the S3 store: connections are accepted and never answered (a gray failure)."""
        self._begin(f"{host.role}-pause", _Named(host.role), host.unpause)
        host.pause()

    def resume_service(self, host: ServiceHost) -> None:
        self._undo_latest(f"{host.role}-pause", _Named(host.role))

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


# ---- the catalogue: named faults for drivers outside pytest (Locust's failover shape) --------------
def _admin_node(nemesis: Nemesis) -> Node:
    from wpcluster.clients.fleet import Fleetctl  # local: the nemesis needs no fleet client otherwise

    admin = Fleetctl(nemesis.cluster).placed("wordpress-admin.service")
    return next(n for n in nemesis.cluster.nodes if n.address == admin.ip)


def _inject_node_kill(nemesis: Nemesis) -> Callable[[], None]:
    victim = _admin_node(nemesis)
    nemesis.kill_node(victim)
    return lambda: nemesis.restart_node(victim)


def _inject_packet_loss(nemesis: Nemesis) -> Callable[[], None]:
    victim = nemesis.cluster.nodes[1]
    nemesis.lossy_links(victim, PACKET_LOSS)
    return lambda: nemesis.mend_links(victim)


def busiest_node(cluster: Cluster) -> Node:
    """The node running the most public WordPress containers (at least two of five, on three nodes)."""
    from wpcluster.checkers import site_containers  # local: checkers needs no nemesis, the nemesis needs this once

    public = [sid.partition(".")[0] for backend, sid in site_containers(cluster) if backend == "wordpress"]
    return max((n for n in cluster.nodes if n.is_running()), key=lambda n: public.count(n.name))


def _inject_bandwidth_cap(nemesis: Nemesis) -> Callable[[], None]:
    victim = busiest_node(nemesis.cluster)
    nemesis.cap_bandwidth(victim, BANDWIDTH_CAP)
    return lambda: nemesis.uncap_bandwidth(victim)


def _inject_majority_lost(nemesis: Nemesis) -> Callable[[], None]:
    lost = nemesis.cluster.nodes[1:]
    nemesis.lose_majority(lost)
    return lambda: nemesis.restore_majority(lost)


def _inject_service(role: str, pause: bool) -> Callable[[Nemesis], Callable[[], None]]:
    def inject(nemesis: Nemesis) -> Callable[[], None]:
        host = nemesis.cluster.service_host(role)
        if pause:
            nemesis.pause_service(host)
            return lambda: nemesis.resume_service(host)
        nemesis.stop_service(host)
        return lambda: nemesis.start_service(host)

    return inject


FAULTS: dict[str, Callable[[Nemesis], Callable[[], None]]] = {
    "node-kill": _inject_node_kill,  # the node running wordpress-admin
    "packet-loss": _inject_packet_loss,  # PACKET_LOSS between the second node and its peers
    "bandwidth-cap": _inject_bandwidth_cap,  # the busiest node's egress through BANDWIDTH_CAP
    "etcd-majority-lost": _inject_majority_lost,  # every member but the first one's stopped
    "db-stop": _inject_service("db", pause=False),
    "db-pause": _inject_service("db", pause=True),
    "s3-stop": _inject_service("s3", pause=False),
}


def inject(nemesis: Nemesis, kind: str) -> Callable[[], None]:
    """Inject the catalogue's fault ``kind``; return what heals it (the nemesis heals it at the end too)."""
    if kind not in FAULTS:
        raise ValueError(f"no fault {kind!r}; the catalogue has {', '.join(FAULTS)}")
    return FAULTS[kind](nemesis)
