"""Render coreos-vagrant's config.rb and user-data from the cluster shape, as the seed's exercise 1 edits them.

Rendering is deterministic and keeps what the user already has: only the
settings the seed changes are replaced (or added), every other line of
config.rb and every other key of user-data stays as it was.
"""

from __future__ import annotations

import re

import yaml

from wpcluster.core.errors import WpclusterError
from wpcluster.core.shape import Shape

CLOUD_CONFIG = "#cloud-config"
MARKER = "# set by wpcluster (the seed's exercise 1)"


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

    Also the machines' name prefix (so that they are the shape's nodes) and the box's OS, which
    coreos-vagrant ignores and a Flatcar-aware Vagrantfile reads.
    """
    return {
        "$num_instances": str(shape.size),
        "$instance_name_prefix": f"'{instance_name_prefix(shape)}'",
        "$update_channel": f"'{shape.vagrant.channel}'",
        "$box_os": f"'{shape.vagrant.box}'",
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


def etcd2_cloud_config(shape: Shape, discovery_url: str) -> dict[str, str]:
    """The seed's 1e etcd2 section, with coreos-vagrant's $public_ipv4/$private_ipv4 substitutions."""
    client, peer = shape.etcd_client_port, shape.etcd_peer_port
    return {
        "discovery": discovery_url,
        "advertise-client-urls": f"http://$public_ipv4:{client}",
        "initial-advertise-peer-urls": f"http://$private_ipv4:{peer}",
        "listen-client-urls": f"http://0.0.0.0:{client}",
        "listen-peer-urls": f"http://$private_ipv4:{peer}",
    }


def render_user_data(shape: Shape, discovery_url: str, existing: str = "") -> str:
    """user-data with etcd2 (not etcd), the discovery URL, fleet's public IP and timers, and the etcd-lock
    reboot strategy."""
    try:
        doc = yaml.safe_load(existing) if existing.strip() else {}
    except yaml.YAMLError as exc:
        raise WpclusterError(f"the existing user-data is not valid YAML: {exc}",
                             "fix it (or remove it to start from the seed's)") from None
    if not isinstance(doc, dict):
        raise WpclusterError("the existing user-data is not a cloud-config mapping", "fix it or remove it")
    coreos = doc.setdefault("coreos", {})
    coreos.pop("etcd", None)  # 1e: etcd disabled in favour of etcd2
    coreos["etcd2"] = {**(coreos.get("etcd2") or {}), **etcd2_cloud_config(shape, discovery_url)}
    # fleet's timers from the shape, as the lab's fleet.conf has them: the bounds assume them.
    coreos["fleet"] = {**(coreos.get("fleet") or {}), "public-ip": "$public_ipv4", "agent-ttl": shape.fleet_agent_ttl,
                       "engine-reconcile-interval": shape.fleet_engine_reconcile}
    coreos["update"] = {**(coreos.get("update") or {}), "reboot-strategy": "etcd-lock"}
    units = [u for u in coreos.get("units") or [] if u.get("name") not in ("etcd.service", "etcd2.service",
                                                                           "fleet.service")]
    coreos["units"] = [{"name": "etcd2.service", "command": "start"},
                       {"name": "fleet.service", "command": "start"}, *units]
    return CLOUD_CONFIG + "\n\n" + yaml.safe_dump(doc, sort_keys=True, default_flow_style=False)
