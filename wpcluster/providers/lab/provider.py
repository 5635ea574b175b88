"""The lab: a CoreOS-style cluster of systemd containers on the local Docker engine.

Each node is a container running systemd as PID 1 with its own dockerd,
etcd2, fleetd and sshd (node.py). Beside them, on the same lab network, run the hosts
outside the fleet cluster (the lab is a ``hosts.network.HostNetwork``): the etcd discovery
service and the image registry, and the site's MariaDB, S3 store, fault proxy and top LB
(``hosts/site_hosts.py``; its HAProxy configuration is ``hosts/top_lb.py``).
Everything carries a ``wpcluster.run`` label; ``up`` first removes whatever
an earlier, interrupted run left behind.
"""

from __future__ import annotations

import secrets
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import docker.errors
import docker.models.containers

from wpcluster.core import ledger
from wpcluster.core.build_cache import cache_dir
from wpcluster.core.cluster import Cluster
from wpcluster.core.errors import LabError
from wpcluster.core.labels import ROLE_LABEL, RUN_LABEL, TIMERS_LABEL, lab_of, leftovers, new_run_id
from wpcluster.core.progress import say, step
from wpcluster.core.results import append_figures
from wpcluster.core.secrets import Secrets
from wpcluster.core.shape import Shape
from wpcluster.core.waits import NotReached, eventually
from wpcluster.providers import bootstrap
from wpcluster.providers.hosts import subnet
from wpcluster.providers.hosts.containers import tarball
from wpcluster.providers.hosts.engine import connect, ensure_engine
from wpcluster.providers.hosts.images import ImageBuilder
from wpcluster.providers.hosts.network import HostNetwork
from wpcluster.providers.lab import lease
from wpcluster.providers.lab.node import BOOT_TIMEOUT, NODE_HOST_CONFIG, LabNode, lab_ssh_key
from wpcluster.providers.ssh import SSHAgent

HEALTH_TIMEOUT = 60.0


def live_nodes(client: docker.DockerClient, shape: Shape) -> list[docker.models.containers.Container]:
    """The running node containers of this shape's lab, whichever run brought them up."""
    return [c for c in client.containers.list(filters={"label": [RUN_LABEL, f"{ROLE_LABEL}=node"]})
            if lab_of(c.labels) == shape.lab_name]


def secrets_path(shape: Shape, run_id: str) -> Path:
    """Where a lab run keeps the deployment's secrets (0600), so a kept lab is redeployed with the same."""
    return cache_dir() / "labs" / shape.lab_name / run_id / "secrets.env"


class Lab(HostNetwork, Cluster):
    """The lab provider's cluster. ``up()`` builds and boots it, ``down()`` removes it."""

    provider = "lab"

    def __init__(
        self,
        shape: Shape,
        run_id: str | None = None,
        client: docker.DockerClient | None = None,
        *,
        boot_timeout: float = BOOT_TIMEOUT,
        health_timeout: float = HEALTH_TIMEOUT,
        etcd_overrides: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """``etcd_overrides`` (node -> etcd2 settings) misconfigures members on purpose,
        so the harness's own tests can check that a broken cluster is reported as such."""
        self.shape = shape
        self.run_id = run_id or new_run_id()
        self._client = client
        self.boot_timeout = boot_timeout
        self.health_timeout = health_timeout
        self.etcd_overrides = etcd_overrides or {}
        self.nodes = [LabNode(self, name, shape.node_address(name)) for name in shape.nodes]
        self.discovery_url: str | None = None
        self._agent: SSHAgent | None = None

    # ---- endpoints ---------------------------------------------------------------------
    @property
    def node_addresses(self) -> dict[str, str]:
        return {node.name: node.address for node in self.nodes}

    @property
    def lb_port_on_host(self) -> int:
        return self.shape.site_port_on_host

    @property
    def site_address(self) -> str:
        """The top LB, published on loopback at the site port (the seed's 127.0.0.1 wordpress.local)."""
        return f"127.0.0.1:{self.shape.site_port_on_host}"

    @property
    def fleetctl_env(self) -> dict[str, str]:
        """fleetctl reaches nodes over SSH for journal and ssh, with the lab's key in an agent."""
        if self._agent is None:
            self._agent = SSHAgent([lab_ssh_key()])
        return self._agent.env

    # ---- lifecycle --------------------------------------------------------------------------
    def up(self) -> Lab:
        """Remove leftovers, build images, boot the hosts and nodes, wait for etcd2 and fleet."""
        started, self.up_started = time.monotonic(), time.time()
        with step(f"lab {self.shape.lab_name} up (run {self.run_id}, {self.shape.lab_subnet})"):
            self.remove_leftovers()
            subnet.check_subnet_free(self.client, self.shape.lab_subnet, self.shape.source, self.shape.lab_name)
            builder = ImageBuilder(self.client, self.shape)
            with step("images"):
                images = {name: builder.image(name) for name in ("node", "discovery", "registry", "busybox")}
            try:
                self.create_network()
                with step("service hosts: discovery, registry"):
                    service = self.start_discovery(images["discovery"])
                    if self.shape.etcd_bootstrap == "discovery":
                        self.discovery_url = bootstrap.mint_discovery_url(service, self.shape.size)
                        say(f"discovery URL: {self.discovery_url}")
                    self.start_registry(images["registry"])
                with step(f"nodes: {', '.join(self.shape.nodes)}"):
                    self._start_nodes(images["node"])
                with step("etcd2 quorum and fleet machines"):
                    self.wait_healthy()
                with step("pushing images to the lab registry"):
                    self.push_image(images["busybox"], "wpcluster/busybox")
            except BaseException:
                self.save_diagnostics(self.diagnostics_dir)
                self.down()
                raise
        self.up_seconds = time.monotonic() - started
        self.images_built = list(builder.built)
        self.record_figures()
        return self

    def record_figures(self) -> Path:
        """Record how long this bring-up took, per step, and whether images were cached."""
        return append_figures(self.run_id, "lab_up", {
            "cache": "warm" if not self.images_built else "cold",
            "images_built": self.images_built,
            "wall_seconds": round(self.up_seconds, 2),
            "steps": ledger.steps_since(self.up_started),
        })

    def down(self) -> None:
        """Remove every container, network and volume of this run."""
        # Parallel workers share the run id, each with a lab of its own: only this lab's go.
        self.remove(lambda labels: labels.get(RUN_LABEL) == self.run_id and lab_of(labels) == self.shape.lab_name)
        shutil.rmtree(self.secrets_path.parent, ignore_errors=True)
        self.close()

    @property
    def down_removes_the_site(self) -> bool:
        return True

    def remove_leftovers(self) -> None:
        """Take this lab's lease (refused, naming it, while a live run holds the lab), then remove what
        earlier runs of this lab left: an interrupted run, or a lab kept with --keep-cluster."""
        lease.acquire(self.shape.lab_name, self.run_id, self.shape.source)
        everything = [c.labels for c in self.client.containers.list(all=True, filters={"label": RUN_LABEL})]
        everything += [n.attrs.get("Labels") or {} for n in self.client.networks.list(filters={"label": RUN_LABEL})]
        runs = sorted({f[RUN_LABEL] for f in leftovers(everything, self.run_id, self.shape.lab_name)})
        if runs:
            say(f"removing leftovers of earlier runs of lab {self.shape.lab_name}: {runs}")
        # Networks and volumes can outlive their containers, so sweep them even when none was found.
        self.remove(lambda labels: labels.get(RUN_LABEL) != self.run_id and lab_of(labels) == self.shape.lab_name)
        for kept in self.secrets_path.parent.parent.glob("*"):
            if kept.name != self.run_id:
                shutil.rmtree(kept, ignore_errors=True)

    def close(self) -> None:
        """Stop helpers this object started on the host (the SSH agent) and let the lab's lease go."""
        if self._agent is not None:
            self._agent.close()
        lease.release(self.shape.lab_name)

    @classmethod
    def attach(cls, shape: Shape, client: docker.DockerClient | None = None) -> Lab | None:
        """The lab that is already up (kept by an earlier run), held from now on by this process; None
        if there is none. Raises naming the live run that holds it, if another does."""
        client = client or ensure_engine()
        nodes = live_nodes(client, shape)
        runs = {c.labels[RUN_LABEL] for c in nodes}
        if len(runs) != 1 or len(nodes) != shape.size:
            return None
        timers = {c.labels.get(TIMERS_LABEL, "not recorded") for c in nodes}
        if timers != {shape.timers_text}:
            raise LabError(f"the lab that is up was brought up with the timers {', '.join(sorted(timers))}; this run's "
                           f"profile {shape.profile} has {shape.timers_text}",
                           f"run with the lab's profile, or bring the lab up again under this one: `wpcluster lab down "
                           f"&& wpcluster --profile {shape.profile} lab up`")
        lab = cls(shape, runs.pop(), client)
        lease.acquire(shape.lab_name, lab.run_id, shape.source)
        return lab

    @classmethod
    def secrets_of_live_lab(cls, shape: Shape) -> Secrets | None:
        """The deployment's secrets of the lab that is up, read without holding the lab (a Locust run beside
        a certification must not take its lease); None when no lab of this shape is up or none was deployed."""
        client = connect()
        if client is None:
            return None
        runs = {c.labels[RUN_LABEL] for c in live_nodes(client, shape)}
        if len(runs) != 1:
            return None
        path = secrets_path(shape, runs.pop())
        return Secrets.load(path) if path.is_file() else None

    @classmethod
    def require(cls, shape: Shape) -> Lab:
        """The lab that is up, or an error saying how to bring one up (for tools that need a deployed lab)."""
        lab = cls.attach(shape)
        if lab is None:
            raise LabError("no lab is up", "run `wpcluster lab up && wpcluster deploy` first")
        return lab

    def status(self) -> list[dict[str, str]]:
        """One row per lab container: name, role, run, state, address."""
        rows = []
        for c in self.client.containers.list(all=True, filters={"label": RUN_LABEL}):
            nets = c.attrs["NetworkSettings"]["Networks"]
            rows.append({
                "name": c.name, "role": c.labels.get("wpcluster.role", "?"), "run": c.labels[RUN_LABEL],
                "state": c.status, "address": next((n["IPAddress"] for n in nets.values()), ""),
            })
        return sorted(rows, key=lambda r: r["name"])

    # ---- bring-up steps ---------------------------------------------------------------
    def _node_files(self, node: LabNode) -> dict[str, tuple[str, int]]:
        """Everything cloud-config would write on the node, as path -> (content, mode)."""
        shape = self.shape
        etcd = bootstrap.etcd2_environment(shape, node.name, self.discovery_url, cluster_token=self.run_id)
        etcd.update(self.etcd_overrides.get(node.name, {}))
        return {
            "etc/machine-id": (secrets.token_hex(16) + "\n", 0o444),
            "etc/hostname": (node.name + "\n", 0o644),
            "etc/environment": (bootstrap.env_file(bootstrap.coreos_environment(shape, node.name, self.registry)),
                                0o644),
            "etc/etcd2.env": (bootstrap.env_file(etcd), 0o644),
            bootstrap.FLEET_CONF.lstrip("/"): (bootstrap.env_file(bootstrap.fleet_config(shape, node.name)), 0o644),
            bootstrap.FLEET_WATCHDOG_ENV.lstrip("/"): (
                bootstrap.env_file(bootstrap.fleet_watchdog_environment(shape, node.name)), 0o644),
            "etc/docker/daemon.json": (bootstrap.docker_daemon_config(self.registry), 0o644),
            "home/core/.ssh/authorized_keys": (lab_ssh_key().with_suffix(".pub").read_text(), 0o600),
        }

    def _start_nodes(self, image: str) -> None:
        def start(node: LabNode) -> None:
            volume = self.client.volumes.create(f"{self.container_name(node.name)}-docker",
                                                labels=self.labels("node-docker"))
            api = self.client.api
            host_config = api.create_host_config(
                binds={volume.name: {"bind": "/var/lib/docker", "mode": "rw"}}, network_mode=self.network_name,
                **NODE_HOST_CONFIG,
            )
            host_config.update(MaskedPaths=[], ReadonlyPaths=[])
            created = api.create_container(
                image, name=self.container_name(node.name), hostname=node.name, detach=True,
                labels={**self.labels("node"), "wpcluster.node": node.name}, host_config=host_config,
                volumes=["/var/lib/docker"],
            )
            container = self.client.containers.get(created["Id"])
            net = self.client.networks.get(self.network_name)
            net.disconnect(container)
            net.connect(container, ipv4_address=node.address)
            container.put_archive("/", tarball(self._node_files(node)))
            container.start()
            node.wait_booted()

        lab_ssh_key()  # made once, before the nodes' threads read it
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            futures = {node.name: pool.submit(start, node) for node in self.nodes}
        failed = {name: f.exception() for name, f in futures.items() if f.exception() is not None}
        if failed:
            if not all(isinstance(exc, LabError) for exc in failed.values()):
                raise next(iter(failed.values()))
            raise LabError(
                f"{len(failed)} of {len(self.nodes)} nodes did not boot:\n"
                + "\n".join(f"  {exc.problem}" for exc in failed.values()),
                f"read the nodes' journals under {self.diagnostics_dir}",
            )
        # The files arrive owned by root; sshd wants the key owned by the user it logs in.
        for node in self.nodes:
            node.exec("chown -R core:core /home/core").check()

    def wait_healthy(self, timeout: float | None = None) -> None:
        """etcd2: every member healthy and in the member list; fleet: every node a machine."""
        timeout = timeout or self.health_timeout
        from wpcluster.checks.state import check_etcd_healthy, check_fleet_machines
        from wpcluster.clients.fleet import Fleetctl

        fleet = Fleetctl(self)
        for what, check in [(f"etcd2 healthy with {self.shape.size} members", check_etcd_healthy),
                            ("fleet listing every node", lambda lab: check_fleet_machines(lab, fleet))]:
            try:
                eventually(lambda check=check: check(self) or True, timeout, 0.25, what=what)
            except NotReached as exc:
                raise LabError(str(exc), f"read the nodes' journals under {self.diagnostics_dir}") from None

    @property
    def secrets_path(self) -> Path:
        return secrets_path(self.shape, self.run_id)

    def secrets(self) -> Secrets:
        """Generated once per run and kept (0600) in the cache, so a kept lab is redeployed with the same."""
        return Secrets.load_or_generate(self.secrets_path)

    def save_diagnostics(self, dest: Path) -> list[Path]:
        return super().save_diagnostics(dest) + self.save_host_logs(dest)
