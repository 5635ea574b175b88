"""The deploy step's plan and the configuration it hands the nodes."""

import re
from types import SimpleNamespace

import pytest

from wpcluster.clients.fleet import Machine
from wpcluster.core.cluster import SiteServices
from wpcluster.core.secrets import SALT_NAMES, SECRET_NAMES, Secrets
from wpcluster.core.shape import load_shape
from wpcluster.core.units import unit_plan
from wpcluster.deployment.deploy import DeployError, Deployment, admin_env, site_env
from wpcluster.providers.hosts.top_lb import haproxy_config


def test_units_follow_the_seeds_wordpress_up_order():
    names = [name for _, name in unit_plan(load_shape())]
    assert names == [
        "vulcan.service", "discovery.service",
        "wordpress-admin.service",
        "wordpress@1.service", "wordpress@2.service", "wordpress@3.service", "wordpress@4.service",
        "wordpress@5.service",
    ]


def test_site_env_carries_the_seeds_variables_and_every_salt():
    shape = load_shape()
    secrets = Secrets.generate()
    services = SiteServices("172.30.8.20:3306", "http://172.30.8.21:9000", "http://172.30.8.21:9000", "b",
                            "http://172.30.8.21:9000/b")
    env = site_env(shape, services, secrets, ["http://172.30.8.101:2379"])
    for name in ("WORDPRESS_DB_NAME", "WORDPRESS_DB_HOST", "WORDPRESS_DB_USER", "WORDPRESS_DB_PASSWORD",
                 "WORDPRESS_CACHE_S3_BUCKET"):
        assert env[name], name
    assert env["WORDPRESS_CACHE_HOME"] == "http://wordpress.local:8888"
    assert env["WORDPRESS_CACHE_PUBLIC_URL"] == "http://172.30.8.21:9000/b"
    assert all(env[name] == secrets[name] for name in SALT_NAMES)
    assert "MARIADB_ROOT_PASSWORD" not in env  # the nodes never need the DB's root password


def test_only_the_admin_env_holds_the_admin_password_and_the_s3_credential():
    shape = load_shape()
    secrets = Secrets.generate()
    services = SiteServices("db:3306", "http://s3:9000", "http://s3:9000", "b", "http://s3:9000/b")
    public = site_env(shape, services, secrets, ["http://172.30.8.101:2379"])
    admin = admin_env(shape, secrets)
    for name in ("WORDPRESS_ADMIN_PASSWORD", "WORDPRESS_CACHE_S3_KEY", "WORDPRESS_CACHE_S3_SECRET"):
        assert name not in public and secrets[name] not in public.values(), name
        assert admin[name] == secrets[name], name


def test_secrets_are_fresh_and_redacted(tmp_path):
    one, two = Secrets.generate(), Secrets.generate()
    assert all(one[n] != two[n] for n in SECRET_NAMES)
    path = one.save(tmp_path / "s.env")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert Secrets.load(path) == one
    text = f"login failed for password {one['WORDPRESS_ADMIN_PASSWORD']}"
    assert one.redact(text) == "login failed for password <WORDPRESS_ADMIN_PASSWORD>"


def test_haproxy_balances_and_health_checks_every_vulcand():
    shape = load_shape()
    cfg = haproxy_config(shape)
    assert "bind *:8888" in cfg
    for name in shape.nodes:
        assert f"server {name} {shape.node_address(name)}:8000 check" in cfg
    # The API, a request through the proxy, and the node's etcd member: all three must pass.
    for step in ("connect port 8182", "uri /v2/status", "connect port 8000",
                 "uri /wp-includes/images/blank.gif hdr Host wordpress.local:8888", "connect port 2379",
                 "uri /health", "expect string true"):
        assert f"http-check {step}" in cfg or step in cfg, step
    # With etcd's majority lost everywhere, the vulcands still serve their last routes.
    assert "use_backend vulcands if { nbsrv(vulcands) gt 0 }" in cfg
    assert "default_backend vulcands_on_last_routes" in cfg
    # ... and a request already in the main backend (a retry) finds them as its backups, by their checks.
    assert "option allbackups" in cfg
    for name in shape.nodes:
        assert (f"server {name}-last {shape.node_address(name)}:8000 backup track vulcands_on_last_routes/{name}"
                in cfg)
    # A 504 (vulcand's read timeout on a held server) is retried on another vulcand.
    assert cfg.count("retry-on conn-failure empty-response response-timeout 502 503 504") == 2


def test_haproxy_asks_a_peer_sidekick_about_each_vulcand_and_tries_a_hung_read_again_unless_busy():
    shape = load_shape()
    cfg = haproxy_config(shape)
    port = shape.site.sidekick_agent_port
    for name, peer in {"core-01": "core-02", "core-02": "core-03", "core-03": "core-01"}.items():
        line = next(line for line in cfg.splitlines() if line.strip().startswith(f"server {name} "))
        # A frozen node's own agent answers nothing: the next node's sidekick answers for it.
        assert f"agent-addr {shape.node_address(peer)} agent-port {port} agent-send \"{name}\\n\"" in line, line
    # Reads only, and only while fewer are in flight than arrive in a first try: a second try is one more
    # page for a site slow everywhere.
    assert cfg.count("http-request set-var(txn.first_try_arrivals) be_sess_rate(vulcands),mul(3)") == 2
    assert cfg.count("http-request set-timeout server 3s if METH_GET "
                     "{ var(txn.in_flight),sub(txn.first_try_arrivals) lt 0 }") == 2



class LeastLoadedFleet:
    """fleet's scheduler as far as spreading needs it: a restarted unit goes to the machine running
    the fewest units (placements given as unit -> machine address)."""

    def __init__(self, placements: dict[str, str], machines: list[str]) -> None:
        self.placements, self.machines, self.restarted = dict(placements), machines, []

    def list_machines(self) -> list[Machine]:
        return [Machine(f"m{i}", ip, "") for i, ip in enumerate(self.machines)]

    def targets(self) -> dict[str, str]:
        return dict(self.placements)

    def restart(self, name: str) -> None:
        del self.placements[name]
        load = {ip: sum(1 for p in self.placements.values() if p == ip) for ip in self.machines}
        self.placements[name] = min(self.machines, key=lambda ip: load[ip])
        self.restarted.append(name)


def spread(placements: dict[str, str]) -> tuple[list[str], LeastLoadedFleet]:
    shape = load_shape()
    addresses = [shape.node_address(n) for n in shape.nodes]
    fleet = LeastLoadedFleet(placements, addresses)
    cluster = SimpleNamespace(shape=shape, nodes=[SimpleNamespace(name=n, address=a)
                                                  for n, a in zip(shape.nodes, addresses, strict=True)])
    deployment = Deployment(cluster, fleet, secrets=None)
    deployment.wait_units_active = lambda: []
    return deployment.spread_public_units(), fleet


def test_public_units_are_spread_back_as_deployed():
    a, b, c = (load_shape().node_address(n) for n in load_shape().nodes)
    moved, fleet = spread({"vulcan@1.service": a, "wordpress-admin.service": b, "wordpress@1.service": a,
                           "wordpress@2.service": a, "wordpress@3.service": a, "wordpress@4.service": b,
                           "wordpress@5.service": b})
    per_node = sorted(sum(1 for n, ip in fleet.placements.items() if n.startswith("wordpress@") and ip == node)
                      for node in (a, b, c))
    assert per_node == [1, 2, 2] and moved == ["wordpress@3.service"], (moved, fleet.placements)


def test_a_spread_placement_moves_nothing():
    a, b, c = (load_shape().node_address(n) for n in load_shape().nodes)
    moved, fleet = spread({"wordpress@1.service": a, "wordpress@2.service": b, "wordpress@3.service": c,
                           "wordpress@4.service": a, "wordpress@5.service": b})
    assert moved == [] and fleet.restarted == []


def test_container_of_names_the_container_each_unit_file_runs_and_unit_of_reads_it_back():
    from wpcluster.core.units import UNITS_DIR, container_of, unit_of

    for template, unit in unit_plan(load_shape()):
        text = (UNITS_DIR / template).read_text()
        instance = unit.removesuffix(".service").partition("@")[2]
        named = re.search(r"--name (\S+)", text).group(1).replace("%i", instance)
        assert container_of(unit) == named, unit
        assert unit_of(named) == unit, named


def _lab_listing(running: dict[str, list[str]], placed: dict[str, str]):
    """A cluster whose nodes run ``running`` (node -> container names) and a fleet placing ``placed``."""
    from wpcluster.core.cluster import ExecResult

    shape = load_shape()

    def node(name):
        ps = "".join(f"{c} 0.0.0.0:3{i:04d}->80/tcp\n" for i, c in enumerate(running.get(name, [])))
        return SimpleNamespace(name=name, address=shape.node_address(name), is_running=lambda: True,
                               exec=lambda cmd, timeout=60: ExecResult(cmd, 0, ps, ""))

    cluster = SimpleNamespace(shape=shape, nodes=[node(n) for n in shape.nodes])
    targets = {u: shape.node_address(n) for u, n in placed.items()}
    return cluster, SimpleNamespace(targets=lambda: targets)


def test_containers_where_placed_names_a_copy_left_on_a_node_fleet_moved_the_unit_from():
    from wpcluster.checks.state import check_containers_where_placed
    from wpcluster.core.units import container_of, wordpress_units

    shape = load_shape()
    nodes = list(shape.nodes)
    placed = {u: nodes[i % 3] for i, u in enumerate(wordpress_units(shape))}
    running: dict[str, list[str]] = {}
    for unit, node in placed.items():
        running.setdefault(node, []).append(container_of(unit))
    check_containers_where_placed(*_lab_listing(running, placed))  # settled: passes

    stray = next(n for n in nodes if "wordpress-3" not in running[n])
    running[stray].append("wordpress-3")
    with pytest.raises(AssertionError, match=rf"wordpress-3 runs on .*{stray}.*fleet places wordpress@3.service on"):
        check_containers_where_placed(*_lab_listing(running, placed))


class JournalNode(SimpleNamespace):
    def journal(self, unit: str, lines: int) -> str:
        return f"{self.name}: {lines} lines of {unit}"


def test_a_units_journal_is_read_on_the_node_fleet_schedules_it_to():
    shape = load_shape()
    nodes = [JournalNode(name=n, address=shape.node_address(n)) for n in shape.nodes]
    fleet = SimpleNamespace(targets=lambda: {"wordpress-admin.service": nodes[1].address})
    deployment = Deployment(SimpleNamespace(shape=shape, nodes=nodes), fleet, secrets=None)
    assert deployment.unit_journal("wordpress-admin.service", lines=7) == \
        f"{nodes[1].name}: 7 lines of wordpress-admin.service"


@pytest.mark.parametrize(("targets", "where"), [({"wordpress-admin.service": "10.9.9.9"}, "10.9.9.9"),
                                               ({}, "no machine")], ids=["stray", "unscheduled"])
def test_a_unit_scheduled_outside_the_cluster_or_nowhere_is_named(targets, where):
    shape = load_shape()
    nodes = [JournalNode(name=n, address=shape.node_address(n)) for n in shape.nodes]
    deployment = Deployment(SimpleNamespace(shape=shape, nodes=nodes), SimpleNamespace(targets=lambda: targets),
                            secrets=None)
    with pytest.raises(DeployError, match=f"schedules wordpress-admin.service to {where}, not to a node"):
        deployment.unit_journal("wordpress-admin.service")


def test_vulcand_and_the_sidekick_run_on_every_machine_and_the_site_units_move():
    from wpcluster.core.units import SIDEKICK_UNIT, VULCAND_UNIT, is_global, wordpress_units

    assert is_global(VULCAND_UNIT) and is_global(SIDEKICK_UNIT)
    assert not any(is_global(unit) for unit in wordpress_units(load_shape()))


def test_waiting_for_units_wants_a_global_unit_on_every_machine():
    from wpcluster.clients.fleet import Unit
    from wpcluster.core.units import SIDEKICK_UNIT, VULCAND_UNIT, wordpress_units

    shape = load_shape()
    ips = [shape.node_address(n) for n in shape.nodes]
    machines = [Machine(f"m{i}", ip, "-") for i, ip in enumerate(ips)]
    site = [Unit(name, "m0", ips[0], "active", "running") for name in wordpress_units(shape)]
    everywhere = [Unit(u, f"m{i}", ip, "active", "running") for u in (VULCAND_UNIT, SIDEKICK_UNIT)
                  for i, ip in enumerate(ips)]
    deployment = Deployment(SimpleNamespace(shape=shape, nodes=[]), SimpleNamespace(), Secrets.generate())
    deployment.fleet = SimpleNamespace(list_units=lambda: site + everywhere[1:], list_machines=lambda: machines)
    with pytest.raises(DeployError, match=f"not listed: \\['{VULCAND_UNIT} on {ips[0]}'\\]"):
        deployment.wait_units_active(timeout=0)
    deployment.fleet = SimpleNamespace(list_units=lambda: site + everywhere, list_machines=lambda: machines)
    assert len(deployment.wait_units_active(timeout=0)) == len(site) + len(everywhere)
