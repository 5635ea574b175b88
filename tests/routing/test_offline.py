"""The site's pages never wait on the internet.

Outbound traffic from the nodes is dropped here, as a firewall that drops (rather than refuses) does:
a page that asks a name or an address outside the cluster then waits out the resolver's or the
connection's timeouts. WordPress asks for its own public address to start its cron (a name only
visitors resolve), and its install and upgrade screens start it on every request: behind such a
firewall they took 20 s and vulcand answered 504. Every page here must answer as fast as a read
may (the bound the failover verdicts call slow), several times over, so a cron started on the way is
met.

WordPress starts its cron only when an event is due, and a site whose events have run has none due
for up to an hour: the test makes one due first, so what it judges does not depend on the clock.
"""

from __future__ import annotations

import time

import pytest
import requests

from wpcluster.checks.admin_surface import WORDPRESS_ROOT
from wpcluster.checks.state import site_containers
from wpcluster.checks.thresholds import SLOW_READ_SECONDS

# Pages that start WordPress's cron (install.php and upgrade.php on every request) or that could
# ask wordpress.org (the dashboard's browser and PHP checks), and the public pages.
PUBLIC_PAGES = ("/", "/wp-login.php", "/?s=cluster", "/wp-json/")
ADMIN_SCREENS = ("/wp-admin/install.php", "/wp-admin/upgrade.php")
ROUNDS = 3
# A cron event of this test's own: due when the pages are asked, taken out afterwards.
CRON_HOOK = "wpcluster_offline_check"


def drop_outbound(node, subnet: str) -> str:
    """Drop what the node's containers send outside the lab's subnet; return the rule, for its removal.
    Only traffic from the node's container bridge out of it: vulcand's way to the containers (into the
    bridge) and the containers' way to MariaDB and the S3 store (in the subnet) stay open."""
    rule = f"FORWARD -i docker0 ! -o docker0 ! -d {subnet} -j DROP"
    node.exec(f"iptables -I {rule}").check()
    return rule


def wordpress_php(cluster, code: str) -> None:  # noqa: ANN001
    """Run PHP with WordPress loaded in one running WordPress container (they share one database)."""
    running = [server_id for _, server_id in site_containers(cluster)]
    assert running, "no WordPress container runs on any node"
    node, name = running[0].split(".", 1)  # a server id: <node>.<container>
    script = f"<?php require '{WORDPRESS_ROOT}/wp-load.php'; {code}"
    cluster.node(node).exec(f"docker exec -i {name} php <<'PHP'\n{script}\nPHP").check()


@pytest.fixture
def cron_due(cluster):  # noqa: ANN001
    """A cron event due now and no cron run holding its lock: the next page starts WordPress's cron."""
    wordpress_php(cluster, f"wp_schedule_single_event(time() - 1, '{CRON_HOOK}'); delete_transient('doing_cron');")
    yield
    wordpress_php(cluster, f"wp_clear_scheduled_hook('{CRON_HOOK}');")


@pytest.mark.destructive
@pytest.mark.usefixtures("cron_due")
def test_with_outbound_traffic_dropped_every_page_answers_without_waiting(cluster, site, secrets):
    if cluster.provider != "lab":
        pytest.skip("what is outside the cluster is known on the lab only (its subnet)")
    subnet = str(cluster.shape.lab_subnet)
    dropped = []
    slow = []
    try:
        for node in cluster.nodes:
            dropped.append((node, drop_outbound(node, subnet)))
        started, session, failed = time.monotonic(), None, ""
        try:  # logging in is a page too, and the first to start a cron on the way
            session = site.login(cluster.shape.site.admin_user, secrets["WORDPRESS_ADMIN_PASSWORD"],
                                 timeout=SLOW_READ_SECONDS * 4)
        except (requests.RequestException, AssertionError) as exc:
            failed = f"{type(exc).__name__} "
        took = time.monotonic() - started
        if failed or took > SLOW_READ_SECONDS:
            slow.append(f"/wp-login.php (logging in): {failed}after {took:.1f}s")
        dashboard = [("/wp-admin/", {"session": session})] if session else []
        for _ in range(ROUNDS):
            for path, kwargs in [(p, {}) for p in PUBLIC_PAGES + ADMIN_SCREENS] + dashboard:
                started = time.monotonic()
                try:
                    answer = site.get(path, timeout=SLOW_READ_SECONDS * 4, **kwargs)
                except requests.RequestException as exc:  # a page that never answers is what this test names
                    answer, seen = None, f"no answer: {type(exc).__name__}"
                else:
                    seen = f"{answer.status} from {answer.served_by or 'no container (vulcand itself)'}"
                took = time.monotonic() - started
                if took > SLOW_READ_SECONDS or answer is None or answer.status >= 500:
                    slow.append(f"{path}: {seen} after {took:.1f}s")
    finally:
        for node, rule in dropped:
            node.exec(f"iptables -D {rule}")
    assert not slow, (
        f"with the nodes' outbound traffic dropped, {len(slow)} page request(s) waited past {SLOW_READ_SECONDS:g}s "
        f"or failed: a page waits on a name or an address outside the cluster (WordPress's cron started at "
        f"the site's public address, or a call to wordpress.org):\n  " + "\n  ".join(slow))
