"""Path routing: / spreads over the five public containers; public containers refuse the admin doors.

That the whole admin surface reaches only the admin container is test_admin_surface.py's.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

REQUESTS = 60  # per path and entry point: enough for round-robin to reach all five several times


ENTRY_IDS = ["top-lb", "vulcand-1", "vulcand-2", "vulcand-3"]


def entry_points(cluster):
    """The top LB, then every node's vulcand."""
    return [("top LB", f"http://{cluster.site_address}")] + [
        (f"vulcand on {n.name}", cluster.vulcand_url(n)) for n in cluster.nodes
    ]


def spread(site, path, via, n=REQUESTS):
    answers = [site.get(path, via=via) for _ in range(n)]
    return Counter(a.container for a in answers), Counter(a.status for a in answers)


def public_names(cluster):
    return {f"wordpress-{i}" for i in range(1, cluster.shape.site.wordpress_instances + 1)}


@pytest.mark.parametrize("index", range(4), ids=ENTRY_IDS)
def test_home_reaches_all_public_containers_and_never_the_admin(cluster, site, index):
    name, via = entry_points(cluster)[index]
    containers, statuses = spread(site, "/", via)
    assert statuses == {200: REQUESTS}, f"/ through {name} answered {dict(statuses)}"
    assert "wordpress-admin" not in containers, f"/ through {name} reached the admin container: {dict(containers)}"
    assert set(containers) == public_names(cluster), (
        f"/ through {name} reached {dict(containers)}, expected every one of {sorted(public_names(cluster))}"
    )


def test_an_admin_logs_in_through_the_lb_and_opens_the_dashboard(cluster, site, secrets):
    session = site.login(cluster.shape.site.admin_user, secrets["WORDPRESS_ADMIN_PASSWORD"])
    dashboard = site.get("/wp-admin/", session=session)
    assert dashboard.status == 200, f"dashboard answered {dashboard.status} from {dashboard.served_by}"
    assert dashboard.container == "wordpress-admin"
    assert re.search(r"<title>Dashboard", dashboard.response.text), dashboard.response.text[:300]


def test_every_response_names_its_container_and_node(cluster, site):
    nodes = set(cluster.shape.nodes)
    for _ in range(10):
        answer = site.get("/")
        container, _, node = answer.served_by.partition("@")
        assert re.fullmatch(r"wordpress-\d+", container) and node in nodes, f"X-Served-By: {answer.served_by!r}"


def test_the_site_answers_where_the_seed_browses_it(cluster, site):
    """The seed's exercise 3 opens the site on the host's port 8888; on its VMs that is core-01's vulcand
    forwarded by vagrant, not the harness's top LB."""
    address = cluster.seed_site_address
    if address is None:
        pytest.skip(f"on the {cluster.provider} cluster the seed's address is the top LB's, judged above")
    answers = [site.get("/", via=f"http://{address}") for _ in range(5)]
    wrong = [a.status for a in answers if a.status != 200]
    assert not wrong, f"the site at {address} (the seed's forwarded port) answered {wrong} of 5 home pages"
    assert {a.container for a in answers} <= public_names(cluster), (
        f"the seed's address {address} reached {sorted({a.container for a in answers})}, not only public containers")
