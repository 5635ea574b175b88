"""The inventory provider: certify an existing cluster, named in a YAML inventory, over SSH.

Nothing is brought up and nothing is deployed: the suites find the cluster and
the site as they are. Commands run on the nodes through ``ssh`` (as the
inventory's user, with sudo); node power faults are refused, and destructive
suites are refused by the harness unless ``--allow-destructive`` names the
inventory.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import urlsplit

from wpcluster.core.cluster import Cluster, SiteServices
from wpcluster.core.results import run_dir
from wpcluster.core.secrets import Secrets
from wpcluster.core.shape import Shape
from wpcluster.providers.inventory.schema import Inventory
from wpcluster.providers.ssh import SSH_OPTIONS, SSHAgent, SSHNode


class InventoryCluster(Cluster):
    provider = "inventory"

    def __init__(self, inventory: Inventory, shape: Shape, run_id: str) -> None:
        site = urlsplit(inventory.site_url)
        self.inventory = inventory
        self.run_id = run_id
        # The cluster.toml shape, with the inventory's nodes and site: the inventory is the truth here.
        self.shape = dataclasses.replace(shape, nodes=tuple(n.name for n in inventory.nodes),
                                         site_host=site.hostname or "", site_port=site.port or 80)
        ssh_config = run_dir(run_id) / "inventory-ssh-config"
        ssh_config.write_text("".join(
            f"Host {n.name}\n  HostName {n.address}\n  User {n.user}\n"
            + (f"  IdentityFile {Path(n.key).expanduser()}\n" if n.key else "")
            + "".join(f"  {SSH_OPTIONS[i + 1].replace('=', ' ')}\n" for i in range(0, len(SSH_OPTIONS), 2))
            for n in inventory.nodes))
        self.nodes = [SSHNode(n, ssh_config) for n in inventory.nodes]
        keys = sorted({Path(n.key).expanduser() for n in inventory.nodes if n.key})
        self._agent = SSHAgent(keys)

    deploys = False

    @property
    def etcd_endpoints(self) -> list[str]:
        return list(self.inventory.etcd_endpoints)

    @property
    def fleet_tunnel(self) -> str:
        return self.inventory.fleet_tunnel

    @property
    def fleet_endpoints(self) -> list[str]:
        return [self.inventory.fleet_endpoint] if self.inventory.fleet_endpoint else super().fleet_endpoints

    @property
    def fleetctl_env(self) -> dict[str, str]:
        return {**super().fleetctl_env, **self._agent.env}

    @property
    def registry(self) -> str:
        return ""

    @property
    def site_address(self) -> str:
        site = urlsplit(self.inventory.site_url)
        return self.inventory.site_address or f"{site.hostname}:{site.port or 80}"

    def secrets(self) -> Secrets:
        return Secrets.load(Path(self.inventory.secrets).expanduser())

    def prepare_site(self, secrets: Secrets) -> SiteServices:
        """An inventory's services are the ones it names; nothing is started."""
        endpoint = self.inventory.s3_endpoint.rstrip("/")
        return SiteServices(db_host="", s3_endpoint=endpoint, s3_harness_endpoint=endpoint,
                            bucket=self.inventory.s3_bucket, public_url=f"{endpoint}/{self.inventory.s3_bucket}")

    def close(self) -> None:
        self._agent.close()
