"""The suites are worth something only if they fail on a broken deployment.

Each check here seeds one defect (``tests/harness/defects.py``), runs the test that must catch it
in a nested session against the same lab, and judges that session's JUnit
(``tests/harness/nested.py``): the named test FAILED in its call phase, with an ``E`` line that
names the defect, after the same test passed on the healthy lab (its control: earlier in the session,
or in a nested run before the defect is seeded; ``tests/harness/nested.py``).
The defect is undone before the check judges, and the site is whole again before the next test.
"""

from __future__ import annotations

import re

import pytest

from tests.harness.defects import (
    admin_with_a_wrong_s3_secret,
    fleetd_with_only_its_own_member,
    frontend_written,
    sidekicks_replaced,
    vulcand_cut_from_etcd,
)
from tests.harness.nested import run_nested
from tests.harness.site_state import make_whole, wordpress_containers
from wpcluster.checks.state import check_etcd_healthy, check_site_whole, etcd_servers, site_containers
from wpcluster.core.waits import eventually

pytestmark = pytest.mark.destructive

ROUTING = "tests/routing"
QUORUM = "tests/cluster/test_etcd_quorum.py::test_every_member_healthy_and_listed"
ADMIN_SURFACE = f"{ROUTING}/test_admin_surface.py"
STATIC_ROUTES = f"{ADMIN_SURFACE}::test_the_route_table_sends_the_whole_admin_surface_to_the_admin_backend"
SURFACE = f"{ADMIN_SURFACE}::test_the_admin_surface_reaches_only_the_admin_container"
STOPPED = f"{ROUTING}/test_deregistration.py::test_stopping_a_unit_deregisters_it_and_starting_brings_it_back"
KILLED = f"{ROUTING}/test_deregistration.py::test_a_container_killed_behind_fleets_back_is_deregistered_on_its_event"
REGISTERED = f"{ROUTING}/test_registration.py::test_every_container_registered_in_etcd_and_vulcand_and_they_agree"
MEMBER_OUTAGE = "tests/cluster/test_fleet.py::test_a_member_outage_past_the_agent_ttl_keeps_the_machine_and_its_units"
UPLOAD = "tests/cache/test_cache.py::test_an_upload_lands_in_the_bucket_in_every_size_and_posts_link_it"
OFFLINE = f"{ROUTING}/test_offline.py::test_with_outbound_traffic_dropped_every_page_answers_without_waiting"


@pytest.fixture
def whole_again(cluster, deployment, etcd, vulcand):
    """After the check, the site whole again: a nested test that failed on purpose may have left its
    own clean-up undone, or fleet may still be moving units a defect made it reschedule."""
    yield
    make_whole(cluster, deployment, etcd, vulcand, when="again after the self-check")


def node_running(cluster, fleet, unit):
    placed = fleet.placed(unit)
    return next(n for n in cluster.nodes if n.address == placed.ip)


@pytest.mark.controls(QUORUM)
def test_quorum_suite_fails_naming_a_member_kept_down(cluster, nemesis):
    down = cluster.nodes[-1]
    nemesis.stop_member(down)
    try:
        nested = run_nested("member-kept-down", QUORUM)
    finally:
        nemesis.start_member(down)
        eventually(lambda: check_etcd_healthy(cluster) or True, 45, 0.5, what="etcd2 whole again")
    nested.prove(QUORUM, rf"{down.name} \({cluster.shape.etcd_client_url(down.address)}\): UNHEALTHY")


@pytest.mark.controls(STATIC_ROUTES, f"{SURFACE}[top-lb]")
def test_a_frontend_leaking_one_admin_sub_path_is_named_by_both_routing_checks(cluster, etcd, whole_again):
    # Its route sorts before the admin route (reverse byte order: `^/w` > `^(`), so it wins.
    leaked = "/wp-admin/options-general.php"
    spec = {"Type": "http", "BackendId": "wordpress", "Route": f"PathRegexp(`^{leaked.replace('.', '[.]')}$`)",
            "Settings": {"PassHostHeader": True, "Stream": True}}
    proxies = {node.name: cluster.vulcand_url(node) for node in cluster.nodes}
    with frontend_written(etcd, cluster.shape.site.vulcand_prefix, "wpc-leak", spec, proxies,
                          (leaked, cluster.shape.site_authority)):
        nested = run_nested("frontend-leaks-a-sub-path", STATIC_ROUTES, f"{SURFACE}[top-lb]")
    nested.prove(STATIC_ROUTES, rf"frontend wpc-leak .*GET {leaked}")
    nested.prove(f"{SURFACE}[top-lb]",
                 rf"GET {leaked} \(file\) -> wordpress-\d+@core-\d+, 403; taken by frontend wpc-leak")


@pytest.mark.controls(STATIC_ROUTES, f"{SURFACE}[top-lb]")
def test_a_frontend_scoped_to_another_host_is_named_by_both_routing_checks(cluster, etcd, whole_again):
    # Sent only with the www. Host (which the top LB passes on); its route sorts before the admin route.
    other = f"www.{cluster.shape.site_host}"
    spec = {"Type": "http", "BackendId": "wordpress",
            "Route": f"PathRegexp(`^/wp-login[.]php$`) && Host(`{other}`)",
            "Settings": {"PassHostHeader": True, "Stream": True}}
    proxies = {node.name: cluster.vulcand_url(node) for node in cluster.nodes}
    with frontend_written(etcd, cluster.shape.site.vulcand_prefix, "wpc-other-host", spec, proxies,
                          ("/wp-login.php", other)):
        nested = run_nested("frontend-scoped-to-another-host", STATIC_ROUTES, f"{SURFACE}[top-lb]")
    nested.prove(STATIC_ROUTES, r"frontend wpc-other-host .*GET /wp-login.php")
    nested.prove(f"{SURFACE}[top-lb]", rf"through top LB with Host {re.escape(other)}, \d+ of \d+ .*\n.*"
                                       rf"GET /wp-login.php \(entry point\) -> wordpress-\d+@core-\d+, \d+( to \S+)?; "
                                       rf"taken by frontend wpc-other-host")


@pytest.mark.controls(STATIC_ROUTES, f"{SURFACE}[vulcand-1]")
def test_an_admin_route_without_apaches_variants_is_named(cluster, fleet, etcd, whole_again):
    prefix = cluster.shape.site.vulcand_prefix
    with sidekicks_replaced(fleet, cluster.nodes, "no-variants"):
        eventually(lambda: "wp-admin(/.*)?|wp-login" in etcd.read(f"/{prefix}/frontends/wordpressadmin/frontend").value,
                   30, 0.5, what="the defective admin route in etcd")
        nested = run_nested("admin-route-without-variants", STATIC_ROUTES, f"{SURFACE}[vulcand-1]")
    nested.prove(STATIC_ROUTES, r"frontend wordpress \(backend wordpress.*GET //wp-admin/")
    nested.prove(f"{SURFACE}[vulcand-1]", r"GET //wp-admin/ \(variant: repeated slash of /wp-admin/\) -> "
                                          r"wordpress-\d+@core-\d+, 403; taken by frontend wordpress ")


@pytest.mark.controls(STOPPED)
def test_a_sidekick_that_never_deregisters_is_named(cluster, fleet, whole_again):
    node = node_running(cluster, fleet, "wordpress@2.service")
    with sidekicks_replaced(fleet, [node], "never-deregisters"):
        nested = run_nested("sidekick-never-deregisters", STOPPED)
    nested.prove(STOPPED, rf"after fleetctl stop wordpress@2.service .* do not avoid wordpress-2@{node.name}")


@pytest.mark.controls(KILLED)
def test_a_sidekick_that_ignores_container_events_is_named(cluster, fleet, whole_again):
    # Its full reconcile would deregister the dead container within the bound as deployed; the test
    # slows it, so only the events it ignores could. (A sidekick that deletes nothing fails the same way.)
    node = node_running(cluster, fleet, "wordpress@3.service")
    with sidekicks_replaced(fleet, [node], "events-ignored"):
        nested = run_nested("sidekick-events-ignored", KILLED)
    nested.prove(KILLED, rf"5s after docker kill wordpress-3 on {node.name} \(its sidekick's full reconcile slowed "
                         rf"to every \d+s: only the container's events can deregister it\), requests still do not "
                         rf"avoid wordpress-3@{node.name}")


@pytest.mark.controls(REGISTERED)
def test_a_sidekick_that_registers_the_wrong_port_is_named(cluster, fleet, etcd, whole_again):
    node = node_running(cluster, fleet, "wordpress@1.service")
    key = ("wordpress", f"{node.name}.wordpress-1")
    with sidekicks_replaced(fleet, [node], "wrong-port"):
        # Registered at a URL, and not the one it runs at: a URL that does not answer is held back by
        # the warm-up gate up to its limit (30 s) before it is registered anyway.
        def at_the_wrong_port() -> bool:
            registered = etcd_servers(etcd, cluster.shape.site.vulcand_prefix).get(key)
            return registered is not None and registered != site_containers(cluster).get(key)

        eventually(at_the_wrong_port, 60, 0.5, what=f"{key[1]} registered at the wrong port")
        nested = run_nested("sidekick-wrong-port", REGISTERED)
    nested.prove(REGISTERED, rf"wrong URL \[[^\]]*{node.name}\.wordpress-1 registered at http://{node.address}:"
                             rf"(\d+) but runs at http://{node.address}:\d+")


@pytest.mark.controls(KILLED)
def test_a_vulcand_that_cannot_reach_etcd_is_named(cluster, whole_again):
    node = cluster.nodes[0]
    with vulcand_cut_from_etcd(cluster, node):
        nested = run_nested("vulcand-cut-from-etcd", KILLED)
    nested.prove(KILLED, rf"through vulcand on {node.name}: (502|no answer|504)")


@pytest.mark.controls(MEMBER_OUTAGE)
@pytest.mark.slow
def test_a_fleetd_that_knows_only_its_own_member_is_named(cluster, whole_again):
    # With the defect, fleet drops the node and reschedules its units; whole_again waits for them.
    node = cluster.nodes[1]
    with fleetd_with_only_its_own_member(cluster, node):
        nested = run_nested("fleetd-only-its-own-member", MEMBER_OUTAGE, timeout=400)
    nested.prove(MEMBER_OUTAGE, rf"fleet listing {node.name} with its etcd member down stopped holding")


@pytest.mark.controls(UPLOAD)
def test_an_admin_that_signs_with_a_wrong_s3_secret_is_named(cluster, fleet, etcd, site, whole_again):
    with admin_with_a_wrong_s3_secret(cluster, fleet):
        # The restarted admin container is registered and answering before the nested run logs in:
        # until then vulcand has no admin server and the login answers 503, which is no upload's fault.
        eventually(lambda: check_site_whole(cluster, etcd, site), 120, 1,
                   what="the site whole with the admin's wrong S3 secret")
        nested = run_nested("admin-wrong-s3-secret", UPLOAD)
    nested.prove(UPLOAD, r"upload answered \d+: (S3 cache: )?cannot store .*bucket '[\w.-]+' at http://\S+.*"
                         r"(SignatureDoesNotMatch|InvalidAccessKeyId|403)")


def run_without_plugin(cluster, deployment, etcd, vulcand, plugin: str, check: str, target: str):  # noqa: ANN001
    """Take the must-use plugin ``plugin`` (its file name) out of every running WordPress container, run
    ``target`` nested as ``check``, and put it back. The defect lives in the running containers: one
    started during the check would carry the plugin again, so the site is settled first and a run whose
    containers changed is refused."""
    path = f"/var/lib/wordpress/wp-content/mu-plugins/{plugin}"
    make_whole(cluster, deployment, etcd, vulcand, when=f"before taking {plugin} out")
    broken = wordpress_containers(cluster)
    assert broken, "no WordPress container to break"
    for node, name in broken.values():
        node.exec(f"docker exec {name} mv {path} /tmp/{plugin}.off").check()
    try:
        nested = run_nested(check, target)
    finally:
        for node, name in broken.values():
            node.exec(f"docker exec {name} mv /tmp/{plugin}.off {path}")
        started = {f"{n.name}.{name}" for cid, (n, name) in wordpress_containers(cluster).items() if cid not in broken}
    assert not started, f"the defect did not hold: {sorted(started)} started during the check, with {plugin}"
    return nested


@pytest.mark.controls(UPLOAD)
def test_cache_suite_fails_when_uploads_stay_local(cluster, deployment, etcd, vulcand):
    """Take the S3 plugin out of every WordPress container: uploads stay local, pages link local files."""
    nested = run_without_plugin(cluster, deployment, etcd, vulcand, "wpcluster-s3-cache.php", "s3-plugin-removed",
                                UPLOAD)
    nested.prove(UPLOAD, r"sizes of the upload missing from the bucket")


@pytest.mark.controls(OFFLINE)
def test_routing_suite_fails_when_pages_wait_on_the_internet(cluster, deployment, etcd, vulcand):
    """Take the cron loopback out of every WordPress container: WordPress starts its cron at the site's
    public address again, and behind a firewall that drops, the admin screens wait on the lookup."""
    nested = run_without_plugin(cluster, deployment, etcd, vulcand, "wpcluster-cron-loopback.php",
                                "cron-at-the-public-address", OFFLINE)
    nested.prove(OFFLINE, r"wp-admin/(install|upgrade)\.php: .* after 1[0-9]\.[0-9]s")
