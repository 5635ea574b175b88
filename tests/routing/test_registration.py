"""Registration: what runs is what etcd holds is what every vulcand routes."""

from __future__ import annotations

import re

import pytest

from wpcluster.checks.state import check_registration, etcd_servers, site_containers


@pytest.mark.checks("site-registered")
def test_every_container_registered_in_etcd_and_vulcand_and_they_agree(cluster, etcd, vulcand):
    check_registration(cluster, etcd, vulcand)


def test_all_five_public_containers_and_the_admin_run(cluster):
    running = site_containers(cluster)
    public = sorted(sid.split(".", 1)[1] for backend, sid in running if backend == "wordpress")
    admin = [sid for backend, sid in running if backend == "wordpressadmin"]
    n = cluster.shape.site.wordpress_instances
    assert public == sorted(f"wordpress-{i}" for i in range(1, n + 1)), f"public containers: {public}"
    assert len(admin) == 1, f"admin containers: {admin}"


def test_server_keys_carry_a_ttl(cluster, etcd):
    ttl = cluster.shape.site.server_ttl
    for backend, sid in etcd_servers(etcd, cluster.shape.site.vulcand_prefix):
        node = etcd.read(f"/{cluster.shape.site.vulcand_prefix}/backends/{backend}/servers/{sid}")
        assert node.ttl is not None and 0 < node.ttl <= ttl, f"{sid} has ttl {node.ttl}, expected 1..{ttl}"


def route_pattern(route: str) -> str:
    match = re.fullmatch(r"PathRegexp\(`(.*)`\)", route)
    assert match, f"route {route!r} is not a single PathRegexp"
    return match.group(1)


def test_frontends_route_admin_paths_to_the_admin_backend(vulcand):
    for node, api in vulcand.items():
        frontends = api.frontends()
        admin, public = frontends.get("wordpressadmin"), frontends.get("wordpress")
        assert admin and admin["BackendId"] == "wordpressadmin", f"{node}: admin frontend is {admin}"
        assert public and public["BackendId"] == "wordpress", f"{node}: public frontend is {public}"
        pattern = route_pattern(admin["Route"])
        for path in ("/wp-admin/", "/wp-admin/edit.php", "/wp-login.php"):
            assert re.search(pattern, path), f"{node}: the admin route {admin['Route']} does not take {path}"
        for path in ("/", "/hello-world/", "/blog/wp-admin/"):
            assert not re.search(pattern, path), f"{node}: the admin route {admin['Route']} takes {path}"
