"""The hosts a vagrant cluster needs beside its VMs, on the Vagrant host's Docker engine.

The seed put the database on a machine of its own; here the registry the VMs pull the site's images
from, MariaDB, the S3 store, the fault proxy, the top LB (and, with ``[vagrant] discovery_service =
"host"``, the etcd discovery service) run as containers on a Docker network of their own,
``[vagrant] hosts_subnet``, at the lab's offsets ([lab.hosts]). The VMs reach that network through
the host, as they reach anything beyond their private network; the top LB reaches their vulcands on
the private network the same way. Docker keeps its bridges from forwarded traffic (a VM's, or a
container's on another bridge), so this network is opened to it while it exists (iptables'
DOCKER-USER chain, Docker's place for such rules) and closed again when it goes.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import subprocess

import docker

from wpcluster.core.errors import WpclusterError
from wpcluster.core.labels import RUN_LABEL, lab_of
from wpcluster.core.progress import say
from wpcluster.core.shape import Shape
from wpcluster.providers.hosts.engine import connect
from wpcluster.providers.hosts.images import ImageBuilder
from wpcluster.providers.hosts.network import HostNetwork
from wpcluster.providers.hosts.subnet import check_subnet_free
from wpcluster.providers.vagrant.render import node_addresses

BOOT_TIMEOUT = 0.0  # HostEngine's node boot: no node boots through these hosts (the VMs are vagrant's)
FORWARD_CHAIN = "DOCKER-USER"


def hosts_shape(shape: Shape) -> Shape:
    """The shape the hosts see: the lab's offsets and ports on [vagrant] hosts_subnet, named apart from
    any lab of the shape (<lab name>-vagrant)."""
    return dataclasses.replace(shape, lab_name=f"{shape.lab_name}-vagrant",
                               lab_subnet=ipaddress.IPv4Network(shape.vagrant.hosts_subnet))


class VagrantHosts(HostNetwork):
    """The hosts of one vagrant run (see the module's docstring)."""

    boot_timeout = BOOT_TIMEOUT
    lb_port_on_host = None  # the seed's 8888 is core-01's forwarded vulcand: the top LB takes any free port

    def __init__(self, shape: Shape, run_id: str, client: docker.DockerClient | None = None) -> None:
        self.shape = hosts_shape(shape)
        self.run_id = run_id
        self._client = client
        self.node_addresses = node_addresses(shape)
        self.vm_subnet_prefix = shape.vagrant.subnet_prefix

    def up(self, fresh: bool, discovery: bool) -> str:
        """For fresh machines, fresh hosts: remove what earlier runs left, then start the network, the
        registry (with the image the cluster suites run) and, if asked, the discovery service; returns
        the latter's client URL, or "". Machines that are there keep the hosts that are there, the
        site's data with them: stopped ones (the host rebooted) are started again, and only a missing
        registry is made anew."""
        if not fresh and self.network_exists():
            self.open_forwarding()
            self.start_stopped()
            if self.site_hosts.running("registry"):
                return ""
        else:
            self.remove_leftovers()
            check_subnet_free(self.client, self.shape.lab_subnet, self.shape.source, self.shape.lab_name,
                              key="[vagrant] hosts_subnet")
            self.create_network()
            self.open_forwarding()
        builder = ImageBuilder(self.client, self.shape)
        images = {name: builder.image(name) for name in ("registry", "busybox", *(("discovery",) if discovery else ()))}
        self.start_registry(images["registry"])
        self.push_image(images["busybox"], "wpcluster/busybox")
        return self.start_discovery(images["discovery"]) if discovery else ""

    def network_exists(self) -> bool:
        try:
            self.client.networks.get(self.network_name)
            return True
        except docker.errors.NotFound:
            return False

    def start_stopped(self) -> None:
        for container in self.client.containers.list(all=True, filters={"label": RUN_LABEL}):
            if lab_of(container.labels) == self.shape.lab_name and container.status != "running":
                say(f"starting {container.name} again")
                container.start()

    def remove_leftovers(self) -> None:
        """Containers, networks and volumes of this shape's vagrant hosts from any earlier run."""
        self.close_forwarding()
        if self.remove(lambda labels: lab_of(labels) == self.shape.lab_name):
            say(f"removed the hosts an earlier vagrant run of {self.shape.lab_name} left")

    def down(self) -> None:
        """Remove the hosts, their data and the forwarding rules. Without an engine there is nothing to remove
        (and none is installed or started for it)."""
        self._client = self._client or connect()
        if self._client is None:
            return
        self.close_forwarding()
        self.remove(lambda labels: lab_of(labels) == self.shape.lab_name)

    # ---- forwarded traffic to and from the hosts' bridge ----------------------------------------
    def bridge(self) -> str:
        network = self.client.networks.get(self.network_name)
        return network.attrs.get("Options", {}).get("com.docker.network.bridge.name") or f"br-{network.id[:12]}"

    def forwarding_rules(self, bridge: str) -> list[list[str]]:
        """Between the VMs' private network and the hosts, both ways; nothing else is let in."""
        machines = f"{self.vm_subnet_prefix}.0/24"
        return [["-i", bridge, "-d", machines, "-j", "ACCEPT"], ["-o", bridge, "-s", machines, "-j", "ACCEPT"]]

    def open_forwarding(self) -> None:
        bridge = self.bridge()
        for rule in self.forwarding_rules(bridge):
            if self._iptables("-C", rule).returncode != 0:
                done = self._iptables("-I", rule)
                if done.returncode != 0:
                    raise WpclusterError(
                        f"cannot let the VMs reach the site's hosts: iptables -I {FORWARD_CHAIN} "
                        f"{' '.join(rule)} failed: {done.stderr.strip()}",
                        "run as root on a host whose Docker engine uses iptables (its DOCKER-USER chain)")

    def close_forwarding(self) -> None:
        try:
            bridge = self.bridge()
        except docker.errors.NotFound:
            return
        for rule in self.forwarding_rules(bridge):
            while self._iptables("-C", rule).returncode == 0 and self._iptables("-D", rule).returncode == 0:
                pass

    def _iptables(self, action: str, rule: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(["iptables", "-w", action, FORWARD_CHAIN, *rule], capture_output=True, text=True)
