"""The hosts of one run on the local Docker engine: a network of their own, each host at its fixed address.

A provider that runs hosts beside its nodes (the lab: everything; vagrant: what is not a VM) holds a
``HostNetwork``: it names and labels the run's containers by the shape's [lab] name and the run id,
creates the network at the shape's [lab] subnet, starts hosts on it (the etcd discovery service, the
image registry, the site's hosts in site_hosts.py), pushes images to the registry through its
loopback port, and removes what a run left. It is the ``HostEngine`` the site's hosts are started
through.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import docker.errors
import docker.models.containers
import docker.types
import requests

from wpcluster.core.cluster import SiteServices
from wpcluster.core.errors import LabError
from wpcluster.core.labels import RUN_LABEL, TIMERS_LABEL, run_labels
from wpcluster.core.results import run_dir
from wpcluster.core.secrets import Secrets
from wpcluster.core.shape import Shape
from wpcluster.core.waits import eventually
from wpcluster.providers.hosts import top_lb
from wpcluster.providers.hosts.containers import container_name
from wpcluster.providers.hosts.engine import ensure_engine
from wpcluster.providers.hosts.fault_proxy import ToxiproxyPath
from wpcluster.providers.hosts.service_host import ContainerServiceHost
from wpcluster.providers.hosts.site_hosts import SiteHosts

HOST_ROLES = ("discovery", "registry", "db", "s3", "faultproxy", "lb")


class HostNetwork:
    """One run's hosts on the local engine (see the module's docstring)."""

    shape: Shape
    run_id: str
    _client: docker.DockerClient | None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = ensure_engine()
        return self._client

    @property
    def network_name(self) -> str:
        return self.container_name("lab")

    def container_name(self, role: str) -> str:
        return container_name(self.shape.lab_name, role)

    def labels(self, role: str) -> dict[str, str]:
        return {**run_labels(self.run_id, role, self.shape.lab_name), TIMERS_LABEL: self.shape.timers_text}

    @property
    def diagnostics_dir(self) -> Path:
        """Where a failed bring-up leaves the nodes' journals and the hosts' logs."""
        return run_dir(self.run_id) / "diagnostics" / "lab-up"

    @property
    def registry(self) -> str:
        return self.shape.registry

    @property
    def registry_push_address(self) -> str:
        """Where the host pushes: the registry's loopback port (Docker trusts loopback registries)."""
        return f"127.0.0.1:{self.published_port('registry', self.shape.lab_ports['registry'])}"

    def published_port(self, role: str, port: int) -> int:
        """The loopback port on which the ``role`` host publishes its ``port``."""
        try:
            ports = self.client.api.inspect_container(self.container_name(role))["NetworkSettings"]["Ports"]
            return int(ports[f"{port}/tcp"][0]["HostPort"])
        except (docker.errors.NotFound, KeyError, IndexError, TypeError):
            host = self.container_name(role)
            raise LabError(f"the {role} host ({host}) is not running",
                           f"start it (`docker start {host}`), or bring the cluster up again") from None

    def create_network(self) -> None:
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(
            subnet=str(self.shape.lab_subnet), gateway=self.shape.lab_gateway)])
        try:
            self.client.networks.create(self.network_name, driver="bridge", ipam=ipam,
                                        labels=self.labels("network"))
        except docker.errors.APIError as exc:
            raise LabError(f"cannot create the lab network {self.shape.lab_subnet}: {exc.explanation}",
                           f"choose a free subnet in [lab] subnet of {self.shape.source}") from None

    def run_host(self, role: str, image: str, address: str, start: bool = True,
                  **options) -> docker.models.containers.Container:  # noqa: ANN003
        try:  # a stopped host of this run (it died, or a test stopped it) is replaced
            self.client.containers.get(self.container_name(role)).remove(force=True)
        except docker.errors.NotFound:
            pass
        container = self.client.containers.create(
            image, name=self.container_name(role), hostname=role, labels=self.labels(role), detach=True,
            network=self.network_name, **options,
        )
        # The fixed address must be set on the endpoint before start; create() only names the network.
        self.client.networks.get(self.network_name).disconnect(container)
        self.client.networks.get(self.network_name).connect(container, ipv4_address=address)
        if start:
            container.start()
        return container

    def start_discovery(self, image: str) -> str:
        """The etcd discovery service (an etcd whose v2 keys API speaks discovery.etcd.io's protocol);
        returns its client URL, where tokens are made."""
        address = self.shape.host_address("discovery")
        self.run_host("discovery", image, address,
                       environment={"ETCD_ADVERTISE_CLIENT_URLS": self.shape.etcd_client_url(address),
                                    "ETCD_LISTEN_CLIENT_URLS": f"http://0.0.0.0:{self.shape.etcd_client_port}"})
        service = self.shape.etcd_client_url(address)
        eventually(lambda: requests.get(f"{service}/health", timeout=2).json()["health"] == "true",
                   30, 0.2, what=f"discovery service {service} healthy")
        return service

    def start_registry(self, image: str) -> None:
        port = self.shape.lab_ports["registry"]
        self.run_host("registry", image, self.shape.host_address("registry"),
                       environment={"REGISTRY_HTTP_ADDR": f":{port}"}, ports={f"{port}/tcp": ("127.0.0.1", None)})
        eventually(lambda: requests.get(f"http://{self.registry_push_address}/v2/", timeout=2).ok,
                   30, 0.2, what=f"the registry {self.container_name('registry')} answering")

    def push_image(self, local_tag: str, repository: str) -> str:
        """Push a local image into the run's registry as ``repository:latest``; return the node-side name."""
        target = f"{self.registry_push_address}/{repository}"
        self.client.images.get(local_tag).tag(target, "latest")
        for line in self.client.images.push(target, tag="latest", stream=True, decode=True):
            if "error" in line:
                raise LabError(f"pushing {repository} to the registry failed: {line['error']}",
                               f"check the registry container's log ({self.container_name('registry')})")
        self.client.images.remove(f"{target}:latest")
        return f"{self.registry}/{repository}"

    # ---- the site's hosts outside fleet (site_hosts.py) ---------------------------------------
    @property
    def top_lb_stats_url(self) -> str | None:
        return top_lb.lb_stats_url(self.shape)

    @property
    def site_hosts(self) -> SiteHosts:
        return SiteHosts(self)

    def prepare_site(self, secrets: Secrets) -> SiteServices:
        """Build and push the site's images; start MariaDB, the S3 store, the fault proxy and the top LB."""
        return self.site_hosts.prepare(secrets)

    def start_store(self, image: str, key: str, secret: str) -> None:
        self.site_hosts.start_store(image, key, secret)

    def service_host(self, role: str) -> ContainerServiceHost:
        return self.site_hosts.service_host(role)

    def service_path(self, role: str) -> ToxiproxyPath:
        return self.site_hosts.service_path(role)

    def host_versions(self) -> dict:
        return self.site_hosts.host_versions()

    def remove(self, selected: Callable[[dict[str, str]], bool]) -> int:
        """Remove the labelled containers, networks and volumes whose labels are ``selected``; returns how
        many containers went."""
        client = self.client
        containers = [c for c in client.containers.list(all=True, filters={"label": RUN_LABEL})
                      if selected(c.labels)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda c: c.remove(force=True, v=True), containers))
        for net in client.networks.list(filters={"label": RUN_LABEL}):
            if selected(net.attrs.get("Labels") or {}):
                net.remove()
        for volume in client.volumes.list(filters={"label": RUN_LABEL}):
            if selected(volume.attrs.get("Labels") or {}):
                volume.remove(force=True)
        return len(containers)

    def save_host_logs(self, dest: Path) -> list[Path]:
        """Each host's log (its last 2,000 lines) under ``dest``."""
        written = []
        for role in HOST_ROLES:
            try:
                log = self.client.containers.get(self.container_name(role)).logs(tail=2000).decode(errors="replace")
            except docker.errors.DockerException:
                continue
            path = dest / f"{role}.log.txt"
            path.write_text(log)
            written.append(path)
        return written
