"""Defects seeded into a running deployment, each undone when its block ends.

Sidekick defects are mutations of the real ``images/sidekick/sidekick.py``: the discovery unit on
each chosen node gets a systemd drop-in that mounts the mutated source over the original in its
container, and is restarted; the drop-in goes and the unit restarts again when the block ends. Each mutation
names the exact lines it changes, so a change to the sidekick that moves them fails here loudly
instead of seeding nothing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import requests

from wpcluster.clients.site import SERVED_BY
from wpcluster.clients.vulcand import VulcandAPI
from wpcluster.core.cluster import Cluster, Node, node_at
from wpcluster.core.shape import PROJECT_ROOT
from wpcluster.core.units import ADMIN_ENV_PATH, ADMIN_UNIT, SIDEKICK_UNIT, UNITS_DIR, VULCAND_UNIT, container_of
from wpcluster.core.waits import NotReached, eventually
from wpcluster.providers import bootstrap

SIDEKICK_SOURCE = PROJECT_ROOT / "images" / "sidekick" / "sidekick.py"
SIDEKICK_PATH_IN_IMAGE = "/usr/local/bin/sidekick.py"
STANDIN_SOURCE = "/var/lib/wpcluster-defect/sidekick.py"  # the node's dockerd has a private /tmp
DROPIN_DIR = "/etc/systemd/system"
DROPIN = "wpcluster-defect.conf"

_NO_STALE = ("    stale = [key for key in registered if owned_by(node, key[1]) and key not in wanted]",
             "    stale = []  # DEFECT: never deletes a server")
SIDEKICK_DEFECTS: dict[str, list[tuple[str, str]]] = {
    # Keeps every server it ever registered, and keeps refreshing it: a dead container stays forever.
    "never-deregisters": [_NO_STALE, (
        "            self.registered = wanted",
        "            self.registered = {**{k: v for k, v in registered.items() if owned_by(self.node, k[1])},"
        " **wanted}  # DEFECT: refreshes the dead too")],
    # Ignores Docker's container events: a dead container's server goes only at the next full
    # reconcile (every few seconds as deployed), and its key is refreshed by every heartbeat until then.
    "events-ignored": [(24 * " " + "self.reconcile(f\"{name} {event.get('status') or event.get('Action')}\")",
                        24 * " " + "pass  # DEFECT: ignores the container's event")],
    # Registers the port after the published one.
    "wrong-port": [('        wanted[(backend, server_id(node, name))] = f"http://{node_ip}:{port}"',
                    '        wanted[(backend, server_id(node, name))] = f"http://{node_ip}:{port + 1}"  # DEFECT')],
    # Asks its own node's etcd member only, as the 2015 sidekick's etcdctl did: while that member is
    # down, its heartbeats fail and its servers expire under containers that still run.
    "own-member-only": [('    endpoints = [e.strip() for e in os.environ["ETCD_ENDPOINTS"].split(",") if e.strip()]',
                         '    endpoints = [e.strip() for e in os.environ["ETCD_ENDPOINTS"].split(",") if e.strip()][:1]'
                         '  # DEFECT')],
    # No outlier detection: no node probes its peers, so nothing takes a slow node's servers out of
    # every vulcand (the gap the bandwidth cap was a known failure for).
    "no-outliers": [("    if agent_port:\n", "    if agent_port and False:  # DEFECT\n")],
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
                                   if u.name == SIDEKICK_UNIT and u.ip == node.address and u.sub == "running"),
                      60, 0.5, what=f"the sidekick running on {node.name}")


def _defect_dropin() -> str:
    """A systemd drop-in for the discovery unit: the same ExecStart with the mutated source mounted.

    The unit stays fleet's and keeps running (restarted by systemd on the node): stopping it through
    fleet instead makes fleet 1.0's list-units show nothing but the stopped unit until it starts.
    """
    template = (UNITS_DIR / SIDEKICK_UNIT).read_text()
    exec_start = next(line for line in template.splitlines() if line.startswith("ExecStart="))
    assert " --rm " in exec_start, f"{SIDEKICK_UNIT}'s ExecStart has no --rm to add a mount after: {exec_start}"
    mounted = exec_start.replace(" --rm ", f" --rm -v {STANDIN_SOURCE}:{SIDEKICK_PATH_IN_IMAGE}:ro ", 1)
    return f"# wpcluster self-check: a seeded defect\n[Service]\nExecStart=\n{mounted}\n"


@contextlib.contextmanager
def sidekicks_replaced(fleet, nodes: list[Node], defect: str) -> Iterator[None]:  # noqa: ANN001
    """On each of ``nodes``, the sidekick runs with ``defect`` while the block runs."""
    source = mutated_sidekick(defect)
    replaced: list[tuple[Node, str]] = []
    try:
        for node in nodes:
            unit = _sidekick_unit(fleet, node)
            node.put_file(STANDIN_SOURCE, source)
            node.put_file(f"{DROPIN_DIR}/{unit}.d/{DROPIN}", _defect_dropin())
            replaced.append((node, unit))
            node.exec(f"systemctl daemon-reload && systemctl restart {unit}", timeout=90).check()
        yield
    finally:
        for node, unit in replaced:
            node.exec(f"rm -f {DROPIN_DIR}/{unit}.d/{DROPIN} && systemctl daemon-reload && systemctl restart {unit}",
                      timeout=90)
        for node, _ in replaced:
            _sidekick_unit(fleet, node)


def _vulcand_ip(node: Node) -> str:
    name = container_of(VULCAND_UNIT)
    running = node.exec(f"docker ps --format '{{{{.Names}}}}' --filter name={name}").check().stdout.split()
    assert name in running, f"no vulcand runs on {node.name} (running: {running})"
    return node.exec(f"docker inspect -f '{{{{.NetworkSettings.IPAddress}}}}' {name}").check().stdout.strip()


@contextlib.contextmanager
def vulcand_cut_from_etcd(cluster: Cluster, node: Node) -> Iterator[None]:
    """vulcand on ``node`` cannot reach etcd (its packets to the client port are dropped): it keeps
    routing by what it last saw. Afterwards vulcand is restarted, so it reads etcd afresh."""
    # Both directions: a watch (a long poll) already asked for would otherwise still deliver its one
    # answer. Its own node's member is reached through INPUT/OUTPUT, the others' through FORWARD.
    ip, port = _vulcand_ip(node), cluster.shape.etcd_client_port
    rules = [f"INPUT -s {ip} -p tcp --dport {port} -j DROP", f"OUTPUT -d {ip} -p tcp --sport {port} -j DROP",
             f"FORWARD -s {ip} -p tcp --dport {port} -j DROP", f"FORWARD -d {ip} -p tcp --sport {port} -j DROP"]
    for rule in rules:
        node.exec(f"iptables -I {rule}").check()
    try:
        # Seeded, not assumed: vulcand's API reads etcd, so it stops answering once the cut holds.
        api = VulcandAPI(cluster.vulcand_api_url(node), timeout=2)

        def api_cut() -> bool:
            try:
                api.servers("wordpress")
            except Exception:  # noqa: BLE001 - a timeout or a 500 both mean it lost etcd
                return True
            raise AssertionError(f"vulcand on {node.name} still reads etcd")

        eventually(api_cut, 20, 0.5, what=f"vulcand on {node.name} cut from etcd")
        yield
    finally:
        for rule in rules:
            node.exec(f"iptables -D {rule}")
        node.exec(f"systemctl restart {VULCAND_UNIT}").check()


@contextlib.contextmanager
def fleetd_with_only_its_own_member(cluster: Cluster, node: Node) -> Iterator[None]:
    """fleetd on ``node`` told only its local etcd member, as CoreOS's default had it."""
    def configure(settings: dict[str, str]) -> None:
        node.put_file(bootstrap.FLEET_CONF, bootstrap.env_file(settings))
        node.exec("systemctl restart fleet").check()

    settings = bootstrap.fleet_config(cluster.shape, node.name)
    configure({**settings, "etcd_servers": json.dumps([bootstrap.local_member_url(cluster.shape)])})
    try:
        yield
    finally:
        configure(settings)


# How long a vulcand may take to apply a frontend written to (or deleted from) etcd.
VULCAND_APPLIES_WITHIN = 10.0


def vulcands_disagreeing(proxies: dict[str, str], probe: tuple[str, str], in_force: bool) -> list[str]:
    """The vulcands (node name -> proxy URL) whose proxy does not route ``probe`` (path, Host) as
    ``in_force`` says: to a public container (a frontend to the public backend in force), or not. Their
    API is no witness: it reads etcd, not the routes the proxy serves."""
    path, host = probe
    wrong = []
    for name, url in proxies.items():
        try:
            served = requests.get(f"{url}{path}", headers={"Host": host}, timeout=5,
                                  allow_redirects=False).headers.get(SERVED_BY, "")
        except requests.RequestException:
            served = ""
        container = served.split("@", 1)[0]
        if (container not in ("", container_of(ADMIN_UNIT))) != in_force:
            wrong.append(name)
    return wrong


def vulcands_still_disagreeing(proxies: dict[str, str], probe: tuple[str, str], in_force: bool, what: str) -> list[str]:
    """``vulcands_disagreeing`` once every vulcand has had ``VULCAND_APPLIES_WITHIN`` to agree; [] as soon as all do."""
    try:
        eventually(lambda: not vulcands_disagreeing(proxies, probe, in_force), VULCAND_APPLIES_WITHIN, what=what)
    except NotReached:
        return vulcands_disagreeing(proxies, probe, in_force)
    return []


@contextlib.contextmanager
def frontend_written(etcd_client, prefix: str, frontend: str, spec: dict, proxies: dict[str, str],  # noqa: ANN001
                     probe: tuple[str, str]) -> Iterator[None]:
    """A frontend to the public backend someone added by hand (the sidekicks leave keys they did not
    write alone), in force in every vulcand's proxy while the block runs (``proxies``: node name ->
    vulcand's proxy URL; ``probe``: a path and Host the frontend takes).

    The defect must be where traffic flows before a check is judged on it. vulcand v0.9.2 can miss a
    change in etcd (a vulcand whose etcd member was restarted missed this write while its peers applied
    it): one that misses the write is told again by a second write, and one that misses it twice fails
    the self-check, named."""
    folder = f"/{prefix}/frontends/{frontend}"

    def write() -> None:
        etcd_client.write(f"{folder}/frontend", json.dumps(spec))

    write()
    try:
        applied = f"every vulcand routing by frontend {frontend}"
        missed = vulcands_still_disagreeing(proxies, probe, True, applied)
        if missed:
            print(f"vulcand on {', '.join(missed)} missed frontend {frontend} written to etcd; written again")
            write()
            missed = vulcands_still_disagreeing(proxies, probe, True, applied)
        assert not missed, (f"vulcand on {', '.join(missed)} never routed by frontend {frontend} written to etcd "
                            f"(twice): the defect is not in force there")
        yield
    finally:
        etcd_client.delete(folder, recursive=True)
        dropped = f"no vulcand routing by frontend {frontend}"
        kept = vulcands_still_disagreeing(proxies, probe, False, dropped)
        if kept:  # a vulcand that missed the delete would keep the leak for the tests after this one
            print(f"vulcand on {', '.join(kept)} missed frontend {frontend}'s deletion; written and deleted again")
            write()
            etcd_client.delete(folder, recursive=True)
            kept = vulcands_still_disagreeing(proxies, probe, False, dropped)
        assert not kept, f"vulcand on {', '.join(kept)} still routes by frontend {frontend}, deleted from etcd"


@contextlib.contextmanager
def admin_with_a_wrong_s3_secret(cluster: Cluster, fleet) -> Iterator[None]:  # noqa: ANN001 - a Fleetctl
    """The admin container signs its S3 requests with a secret the store does not know: admin.env on
    every node says so, and the admin unit is restarted where it runs. Put back, and restarted, after."""
    saved = f"{ADMIN_ENV_PATH}.wpcluster-defect"
    name = "WORDPRESS_CACHE_S3_SECRET"
    for node in cluster.nodes:
        node.exec(f"cp -p {ADMIN_ENV_PATH} {saved} && "
                  f"sed -i 's/^{name}=.*/{name}=not-the-stores-secret/' {ADMIN_ENV_PATH}").check()
    admin = node_at(cluster.nodes, fleet.placed(ADMIN_UNIT).ip)
    assert admin is not None, f"{ADMIN_UNIT} is placed on no node of the cluster"
    try:
        admin.exec(f"systemctl restart {ADMIN_UNIT}", timeout=90).check()
        yield
    finally:
        for node in cluster.nodes:
            node.exec(f"mv -f {saved} {ADMIN_ENV_PATH}")
        admin.exec(f"systemctl restart {ADMIN_UNIT}", timeout=90)
