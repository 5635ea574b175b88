"""The cluster's shape: node names, addresses, ports and versions, read from one file.

``cluster.toml`` at the project root is the single source of truth. This
module parses and validates it into a frozen ``Shape``; everything else asks
the shape (``shape.nodes``, ``shape.node_address("core-01")``,
``shape.etcd_client_url(...)``) instead of spelling a value again.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wpcluster.core.errors import ShapeError
from wpcluster.core.profiles import RELEASE, Profile, current_profile

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SHAPE_FILE = PROJECT_ROOT / "cluster.toml"
SHAPE_ENV = "WPCLUSTER_SHAPE"
# Set in a parallel worker's process (pytest -n: worker N of gwN) and inherited by everything it
# starts (nested sessions, the CLI): the shape it loads is that worker's lab (``Shape.for_worker``).
WORKER_ENV = "WPCLUSTER_LAB_WORKER"
IMAGES_DIR = PROJECT_ROOT / "images"
NODE_IMAGE_DIR = IMAGES_DIR / "node"  # the CoreOS-style host: its units and scripts
FLEET_GO_MOD = NODE_IMAGE_DIR / "fleet" / "go.mod"

_NODE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
# A lab's name prefixes its containers, network and volumes: short, and valid in all three.
_LAB_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
_DURATION = re.compile(r"^\d+(ms|s|m)$")


def duration_seconds(duration: str) -> float:
    """fleet's duration syntax ("30s", "500ms", "2m"), which ``_DURATION`` accepts, in seconds."""
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if duration.endswith(suffix):
            return float(duration[: -len(suffix)]) * scale
    raise ValueError(f"not a duration: {duration!r}")


@dataclass(frozen=True)
class SiteShape:
    """The deployment: how many of each unit, its ports and names (the [site] table)."""

    wordpress_instances: int
    vulcand_port: int
    vulcand_api_port: int
    vulcand_prefix: str
    server_ttl: int
    heartbeat: int
    reconcile: int
    sidekick_agent_port: int
    database: str
    db_user: str
    bucket: str
    admin_user: str
    admin_email: str


@dataclass(frozen=True)
class VagrantShape:
    """The seed's coreos-vagrant cluster (the [vagrant] table): box, channel, provider, discovery."""

    box: str  # "coreos" (the seed's) or "flatcar" (CoreOS is end of life)
    channel: str
    provider: str  # vagrant's --provider: virtualbox, libvirt, vmware_desktop
    discovery_service: str  # {size} becomes the cluster size; "host": the harness runs one beside the VMs
    subnet_prefix: str  # coreos-vagrant puts node i at <prefix>.<100 + i>
    hosts_subnet: str  # the Docker network of the site's hosts beside the VMs (registry, MariaDB, S3, top LB)


VAGRANT_BOXES = ("coreos", "flatcar")
VAGRANT_HOST_DISCOVERY = "host"  # [vagrant] discovery_service: the harness's discovery host beside the VMs


@dataclass(frozen=True)
class Shape:
    """A validated cluster shape. Build it with ``load_shape`` or ``parse_shape``."""

    nodes: tuple[str, ...]
    site_host: str
    site_port: int
    etcd_client_port: int
    etcd_peer_port: int
    etcd_bootstrap: str
    fleet_agent_ttl: str  # as fleet reads it ("30s"): written into fleet.conf and user-data as is
    fleet_agent_ttl_seconds: float  # the same, parsed once: what bounds and waits compute with
    fleet_engine_reconcile: float  # s; the engine leader's lease is 5 of these (fleet's engine.New)
    site: SiteShape
    lab_subnet: ipaddress.IPv4Network
    lab_first_node_host: int
    lab_debian_suite: str
    lab_debian_mirror: str
    vagrant: VagrantShape
    lab_hosts: dict[str, int] = field(default_factory=dict)
    lab_ports: dict[str, int] = field(default_factory=dict)
    source: str = "<defaults>"
    # The lab's name (its containers are <name>-core-01, <name>-lb, ...) and the loopback port its
    # top LB is published on; two labs on one engine differ in both, and in their subnet.
    lab_name: str = "wpcluster"
    lab_site_port: int = 0  # 0: the site port itself
    profile: str = RELEASE.name  # whose timers these are (wpcluster.core.profiles)

    @property
    def timers(self) -> dict[str, str]:
        """The timers a lab is brought up and deployed with, as a run names them."""
        site = self.site
        return {"agent_ttl": self.fleet_agent_ttl, "engine_reconcile": f"{self.fleet_engine_reconcile:g}s",
                "server_ttl": f"{site.server_ttl}s",
                "heartbeat": f"{site.heartbeat}s", "reconcile": f"{site.reconcile}s"}

    @property
    def timers_text(self) -> str:
        """``agent_ttl=30s server_ttl=15s ...``: how a lab's label and a report say the timers."""
        return " ".join(f"{name}={value}" for name, value in self.timers.items())

    @property
    def site_port_on_host(self) -> int:
        """The loopback port the lab's top LB is published on."""
        return self.lab_site_port or self.site_port

    def for_worker(self, index: int) -> Shape:
        """The same cluster as a separate lab for parallel worker ``index`` (1, 2, ...): the name
        ``<name>-w<index>``, the ``index``-th subnet after this one and the site port + ``index`` on
        loopback. The site itself (its host name and port, as WordPress and the Host header know them)
        is unchanged. Worker 0 is this shape."""
        if index == 0:
            return self
        subnet = ipaddress.IPv4Network((int(self.lab_subnet.network_address) + index * self.lab_subnet.num_addresses,
                                        self.lab_subnet.prefixlen))
        return replace(self, lab_name=f"{self.lab_name}-w{index}", lab_subnet=subnet,
                       lab_site_port=self.site_port_on_host + index,
                       source=f"{self.source} (worker {index})")

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def quorum(self) -> int:
        return self.size // 2 + 1

    def node_address(self, name: str) -> str:
        """The node's address in the lab (coreos-vagrant's $private_ipv4 = $public_ipv4)."""
        index = self.nodes.index(name)
        return str(self.lab_subnet.network_address + self.lab_first_node_host + index)

    def host_address(self, role: str) -> str:
        """The lab address of a host outside the fleet cluster (discovery, registry, ...)."""
        try:
            return str(self.lab_subnet.network_address + self.lab_hosts[role])
        except KeyError:
            raise ShapeError(
                f"{self.source}: no [lab.hosts] entry for {role!r}",
                f"add `{role} = <host number>` under [lab.hosts]",
            ) from None

    @property
    def lab_gateway(self) -> str:
        return str(self.lab_subnet.network_address + 1)

    def etcd_client_url(self, address: str) -> str:
        return f"http://{address}:{self.etcd_client_port}"

    def etcd_peer_url(self, address: str) -> str:
        return f"http://{address}:{self.etcd_peer_port}"

    @property
    def site_authority(self) -> str:
        """host:port of the site, as its Host header says it."""
        return f"{self.site_host}:{self.site_port}"

    @property
    def site_url(self) -> str:
        return f"http://{self.site_authority}"

    def host_endpoint(self, role: str) -> str:
        """host:port of a lab host's service, as the nodes reach it."""
        return f"{self.host_address(role)}:{self.lab_ports[role]}"

    @property
    def registry(self) -> str:
        """The lab registry as nodes name it in image references."""
        return self.host_endpoint("registry")


def fleet_version(go_mod: Path = FLEET_GO_MOD) -> str:
    """The fleet release the node image is built from, as pinned in its go.mod."""
    match = re.search(r"^(?:require)?\s*github\.com/coreos/fleet\s+(v\S+)", go_mod.read_text(), re.M)
    if not match:
        raise ShapeError(f"{go_mod} does not require github.com/coreos/fleet", "restore the pin")
    return match.group(1)


def shape_file(path: str | os.PathLike[str] | None = None) -> Path:
    """The shape file a run reads: ``path``, else $WPCLUSTER_SHAPE, else ``cluster.toml``."""
    return Path(path or os.environ.get(SHAPE_ENV) or DEFAULT_SHAPE_FILE)


def load_shape(path: str | os.PathLike[str] | None = None) -> Shape:
    """Read the shape from ``path``, else $WPCLUSTER_SHAPE, else ``cluster.toml``; in a parallel
    worker's process ($WPCLUSTER_LAB_WORKER), as that worker's lab."""
    worker = os.environ.get(WORKER_ENV, "0")
    if not worker.isdigit():
        raise ShapeError(f"{WORKER_ENV}={worker!r} is not a worker number",
                         f"unset {WORKER_ENV}, or set it to 0, 1, 2, ... (pytest -n sets it in each worker)")
    chosen = shape_file(path)
    try:
        text = chosen.read_text()
    except OSError as exc:
        raise ShapeError(
            f"cannot read the cluster shape {chosen}: {exc.strerror}",
            f"create it (copy {DEFAULT_SHAPE_FILE.name}) or unset {SHAPE_ENV}",
        ) from None
    return parse_shape(text, source=str(chosen), profile=current_profile()).for_worker(int(worker))


def parse_shape(text: str, source: str = "<string>", profile: Profile = RELEASE) -> Shape:
    """Parse and validate shape TOML, with ``profile``'s timers over its own; every error names the file
    and the key."""
    try:
        doc = profile.overlay(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ShapeError(f"{source}: not valid TOML: {exc}", "fix the syntax at that line") from None
    reader = _Reader(doc, source if profile is RELEASE else f"{source} (profile {profile.name})")

    nodes = tuple(reader.get("cluster.nodes", list))
    if not nodes:
        raise reader.error("cluster.nodes", "must name at least one node")
    for name in nodes:
        if not isinstance(name, str) or not _NODE_NAME.match(name):
            raise reader.error("cluster.nodes", f"{name!r} is not a valid host name")
    if len(set(nodes)) != len(nodes):
        raise reader.error("cluster.nodes", "names a node twice")

    bootstrap = reader.get("etcd.bootstrap", str)
    if bootstrap not in ("discovery", "static"):
        raise reader.error("etcd.bootstrap", f"is {bootstrap!r}; use \"discovery\" or \"static\"")
    agent_ttl = reader.get("fleet.agent_ttl", str)
    if not _DURATION.match(agent_ttl):
        raise reader.error("fleet.agent_ttl", f"is {agent_ttl!r}; write a duration such as \"30s\"")
    engine_reconcile = reader.get("fleet.engine_reconcile_interval", (int, float))
    if isinstance(engine_reconcile, bool) or not engine_reconcile > 0:
        raise reader.error("fleet.engine_reconcile_interval", f"is {engine_reconcile!r}; write seconds, such as 2.0")

    subnet_text = reader.get("lab.subnet", str)
    try:
        subnet = ipaddress.IPv4Network(subnet_text)
    except ValueError as exc:
        raise reader.error("lab.subnet", f"is not an IPv4 network: {exc}") from None
    lab_name = reader.get("lab.name", str)
    if not _LAB_NAME.match(lab_name):
        raise reader.error("lab.name", f"is {lab_name!r}; use lower-case letters, digits and '-' (at most 24)")
    first = reader.get("lab.first_node_host", int)
    hosts = {k: _int(reader, f"lab.hosts.{k}", v) for k, v in reader.get("lab.hosts", dict).items()}
    ports = {k: _int(reader, f"lab.ports.{k}", v) for k, v in reader.get("lab.ports", dict).items()}

    usable = subnet.num_addresses - 2
    taken: dict[int, str] = {1: "the gateway"}
    for offset, name in [(first + i, n) for i, n in enumerate(nodes)] + [(v, k) for k, v in hosts.items()]:
        if not 1 < offset <= usable:
            raise reader.error(
                "lab.first_node_host" if name in nodes else f"lab.hosts.{name}",
                f"puts {name} at host {offset}, outside {subnet} (hosts 2..{usable})",
            )
        if offset in taken:
            raise reader.error(
                f"lab.hosts.{name}" if name not in nodes else "lab.first_node_host",
                f"puts {name} on the address of {taken[offset]}",
            )
        taken[offset] = name

    site = SiteShape(**{
        name: reader.get(f"site.{name}", kind)
        for name, kind in [("wordpress_instances", int), ("vulcand_port", int), ("vulcand_api_port", int),
                           ("vulcand_prefix", str), ("server_ttl", int), ("heartbeat", int),
                           ("reconcile", int), ("sidekick_agent_port", int), ("database", str),
                           ("db_user", str), ("bucket", str), ("admin_user", str), ("admin_email", str)]
    })
    if site.wordpress_instances < 1:
        raise reader.error("site.wordpress_instances", "must be at least 1")
    if not 0 < site.heartbeat < site.server_ttl:
        raise reader.error("site.heartbeat", f"is {site.heartbeat}; it must be shorter than site.server_ttl")
    if site.reconcile < site.heartbeat:
        raise reader.error("site.reconcile", f"is {site.reconcile}; it must be at least site.heartbeat (a full "
                                             "reconcile runs on a heartbeat)")

    vagrant = VagrantShape(**{name: reader.get(f"vagrant.{name}", str) for name in
                              ("box", "channel", "provider", "discovery_service", "subnet_prefix", "hosts_subnet")})
    if vagrant.box not in VAGRANT_BOXES:
        raise reader.error("vagrant.box", f"is {vagrant.box!r}; use one of {', '.join(VAGRANT_BOXES)}")
    if vagrant.discovery_service != VAGRANT_HOST_DISCOVERY and not vagrant.discovery_service.startswith(
            ("http://", "https://")):
        raise reader.error("vagrant.discovery_service", f"must be an http(s) URL or \"{VAGRANT_HOST_DISCOVERY}\"")
    try:
        hosts_subnet = ipaddress.IPv4Network(vagrant.hosts_subnet)
    except ValueError as exc:
        raise reader.error("vagrant.hosts_subnet", f"is not an IPv4 network: {exc}") from None
    if hosts_subnet.prefixlen != subnet.prefixlen:
        raise reader.error("vagrant.hosts_subnet", f"must be a /{subnet.prefixlen} as [lab] subnet is: its hosts "
                                                   "sit at the same offsets")

    return Shape(
        nodes=nodes,
        site_host=reader.get("cluster.site_host", str),
        site_port=reader.get("cluster.site_port", int),
        etcd_client_port=reader.get("etcd.client_port", int),
        etcd_peer_port=reader.get("etcd.peer_port", int),
        etcd_bootstrap=bootstrap,
        fleet_agent_ttl=agent_ttl,
        fleet_agent_ttl_seconds=duration_seconds(agent_ttl),
        fleet_engine_reconcile=float(engine_reconcile),
        site=site,
        lab_subnet=subnet,
        lab_first_node_host=first,
        lab_debian_suite=reader.get("lab.debian_suite", str),
        lab_debian_mirror=reader.get("lab.debian_mirror", str),
        lab_hosts=hosts,
        lab_ports=ports,
        vagrant=vagrant,
        source=source,
        lab_name=lab_name,
        profile=profile.name,
    )


def _int(reader: _Reader, key: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise reader.error(key, f"is {value!r}; it must be a whole number")
    return value


class _Reader:
    """Looks up dotted keys in the parsed TOML and reports errors by key."""

    def __init__(self, doc: dict[str, Any], source: str) -> None:
        self.doc = doc
        self.source = source

    def error(self, key: str, message: str) -> ShapeError:
        return ShapeError(f"{self.source}: [{key}] {message}", f"correct `{key}` in {self.source}")

    def get(self, key: str, kind: type | tuple[type, ...]) -> Any:
        node: Any = self.doc
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise self.error(key, "is missing")
            node = node[part]
        if not isinstance(node, kind) or (kind is int and isinstance(node, bool)):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise self.error(key, f"is {node!r}; it must be a {names}")
        return node
