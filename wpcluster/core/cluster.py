"""The one cluster interface every suite talks to.

A provider (lab, vagrant, inventory) implements ``Node`` and ``Cluster``;
suites and fixtures only ever see these two types, so the same suite
certifies a Docker lab, the seed's VMs or a production cluster.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from wpcluster.core.errors import WpclusterError
from wpcluster.core.secrets import Secrets
from wpcluster.core.shape import Shape


@dataclass(frozen=True)
class SiteServices:
    """Where the site's services outside the fleet cluster are."""

    db_host: str  # host:port, as containers on the nodes reach it
    s3_endpoint: str  # URL, as containers on the nodes reach it
    s3_harness_endpoint: str  # URL, as the harness reaches it
    bucket: str
    public_url: str  # where visitors fetch the bucket's objects (the cache home for assets)


@dataclass(frozen=True)
class ExecResult:
    """What a command run on a node returned."""

    command: str
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def check(self) -> ExecResult:
        """Return self, or raise naming the command, its exit code and its stderr."""
        if not self.ok:
            raise RuntimeError(
                f"`{self.command}` exited {self.exit_code}: {(self.stderr or self.stdout).strip()[-800:]}"
            )
        return self


PARTITION_CHAIN = "WPCLUSTER-PARTITION"
# Undo every partition of a node: empty the chain its rules live in.
HEAL_COMMAND = f"iptables -F {PARTITION_CHAIN} 2>/dev/null || true"


def node_at(nodes: Iterable[Node], address: str) -> Node | None:
    """The node of ``nodes`` at ``address`` (fleet names machines by address), or None."""
    return next((n for n in nodes if n.address == address), None)


def partition_command(peers: list[Node]) -> str:
    """iptables, run on a node, that drops everything to and from ``peers`` (and what it forwards)."""
    rules = [f"iptables -N {PARTITION_CHAIN} 2>/dev/null || true"]
    for hook in ("INPUT", "OUTPUT", "FORWARD"):
        rules.append(f"iptables -C {hook} -j {PARTITION_CHAIN} 2>/dev/null || iptables -I {hook} -j {PARTITION_CHAIN}")
    for peer in peers:
        rules += [f"iptables -A {PARTITION_CHAIN} -s {peer.address} -j DROP",
                  f"iptables -A {PARTITION_CHAIN} -d {peer.address} -j DROP"]
    return " && ".join(rules)


class Node(abc.ABC):
    """One CoreOS-style host: it runs etcd2, fleetd and docker under systemd."""

    name: str
    address: str

    @abc.abstractmethod
    def exec(self, command: str, timeout: float = 60) -> ExecResult:
        """Run a shell command on the node as root."""

    # Node faults. Each leaves the node in a state ``start``/``unpause``/``heal`` undoes.
    @abc.abstractmethod
    def stop(self) -> None:
        """Shut the node down cleanly (systemd stops its units)."""

    @abc.abstractmethod
    def start(self) -> None:
        """Boot a stopped or killed node."""

    @abc.abstractmethod
    def kill(self) -> None:
        """Power the node off at once: nothing gets to shut down."""

    @abc.abstractmethod
    def pause(self) -> None:
        """Freeze every process on the node (a gray failure: it looks alive to the network)."""

    @abc.abstractmethod
    def unpause(self) -> None:
        """Thaw a paused node."""

    def partition(self, peers: list[Node]) -> None:
        """Drop all traffic between this node and ``peers`` (both directions), with iptables on the node."""
        self.exec(partition_command(peers)).check()

    def heal(self) -> None:
        """Undo every partition this node is part of."""
        self.exec(HEAL_COMMAND).check()

    @property
    @abc.abstractmethod
    def testinfra_spec(self) -> str:
        """How pytest-testinfra reaches this node (``docker://...``, ``ssh://...``)."""

    @abc.abstractmethod
    def is_running(self) -> bool:
        """Whether the node is powered on and not paused."""

    @abc.abstractmethod
    def put_file(self, path: str, content: str, mode: int = 0o644) -> None:
        """Write ``content`` to ``path`` on the node (parents created) without it passing a command line."""

    def journal(self, unit: str | None = None, lines: int = 2000) -> str:
        """The node's journal (of one unit, if given), newest ``lines`` lines."""
        selector = f"-u {unit} " if unit else ""
        return self.exec(f"journalctl --no-pager -o short-iso -n {lines} {selector}").stdout

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.address}>"


class ServiceHost(abc.ABC):
    """A host of the site outside the fleet cluster (MariaDB, the S3 store) that faults can act on."""

    role: str

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the service (its data stays)."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start a stopped service again and return once it answers."""

    @abc.abstractmethod
    def pause(self) -> None:
        """Freeze the service: connections are accepted by the kernel and never answered."""

    @abc.abstractmethod
    def unpause(self) -> None:
        """Thaw a paused service."""


class ServicePath(abc.ABC):
    """The path from the site's containers to one of its hosts (MariaDB, the S3 store), where a fault
    proxy can slow or stall it while the host behind it stays as it is."""

    role: str

    @abc.abstractmethod
    def add_latency(self, latency_ms: int, jitter_ms: int = 0) -> str:
        """Delay every answer from the host by ``latency_ms`` (give or take ``jitter_ms``); return its name."""

    @abc.abstractmethod
    def stall(self) -> str:
        """Let connections open but pass no data either way (a host that stopped answering mid-stream,
        or a black-holed link); return its name."""

    @abc.abstractmethod
    def remove(self, name: str) -> None:
        """Take one latency or stall off the path again."""


class Cluster(abc.ABC):
    """A running cluster of ``Node``s and the endpoints suites reach it on."""

    shape: Shape
    nodes: list[Node]
    provider: str
    # Whether the harness may deploy the site here (an inventory's site is certified as it is).
    deploys: bool = True

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no node {name!r}; nodes are {[n.name for n in self.nodes]}")

    @property
    def etcd_endpoints(self) -> list[str]:
        """Client URLs of every etcd member, in node order."""
        return [self.shape.etcd_client_url(n.address) for n in self.nodes]

    @property
    def fleet_tunnel(self) -> str:
        """host:port of a node's SSH that fleetctl tunnels through (the seed's FLEETCTL_TUNNEL), or ""."""
        return ""

    @property
    def fleet_endpoints(self) -> list[str]:
        """The etcd URLs fleetctl's etcd driver talks to: every member, or, through a tunnel,
        etcd as the tunnel's far end sees it."""
        if self.fleet_tunnel:
            return [self.shape.etcd_client_url("127.0.0.1")]
        return self.etcd_endpoints

    @property
    def fleet_endpoint(self) -> str:
        """The first of ``fleet_endpoints``, for a fleetctl command line a person types."""
        return self.fleet_endpoints[0]

    @property
    def fleetctl_env(self) -> dict[str, str]:
        """Extra environment for fleetctl: the tunnel, and (in providers) an SSH agent."""
        return {"FLEETCTL_TUNNEL": self.fleet_tunnel} if self.fleet_tunnel else {}

    @property
    def fleetctl(self) -> str:
        """Path of the fleetctl binary matching the nodes' fleet, built once from the Go module proxy."""
        from wpcluster.core import gobuild
        from wpcluster.core.build_cache import cache_dir

        return str(gobuild.build(gobuild.FLEET, cache_dir()) / "fleetctl")

    @property
    @abc.abstractmethod
    def registry(self) -> str:
        """The image registry the nodes pull from, as host:port."""

    @property
    @abc.abstractmethod
    def site_address(self) -> str:
        """host:port the harness connects to for the site URL (the top load balancer)."""

    @property
    def seed_site_address(self) -> str | None:
        """host:port where the seed's tutorial browses the site, when that is not ``site_address`` (the
        seed's VMs: core-01's vulcand forwarded to the host); None where it is."""
        return None

    @property
    def top_lb_stats_url(self) -> str | None:
        """The top load balancer's statistics as CSV (HAProxy's ``;csv``), where the harness can read them;
        None where the top LB is not the harness's (the seed's VMs, an existing cluster)."""
        return None

    def vulcand_url(self, node: Node) -> str:
        """vulcand's proxy on ``node``."""
        return f"http://{node.address}:{self.shape.site.vulcand_port}"

    def vulcand_api_url(self, node: Node) -> str:
        return f"http://{node.address}:{self.shape.site.vulcand_api_port}"

    @abc.abstractmethod
    def secrets(self) -> Secrets:
        """The deployment's secrets (generated and kept by the lab; read from a file elsewhere)."""

    @abc.abstractmethod
    def prepare_site(self, secrets: Secrets) -> SiteServices:
        """Make the site's images pullable and its services outside fleet (DB, S3, top LB) answer."""

    def service_host(self, role: str) -> ServiceHost:
        """The site's ``role`` host ("db", "s3") for faults. Only a provider that runs them has them."""
        raise WpclusterError(f"the {self.provider} provider does not run the site's {role} host, so it cannot "
                             "break it", "service faults run on the lab")

    def service_path(self, role: str) -> ServicePath:
        """The path from the site's containers to its ``role`` host, for latency and stalls."""
        raise WpclusterError(f"the {self.provider} provider runs no fault proxy in front of the site's {role} "
                             "host", "latency and stall faults run on the lab")

    def host_versions(self) -> dict:
        """Versions of what the provider runs beside the nodes (``{"components": {...}, "images": {...}}``);
        a provider that runs nothing beside them has none to add."""
        return {}

    def close(self) -> None:  # noqa: B027 - most providers hold nothing on the host
        """Release what this object holds on the host (agents, tunnels); the cluster stays up."""

    def down(self) -> None:
        """Tear down what the provider brought up. Providers that bring nothing up only close."""
        self.close()

    @property
    def started_at_boot(self) -> frozenset[str]:
        """Units the nodes' boot configuration starts at every boot without enabling them (CoreOS's
        cloud-config ``command: start``); enabled units start at boot anyway."""
        return frozenset()

    @property
    def down_removes_the_site(self) -> bool:
        """Whether ``down`` removes the nodes with whatever runs on them (then nothing need undeploy first)."""
        return False

    def save_diagnostics(self, dest: Path) -> list[Path]:
        """Write every node's journal under ``dest``; return the files written."""
        dest.mkdir(parents=True, exist_ok=True)
        written = []
        for node in self.nodes:
            path = dest / f"{node.name}.journal.txt"
            try:
                text = node.journal() if node.is_running() else "(node not running)\n"
            except Exception as exc:  # noqa: BLE001 - diagnostics must never mask the real failure
                text = f"(journal unavailable: {exc})\n"
            path.write_text(text)
            written.append(path)
        return written
