"""The failover suites must fail, naming what broke, when the deployment is broken on purpose.

One self-check per fault kind where a realistic defect exists (docs/selfchecks.md):
the defect is seeded, the failover test runs in a nested session, and its JUnit must show it failed
at the assertion that names the defect.
"""

from __future__ import annotations

import re
import shlex

import pytest

from tests.failover.load import steady_readers
from tests.harness.defects import sidekicks_replaced
from tests.harness.nested import run_nested
from tests.harness.site_state import make_whole, wait_every_public_container_reached, wordpress_containers
from wpcluster.checks.state import check_etcd_healthy
from wpcluster.core.shape import PROJECT_ROOT
from wpcluster.core.units import ADMIN_UNIT, SITE_ENV_PATH, UNITS_DIR
from wpcluster.core.waits import eventually
from wpcluster.faults import ETCD_UNIT
from wpcluster.providers.hosts.containers import tarball
from wpcluster.providers.hosts.fault_proxy import proxied_endpoint
from wpcluster.providers.hosts.top_lb import HAPROXY_CFG, LAST_ROUTES_SUFFIX, haproxy_config

ADMIN = ADMIN_UNIT


@pytest.fixture(autouse=True)
def load_of_the_healthy_site(request, cluster, site):
    """The readers' load comes from the healthy site's capacity, measured before any defect is seeded
    (tests/failover/load.py): the nested runs inherit it, so a defect is judged at the same load."""
    steady_readers(request.config, cluster)

NODE_KILL = "tests/failover/test_node_loss.py::test_killing_the_admin_node_moves_admin_and_keeps_the_site_up"


@pytest.mark.controls(NODE_KILL)
@pytest.mark.destructive
@pytest.mark.slow
def test_node_kill_suite_names_a_unit_pinned_to_the_dead_machine(cluster, fleet, deployment, tmp_path):
    # Pin the admin unit to the machine it runs on: fleet can then never move it off a dead node.
    placed = fleet.placed(ADMIN)
    pinned = tmp_path / ADMIN
    unit = (UNITS_DIR / ADMIN).read_text()
    # fleet refuses MachineID beside Conflicts; one admin unit needs no Conflicts anyway.
    pinned.write_text(unit.split("[X-Fleet]")[0] + f"[X-Fleet]\nMachineID={placed.machine_id}\n")
    fleet.destroy(ADMIN)
    deployment.wait_released([ADMIN])
    try:
        fleet.submit(pinned)
        fleet.start(ADMIN)
        deployment.wait_units_active()
        nested = run_nested("admin-pinned-to-the-killed-node", NODE_KILL, timeout=900)
    finally:
        fleet.destroy(ADMIN)
        deployment.wait_released([ADMIN])
        fleet.submit(UNITS_DIR / ADMIN)
        fleet.start(ADMIN)
        eventually(lambda: deployment.wait_units_active(timeout=0) or True, 180, 2, what="the admin unit back")
    nested.prove(NODE_KILL, r"recovery from the fault's start through the site: none within the observation.*"
                            r"not whole within the wait: .*wordpress-admin\.service")


DB_PAUSE = "tests/failover/test_site_services.py::test_mariadb_lost_fails_fast_and_recovers[pause]"
DB_STOP = "tests/failover/test_site_services.py::test_mariadb_lost_fails_fast_and_recovers[stop]"
DB_STALL = "tests/failover/test_slow_paths.py::test_a_stalled_database_link_fails_pages_fast_and_recovers"
# What makes a WordPress container fail fast on a lost database (images/wordpress): PHP's connect
# and read timeouts, and the wpdb drop-in that does not retry a lost connection.
FAIL_FAST_FILES = ("/etc/php/8.2/apache2/conf.d/20-wpcluster.ini", "/var/lib/wordpress/wp-content/db.php")


@pytest.mark.controls(DB_STOP, DB_PAUSE, DB_STALL)
@pytest.mark.destructive
@pytest.mark.slow
def test_db_fault_suites_name_pages_that_hang_without_the_fail_fast_settings(cluster, deployment, site):
    """Take the fail-fast settings out of every WordPress container (PHP's defaults: a minute to connect,
    a day to read, five reconnects): the stopped-MariaDB, frozen-MariaDB and stalled-link tests must
    fail, each naming the requests that hung."""
    moved = []
    aside = " && ".join(f"mv {path} /tmp/{path.rsplit('/', 1)[1]}.off" for path in FAIL_FAST_FILES)
    for node, name in wordpress_containers(cluster).values():
        if node.exec(f"docker exec {name} sh -c '{aside} && apache2ctl graceful'").ok:
            moved.append((node, name))
    assert moved, "no WordPress container to break"
    try:
        nested = run_nested("db-without-fail-fast", DB_STOP, DB_PAUSE, DB_STALL, timeout=1200)
    finally:
        back = " && ".join(f"mv /tmp/{path.rsplit('/', 1)[1]}.off {path}" for path in FAIL_FAST_FILES)
        for node, name in moved:
            # Graceful: the socket stays open, so no request is refused (a refusal makes vulcand's
            # rebalancer starve that server for a while, and the next suite finds it unreached).
            node.exec(f"docker exec {name} sh -c '{back} && apache2ctl graceful'")
        wait_every_public_container_reached(cluster, site)
    nested.prove(DB_STOP, r"db-stop on db broke .*hung requests through [^:]+: [1-9]\d*, bound 0")
    nested.prove(DB_PAUSE, r"db-pause on db broke .*hung requests through [^:]+: [1-9]\d*, bound 0")
    nested.prove(DB_STALL, r"db-stall on db broke .*hung requests through [^:]+: [1-9]\d*, bound 0")


S3_STALL = ("tests/failover/test_slow_paths.py::"
            "test_a_slow_or_stalled_store_link_leaves_pages_alone_and_uploads_answer[stall]")
S3_CLIENT = "/var/lib/wordpress/wp-content/mu-plugins/wpcluster-s3-cache/s3-client.php"
STALL_BOUND, NO_STALL_BOUND = "stall_timeout = 5;", "stall_timeout = 0;"  # 0: curl's low-speed check off


@pytest.mark.controls(S3_STALL)
@pytest.mark.destructive
@pytest.mark.slow
def test_store_stall_suite_names_an_upload_that_hangs_without_the_stall_bound(cluster, fleet, deployment, site):
    """Take the stall bound out of the S3 client in the admin container (curl's whole-request minute
    alone, as the plugin had it): the stalled-store test must fail, naming the upload that hung."""
    placed = fleet.placed(ADMIN)
    node = next(n for n in cluster.nodes if n.address == placed.ip)

    def swap(old: str, new: str) -> None:
        script = f"sed -i 's/{old}/{new}/' {S3_CLIENT} && grep -qF '{new}' {S3_CLIENT} && apache2ctl graceful"
        node.exec(f"docker exec wordpress-admin sh -c {shlex.quote(script)}").check()

    swap(STALL_BOUND, NO_STALL_BOUND)
    try:
        nested = run_nested("store-without-stall-bound", S3_STALL, timeout=600)
    finally:
        swap(NO_STALL_BOUND, STALL_BOUND)
    nested.prove(S3_STALL, r"an upload with the S3 store's link stalled hung")


MAJORITY = ("tests/failover/test_etcd_majority.py::"
            "test_losing_the_etcd_majority_keeps_the_site_on_its_last_routes")
LAST_ROUTES = ("    use_backend vulcands if { nbsrv(vulcands) gt 0 }\n"
               "    default_backend vulcands_on_last_routes\n")


def load_lb_config(cluster, config: str) -> None:
    """Put the top LB's HAProxy config in as the provider does and reload it (master-worker: SIGUSR2)."""
    lb = cluster.client.containers.get(cluster.container_name("lb"))
    lb.put_archive("/", tarball({HAPROXY_CFG.lstrip("/"): (config, 0o644)}))
    lb.kill(signal="SIGUSR2")


def run_nested_behind_lb(cluster, site, broken: str, name: str, target: str):
    """Run ``target`` nested with the top LB on the ``broken`` config, then put the provider's back and
    wait for the site to answer through it."""
    load_lb_config(cluster, broken)
    try:
        return run_nested(name, target, timeout=600)
    finally:
        load_lb_config(cluster, haproxy_config(cluster.shape))
        eventually(lambda: site.get("/").status == 200, 30, 0.5, what="the site answering through the restored LB")


@pytest.mark.controls(MAJORITY)
@pytest.mark.destructive
@pytest.mark.slow
def test_majority_suite_names_lb_errors_without_the_last_routes_fallback(cluster, site):
    """Take away the top LB's fallback to the vulcands that still serve (its backend of last routes
    and the backup servers that follow it): with the majority lost every vulcand fails its etcd
    check, so the LB has no server left. The majority test must fail on the
    top LB's error rate."""
    if cluster.provider != "lab":
        pytest.skip("the top LB's config is the lab's to change")
    config = haproxy_config(cluster.shape)
    assert LAST_ROUTES in config and LAST_ROUTES_SUFFIX in config, (
        f"the LB config no longer falls back as the self-check expects:\n{config}")
    without = re.sub(rf"^    server \S+{LAST_ROUTES_SUFFIX} .*\n", "", config, flags=re.MULTILINE)
    nested = run_nested_behind_lb(cluster, site, without.replace(LAST_ROUTES, "    default_backend vulcands\n"),
                                  "lb-without-last-routes", MAJORITY)
    # Named by who refused: the LB itself (503, no server left) while the vulcands read directly served.
    nested.prove(MAJORITY, r"etcd-majority-lost on [\w+-]+ broke .*error rate (during|after) through top LB: "
                           r"[\d.]+% \(503 x\d+[^)]*\), bound 1%")


PAUSE = "tests/failover/test_node_loss.py::test_pausing_a_node_and_resuming_it"


def blind_lb_config(config: str) -> str:
    """The top LB's config with every check it makes of a vulcand reduced to a TCP connect and no agent
    asked: a frozen node's kernel still accepts connections, so its vulcand stays in rotation."""
    blind = re.sub(r"^    (option httpchk|http-check .*)\n", "", config, flags=re.MULTILINE)
    blind = re.sub(r" agent-check .*$", "", blind, flags=re.MULTILINE)
    assert "httpchk" not in blind and "agent-check" not in blind and " check " in blind, (
        f"the LB config no longer checks vulcands as the self-check expects:\n{config}")
    return blind


@pytest.mark.controls(PAUSE)
@pytest.mark.destructive
@pytest.mark.slow
def test_pause_suite_names_slow_reads_through_an_lb_blind_to_a_frozen_vulcand(cluster, site):
    """Make the top LB's checks blind to a frozen vulcand (a TCP connect, which a frozen node's kernel
    still accepts, and no agent). Its first-try retry turns every read it sends there into a 3 s wait
    instead of an error, so only the slow-read bound can see it: the pause test must fail on the slow
    reads through the top LB."""
    if cluster.provider != "lab":
        pytest.skip("the top LB's config is the lab's to change")
    nested = run_nested_behind_lb(cluster, site, blind_lb_config(haproxy_config(cluster.shape)),
                                  "lb-blind-to-a-frozen-vulcand", PAUSE)
    nested.prove(PAUSE, r"node-pause on [\w-]+ broke .*slow reads \(over [\d.]+s\) through top LB")


TOP_LB = "tests/routing/test_top_lb.py::test_the_top_lb_takes_out_a_frozen_vulcand_and_brings_it_back"


@pytest.mark.controls(TOP_LB)
@pytest.mark.destructive
def test_top_lb_check_names_an_lb_that_only_connects(cluster, site):
    """The same blind config, judged where it is decided: the top LB's own view of a frozen vulcand."""
    if cluster.provider != "lab":
        pytest.skip("the top LB's config is the lab's to change")
    nested = run_nested_behind_lb(cluster, site, blind_lb_config(haproxy_config(cluster.shape)),
                                  "lb-that-only-connects", TOP_LB)
    nested.prove(TOP_LB, r"the top LB kept the frozen vulcand on core-01 in rotation for good .*its checks do not "
                         r"see a vulcand that accepts connections and answers nothing")


DOCKERD_RESTART = "tests/failover/test_node_daemons.py::test_restarting_dockerd_brings_the_nodes_units_back_in_place"
TEMPLATE = "wordpress@.service"


@pytest.mark.controls(DOCKERD_RESTART)
@pytest.mark.destructive
@pytest.mark.slow
def test_dockerd_restart_suite_names_units_that_do_not_come_back(cluster, fleet, deployment, site, tmp_path):
    """Public units that only *want* docker.service (Wants=, not Requires=): systemd does not restart them
    with dockerd, so their containers die with it and the units fail. The dockerd-restart test must
    fail, naming the restarted node's public units whose containers are gone."""
    public = [f"wordpress@{i}.service" for i in range(1, cluster.shape.site.wordpress_instances + 1)]
    unit = (UNITS_DIR / TEMPLATE).read_text()
    assert "Requires=docker.service" in unit, "the unit no longer requires docker.service: rewrite this defect"
    weak = tmp_path / TEMPLATE
    weak.write_text(unit.replace("Requires=docker.service", "Wants=docker.service"))

    def resubmit(template) -> None:  # noqa: ANN001 - a path
        fleet.destroy(*public, TEMPLATE)
        deployment.wait_released(public)
        fleet.submit(template)
        fleet.start(*public)
        eventually(lambda: deployment.wait_units_active(timeout=0) or True, 180, 2, what="the public units back")

    resubmit(weak)
    try:
        nested = run_nested("units-not-restarted-with-dockerd", DOCKERD_RESTART, timeout=600)
    finally:
        resubmit(UNITS_DIR / TEMPLATE)
        wait_every_public_container_reached(cluster, site)
    # Named by what the recovery checks saw: the node's public units scheduled there, their containers gone.
    nested.prove(DOCKERD_RESTART, r"dockerd-restart on (core-\d+) broke .*recovery from the fault's start through the "
                                  r"site: (none within the observation|[\d.]+s), bound.*note: .*units not running on "
                                  r"live machines: \['wordpress@\d+\.service scheduled on \1, its container running on "
                                  r"no node")


LEADER_KILL = ("tests/failover/test_node_loss.py::"
               "test_killing_the_etcd_leader_elects_a_new_one_and_registrations_continue")


@pytest.mark.controls(LEADER_KILL)
@pytest.mark.destructive
@pytest.mark.slow
def test_leader_kill_suite_names_registrations_lost_by_a_sidekick_on_its_own_member_only(cluster, fleet, deployment,
                                                                                         etcd, vulcand):
    """Sidekicks that ask their own node's etcd member only (the ``ETCD_ENDPOINTS`` after the first
    ignored): the killed leader's node stops refreshing its servers, which expire under running
    containers. The leader-kill test must fail, naming the registrations lost."""
    with sidekicks_replaced(fleet, cluster.nodes, "own-member-only"):
        nested = run_nested("sidekicks-on-their-own-member", LEADER_KILL, timeout=600)
    make_whole(cluster, deployment, etcd, vulcand, when="again with the sidekicks restored")
    nested.prove(LEADER_KILL, r"site containers lost their registration with core-\d+'s etcd member dead: "
                              r"etcd disagrees with the containers: not registered \['core-\d+\.")


BANDWIDTH_CAP = "tests/failover/test_gray_network.py::test_a_node_behind_a_bandwidth_cap_keeps_the_site_serving"


@pytest.mark.controls(BANDWIDTH_CAP)
@pytest.mark.destructive
@pytest.mark.slow
def test_bandwidth_cap_suite_names_lb_errors_without_outlier_detection(cluster, fleet, deployment, etcd, vulcand):
    """Sidekicks that neither probe their peers nor answer probes: a node behind a narrow link keeps
    its servers in every vulcand, and reads sent there crawl past the readers' timeout. The
    bandwidth-cap test must fail on its error rate through the top LB (lab: 10.8 %, and slow reads
    for the whole 35 s)."""
    with sidekicks_replaced(fleet, cluster.nodes, "no-outliers"):
        nested = run_nested("sidekicks-without-outlier-detection", BANDWIDTH_CAP, timeout=600)
    make_whole(cluster, deployment, etcd, vulcand, when="again with the sidekicks restored")
    nested.prove(BANDWIDTH_CAP, r"bandwidth-cap [\w ]+ on [\w-]+ broke .*error rate (during|after) through top LB: "
                                r"[\d.]+%( \([^)]*\))?, bound 1%")


MEMBER_REPLACE = ("tests/failover/test_node_daemons.py::"
                  "test_replacing_an_etcd_member_under_load_keeps_the_site_and_registrations")
# The member the replacement test replaces (it takes the last node).
REPLACED = -1


@pytest.mark.controls(MEMBER_REPLACE)
@pytest.mark.destructive
@pytest.mark.slow
def test_member_replace_suite_names_a_member_that_always_starts_a_new_cluster(cluster, nemesis, tmp_path):
    """The replaced node's etcd told ``--initial-cluster-state=new`` on its command line, whatever its
    environment says (a node config written for the first boot and never for a rejoin): once its data
    is wiped it tries to found a cluster of its own instead of joining, and never comes back. The
    member-replacement test must fail, naming the member that did not rejoin."""
    node = cluster.nodes[REPLACED]
    dropin = f"/etc/systemd/system/{ETCD_UNIT}.d/wpcluster-defect.conf"
    node.put_file(dropin, "# wpcluster self-check: a seeded defect\n[Service]\nExecStart=\n"
                          "ExecStart=/usr/bin/etcd --initial-cluster-state=new\n")
    node.exec("systemctl daemon-reload").check()
    try:
        nested = run_nested("member-always-new", MEMBER_REPLACE, timeout=600)
    finally:
        node.exec(f"rm -f {dropin} && systemctl daemon-reload").check()
        # The member that founded a cluster of its own is replaced again, the right way.
        try:
            nemesis.check_member_joined(node)
        except AssertionError:
            nemesis.remove_member(node)
            nemesis.add_member_back(node)
        eventually(lambda: check_etcd_healthy(cluster) or True, 60, 1, what="etcd2 whole again")
    nested.prove(MEMBER_REPLACE, rf"{node.name}'s etcd member did not rejoin the cluster within")


DB_LATENCY = "tests/failover/test_slow_paths.py::test_a_slow_database_link_slows_pages_and_fails_none"


def restart_wordpress_with_db_host(cluster, host: str) -> None:  # noqa: ANN001
    """Every node's site.env names ``host`` as MariaDB's; each WordPress unit is restarted in place
    (by systemd on its node: fleet would place it anew) so that its container reads it."""
    for node in cluster.nodes:
        node.exec(f"sed -i 's|^WORDPRESS_DB_HOST=.*|WORDPRESS_DB_HOST={host}|' {SITE_ENV_PATH} && "
                  f"grep -qx 'WORDPRESS_DB_HOST={host}' {SITE_ENV_PATH}").check()
        units = node.exec("systemctl list-units --plain --no-legend 'wordpress*'").check().stdout.split()
        for unit in (u for u in units if u.endswith(".service")):
            node.exec(f"systemctl restart {unit}", timeout=120).check()


@pytest.mark.controls(DB_LATENCY)
@pytest.mark.destructive
@pytest.mark.slow
def test_db_latency_suite_notices_a_site_that_bypasses_the_fault_proxy(cluster, deployment, etcd, vulcand, site):
    """WordPress pointed at MariaDB itself instead of the fault proxy in front of it: a latency fault
    then slows nothing, and the slow-DB test must fail saying its fault never reached the site,
    not pass on a site it did not slow."""
    if cluster.provider != "lab":
        pytest.skip("the fault proxy is the lab's")
    proxied, direct = proxied_endpoint(cluster.shape, "db"), cluster.shape.host_endpoint("db")
    restart_wordpress_with_db_host(cluster, direct)
    try:
        make_whole(cluster, deployment, etcd, vulcand, site=site)
        nested = run_nested("site-bypasses-the-fault-proxy", DB_LATENCY, timeout=600)
    finally:
        restart_wordpress_with_db_host(cluster, proxied)
        make_whole(cluster, deployment, etcd, vulcand, site=site)
    nested.prove(DB_LATENCY, r"the site does not reach MariaDB through the fault proxy")


S3_DOWN = "tests/failover/test_site_services.py::test_the_s3_store_down_leaves_pages_rendering"
S3_SLOW = ("tests/failover/test_slow_paths.py::"
           "test_a_slow_or_stalled_store_link_leaves_pages_alone_and_uploads_answer[latency]")
S3_PLUGIN = "wp-content/mu-plugins/wpcluster-s3-cache.php"
S3_PLUGIN_IN_IMAGE = f"/var/lib/wordpress/{S3_PLUGIN}"
REWRITE_ANCHOR = "        // Not flushable: the callback sees the whole page once.\n"
# Points a page at the bucket only once the bucket has answered for it: a round trip to the store
# on every page, so a page waits for the store whenever the store does not answer.
BUCKET_CONFIRMED = ("        if (!is_array($this->client->list_objects('wp-includes/version.php'))) {  // DEFECT\n"
                    "            return;\n"
                    "        }\n")


@pytest.mark.controls(S3_DOWN, S3_SLOW)
@pytest.mark.destructive
@pytest.mark.slow
def test_store_down_and_slow_suites_name_pages_that_wait_for_the_store(cluster, site):
    """The S3 plugin confirms the bucket answers before it rewrites a page (a listing per page): with
    the store down every page waits for it, and with its link slow every page is slower by a round
    trip, though no page needs the store. The store-down and slow-store tests must both fail on the
    readers' figures."""
    source = (PROJECT_ROOT / "images" / "wordpress" / "mu-plugins" / S3_PLUGIN.rsplit("/", 1)[1]).read_text()
    assert source.count(REWRITE_ANCHOR) == 1, (
        f"the plugin's rewrite no longer starts as the defect expects:\n{REWRITE_ANCHOR}")
    mutated = source.replace(REWRITE_ANCHOR, BUCKET_CONFIRMED + REWRITE_ANCHOR)
    staged = "/var/lib/wpcluster-defect/wpcluster-s3-cache.php"  # the node's dockerd has a private /tmp
    changed = []
    for node, name in wordpress_containers(cluster).values():
        node.put_file(staged, mutated)
        node.exec(f"docker exec {name} cp -p {S3_PLUGIN_IN_IMAGE} /tmp/s3-plugin.orig && "
                  f"docker cp {staged} {name}:{S3_PLUGIN_IN_IMAGE} && "
                  f"docker exec {name} sh -c 'chmod 644 {S3_PLUGIN_IN_IMAGE} && apache2ctl graceful'").check()
        changed.append((node, name))
    try:
        nested = run_nested("plugin-confirms-the-bucket-per-page", S3_DOWN, S3_SLOW, timeout=900)
    finally:
        for node, name in changed:
            node.exec(f"docker exec {name} sh -c 'mv /tmp/s3-plugin.orig {S3_PLUGIN_IN_IMAGE} && apache2ctl graceful'")
        wait_every_public_container_reached(cluster, site)
    # Either of the store-down test's checks names the pages waiting: the error rate its readers saw, or
    # its own home page going unanswered first (a slower machine holds the waits past its timeout).
    nested.prove(S3_DOWN, r"s3-stop on s3 broke .*error rate (during|after) through top LB"
                          r"|the home page rendering with S3 down stopped holding")
    nested.prove(S3_SLOW, r"the median page was \d+ ms slower with the S3 store's link slow")


FLEETD_HUNG = "tests/failover/test_node_daemons.py::test_a_hung_fleetd_is_restarted_and_the_node_stays_in_the_cluster"


@pytest.mark.controls(FLEETD_HUNG)
@pytest.mark.destructive
@pytest.mark.slow
def test_hung_fleetd_suite_names_a_node_without_the_fleet_watchdog(cluster):
    """The node's fleet watchdog stopped: nothing kills a fleetd that hangs, and the node stays out
    of fleet until someone does (fleet v1.0.0's own panic comes a minute later, after its units were
    moved). The hung-fleetd test must fail, naming the frozen fleetd that was never replaced."""
    for node in cluster.nodes:  # whichever node the test freezes
        node.exec("systemctl stop fleet-watchdog.service").check()
    try:
        nested = run_nested("no-fleet-watchdog", FLEETD_HUNG, timeout=600)
    finally:
        for node in cluster.nodes:
            node.exec("systemctl start fleet-watchdog.service").check()
    nested.prove(FLEETD_HUNG, r"the fleet watchdog replacing the frozen fleetd .* not reached")
