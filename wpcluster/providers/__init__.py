"""Providers: each brings up or reaches a cluster and hands back a ``Cluster``.

Suites never import a provider; they get a ``Cluster`` from ``open_cluster``, which says what the
provider can do (``top_lb_stats_url`` is None where the top LB is not the harness's).
"""

from __future__ import annotations

from pathlib import Path

from wpcluster.core.cluster import Cluster
from wpcluster.core.errors import WpclusterError
from wpcluster.core.shape import Shape

PROVIDERS = ("lab", "vagrant", "inventory")


def open_cluster(name: str, shape: Shape, run_id: str | None = None, reuse: bool = False,
                 inventory: str | None = None, vagrant_dir: str | None = None) -> Cluster:
    """Bring up (or, with ``reuse``, attach to a running) cluster of provider ``name``."""
    if name == "vagrant":
        from wpcluster.core.labels import new_run_id
        from wpcluster.providers.vagrant.provider import VagrantCluster

        if not vagrant_dir:
            raise WpclusterError("the vagrant provider needs a coreos-vagrant checkout",
                                 "pass --vagrant-dir PATH (or set WPCLUSTER_VAGRANT_DIR)")
        # Machines that are already up are started as they are (same discovery URL), kept or not.
        return VagrantCluster(shape, run_id or new_run_id(), Path(vagrant_dir)).up()
    if name == "inventory":
        from wpcluster.core.labels import new_run_id
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
