"""What the certified cluster ran: every component's version and the images' IDs, for the bundle.

Read off the running cluster at the end of a session (nodes through the ``Node`` interface, the
site's containers with ``docker exec`` on their node, the lab's own hosts through the provider),
and written as ``results/<run>/versions.json`` for the report. A component that cannot be asked
says why instead of a version, so a gap shows in the report rather than a wrong number.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from wpcluster.core.cluster import Cluster, Node
from wpcluster.core.shape import PROJECT_ROOT

# Go programs that print no usable version of their own: the version their build module pins.
GO_PINS = {
    "vulcand": (PROJECT_ROOT / "images" / "vulcand" / "go" / "go.mod", "github.com/vulcand/vulcand"),
    "Toxiproxy (fault proxy)": (PROJECT_ROOT / "images" / "faultproxy" / "go" / "go.mod",
                                "github.com/Shopify/toxiproxy/v2"),
}
WORDPRESS_VERSION_FILE = "/usr/share/wordpress/wp-includes/version.php"  # Debian's wordpress package


def pinned(go_mod: Path, module: str) -> str:
    match = re.search(rf"^(?:require)?\s*{re.escape(module)}\s+(v\S+)", go_mod.read_text(), re.M)
    return f"{match.group(1)} (pinned in {go_mod.relative_to(PROJECT_ROOT)})" if match else "not pinned"


def _first_line(node: Node, command: str) -> str:
    result = node.exec(command)
    text = (result.stdout or result.stderr).strip().splitlines()
    return text[0].strip() if result.ok and text else f"unknown ({command!r} exited {result.exit_code})"


def _container(node: Node, prefix: str) -> str | None:
    names = node.exec("docker ps --format '{{.Names}}'").stdout.split()
    return next((n for n in names if n.startswith(prefix)), None)


def collect(cluster: Cluster) -> dict:
    """Versions of etcd, fleet, Docker on the nodes, vulcand, WordPress, PHP, and the provider's hosts."""
    nodes = [n for n in cluster.nodes if n.is_running()]
    components: dict[str, str] = {}
    if nodes:
        node = nodes[0]
        components["etcd"] = _first_line(node, "etcd --version").removeprefix("etcd Version: ")
        components["fleet"] = _first_line(node, "fleetd --version").removeprefix("fleetd version ")
        components["Docker (nodes)"] = _first_line(node, "docker version --format '{{.Server.Version}}'")
        where, wordpress = next(((n, c) for n in nodes if (c := _container(n, "wordpress-"))), (node, None))
        if wordpress:
            php = (f"docker exec {wordpress} php -r 'include \"{WORDPRESS_VERSION_FILE}\"; "
                   "echo $wp_version, \" \", PHP_VERSION;'")
            wp, _, php_version = _first_line(where, php).partition(" ")
            components["WordPress"], components["PHP"] = wp, php_version or "unknown"
    for name, (go_mod, module) in GO_PINS.items():
        components[name] = pinned(go_mod, module)
    hosts = cluster.host_versions()
    components.update(hosts.pop("components", {}))
    return {"provider": cluster.provider, "shape": cluster.shape.source, "nodes": list(cluster.shape.nodes),
            "components": components, **hosts}


def write(cluster: Cluster, folder: Path) -> Path:
    """Write ``folder/versions.json``; components read by an earlier write of the same run and not
    readable now (WordPress and PHP, asked before the site's units were destroyed) are kept."""
    path = folder / "versions.json"
    folder.mkdir(parents=True, exist_ok=True)
    found = collect(cluster)
    if path.exists():
        earlier = json.loads(path.read_text()).get("components", {})
        found["components"] = {**earlier, **found["components"]}
    path.write_text(json.dumps(found, indent=2) + "\n")
    return path
