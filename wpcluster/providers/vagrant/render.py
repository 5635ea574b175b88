"""Render coreos-vagrant's config.rb and user-data from the cluster shape, as the seed's exercise 1 edits them.

Rendering is deterministic and keeps what the user already has: only the
settings the seed changes are replaced (or added), every other line of
config.rb and every other key of user-data stays as it was.
"""

from __future__ import annotations

import re

import yaml

from wpcluster.core.errors import WpclusterError
from wpcluster.core.shape import NODE_IMAGE_DIR, Shape
from wpcluster.providers import bootstrap

CLOUD_CONFIG = "#cloud-config"
MARKER = "# set by wpcluster (the seed's exercise 1)"
# coreos-cloudinit's etcd2 options (its config/etcd2.go) among those the harness sets; it ignores
# any other key, so etcd's newer settings reach etcd2 through a drop-in of etcd2.service instead.
CLOUDINIT_ETCD2_KEYS = frozenset({
    "name", "data-dir", "discovery", "advertise-client-urls", "initial-advertise-peer-urls",
    "listen-client-urls", "listen-peer-urls", "initial-cluster", "initial-cluster-state", "initial-cluster-token",
})
ETCD2_DROP_IN = "30-wpcluster.conf"
# The node image installs the fleet watchdog under /usr/local/sbin; CoreOS's /usr is read-only.
WATCHDOG_IN_IMAGE = "/usr/local/sbin/fleet-watchdog"
WATCHDOG_ON_COREOS = "/opt/bin/fleet-watchdog"
# coreos-cloudinit substitutes these in the whole user-data; on coreos-vagrant both are the
# machine's private-network address.
PRIVATE_IPV4, PUBLIC_IPV4 = "$private_ipv4", "$public_ipv4"
# What the cloud-config starts at every boot (`command: start`); CoreOS leaves these units disabled.
STARTED_AT_BOOT = ("etcd2.service", "fleet.service", "fleet-watchdog.service")


class _CloudConfigDumper(yaml.SafeDumper):
    """Writes a file's or unit's text as a literal block, as a person writes a cloud-config."""


def _text_as_block(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_CloudConfigDumper.add_representer(str, _text_as_block)


def node_addresses(shape: Shape) -> dict[str, str]:
    """coreos-vagrant's private network: the i-th machine (from 1) is <prefix>.<100 + i>."""
    return {name: f"{shape.vagrant.subnet_prefix}.{101 + i}" for i, name in enumerate(shape.nodes)}


def instance_name_prefix(shape: Shape) -> str:
    """coreos-vagrant names machines <prefix>-01, -02, ...; the shape's node names must follow that."""
    prefix = shape.nodes[0].rsplit("-", 1)[0]
    expected = [f"{prefix}-{i:02d}" for i in range(1, shape.size + 1)]
    if list(shape.nodes) != expected:
        raise WpclusterError(f"coreos-vagrant names its machines {', '.join(expected)}, but the shape's nodes are "
                             f"{', '.join(shape.nodes)}", f"name the nodes <prefix>-01.. in {shape.source}")
    return prefix


def config_rb_settings(shape: Shape) -> dict[str, str]:
    """The seed's 1c: three instances, the beta channel, vulcand's port forwarded to the site's.

    Also the machines' name prefix (so that they are the shape's nodes), the box's OS, which
    coreos-vagrant ignores and a Flatcar-aware Vagrantfile reads, and the private network's prefix,
    which coreos-vagrant ignores (its machines are always on 172.17.8) and the stand-in reads.
    """
    return {
        "$num_instances": str(shape.size),
        "$instance_name_prefix": f"'{instance_name_prefix(shape)}'",
        "$update_channel": f"'{shape.vagrant.channel}'",
        "$box_os": f"'{shape.vagrant.box}'",
        "$subnet_prefix": f"'{shape.vagrant.subnet_prefix}'",
        "$forwarded_ports": f"{{{shape.site.vulcand_port} => {shape.site_port}}}",
    }


def render_config_rb(shape: Shape, existing: str = "") -> str:
    """config.rb with the seed's settings, replacing their active assignments and keeping everything else."""
    lines = existing.splitlines()
    missing = []
    for name, value in config_rb_settings(shape).items():
        pattern = re.compile(rf"^\s*{re.escape(name)}\s*=")
        found = [i for i, line in enumerate(lines) if pattern.match(line)]
        if found:
            for i in found:
                lines[i] = f"{name}={value}"
        else:
            missing.append(f"{name}={value}")
    if missing:
        if MARKER not in lines:
            lines += ["", MARKER]
        lines += missing
    return "\n".join(lines).rstrip("\n") + "\n"


def member_urls(shape: Shape) -> list[str]:
    """Every etcd member's client URL on coreos-vagrant's private network."""
    return [shape.etcd_client_url(address) for address in node_addresses(shape).values()]


def etcd2_settings(shape: Shape, discovery_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """etcd2's settings as the lab's nodes have them (bootstrap.etcd2_environment), for every machine
    at once: the member is named after its hostname (%H, as coreos-vagrant names machines after the
    shape's nodes; CoreOS would name it after its machine ID) and its URLs use cloudinit's
    substitutions. Returns the cloud-config's ``etcd2`` section and the rest as environment."""
    env = bootstrap.etcd2_environment(shape, "%H", discovery_url, "", address=PRIVATE_IPV4,
                                      public_address=PUBLIC_IPV4)
    section, rest = {}, {}
    for name, value in env.items():
        key = name.removeprefix("ETCD_").lower().replace("_", "-")
        if key in CLOUDINIT_ETCD2_KEYS:
            section[key] = value
        else:
            rest[name] = value
    return section, rest


def fleet_cloud_config(shape: Shape) -> dict[str, str | float]:
    """fleet's section: the lab's settings (bootstrap.fleet_settings), every member listed (fleetd
    tries its own first; it is listed twice, which fleet takes as it comes)."""
    settings = bootstrap.fleet_settings(shape, PUBLIC_IPV4, member_urls(shape))
    return {key.replace("_", "-"): ",".join(value) if isinstance(value, list) else value
            for key, value in settings.items()}


def fleet_watchdog_parts(shape: Shape) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The fleet watchdog as cloud-config installs it: its script and settings (write_files) and its unit."""
    script = (NODE_IMAGE_DIR / "fleet-watchdog").read_text()
    unit = (NODE_IMAGE_DIR / "fleet-watchdog.service").read_text()
    if f"ExecStart={WATCHDOG_IN_IMAGE}" not in unit:
        raise WpclusterError(f"images/node/fleet-watchdog.service no longer starts {WATCHDOG_IN_IMAGE}",
                             "keep the node image and WATCHDOG_IN_IMAGE in render.py in step")
    settings = bootstrap.fleet_watchdog_settings(shape, shape.etcd_client_url(PRIVATE_IPV4), member_urls(shape))
    files = [
        {"path": WATCHDOG_ON_COREOS, "permissions": "0755", "owner": "root", "content": script},
        {"path": bootstrap.FLEET_WATCHDOG_ENV, "permissions": "0644", "owner": "root",
         "content": bootstrap.env_file(settings)},
    ]
    return files, {"name": "fleet-watchdog.service", "command": "start",
                   "content": unit.replace(WATCHDOG_IN_IMAGE, WATCHDOG_ON_COREOS)}


def registry_files(shape: Shape, registry: str) -> list[dict[str, str]]:
    """/etc/environment (CoreOS's address variables and the registry the units pull from) and dockerd's
    trust in that registry, as the lab writes them."""
    environment = bootstrap.coreos_environment(shape, "", registry, address=PRIVATE_IPV4, public_address=PUBLIC_IPV4)
    return [
        {"path": "/etc/environment", "permissions": "0644", "owner": "root",
         "content": bootstrap.env_file(environment)},
        {"path": "/etc/docker/daemon.json", "permissions": "0644", "owner": "root",
         "content": bootstrap.docker_daemon_config(registry)},
    ]


def render_user_data(shape: Shape, discovery_url: str, existing: str = "", registry: str = "") -> str:
    """user-data with etcd2 (not etcd) as the lab runs it, the discovery URL, fleet told every member
    and the shape's timers, the fleet watchdog, the etcd-lock reboot strategy, and (given a
    ``registry``) the harness's registry for the units and dockerd."""
    try:
        doc = yaml.safe_load(existing) if existing.strip() else {}
    except yaml.YAMLError as exc:
        raise WpclusterError(f"the existing user-data is not valid YAML: {exc}",
                             "fix it (or remove it to start from the seed's)") from None
    if not isinstance(doc, dict):
        raise WpclusterError("the existing user-data is not a cloud-config mapping", "fix it or remove it")
    coreos = doc.setdefault("coreos", {})
    coreos.pop("etcd", None)  # 1e: etcd disabled in favour of etcd2
    etcd2, etcd2_rest = etcd2_settings(shape, discovery_url)
    coreos["etcd2"] = {**(coreos.get("etcd2") or {}), **etcd2}
    coreos["fleet"] = {**(coreos.get("fleet") or {}), **fleet_cloud_config(shape)}
    coreos["update"] = {**(coreos.get("update") or {}), "reboot-strategy": "etcd-lock"}
    watchdog_files, watchdog_unit = fleet_watchdog_parts(shape)
    ours_files = [*watchdog_files, *(registry_files(shape, registry) if registry else [])]
    units = [u for u in coreos.get("units") or [] if u.get("name") not in {"etcd.service", *STARTED_AT_BOOT}]
    etcd2_drop_in = {"name": ETCD2_DROP_IN, "content": "[Service]\n" + "".join(
        f"Environment={name}={value}\n" for name, value in etcd2_rest.items())}
    extra = {"etcd2.service": {"drop-ins": [etcd2_drop_in]}, watchdog_unit["name"]: watchdog_unit}
    coreos["units"] = [{"name": name, "command": "start", **extra.get(name, {})} for name in STARTED_AT_BOOT] + units
    paths = {f["path"] for f in ours_files}
    doc["write_files"] = [*ours_files, *(f for f in doc.get("write_files") or [] if f.get("path") not in paths)]
    return CLOUD_CONFIG + "\n\n" + yaml.dump(doc, Dumper=_CloudConfigDumper, sort_keys=True, default_flow_style=False,
                                          width=120)
