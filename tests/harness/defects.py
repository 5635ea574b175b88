"""Defects seeded into a running deployment, each undone when its block ends.

Sidekick defects are mutations of the real ``images/sidekick/sidekick.py``: the discovery unit on
each chosen node is stopped through fleet and a container of the same image, with the same
environment and the mutated source mounted over the original, stands in for it. Each mutation
names the exact lines it changes, so a change to the sidekick that moves them fails here loudly
instead of seeding nothing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from wpcluster.cluster import Cluster, Node
from wpcluster.shape import PROJECT_ROOT
from wpcluster.waits import eventually

SIDEKICK_SOURCE = PROJECT_ROOT / "images" / "sidekick" / "sidekick.py"
SIDEKICK_PATH_IN_IMAGE = "/usr/local/bin/sidekick.py"
STANDIN = "discovery-defect"
STANDIN_SOURCE = "/tmp/wpcluster-defect/sidekick.py"

_NO_STALE = ("    stale = [key for key in registered if owned_by(node, key[1]) and key not in wanted]",
             "    stale = []  # DEFECT: never deletes a server")
SIDEKICK_DEFECTS: dict[str, list[tuple[str, str]]] = {
    # Keeps every server it ever registered, and keeps refreshing it: a dead container stays forever.
    "never-deregisters": [_NO_STALE, (
        "            self.registered = wanted",
        "            self.registered = {**{k: v for k, v in registered.items() if owned_by(self.node, k[1])},"
        " **wanted}  # DEFECT: refreshes the dead too")],
    # Deletes nothing: a dead container's server lasts until its TTL runs out.
    "ttl-only": [_NO_STALE],
    # Registers the port after the published one.
    "wrong-port": [('        wanted[(backend, server_id(node, name))] = f"http://{node_ip}:{port}"',
                    '        wanted[(backend, server_id(node, name))] = f"http://{node_ip}:{port + 1}"  # DEFECT')],
    # The 2015 admin route: only /wp-admin... and /wp-login.php exactly as written.
    "no-variants": [('        "Route": f"PathRegexp(`{admin_path_regexp()}`)",',
                     '        "Route": "PathRegexp(`^/(wp-admin(/.*)?|wp-login[.]php)$`)",  # DEFECT')],
}


def mutated_sidekick(defect: str) -> str:
    source = SIDEKICK_SOURCE.read_text()
    for old, new in SIDEKICK_DEFECTS[defect]:
        count = source.count(old)
        assert count == 1, f"defect {defect}: {old.strip()!r} occurs {count} times in {SIDEKICK_SOURCE}; update it"
        source = source.replace(old, new)
    return source


def _sidekick_unit(fleet, node: Node) -> str:  # noqa: ANN001 - a Fleetctl
    return eventually(lambda: next(u.name for u in fleet.list_units()
                                   if u.name.startswith("discovery@") and u.ip == node.address
                                   and u.sub == "running"),
                      60, 0.5, what=f"the sidekick running on {node.name}")


@contextlib.contextmanager
def sidekicks_replaced(fleet, nodes: list[Node], defect: str) -> Iterator[None]:  # noqa: ANN001
    """On each of ``nodes``, the sidekick runs with ``defect`` while the block runs."""
    source = mutated_sidekick(defect)
    replaced: list[tuple[Node, str]] = []
    try:
        for node in nodes:
            unit = _sidekick_unit(fleet, node)
            container = unit.removesuffix(".service").replace("@", "-")
            inspect = json.loads(node.exec(f"docker inspect {container}").check().stdout)[0]
            env = " ".join(f"-e '{line}'" for line in inspect["Config"]["Env"] if not line.startswith("PATH="))
            image = inspect["Config"]["Image"]
            node.put_file(STANDIN_SOURCE, source)
            fleet.stop(unit)
            replaced.append((node, unit))
            node.exec(f"docker rm -f {STANDIN} >/dev/null 2>&1; docker run -d --name {STANDIN} "
                      f"-v /var/run/docker.sock:/var/run/docker.sock "
                      f"-v {STANDIN_SOURCE}:{SIDEKICK_PATH_IN_IMAGE}:ro {env} {image}").check()
        yield
    finally:
        for node, unit in replaced:
            node.exec(f"docker rm -f {STANDIN}")
            fleet.start(unit)
        for node, _ in replaced:
            _sidekick_unit(fleet, node)


def _vulcand_ip(node: Node) -> str:
    names = node.exec("docker ps --format '{{.Names}}' --filter name=vulcan-").check().stdout.split()
    assert names, f"no vulcand runs on {node.name}"
    return node.exec(f"docker inspect -f '{{{{.NetworkSettings.IPAddress}}}}' {names[0]}").check().stdout.strip()


@contextlib.contextmanager
def vulcand_cut_from_etcd(cluster: Cluster, node: Node) -> Iterator[None]:
    """vulcand on ``node`` cannot reach etcd (its packets to the client port are dropped): it keeps
    routing by what it last saw. Afterwards vulcand is restarted, so it reads etcd afresh."""
    rule = f"INPUT -s {_vulcand_ip(node)} -p tcp --dport {cluster.shape.etcd_client_port} -j DROP"
    node.exec(f"iptables -I {rule}").check()
    try:
        yield
    finally:
        node.exec(f"iptables -D {rule}")
        unit = node.exec("systemctl list-units --no-legend --plain 'vulcan@*'").stdout.split()
        if unit:
            node.exec(f"systemctl restart {unit[0]}").check()


@contextlib.contextmanager
def fleetd_with_only_its_own_member(node: Node) -> Iterator[None]:
    """fleetd on ``node`` told only its local etcd member, as CoreOS's default had it."""
    node.exec("cp /etc/fleet/fleet.conf /tmp/fleet.conf.good && "
              "sed -i 's|^etcd_servers=.*|etcd_servers=[\"http://127.0.0.1:2379\"]|' /etc/fleet/fleet.conf && "
              "systemctl restart fleet").check()
    try:
        yield
    finally:
        node.exec("cp /tmp/fleet.conf.good /etc/fleet/fleet.conf && systemctl restart fleet").check()


@contextlib.contextmanager
def frontend_written(etcd_client, prefix: str, frontend: str, spec: dict) -> Iterator[None]:  # noqa: ANN001
    """A frontend someone added by hand (the sidekicks leave keys they did not write alone)."""
    folder = f"/{prefix}/frontends/{frontend}"
    etcd_client.write(f"{folder}/frontend", json.dumps(spec))
    try:
        yield
    finally:
        etcd_client.delete(folder, recursive=True)
