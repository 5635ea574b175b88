"""Checkers (Jepsen's verdicts): assertions about the cluster's state that say what is wrong."""

from __future__ import annotations

from wpcluster.clients.etcd import cluster_health
from wpcluster.clients.fleet import Fleetctl
from wpcluster.cluster import Cluster


def check_etcd_healthy(cluster: Cluster) -> None:
    """Every member answers healthy, and the member list is exactly the shape's nodes."""
    health = cluster_health(cluster.etcd_endpoints, names=[n.name for n in cluster.nodes])
    assert health.healthy, f"etcd2 is not healthy: {health.describe()}"
    listed = sorted(m.get("name", "") for m in health.members)
    assert listed == sorted(cluster.shape.nodes), (
        f"etcd2 lists members {listed}, the shape has {list(cluster.shape.nodes)}: {health.describe()}"
    )


def check_fleet_machines(cluster: Cluster, fleet: Fleetctl) -> None:
    """fleet lists exactly one machine per node, at the node's address."""
    listed = sorted(m.ip for m in fleet.list_machines())
    wanted = sorted(n.address for n in cluster.nodes)
    assert listed == wanted, f"fleet lists machines {listed}, expected {wanted}"
