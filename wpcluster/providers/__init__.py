"""Providers: each brings up or reaches a cluster and hands back a ``Cluster``.

Suites never import a provider; they get a ``Cluster`` from ``open_cluster``.
"""

from __future__ import annotations

from wpcluster.cluster import Cluster
from wpcluster.errors import WpclusterError
from wpcluster.shape import Shape

PROVIDERS = ("lab", "inventory")


def open_cluster(name: str, shape: Shape, run_id: str | None = None, reuse: bool = False,
                 inventory: str | None = None) -> Cluster:
    """Bring up (or, with ``reuse``, attach to a running) cluster of provider ``name``."""
    if name == "inventory":
        from wpcluster.labels import new_run_id
        from wpcluster.providers.inventory.provider import InventoryCluster
        from wpcluster.providers.inventory.schema import load_inventory

        if not inventory:
            raise WpclusterError("the inventory provider needs an inventory file", "pass --inventory PATH")
        return InventoryCluster(load_inventory(inventory), shape, run_id or new_run_id())
    if name == "lab":
        from wpcluster.providers.lab.provider import Lab

        if reuse:
            # A kept lab is taken as it is: the suites, not the bring-up, judge its health.
            kept = Lab.attach(shape)
            if kept is not None:
                return kept
        return Lab(shape, run_id).up()
    raise WpclusterError(f"unknown provider {name!r}", f"use one of: {', '.join(PROVIDERS)}")
