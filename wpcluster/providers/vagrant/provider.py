"""The vagrant provider: the seed's coreos-vagrant cluster, driven through python-vagrant.

Exercise 1 of the seed, done by the harness: render ``config.rb`` and
``user-data`` in the coreos-vagrant checkout (a fresh discovery URL each time
machines are created), ``vagrant up``, forget the machines' old host keys in
``~/.fleetctl/known_hosts``, load Vagrant's SSH identity into an agent and
point ``FLEETCTL_TUNNEL`` at core-01's SSH (at the next machine's while a
node fault has core-01 down). Nodes are reached over ``vagrant ssh-config``;
node faults are ``vagrant halt`` (``--force`` for a kill), ``suspend``/``resume``
and ``up``; partitions are iptables over SSH, as on every provider.

The site's hosts outside fleet (registry, MariaDB, S3 store, fault proxy, top
LB; the discovery service when [vagrant] discovery_service is "host") run on the
Vagrant host's Docker engine beside the VMs (hosts.py), so the site is deployed
and certified on the VMs as on the lab. The top LB takes a free loopback port:
the seed's 8888 stays core-01's forwarded vulcand, as exercise 1 set it.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from wpcluster.checks.state import check_etcd_healthy, check_fleet_machines
from wpcluster.core.build_cache import cache_dir
from wpcluster.core.cluster import Cluster, ServiceHost, ServicePath, SiteServices
from wpcluster.core.errors import WpclusterError
from wpcluster.core.progress import say, step
from wpcluster.core.results import run_dir
from wpcluster.core.secrets import Secrets
from wpcluster.core.shape import VAGRANT_HOST_DISCOVERY, Shape
from wpcluster.core.waits import NotReached, eventually
from wpcluster.providers.bootstrap import mint_discovery_url, new_discovery_url
from wpcluster.providers.ssh import SSHAgent, SSHNode, SSHTarget
from wpcluster.providers.vagrant.hosts import VagrantHosts
from wpcluster.providers.vagrant.render import (
    STARTED_AT_BOOT,
    node_addresses,
    render_config_rb,
    render_user_data,
)

# What each of vagrant's VM providers needs beyond vagrant itself: a program on PATH, or a plugin.
VM_PROVIDER_NEEDS: dict[str, tuple[str, str]] = {
    "virtualbox": ("VBoxManage", ""),
    "libvirt": ("", "vagrant-libvirt"),
    "vmware_desktop": ("", "vagrant-vmware-desktop"),
}
# Where each box flavour's metadata lives, by channel (coreos-vagrant's and Flatcar's box_url).
BOX_URLS = {
    "coreos": "https://{channel}.release.core-os.net/amd64-usr/current/coreos_production_vagrant.json",
    "flatcar": "https://{channel}.release.flatcar-linux.net/amd64-usr/current/flatcar_production_vagrant.json",
}
FLEETCTL_KNOWN_HOSTS = Path("~/.fleetctl/known_hosts")
HEALTHY_WITHIN = 300.0  # etcd2 discovery and fleet's first heartbeats on freshly booted VMs


class VagrantError(WpclusterError):
    """vagrant, its VM provider, its box or the discovery service is not there or refused."""


def box_name(shape: Shape) -> str:
    """The box coreos-vagrant's Vagrantfile asks for: coreos-<channel> (or flatcar-<channel>)."""
    return f"{shape.vagrant.box}-{shape.vagrant.channel}"


def known_hosts_name(host: str) -> str:
    """How known_hosts names ``host`` or ``host:port``: ``[host]:port`` unless the port is 22."""
    name, _, port = host.partition(":")
    return f"[{name}]:{port}" if port and port != "22" else name


def forget_host_keys(known_hosts: Path, hosts: list[str]) -> list[str]:
    """Drop ``hosts``' lines from fleetctl's known_hosts (the seed: new VMs, new host keys). Returns them."""
    hosts = [known_hosts_name(h) for h in hosts if h]
    path = known_hosts.expanduser()
    if not path.exists():
        return []
    kept, dropped = [], []
    for line in path.read_text().splitlines(keepends=True):
        names = line.split(" ", 1)[0].split(",") if line.strip() and not line.startswith("#") else []
        (dropped if any(n in hosts for n in names) else kept).append(line)
    if dropped:
        path.write_text("".join(kept))
    return dropped


def ssh_answers(address: str, timeout: float = 2) -> bool:
    """Whether an SSH server greets at host:port (a forwarded port of a suspended machine accepts the
    connection and says nothing)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as conn:
            conn.settimeout(timeout)
            return conn.recv(4) == b"SSH-"
    except OSError:
        return False


def parse_ssh_config(text: str) -> dict[str, dict[str, str]]:
    """`vagrant ssh-config` output -> host -> {option: value}."""
    hosts: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "Host":
            current = hosts.setdefault(value.strip(), {})
        elif key and current is not None:
            current[key] = value.strip().strip('"')
    return hosts


class VagrantNode(SSHNode):
    """A coreos-vagrant machine: SSH through `vagrant ssh-config`, power faults through vagrant."""

    def __init__(self, cluster: VagrantCluster, name: str, address: str) -> None:
        super().__init__(SSHTarget(name, address, "core", ""), cluster.ssh_config_path)
        self.cluster = cluster

    def ssh_args(self) -> list[str]:
        return ["ssh", "-F", str(self.ssh_config), "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", self.name]

    def stop(self) -> None:
        self.cluster.vagrant(f"halt {self.name}", lambda v: v.halt(vm_name=self.name))

    def kill(self) -> None:
        self.cluster.vagrant(f"halt --force {self.name}", lambda v: v.halt(vm_name=self.name, force=True))

    def start(self) -> None:
        self.cluster.vagrant(f"up {self.name}", lambda v: v.up(vm_name=self.name, provider=self.cluster.vm_provider,
                                                              stream_output=True))
        self.cluster.refresh_ssh_config()

    def pause(self) -> None:
        self.cluster.vagrant(f"suspend {self.name}", lambda v: v.suspend(vm_name=self.name))

    def unpause(self) -> None:
        self.cluster.vagrant(f"resume {self.name}", lambda v: v.resume(vm_name=self.name))

    def is_running(self) -> bool:
        return self.cluster.states().get(self.name) == "running"


class VagrantCluster(Cluster):
    provider = "vagrant"

    def __init__(self, shape: Shape, run_id: str, root: Path, hosts: VagrantHosts | None = None) -> None:
        """``hosts``: the hosts beside the VMs (by default on the local Docker engine)."""
        self.shape = shape
        self.run_id = run_id
        self.root = root.expanduser().resolve()
        self.vm_provider = shape.vagrant.provider
        self.ssh_config_path = run_dir(run_id) / "vagrant-ssh-config"
        self.log_path = run_dir(run_id) / "vagrant.log"
        self.discovery_url = ""
        self.nodes = [VagrantNode(self, name, address) for name, address in node_addresses(shape).items()]
        self._agent: SSHAgent | None = None
        self._tunnel = ""
        self._tunnels: list[str] = []
        self._client = self._python_vagrant()
        self.hosts = hosts or VagrantHosts(shape, run_id)

    # ---- vagrant, through python-vagrant -----------------------------------------------------
    def _python_vagrant(self):  # noqa: ANN202 - python-vagrant has no type hints
        if shutil.which("vagrant") is None:
            raise VagrantError("there is no `vagrant` program on PATH",
                               "install Vagrant (Debian: `apt-get install vagrant`) and run again")
        if not (self.root / "Vagrantfile").is_file():
            raise VagrantError(f"{self.root} has no Vagrantfile",
                               "pass --vagrant-dir a coreos-vagrant checkout (git clone of coreos/coreos-vagrant)")
        import vagrant  # python-vagrant; imported here so that the other providers never need it

        # Everything vagrant prints goes to the run's vagrant.log: a failure is explained from it.
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = vagrant.make_file_cm(str(self.log_path))
        return vagrant.Vagrant(str(self.root), out_cm=log, err_cm=log, env=dict(os.environ))

    def vagrant(self, what: str, call: Callable[[Any], Any]) -> Any:
        """Run one python-vagrant call, ``call(client)``, and return what it returns; a streamed command's
        steps show as progress. A failure is explained from what vagrant printed."""
        before = self.log_path.stat().st_size if self.log_path.exists() else 0
        try:
            result = call(self._client)
            if not inspect.isgenerator(result):
                return result
            for line in result:  # a streamed command: show vagrant's steps, keep every line
                with self.log_path.open("a") as log:
                    log.write(line)
                if line.startswith("==> "):
                    say(line.rstrip()[4:])
            return None
        except subprocess.CalledProcessError:
            with self.log_path.open() as log:
                log.seek(before)
                printed = log.read()
            raise explain_vagrant_failure(what, printed, self.shape) from None

    def states(self) -> dict[str, str]:
        """Machine name -> vagrant's state (running, poweroff, saved, not_created, ...)."""
        return {s.name: s.state for s in self.vagrant("status", lambda v: v.status()) if s.name}

    def check_prerequisites(self) -> None:
        """The VM provider and the box can be had (asked before anything is created)."""
        program, plugin = VM_PROVIDER_NEEDS.get(self.vm_provider, ("", f"vagrant-{self.vm_provider}"))
        if plugin and plugin not in {p.name for p in self.vagrant("plugin list", lambda v: v.plugin_list())}:
            raise VagrantError(f"vagrant's {self.vm_provider} provider needs the {plugin} plugin, which is not "
                               "installed", f"`vagrant plugin install {plugin}`, or set [vagrant] provider in "
                               f"{self.shape.source}")
        if program and shutil.which(program) is None:
            raise VagrantError(f"vagrant's {self.vm_provider} provider needs {program}, which is not on PATH",
                               f"install it, or set [vagrant] provider in {self.shape.source}")
        name = box_name(self.shape)
        if any(b.name == name for b in self.vagrant("box list", lambda v: v.box_list())):
            return
        url = BOX_URLS[self.shape.vagrant.box].format(channel=self.shape.vagrant.channel)
        try:
            answer = requests.head(url, timeout=10, allow_redirects=True)
            reason = "" if answer.status_code == 200 else f"it answered {answer.status_code}"
        except requests.RequestException as exc:
            reason = f"it does not answer ({exc})"
        if reason:
            raise VagrantError(f"the box {name} is not installed and cannot be had from {url}: {reason}",
                               f"`vagrant box add {name} <box file or URL>`, or set [vagrant] box and channel "
                               f"in {self.shape.source} to a box you have")

    def check_site_port_free(self) -> None:
        """The seed forwards core-01's vulcand to the site's port on the host; vagrant would quietly move a
        forward whose port is taken (auto_correct), and the site would not answer where the tutorial says."""
        port = self.shape.site_port
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                raise VagrantError(f"port {port} on this host is taken ({exc.strerror}): the seed forwards core-01's "
                                   f"vulcand there, and vagrant would move it elsewhere",
                                   f"free port {port} (`ss -ltnp 'sport = :{port}'` names who holds it), or set "
                                   f"[cluster] site_port in {self.shape.source}") from None

    def check_hosts_reachable(self) -> None:
        """The VMs must reach the hosts beside them (the registry, the site's hosts) through this host."""
        node = self.nodes[0]
        registry = self.registry
        answer = node.exec(f"curl -s -o /dev/null -m 5 -w '%{{http_code}}' http://{registry}/v2/", timeout=20)
        if answer.stdout.strip() != "200":
            raise VagrantError(
                f"{node.name} cannot reach the registry beside the VMs at {registry} (curl: "
                f"{answer.stdout.strip() or answer.stderr.strip() or 'no answer'}): the VMs reach [vagrant] "
                "hosts_subnet through this host",
                "let the VM network forward to it: IP forwarding on, and no firewall rule dropping the VMs' traffic "
                f"to {self.shape.vagrant.hosts_subnet} (`iptables -S FORWARD`); or pick another [vagrant] "
                f"hosts_subnet in {self.shape.source}")

    # ---- lifecycle ------------------------------------------------------------------------------
    def up(self) -> VagrantCluster:
        """Create (or start) the machines, then wait for etcd2's quorum and every fleet machine."""
        with step(f"vagrant cluster in {self.root}"):
            states = self.states()
            fresh = all(states.get(name, "not_created") == "not_created" for name in self.shape.nodes)
            if fresh:
                self.check_prerequisites()
                self.check_site_port_free()
            host_discovery = fresh and self.shape.vagrant.discovery_service == VAGRANT_HOST_DISCOVERY
            try:
                with step("hosts beside the VMs: registry" + (", discovery" if host_discovery else "")):
                    service = self.hosts.up(fresh=fresh, discovery=host_discovery)
                if fresh:
                    with step("a fresh etcd discovery URL"):
                        self.discovery_url = (mint_discovery_url(service, self.shape.size) if host_discovery else
                                              new_discovery_url(self.shape.vagrant.discovery_service, self.shape.size))
                        say(self.discovery_url)
                    self.render()
                with step(f"vagrant up --provider={self.vm_provider}"):
                    self.vagrant("up", lambda v: v.up(provider=self.vm_provider, stream_output=True))
                self.refresh_ssh_config()
                if fresh:
                    dropped = forget_host_keys(FLEETCTL_KNOWN_HOSTS, [self._tunnel, *[n.address for n in self.nodes]])
                    if dropped:
                        say(f"forgot {len(dropped)} stale host key(s) in {FLEETCTL_KNOWN_HOSTS}")
                self.check_hosts_reachable()
                with step("etcd2 quorum and fleet machines"):
                    self.wait_healthy()
            except BaseException:
                if fresh:  # what this bring-up created goes again; machines (and hosts) that were there stay
                    say("the bring-up failed: destroying the machines and hosts it created (vagrant.log keeps what "
                        "happened)")
                    try:
                        self.down()
                    except Exception as exc:  # noqa: BLE001 - the bring-up's own error is the one to see
                        say(f"taking it down failed too: {exc}")
                raise
        return self

    def render(self) -> None:
        """config.rb and user-data in the checkout, from the shape, keeping what the user has there."""
        config_rb, user_data = self.root / "config.rb", self.root / "user-data"
        sample = self.root / "user-data.sample"
        existing = user_data.read_text() if user_data.exists() else sample.read_text() if sample.exists() else ""
        config_rb.write_text(render_config_rb(self.shape, config_rb.read_text() if config_rb.exists() else ""))
        user_data.write_text(render_user_data(self.shape, self.discovery_url, existing, registry=self.registry))

    def wait_healthy(self, timeout: float = HEALTHY_WITHIN) -> None:
        from wpcluster.clients.fleet import Fleetctl

        fleet = Fleetctl(self)
        try:
            eventually(lambda: check_etcd_healthy(self) or True, timeout, 2, what="etcd2 healthy on every node")
            eventually(lambda: check_fleet_machines(self, fleet) or True, timeout, 2,
                       what=f"fleet listing {self.shape.size} machines")
        except NotReached as exc:
            raise VagrantError(str(exc), "look at `vagrant ssh core-01 -c 'journalctl -u etcd2 -u fleet'`") from None

    def refresh_ssh_config(self) -> None:
        """Write `vagrant ssh-config` for every machine; load its identities; aim the tunnel at the first."""
        text = self.vagrant("ssh-config", lambda v: v.ssh_config())
        self.ssh_config_path.parent.mkdir(parents=True, exist_ok=True)
        self.ssh_config_path.write_text(text)
        hosts = parse_ssh_config(text)
        first = hosts.get(self.shape.nodes[0])
        if first is None:
            raise VagrantError(f"`vagrant ssh-config` names {sorted(hosts)}, not {self.shape.nodes[0]}",
                               "check $instance_name_prefix and $num_instances in config.rb")
        self._tunnels = [f"{h.get('HostName', '127.0.0.1')}:{h.get('Port', '22')}"
                         for h in (hosts.get(name) for name in self.shape.nodes) if h is not None]
        self._tunnel = self._tunnels[0]
        keys = sorted({Path(h["IdentityFile"]).expanduser() for h in hosts.values() if "IdentityFile" in h})
        if self._agent is not None:
            self._agent.close()
        self._agent = SSHAgent(keys)

    def halt(self) -> None:
        self.vagrant("halt", lambda v: v.halt())

    def down(self) -> None:
        """Destroy the machines, forget their host keys, remove the hosts beside them and the secrets."""
        self.close()
        try:
            self.vagrant("destroy", lambda v: v.destroy())
            forget_host_keys(FLEETCTL_KNOWN_HOSTS, [self._tunnel, *[n.address for n in self.nodes]])
        finally:
            try:
                self.hosts.down()
            finally:
                shutil.rmtree(self.secrets_path.parent, ignore_errors=True)

    @property
    def down_removes_the_site(self) -> bool:
        return True

    @property
    def started_at_boot(self) -> frozenset[str]:
        return frozenset(STARTED_AT_BOOT)

    def close(self) -> None:
        if self._agent is not None:
            self._agent.close()
            self._agent = None

    # ---- endpoints ------------------------------------------------------------------------------
    @property
    def fleet_tunnel(self) -> str:
        """The seed's tunnel goes through core-01; when core-01 is down (a node fault), through the first
        machine whose SSH answers, so that fleetctl still reaches the cluster."""
        for tunnel in self._tunnels:
            if ssh_answers(tunnel):
                return tunnel
        return self._tunnel

    @property
    def fleetctl_env(self) -> dict[str, str]:
        agent = self._agent.env if self._agent is not None else {}
        return {**super().fleetctl_env, **agent}

    @property
    def registry(self) -> str:
        return self.hosts.registry

    @property
    def site_address(self) -> str:
        """The top LB beside the VMs, on the loopback port it was given."""
        return f"127.0.0.1:{self.hosts.published_port('lb', self.shape.site_port)}"

    @property
    def top_lb_stats_url(self) -> str | None:
        return self.hosts.top_lb_stats_url

    @property
    def seed_site_address(self) -> str:
        """config.rb's forward of core-01's vulcand (exercise 1c)."""
        return f"127.0.0.1:{self.shape.site_port}"

    @property
    def secrets_path(self) -> Path:
        return cache_dir() / "vagrant" / self.hosts.shape.lab_name / "secrets.env"

    def secrets(self) -> Secrets:
        """Generated once per cluster (its hosts are the shape's, whichever checkout) and kept (0600) in the
        cache until ``down``."""
        return Secrets.load_or_generate(self.secrets_path)

    def prepare_site(self, secrets: Secrets) -> SiteServices:
        """Build and push the site's images; start MariaDB, the S3 store, the fault proxy and the top LB."""
        return self.hosts.prepare_site(secrets)

    def start_store(self, image: str, key: str, secret: str) -> None:
        self.hosts.start_store(image, key, secret)

    def service_host(self, role: str) -> ServiceHost:
        return self.hosts.service_host(role)

    def service_path(self, role: str) -> ServicePath:
        return self.hosts.service_path(role)

    def host_versions(self) -> dict:
        return self.hosts.host_versions()

    def save_diagnostics(self, dest: Path) -> list[Path]:
        return super().save_diagnostics(dest) + self.hosts.save_host_logs(dest)


def explain_vagrant_failure(what: str, output: str, shape: Shape) -> VagrantError:
    """Turn what a failed vagrant command printed into the error people can act on."""
    tail = "\n".join(output.splitlines()[-15:])
    lowered = output.lower()
    if re.search(r"provider '[^']+' could not be found", lowered):
        return VagrantError(f"vagrant has no such VM provider:\n{tail}",
                            f"install the provider's plugin, or set [vagrant] provider in {shape.source}")
    if re.search(r"box '[^']+' could not be found|failed to download|could not resolve host", lowered):
        return VagrantError(f"the box {box_name(shape)} cannot be had:\n{tail}",
                            f"`vagrant box add {box_name(shape)} <box file or URL>`, or set [vagrant] box and "
                            f"channel in {shape.source}")
    return VagrantError(f"`vagrant {what}` failed:\n{tail}", "read vagrant's message above")
