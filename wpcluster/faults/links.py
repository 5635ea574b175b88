"""Network faults on one node's links: cut off from its peers, lossy links to them, a narrow way out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wpcluster.faults.base import Ledger, NodeFault

if TYPE_CHECKING:
    from wpcluster.core.cluster import Cluster, Node

LOSS_CHAIN = "WPCLUSTER-LOSS"
# The gray network faults' sizes, for the suites and the catalogue alike: one packet in five lost
# each way between a node and its peers; the node with the most public containers on a 1 Mbit/s
# link at the readers' full rates. Its share of their pages (58 KB each) needs at least 4 Mbit/s,
# so the cap binds wherever fleet placed the containers (a 2 Mbit/s cap on a fixed node bound in one
# run and not in the next). Where the readers are scaled down to the machine (generator.steady_load)
# the cap scales with them, so the link stays as overfilled: at half the rates a fixed 1 Mbit/s cap
# no longer binds.
PACKET_LOSS = 0.2
BANDWIDTH_CAP_KBIT = 1000


def bandwidth_cap(load_scale: float = 1.0) -> str:
    """The cap in tc's units for readers at ``load_scale`` of their full rates."""
    return f"{max(1, round(BANDWIDTH_CAP_KBIT * load_scale))}kbit"


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


def packet_mend_command() -> str:
    """iptables, run on a node, that takes every packet-loss rule of ``packet_loss_command`` away."""
    return f"iptables -F {LOSS_CHAIN} 2>/dev/null || true"


def interface_of(address: str) -> str:
    """Shell that prints the name of the node's interface holding ``address``."""
    return f"ip -o -4 addr show | awk '$4 ~ /^{address.replace('.', '[.]')}\\//{{print $2; exit}}'"


def bandwidth_cap_command(address: str, rate: str) -> str:
    """tc, run on a node: a token bucket (tbf) caps what leaves the interface holding ``address``."""
    return (f"dev=$({interface_of(address)}) && test -n \"$dev\" && "
            f"tc qdisc replace dev \"$dev\" root tbf rate {rate} burst 32kbit latency 400ms")


def bandwidth_uncap_command(address: str) -> str:
    return f"dev=$({interface_of(address)}) && tc qdisc del dev \"$dev\" root 2>/dev/null || true"


class _PeerFault(NodeFault):
    """A fault on the links between a node and its peers: it needs a peer."""

    def available(self, cluster: Cluster) -> str | None:
        if why := super().available(cluster):
            return why
        if len(cluster.nodes) < 2:
            return f"{self.family} acts between a node and its peers, and the cluster has no node but {self.where}"
        return None


class Partition(_PeerFault):
    """The node cut off from every other node of the cluster, both ways."""

    family = "partition"

    def _act(self) -> None:
        self.node.partition(self.peers())

    def _undo(self) -> None:
        self.node.heal()


class PacketLoss(_PeerFault):
    """``probability`` of the packets between the node and every other node dropped, both ways."""

    family = "packet-loss"

    def __init__(self, nemesis: Ledger, node: Node, probability: float = PACKET_LOSS) -> None:
        super().__init__(nemesis, node)
        self.probability = probability

    @property
    def kind(self) -> str:
        return f"{self.family} {self.probability:.0%}"

    def _act(self) -> None:
        self.node.exec(packet_loss_command(self.peers(), self.probability)).check()

    def _undo(self) -> None:
        self.node.exec(packet_mend_command()).check()


class BandwidthCap(NodeFault):
    """Everything the node sends leaves through a token bucket of ``rate`` (tc's units: "1mbit")."""

    family = "bandwidth-cap"

    def __init__(self, nemesis: Ledger, node: Node, rate: str | None = None) -> None:
        super().__init__(nemesis, node)
        self.rate = rate or bandwidth_cap()

    @property
    def kind(self) -> str:
        return f"{self.family} {self.rate}"

    def _act(self) -> None:
        self.node.exec(bandwidth_cap_command(self.node.address, self.rate)).check()

    def _undo(self) -> None:
        self.node.exec(bandwidth_uncap_command(self.node.address)).check()
