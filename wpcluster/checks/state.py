"""Checkers (Jepsen's verdicts): assertions about the cluster's state that say what is wrong."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import etcd as python_etcd
import requests

from wpcluster.checks.admin_surface import ADMIN_BACKEND, ADMIN_CONTAINER, Probe, Reply, static_leaks
from wpcluster.checks.routes import RouteTable
from wpcluster.clients.etcd import cluster_health
from wpcluster.clients.fleet import Fleetctl, registry_schedule
from wpcluster.clients.site import SiteClient
from wpcluster.clients.vulcand import VulcandAPI
from wpcluster.core.cluster import Cluster, Node, node_at
from wpcluster.core.units import container_of, wordpress_units
from wpcluster.core.waits import NotReached, eventually


def check_etcd_healthy(cluster: Cluster) -> None:
    """Every member answers healthy, and the member list is exactly the shape's nodes."""
    health = cluster_health(cluster.etcd_endpoints, names=[n.name for n in cluster.nodes])
    assert health.healthy, f"etcd2 is not healthy: {health.describe()}"
    listed = sorted(m.get("name", "") for m in health.members)
    assert listed == sorted(cluster.shape.nodes), (
        f"etcd2 lists members {listed}, the shape has {list(cluster.shape.nodes)}: {health.describe()}"
    )


def check_fleet_machines(cluster: Cluster, fleet: Fleetctl) -> None:
    """fleet lists exactly one machine per node, at the node's address."""
    listed = sorted(m.ip for m in fleet.list_machines())
    wanted = sorted(n.address for n in cluster.nodes)
    assert listed == wanted, f"fleet lists machines {listed}, expected {wanted}"


def site_containers(cluster: Cluster) -> dict[tuple[str, str], str]:
    """(backend, server id) -> URL for every site container running on the nodes, by asking Docker there.

    This is the truth registration is judged against: what runs, not what the sidekick believes.
    """
    found: dict[tuple[str, str], str] = {}
    for node in cluster.nodes:
        if not node.is_running():
            continue
        listing = node.exec("docker ps --format '{{.Names}} {{.Ports}}'", timeout=20)
        if not listing.ok:
            continue
        for line in listing.stdout.splitlines():
            name, _, ports = line.partition(" ")
            backend = ADMIN_BACKEND if name == ADMIN_CONTAINER else (
                "wordpress" if re.fullmatch(r"wordpress-\d+", name) else None)
            port = re.search(r":(\d+)->80/tcp", ports)
            if backend and port:
                found[(backend, f"{node.name}.{name}")] = f"http://{node.address}:{port.group(1)}"
    return found


def etcd_servers(etcd_client: python_etcd.Client, prefix: str) -> dict[tuple[str, str], str]:
    """(backend, server id) -> URL registered under vulcand's keys in etcd."""
    found: dict[tuple[str, str], str] = {}
    try:
        tree = etcd_client.read(f"/{prefix}/backends", recursive=True)
    except python_etcd.EtcdKeyNotFound:
        return found
    for leaf in tree.leaves:
        parts = leaf.key.strip("/").split("/")
        if len(parts) == 5 and parts[3] == "servers":
            try:
                found[(parts[2], parts[4])] = json.loads(leaf.value).get("URL", "")
            except (json.JSONDecodeError, AttributeError):
                found[(parts[2], parts[4])] = f"<malformed: {leaf.value!r}>"
    return found


def vulcand_servers(api: VulcandAPI, backends: tuple[str, ...] = ("wordpress", "wordpressadmin")
                    ) -> dict[tuple[str, str], str]:
    """(backend, server id) -> URL as one vulcand's API lists them.

    vulcand v0.9.2's API reads etcd, not the proxy's live state: whether the proxy follows is
    judged by requests through it (the routing suites), not by this listing.
    """
    return {(b, sid): url for b in backends for sid, url in api.servers(b).items()}


def check_registration(cluster: Cluster, etcd_client: python_etcd.Client, apis: dict[str, VulcandAPI]) -> None:
    """Every running site container is registered in etcd and in every vulcand, and nothing else is."""
    running = site_containers(cluster)
    assert running, "no site container runs on any node"
    in_etcd = etcd_servers(etcd_client, cluster.shape.site.vulcand_prefix)
    missing = sorted(k[1] for k in running if k not in in_etcd)
    wrong = sorted(f"{k[1]} registered at {in_etcd[k]} but runs at {running[k]}"
                   for k in running if k in in_etcd and in_etcd[k] != running[k])
    extra = sorted(f"{k[1]} at {in_etcd[k]}" for k in in_etcd if k not in running)
    assert not missing and not wrong and not extra, (
        f"etcd disagrees with the containers: not registered {missing}; wrong URL {wrong}; "
        f"registered but not running {extra}"
    )
    for node, api in apis.items():
        routed = vulcand_servers(api)
        assert routed == in_etcd, (
            f"vulcand on {node} routes {sorted(k[1] for k in routed)}, etcd has {sorted(k[1] for k in in_etcd)}"
        )


def check_units_on_live_machines(cluster: Cluster, schedule: tuple[dict[str, str], set[str]], units: list[str]) -> None:
    """Every one of ``units`` is scheduled by fleet's engine on a machine fleet still lists, and its
    container runs on that node. ``schedule`` is the engine's (unit -> machine address; the live
    machines' addresses: `Fleetctl.schedule` or `registry_schedule`), not list-units' published states:
    fleet 1.0 can lack a running unit there for up to 24 s after a restart, which made a whole site
    read as unrecovered."""

    targets, machines = schedule
    running = nodes_running(cluster)
    wrong = []
    for name in units:
        address = targets.get(name)
        node = node_at(cluster.nodes, address) if address else None
        where = running.get(container_of(name), [])
        if not address:
            wrong.append(f"{name} not scheduled")
        elif address not in machines:
            wrong.append(f"{name} on {address}, which is not a live machine")
        elif node is None or node.name not in where:
            wrong.append(f"{name} scheduled on {node.name if node else address}, its container running on "
                         f"{', '.join(where) or 'no node'}")
    assert not wrong, f"units not running on live machines: {wrong}"


def nodes_running(cluster: Cluster) -> dict[str, list[str]]:
    """Site container name -> the nodes it runs on now (sorted), by asking Docker there."""
    where: dict[str, list[str]] = {}
    for _, sid in sorted(site_containers(cluster)):
        node, _, name = sid.partition(".")
        where.setdefault(name, []).append(node)
    return where


def check_no_container_twice(cluster: Cluster) -> None:
    """No site container name runs on two nodes at once (a unit running twice after a heal)."""
    twice = {name: nodes for name, nodes in nodes_running(cluster).items() if len(nodes) > 1}
    assert not twice, f"containers running on more than one node: {twice}"


def check_containers_where_placed(cluster: Cluster, fleet: Fleetctl) -> None:
    """Every WordPress unit's container runs on the node fleet lists the unit on, and on no other: a node
    that got its units back after fleet had placed them elsewhere stops its copies on its own schedule,
    and until it has, the site is not settled (a copy may vanish under whoever uses it)."""

    placed = fleet.targets()
    running = nodes_running(cluster)
    wrong = []
    for unit in wordpress_units(cluster.shape):
        name = container_of(unit)
        node = node_at(cluster.nodes, placed.get(unit, ""))
        wanted = [node.name] if node else []
        if running.get(name, []) != wanted:
            wrong.append(f"{name} runs on {running.get(name) or 'no node'}, "
                         f"fleet places {unit} on {wanted[0] if wanted else 'no machine'}")
    assert not wrong, describe_problems(wrong, "containers not where fleet places their units:")


# vulcand replays a GET that failed on one server on the next (the sidekick's FailoverPredicate), so
# a GET's answer hides a dead server still in rotation; it is not replayed for a HEAD, whose answer
# shows it. The routing checks ask with HEADs (public containers serve them as they serve a GET).
ROTATION_PROBE = "HEAD"


def check_routes_answer(cluster: Cluster, site: SiteClient, vias: dict[str, str], tries: int | None = None) -> None:
    """Through each of ``vias`` (all at once): / reaches public containers only, /wp-login.php the admin only.

    ``tries`` HEADs of / per entry point (``ROTATION_PROBE``), by default one per public container (one
    turn of vulcand's round robin, so a dead server still in it is met and not hidden by a replay).
    Each costs a page render: a check that sent twice as many took ~4 s on a slow machine, and a
    recovery is timed by the end of the check that passed."""
    tries = tries or cluster.shape.site.wordpress_instances
    def through(name: str, via: str) -> None:
        own = requests.Session()  # one per thread: a Session is not shared across threads
        public = [site.request(ROTATION_PROBE, "/", via=via, session=own) for _ in range(tries)]
        bad = [(a.status, a.served_by) for a in public if a.status != 200 or a.container == "wordpress-admin"]
        assert not bad, f"/ through {name}: {bad}"
        login = site.get("/wp-login.php", via=via, session=own)
        assert login.status == 200 and login.container == "wordpress-admin", (
            f"/wp-login.php through {name} answered {login.status} from {login.served_by!r}"
        )

    with ThreadPoolExecutor(max_workers=len(vias) or 1) as pool:
        for done in [pool.submit(through, name, via) for name, via in vias.items()]:
            done.result()


def check_site_whole(cluster: Cluster, etcd_client: python_etcd.Client, site: SiteClient) -> bool:
    """Full recovery: the site's WordPress units on live machines, every registered server alive and
    running once, every route answering through the top LB and through the vulcand of every node of
    the shape that runs (a global unit: a node that runs has one, whatever fleet lists; fleet's
    listings can lack a machine or a unit for a while, and a vulcand missed then was never asked)."""

    nodes = [n for n in cluster.nodes if n.is_running()]

    def routes_answer() -> None:
        vias = {"top LB": f"http://{cluster.site_address}"} | {
            f"vulcand on {n.name}": cluster.vulcand_url(n) for n in nodes}
        check_routes_answer(cluster, site, vias)

    # The four parts ask different daemons: asked at once, a check under load takes the longest part's
    # time, not their sum (a failover's recovery is timed by the first check that passes).
    vulcands = {n.name: VulcandAPI(cluster.vulcand_api_url(n)) for n in nodes}
    parts = {"units": lambda: check_units_on_live_machines(cluster, registry_schedule(etcd_client),
                                                           wordpress_units(cluster.shape)),
             "registration": lambda: check_registration(cluster, etcd_client, vulcands),
             "containers": lambda: check_no_container_twice(cluster),
             "routes": routes_answer}
    took: dict[str, float] = {}

    def timed(name: str) -> None:
        began = time.monotonic()
        try:
            parts[name]()
        finally:
            took[name] = time.monotonic() - began

    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        running = [pool.submit(timed, name) for name in parts]
    for done in running:
        try:
            done.result()  # the first part's failure in this order is the one raised
        except AssertionError as failure:
            # How long each part took: a recovery is timed by the check that passes, so a slow part is
            # the harness's own delay in seeing it.
            spent = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in took.items())
            raise AssertionError(f"{failure}\n(the check's parts took: {spent})") from None
    return True


# How long a listing of fleet's targets may keep failing before a check says it could not tell.
LISTING_WITHIN = 3.0


def check_nothing_moved(targets: Callable[[], dict[str, str]], before: dict[str, str]) -> bool:
    """No unit fleet schedules now (``targets``: `Fleetctl.targets` or `registry_targets`) goes elsewhere
    than ``before`` (unit -> address). A unit fleet has unscheduled for the moment has not moved yet,
    and a listing that keeps failing is no answer: the check fails saying it could not tell."""
    try:
        (now,) = eventually(lambda: (targets(),), LISTING_WITHIN, 0.5, what="a listing of fleet's targets")
    except NotReached as exc:
        raise AssertionError(f"could not tell whether fleet moved anything: {exc}") from None
    moved = {name: (before.get(name), ip) for name, ip in now.items() if before.get(name) not in (None, ip)}
    assert not moved, f"units moved (from, to): {moved}"
    return True


def check_every_public_container_reached(cluster: Cluster, site: SiteClient, requests: int = 60) -> None:
    """Through every vulcand, ``requests`` GETs of / reach every public container: none is starved
    (vulcand's rebalancer lowers the weight of a server that failed, and restores it only slowly)."""
    wanted = {f"wordpress-{i}" for i in range(1, cluster.shape.site.wordpress_instances + 1)}
    for node in cluster.nodes:
        reached = {site.get("/", via=cluster.vulcand_url(node)).container for _ in range(requests)}
        assert wanted <= reached, f"/ through vulcand on {node.name} reached only {sorted(reached & wanted)}"


def describe_problems(problems: list[str], heading: str) -> str:
    return heading + "".join(f"\n  {p}" for p in problems)


def check_route_table_sane(table: RouteTable) -> None:
    """No frontend that vulcand would refuse or that cannot answer (bad JSON, bad route, no servers)."""
    assert not table.problems, describe_problems(table.problems, "vulcand's route table in etcd has problems:")


def check_admin_routes(table: RouteTable, probes: list[Probe], host: str) -> None:
    """vulcand's route order sends every admin-only request of the corpus to the admin backend, whatever
    the Host (``RouteTable.hosts_to_try``: the site's, others, and each one a frontend is scoped to)."""
    lines = []
    for tried in table.hosts_to_try(host):
        for frontend, paths in static_leaks(table, probes, tried).items():
            lines.append(f"frontend {frontend} takes {len(paths)} with Host {tried}: {', '.join(paths[:12])}"
                         f"{' ...' if len(paths) > 12 else ''}")
    assert not lines, describe_problems(
        lines, f"vulcand's route table would send admin-only requests elsewhere than {ADMIN_BACKEND}:")


def check_admin_surface_through(name: str, replies: list[Reply], table: RouteTable, host: str,
                                shown: int = 40) -> None:
    """Every reply came from the admin container, or (for a path Apache does not serve as admin) was a
    public container's refusal (``Reply.acceptable``). The failure lists each request that reached
    elsewhere and who took it."""
    wrong = [r for r in replies if not r.acceptable]
    lines = []
    for reply in wrong[:shown]:
        frontend = table.route(reply.probe.method, reply.probe.path, host)
        taken = f"frontend {frontend.id} ({frontend.route})" if frontend else "no frontend"
        who = reply.served_by if "@" in reply.served_by else f"no container ({reply.served_by or 'vulcand itself'})"
        sent = f" to {reply.location}" if reply.location else ""
        lines.append(f"{reply.probe} ({reply.probe.why}) -> {who}, {reply.status}{sent}; taken by {taken}")
    if len(wrong) > shown:
        lines.append(f"... and {len(wrong) - shown} more")
    assert not wrong, describe_problems(
        lines, f"through {name}, {len(wrong)} of {len(replies)} admin-surface requests reached something other "
               f"than {ADMIN_CONTAINER}:")


def container_ended_at(node: Node, container: str, since: float, timeout: float = 60) -> float:
    """When Docker on ``node`` reported ``container`` dead (its ``die`` event), waiting for it if need be.

    The units run containers with ``--rm``, so the container is gone by the time anyone looks:
    its events remain.
    """
    def died() -> float:
        found = node.exec(f"docker events --since {since:.3f} --until {time.time() + 1:.3f} "
                          f"--filter container={container} --filter event=die --format '{{{{.TimeNano}}}}'",
                          timeout=20)
        stamps = [int(s) for s in found.stdout.split() if s.isdigit()]
        assert stamps, f"Docker on {node.name} reports no end of {container} since {since:.1f}"
        return stamps[-1] / 1e9

    return eventually(died, timeout, 0.25, what=f"{container} ended on {node.name}")


def _answered_by(served_by: str, avoid: str) -> bool:
    """``avoid`` is one container as X-Served-By names it (``wordpress-2@core-03``) or a node (``@core-03``)."""
    return served_by == avoid or (avoid.startswith("@") and served_by.endswith(avoid))


def probe_round(site: SiteClient, via: str, avoid: str, requests: int) -> list[tuple[float, str]]:
    """``requests`` in a row through ``via``: (when each was sent, "" if a live container other than
    ``avoid`` answered 200, else what happened). A server vulcand still sends to fails or hangs its
    turn of the round robin (asked with a ``ROTATION_PROBE``, which vulcand does not replay)."""
    seen = []
    for _ in range(requests):
        sent = time.time()
        try:
            answer = site.request(ROTATION_PROBE, "/", via=via)
        except Exception as exc:  # noqa: BLE001 - a hung or refused request is the finding
            seen.append((sent, f"no answer ({type(exc).__name__})"))
            continue
        wrong = answer.status != 200 or not answer.served_by or _answered_by(answer.served_by, avoid)
        seen.append((sent, f"{answer.status} from {answer.served_by or 'vulcand itself'}" if wrong else ""))
    return seen


# Clean rounds in a row that prove a server is out of rotation: vulcand's rebalancer lowers the
# weight of a failing server, so one clean round can come while it still gets the odd request.
CONFIRMING_ROUNDS = 4


def wait_traffic_avoids(site: SiteClient, vias: dict[str, str], avoid: str, since: float, within: float,
                        servers: int, what: str) -> dict[str, float]:
    """Each via (name -> URL) stops sending to ``avoid`` (a container, or a node's) within ``within`` seconds
    of ``since`` (when it ended): no request *sent* after the bound may fail or reach it, and
    ``CONFIRMING_ROUNDS`` clean rounds in a row must follow the last one that did. Judged by send
    time, because a request sent to a dead server just before it left rotation hangs past the bound.
    Returns, per via, the seconds from ``since`` to the send of the last request that went wrong.

    A round is twice as many requests as there are servers, so round robin gives the dead one two turns.
    """
    timings: dict[str, float] = {}
    last_bad: dict[str, tuple[float, str]] = {}
    streak: dict[str, int] = {}
    deadline = since + within
    give_up = deadline + 60  # rounds that never come clean still end

    def one_round(name: str) -> None:
        results = probe_round(site, vias[name], avoid, 2 * servers)
        wrong = [(sent, seen) for sent, seen in results if seen]
        if wrong:
            last_bad[name] = max(wrong)
            streak[name] = 0
        else:
            streak[name] = streak.get(name, 0) + 1
            if streak[name] >= CONFIRMING_ROUNDS:
                timings[name] = round(max(0.0, last_bad.get(name, (since, ""))[0] - since), 2)

    while True:
        with ThreadPoolExecutor(len(vias)) as pool:  # every vulcand probed at once: one clock for all
            list(pool.map(one_round, [name for name in vias if name not in timings]))
        late = {name: bad for name, bad in last_bad.items() if bad[0] > deadline}
        if late or time.time() > give_up:
            still = late or {name: last_bad.get(name, (0.0, "no clean rounds")) for name in vias if name not in timings}
            raise AssertionError(
                f"{within:g}s after {what}, requests still do not avoid {avoid}: "
                + "; ".join(f"through {name}: {seen} (sent {sent - since:.1f}s after)"
                            for name, (sent, seen) in still.items()))
        if len(timings) == len(vias):
            return timings


def server_key_index(etcd_client: python_etcd.Client, prefix: str, key: tuple[str, str]) -> int:
    """The etcd index at which a server's key was created (a new registration gets a new one)."""
    backend, sid = key
    return etcd_client.read(f"/{prefix}/backends/{backend}/servers/{sid}").createdIndex


def check_registered_as_running(cluster: Cluster, etcd_client: python_etcd.Client, key: tuple[str, str],
                                created_after: int | None = None) -> None:
    """``key``'s container runs and is registered at the node address and port it runs on, under a key
    created after ``created_after`` (a restarted container is a new registration, not the old key)."""
    running = site_containers(cluster).get(key)
    assert running, f"{key[1]} does not run (yet)"
    prefix = cluster.shape.site.vulcand_prefix
    url = etcd_servers(etcd_client, prefix).get(key)
    assert url == running, f"{key[1]} is registered at {url}, but runs at {running}"
    if created_after is not None:
        index = server_key_index(etcd_client, prefix, key)
        assert index > created_after, f"{key[1]}'s key was created at index {index}, before the restart"
