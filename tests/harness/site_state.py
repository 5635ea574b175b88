"""The site as the self-checks seed defects into it and hand it back: its WordPress containers, and
the wait for it to be whole again after a nested test that failed on purpose."""

from __future__ import annotations

from wpcluster.checks.state import (
    check_containers_where_placed,
    check_every_public_container_reached,
    check_registration,
)
from wpcluster.core.cluster import Cluster, Node
from wpcluster.core.waits import eventually


def wordpress_containers(cluster: Cluster) -> dict[str, tuple[Node, str]]:
    """Container id -> (node, name) of every WordPress container (the admin one too) running now."""
    found = {}
    for node in cluster.nodes:
        listing = node.exec("docker ps --no-trunc --format '{{.ID}} {{.Names}}' --filter name=wordpress").check()
        for line in listing.stdout.splitlines():
            cid, name = line.split()
            found[cid] = (node, name)
    return found


def make_whole(cluster: Cluster, deployment, etcd, vulcand, *, site=None, when: str = "again") -> None:  # noqa: ANN001
    """Every unit active (a failed one started again), its container running where fleet places it and
    nowhere else, every container registered as it runs and, given ``site``, every public container
    reached through every vulcand."""
    deployment.revive_failed_units()
    deployment.wait_units_active(timeout=120)
    eventually(lambda: check_containers_where_placed(cluster, deployment.fleet) or True, 120, 1,
               what=f"every container where fleet places its unit {when}")
    eventually(lambda: check_registration(cluster, etcd, vulcand) or True, 120, 1,
               what=f"every container registered {when}")
    if site is not None:
        wait_every_public_container_reached(cluster, site, when)


def wait_every_public_container_reached(cluster: Cluster, site, when: str = "again") -> None:  # noqa: ANN001
    eventually(lambda: check_every_public_container_reached(cluster, site) or True, 180, 2,
               what=f"every public container reached through every vulcand {when}")
