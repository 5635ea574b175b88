"""Admin isolation over the whole admin surface: every admin file, entry point, variant and write.

The corpus comes from the deployed WordPress (every file under wp-admin/ in the admin container)
plus the variants Apache serves as the same file (``wpcluster/checks/admin_surface.py``). Two views of
one promise, "only the admin container serves the admin surface and every write":

* static: every frontend under vulcand's prefix in etcd, in vulcand v0.9.2's route order
  (``wpcluster/checks/routes.py``), must send each admin-only request to the admin backend;
* dynamic: the whole corpus, sent as written, through the top LB and every vulcand, must be
  answered by wordpress-admin (or, for a path Apache does not serve as admin, refused by a public
  container).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.routing.test_routing import ENTRY_IDS, entry_points
from wpcluster.checks.admin_surface import ADMIN_BACKEND, ADMIN_CONTAINER, corpus, deployed_admin_files, send_all
from wpcluster.checks.routes import read_table
from wpcluster.checks.state import (
    check_admin_routes,
    check_admin_surface_through,
    check_route_table_sane,
    etcd_servers,
    site_containers,
)
from wpcluster.core.units import unit_of
from wpcluster.deployment.deploy import ADMIN_SECRET_NAMES


@pytest.fixture(scope="module")
def admin_corpus(cluster, deployment):
    return corpus(deployed_admin_files(cluster))


@pytest.fixture
def route_table(cluster, etcd):
    return read_table(etcd, cluster.shape.site.vulcand_prefix)


def fail(message: str):
    pytest.fail(message, pytrace=False)  # the message names every problem; a traceback adds nothing


def test_the_corpus_covers_every_admin_file_and_the_variants(admin_corpus):
    files = [p for p in admin_corpus if p.why == "file"]
    assert len(files) > 100, f"only {len(files)} files under wp-admin/ in the admin container"
    kinds = {p.why.split(" of ")[0] for p in admin_corpus}
    for kind in ("variant: repeated slash", "variant: dot segment", "variant: percent-encoded letter "
                 "(lower-case hex)", "variant: letter case", "variant: trailing slash", "variant: query string",
                 "write", "entry point"):
        assert kind in kinds or any(k.startswith(kind) for k in kinds), f"no {kind} in the corpus: {sorted(kinds)}"


def test_the_route_table_has_nothing_vulcand_would_refuse(route_table):
    try:
        check_route_table_sane(route_table)
    except AssertionError as exc:
        fail(str(exc))


def test_the_route_table_sends_the_whole_admin_surface_to_the_admin_backend(cluster, route_table, admin_corpus):
    try:
        check_admin_routes(route_table, admin_corpus, cluster.shape.site_host)
    except AssertionError as exc:
        fail(str(exc))


def hosts_to_send(cluster, route_table, via: str) -> list[str]:
    """Every Host a visitor can send that could route differently: the site's with and without its
    port, its ``www.`` form, the entry point's bare address, a host no frontend names, and one that
    each Host-scoped frontend takes (the top LB passes any Host on)."""
    shape = cluster.shape
    hosts = [shape.site_authority, *route_table.hosts_to_try(shape.site_host), urlsplit(via).netloc]
    return list(dict.fromkeys(hosts))


@pytest.mark.parametrize("index", range(4), ids=ENTRY_IDS)
def test_the_admin_surface_reaches_only_the_admin_container(cluster, route_table, admin_corpus, index):
    """The whole corpus with the site's Host; with every other Host, every door in every variant and
    every write (each admin file once more per Host would triple the suite's time; the route table's
    check covers every file under every Host)."""
    name, via = entry_points(cluster)[index]
    doors = [p for p in admin_corpus if p.why != "file"]
    problems = []
    for host in hosts_to_send(cluster, route_table, via):
        probes = admin_corpus if host == cluster.shape.site_authority else doors
        replies = send_all(probes, via, host)
        try:
            check_admin_surface_through(f"{name} with Host {host}", replies, route_table, host.rsplit(":", 1)[0])
        except AssertionError as exc:
            problems.append(str(exc))
    if problems:
        fail("\n".join(problems))


def test_every_public_container_refuses_the_admin_surface_and_every_write_when_asked_directly(cluster, etcd,
                                                                                              admin_corpus):
    """Each public container, asked at its published port (no vulcand in between), refuses the whole
    corpus: every admin file, entry point and variant, and every write method (403; a path Apache
    does not serve as admin may be a 404). A public unit started with admin enabled is named with its
    unit, as is a public container registered under the admin backend."""
    public = {sid: url for (backend, sid), url in site_containers(cluster).items() if backend == "wordpress"}
    assert public, "no public container runs"
    problems = []
    for sid, url in sorted(public.items()):
        container = sid.partition(".")[2]
        unit = unit_of(container)
        served = [r for r in send_all(admin_corpus, url, cluster.shape.site_authority) if not r.refused_by(container)]
        if served:
            shown = "; ".join(f"{r.probe} -> {r.status} from {r.served_by or 'nobody'}" for r in served[:6])
            problems.append(f"{sid} ({unit}) at {url} did not refuse {len(served)} of {len(admin_corpus)}: {shown}")
    as_admin = sorted(sid for backend, sid in etcd_servers(etcd, cluster.shape.site.vulcand_prefix)
                      if backend == ADMIN_BACKEND and not sid.endswith(f".{ADMIN_CONTAINER}"))
    if as_admin:
        problems.append(f"public containers registered in the {ADMIN_BACKEND} backend: {as_admin}")
    if problems:
        fail("public containers asked directly:\n  " + "\n  ".join(problems))


def test_public_containers_hold_no_admin_password_or_s3_credential(cluster, secrets):
    seen = {}
    for node in cluster.nodes:
        for name in node.exec("docker ps --format '{{.Names}}' --filter name=wordpress").stdout.split():
            env = json.loads(node.exec(f"docker inspect --format '{{{{json .Config.Env}}}}' {name}").check().stdout)
            seen[f"{name}@{node.name}"] = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in env}
    assert any(k.startswith(f"{ADMIN_CONTAINER}@") for k in seen), f"no admin container among {sorted(seen)}"
    for container, env in seen.items():
        held = [n for n in ADMIN_SECRET_NAMES if n in env or secrets[n] in env.values()]
        if container.startswith(f"{ADMIN_CONTAINER}@"):
            assert held == list(ADMIN_SECRET_NAMES), f"{container} lacks {set(ADMIN_SECRET_NAMES) - set(held)}"
        else:
            assert not held, f"public container {container} holds {held} (visible in docker inspect)"
