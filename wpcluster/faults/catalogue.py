"""The catalogue: named faults, each built for a cluster with its victim chosen, for drivers outside
pytest (Locust's failover shape).

    fault = build("packet-loss", nemesis)
    if (why := fault.available(nemesis.cluster)) is None:
        fault.inject()
        ...
        fault.heal()

A victim is chosen when the fault is built, so build it right before injecting it.
"""

from __future__ import annotations

from collections.abc import Callable

from wpcluster.checks.state import site_containers
from wpcluster.clients.fleet import Fleetctl
from wpcluster.core.cluster import Cluster, Node
from wpcluster.core.errors import WpclusterError
from wpcluster.core.units import ADMIN_UNIT
from wpcluster.faults.base import Fault
from wpcluster.faults.daemons import DockerdRestart, FleetdFreeze
from wpcluster.faults.links import PACKET_LOSS, BandwidthCap, PacketLoss, bandwidth_cap
from wpcluster.faults.members import MajorityLost, MemberReplace
from wpcluster.faults.nemesis import Nemesis
from wpcluster.faults.power import NodeKill
from wpcluster.faults.services import (
    DB_LATENCY_MS,
    S3_LATENCY_MS,
    PathLatency,
    PathStall,
    ServicePause,
    ServiceStop,
)

Builder = Callable[[Nemesis], Fault]


def admin_node(cluster: Cluster) -> Node:
    """The node fleet placed wordpress-admin on."""
    admin = Fleetctl(cluster).placed(ADMIN_UNIT)
    return next(n for n in cluster.nodes if n.address == admin.ip)


def busiest_node(cluster: Cluster, besides: Node | None = None) -> Node:
    """The node running the most public WordPress containers (at least two of five, on three nodes),
    ``besides`` left out when another is running."""
    public = [sid.partition(".")[0] for backend, sid in site_containers(cluster) if backend == "wordpress"]
    running = [n for n in cluster.nodes if n.is_running()]
    candidates = [n for n in running if besides is None or n.name != besides.name] or running
    return max(candidates, key=lambda n: public.count(n.name))


def nth_node(cluster: Cluster, index: int) -> Node:
    """The cluster's node at ``index`` (in the shape's order), or an error saying the cluster is too small."""
    if index >= len(cluster.nodes):
        raise WpclusterError(f"the catalogue's fault acts on node {index + 1} of the cluster, which has "
                             f"{len(cluster.nodes)}", "run it on a cluster of three nodes")
    return cluster.nodes[index]


def lossy_node(cluster: Cluster) -> Node:
    """The node whose links the packet-loss fault makes lossy: the second one."""
    return nth_node(cluster, 1)


_CATALOGUE: dict[str, Builder] = {
    "node-kill": lambda n: NodeKill(n, admin_node(n.cluster)),
    "packet-loss": lambda n: PacketLoss(n, lossy_node(n.cluster), PACKET_LOSS),
    "bandwidth-cap": lambda n: BandwidthCap(n, busiest_node(n.cluster), bandwidth_cap()),  # what it sends
    "etcd-majority-lost": lambda n: MajorityLost(n, n.cluster.nodes[1:]),  # every member but the first one
    "db-stop": lambda n: ServiceStop(n, "db"),
    "db-pause": lambda n: ServicePause(n, "db"),
    "s3-stop": lambda n: ServiceStop(n, "s3"),
    # Over when the restart returns: systemd restarts the units.
    "dockerd-restart": lambda n: DockerdRestart(n, nth_node(n.cluster, 1)),
    "etcd-member-replace": lambda n: MemberReplace(n, nth_node(n.cluster, 2)),
    # The node's fleet watchdog should have replaced the frozen fleetd by the time it is healed.
    "fleetd-freeze": lambda n: FleetdFreeze(n, nth_node(n.cluster, 1)),
    "db-latency": lambda n: PathLatency(n, "db", DB_LATENCY_MS),
    "db-stall": lambda n: PathStall(n, "db"),
    "s3-latency": lambda n: PathLatency(n, "s3", S3_LATENCY_MS),
    "s3-stall": lambda n: PathStall(n, "s3"),
}


def catalogue() -> dict[str, Builder]:
    """Every named fault: name -> what builds it, victim chosen, for a nemesis's cluster."""
    return dict(_CATALOGUE)


def build(name: str, nemesis: Nemesis) -> Fault:
    """The catalogue's fault ``name`` for ``nemesis``'s cluster, not yet injected; check ``available``
    before injecting it (the nemesis heals it at teardown too)."""
    if name not in _CATALOGUE:
        raise ValueError(f"no fault {name!r}; the catalogue has {', '.join(_CATALOGUE)}")
    return _CATALOGUE[name](nemesis)
