"""Malformed keys under vulcand's prefix must not break the routing of the valid frontends.

What vulcand v0.9.2 does with them, observed on this lab and asserted here:

* a frontend key that is not JSON: a warning, the key is ignored, every valid frontend keeps
  routing; its API's frontend listing answers 500 while the key exists;
* a frontend naming a backend that does not exist: an error, that frontend is not routed;
* a server whose JSON is garbage: a warning, the server is ignored;
* a route it cannot parse: logged and ignored;
* a backend with no servers: its frontend answers 503 (vulcand itself, no container);
* a key that is none of vulcand's (``vulcand/foo``): ignored.

Each test waits until every vulcand has applied the keys: a valid canary frontend is written
after them, and vulcand's watch applies etcd's changes in order.

All of this holds while vulcand runs. The same keys present when vulcand *starts* make it exit
(a non-JSON frontend) or hang (a missing backend), so the test removes them before it ends and
every unit of the deploy writes backends before frontends.
"""

from __future__ import annotations

import contextlib
import json
import secrets

import etcd as python_etcd
import pytest

from wpcluster.checks.routes import read_table
from wpcluster.core.waits import eventually

ROUTED_REQUESTS = 20


@contextlib.contextmanager
def keys_written(etcd, keys: dict[str, str]):
    try:
        for key, value in keys.items():
            etcd.write(key, value)
        yield
    finally:
        # Remove each key's whole folder (vulcand/frontends/<id>, vulcand/backends/<id>): an empty
        # frontend folder left behind is itself a malformed frontend to vulcand.
        for key in keys:
            parts = key.strip("/").split("/")
            folder = "/" + "/".join(parts[:3] if parts[1] in ("frontends", "backends") else parts)
            with contextlib.suppress(python_etcd.EtcdKeyNotFound):
                etcd.delete(folder, recursive=True)


def routes_still_work(cluster, site):
    for node in cluster.nodes:
        via = cluster.vulcand_url(node)
        public = [site.get("/", via=via) for _ in range(ROUTED_REQUESTS)]
        assert all(a.status == 200 for a in public), f"/ through vulcand on {node.name}: {[a.status for a in public]}"
        assert "wordpress-admin" not in {a.container for a in public}
        admin = site.get("/wp-login.php", via=via)
        assert admin.container == "wordpress-admin", f"/wp-login.php through {node.name} reached {admin.served_by}"
    return True


def broken_keys(prefix: str) -> dict[str, str]:
    """One of each kind of bad input under vulcand's prefix."""
    return {
        f"{prefix}/frontends/wpc-broken-json/frontend": "{this is not json",
        f"{prefix}/frontends/wpc-ghost/frontend":
            '{"Type":"http","BackendId":"wpc-no-such-backend","Route":"PathRegexp(`^/ghost$`)"}',
        f"{prefix}/frontends/wpc-bad-route/frontend":
            '{"Type":"http","BackendId":"wordpress","Route":"PathRegexp(`^/bad$`) || Foo("}',
        f"{prefix}/backends/wpc-empty/backend": '{"Type":"http"}',
        f"{prefix}/frontends/wpc-empty/frontend":
            '{"Type":"http","BackendId":"wpc-empty","Route":"PathRegexp(`^/wpc-empty$`)"}',
        f"{prefix}/backends/wpc-garbage/backend": '{"Type":"http"}',
        f"{prefix}/backends/wpc-garbage/servers/junk": "][",
        f"{prefix}/foo": "bar",
    }


def canary(prefix: str) -> tuple[str, str, str]:
    """A valid frontend written after the bad keys: once every vulcand routes it, each has applied
    every earlier etcd change (its watch delivers them in order)."""
    path = f"/wpc-canary-{secrets.token_hex(4)}"
    spec = {"Type": "http", "BackendId": "wordpressadmin", "Route": f"PathRegexp(`^{path}$`)",
            "Settings": {"PassHostHeader": True, "Stream": True}}
    return f"{prefix}/frontends/wpc-canary/frontend", json.dumps(spec), path


def every_vulcand_routes(cluster, site, path: str) -> bool:
    for node in cluster.nodes:
        answer = site.get(path, via=cluster.vulcand_url(node))
        assert answer.container == "wordpress-admin", f"{path} through {node.name}: {answer.status} {answer.served_by}"
    return True


@pytest.mark.destructive
def test_malformed_keys_do_not_break_valid_frontends(cluster, site, etcd):
    prefix = f"/{cluster.shape.site.vulcand_prefix}"
    key, value, path = canary(prefix)
    with keys_written(etcd, {**broken_keys(prefix), key: value}):
        eventually(lambda: every_vulcand_routes(cluster, site, path), 15, 0.25,
                   what=f"every vulcand routing the canary {path} written after the malformed keys")
        routes_still_work(cluster, site)  # once: every vulcand has seen every malformed key by now
        ghost = site.get("/ghost")
        assert ghost.container.startswith("wordpress-") and ghost.container != "wordpress-admin", (
            f"/ghost (a frontend without a backend) should fall through to the catch-all; got {ghost.served_by!r}")
        empty = site.get("/wpc-empty")
        assert empty.status == 503 and not empty.served_by, (
            f"/wpc-empty (a backend with no servers) answered {empty.status} from {empty.served_by!r}")
    eventually(lambda: routes_still_work(cluster, site), 10, 1, what="routing after the malformed keys went")


@pytest.mark.changes
def test_the_route_table_names_every_bad_key(etcd, cluster):
    """Bad input is named, not a traceback: a frontend that is not JSON, a route vulcand cannot parse,
    a backend that does not exist, a backend with no servers."""
    prefix = f"/{cluster.shape.site.vulcand_prefix}"
    with keys_written(etcd, broken_keys(prefix)):
        table = read_table(etcd, cluster.shape.site.vulcand_prefix)
    problems = "\n".join(table.problems)
    for named in ("frontend wpc-broken-json: its value is not JSON",
                  "frontend wpc-bad-route: vulcand cannot parse its route",
                  "frontend wpc-ghost: its backend 'wpc-no-such-backend' does not exist",
                  "frontend wpc-empty: its backend 'wpc-empty' has no servers"):
        assert named in problems, f"{named!r} not among the problems:\n{problems}"
    assert {f.id for f in table.frontends} >= {"wordpress", "wordpressadmin"}, table.describe()
