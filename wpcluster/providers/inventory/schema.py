"""The inventory file: an existing cluster described in YAML, checked with errors that name the line.

    site_url: http://wordpress.example.com:8888
    site_address: 10.0.0.5:8888                    # optional: where to connect (the seed's /etc/hosts line)
    nodes:
      - {name: core-01, address: 10.0.0.11, user: core, key: ~/.ssh/cluster}
    etcd_endpoints: [http://10.0.0.11:2379]
    fleet: {endpoint: http://10.0.0.11:2379}      # or {tunnel: 10.0.0.11:22}
    s3: {endpoint: https://s3.amazonaws.com, bucket: wordpress-static}
    secrets: /etc/wpcluster/site.env               # the deployment's secrets file
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from wpcluster.core.errors import WpclusterError
from wpcluster.providers.ssh import SSHTarget


class InventoryError(WpclusterError):
    """The inventory file is malformed; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Inventory:
    source: str
    site_url: str
    site_address: str  # host:port to connect to for the site ("" = the site URL's own)
    nodes: tuple[SSHTarget, ...]
    etcd_endpoints: tuple[str, ...]
    fleet_endpoint: str
    fleet_tunnel: str
    s3_endpoint: str
    s3_bucket: str
    secrets: str


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, node: yaml.Node | None, field: str, message: str) -> InventoryError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return InventoryError(f"{self.source}{line}: {field} {message}",
                              f"correct `{field}` at that line of {self.source}")

    def mapping(self, node: yaml.Node, field: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, field, "must be a mapping (key: value lines)")
        return {k.value: v for k, v in node.value}

    def text(self, parent: yaml.Node, fields: dict[str, yaml.Node], name: str, field: str,
             required: bool = True) -> str:
        node = fields.get(name)
        if node is None:
            if required:
                raise self.error(parent, f"{field}{name}", "is missing")
            return ""
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            raise self.error(node, f"{field}{name}", "must be a non-empty value")
        return str(node.value)

    def url(self, node: yaml.Node, field: str, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.error(node, field, f"{value!r} is not an http(s) URL")
        return value


def parse_inventory(text: str, source: str = "<inventory>") -> Inventory:
    check = _Checker(source)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise InventoryError(f"{source}{line}: not valid YAML: {getattr(exc, 'problem', exc)}",
                             "fix the syntax at that line") from None
    if root is None:
        raise InventoryError(f"{source}: the inventory is empty", "describe the cluster (see the module's docs)")
    top = check.mapping(root, "the inventory")
    site_url = check.url(top.get("site_url"), "site_url", check.text(root, top, "site_url", ""))

    nodes_node = top.get("nodes")
    if not isinstance(nodes_node, yaml.SequenceNode) or not nodes_node.value:
        raise check.error(nodes_node or root, "nodes", "must list at least one node")
    nodes = []
    for i, item in enumerate(nodes_node.value):
        field = f"nodes[{i}]."
        fields = check.mapping(item, f"nodes[{i}]")
        address = check.text(item, fields, "address", field)
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise check.error(fields["address"], f"{field}address", f"{address!r} is not an IP address") from None
        nodes.append(SSHTarget(check.text(item, fields, "name", field), address,
                                   check.text(item, fields, "user", field, required=False) or "core",
                                   check.text(item, fields, "key", field, required=False)))
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise check.error(nodes_node, "nodes", f"name a node twice: {names}")

    etcd_node = top.get("etcd_endpoints")
    if not isinstance(etcd_node, yaml.SequenceNode) or not etcd_node.value:
        raise check.error(etcd_node or root, "etcd_endpoints", "must list at least one etcd client URL")
    etcd = tuple(check.url(e, f"etcd_endpoints[{i}]", str(e.value)) for i, e in enumerate(etcd_node.value))

    fleet = check.mapping(top.get("fleet") or root, "fleet") if "fleet" in top else {}
    endpoint = check.text(top.get("fleet"), fleet, "endpoint", "fleet.", required=False)
    tunnel = check.text(top.get("fleet"), fleet, "tunnel", "fleet.", required=False)
    if not endpoint and not tunnel:
        raise check.error(top.get("fleet") or root, "fleet", "needs an endpoint (etcd URL) or a tunnel (host:port)")

    if "s3" not in top:
        raise check.error(root, "s3", "is missing")
    s3 = check.mapping(top["s3"], "s3")
    s3_endpoint = check.url(s3.get("endpoint"), "s3.endpoint", check.text(top["s3"], s3, "endpoint", "s3."))
    return Inventory(
        source=source, site_url=site_url, site_address=check.text(root, top, "site_address", "", required=False),
        nodes=tuple(nodes), etcd_endpoints=etcd,
        fleet_endpoint=check.url(fleet["endpoint"], "fleet.endpoint", endpoint) if endpoint else "",
        fleet_tunnel=tunnel, s3_endpoint=s3_endpoint, s3_bucket=check.text(top["s3"], s3, "bucket", "s3."),
        secrets=check.text(root, top, "secrets", ""),
    )


def load_inventory(path: str | Path) -> Inventory:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InventoryError(f"cannot read the inventory {path}: {exc.strerror}", "check the path") from None
    return parse_inventory(text, source=str(path))
