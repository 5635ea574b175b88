"""Malformed keys under vulcand's prefix must not break the routing of the valid frontends.

What vulcand v0.9.2 does with them, observed on this lab and asserted here:

* a frontend key that is not JSON: a warning, the key is ignored, every valid frontend keeps
  routing; its API's frontend listing answers 500 while the key exists;
* a frontend naming a backend that does not exist: an error, that frontend is not routed;
* a server whose JSON is garbage: a warning, the server is ignored;
* a key that is none of vulcand's (``vulcand/foo``): ignored.

All of this holds while vulcand runs. The same keys present when vulcand *starts* make it exit
(a non-JSON frontend) or hang (a missing backend), so the test removes them before it ends and
every unit of the deploy writes backends before frontends.
"""

from __future__ import annotations

import contextlib

import etcd as python_etcd
import pytest

from wpcluster.waits import eventually

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


@pytest.mark.destructive
def test_malformed_keys_do_not_break_valid_frontends(cluster, site, etcd):
    prefix = f"/{cluster.shape.site.vulcand_prefix}"
    broken = {
        f"{prefix}/frontends/wpc-broken-json/frontend": "{this is not json",
        f"{prefix}/frontends/wpc-ghost/frontend":
            '{"Type":"http","BackendId":"wpc-no-such-backend","Route":"PathRegexp(`^/ghost$`)"}',
        f"{prefix}/backends/wpc-garbage/backend": '{"Type":"http"}',
        f"{prefix}/backends/wpc-garbage/servers/junk": "][",
        f"{prefix}/foo": "bar",
    }
    with keys_written(etcd, broken):
        # vulcand applies etcd changes through a watch; give it a moment to have seen all five.
        eventually(lambda: routes_still_work(cluster, site), 10, 1,
                   what="valid frontends routing with malformed keys present")
        ghost = site.get("/ghost")
        assert ghost.container.startswith("wordpress-") and ghost.container != "wordpress-admin", (
            f"/ghost (a frontend without a backend) should fall through to the catch-all; got {ghost.served_by!r}")
    eventually(lambda: routes_still_work(cluster, site), 10, 1, what="routing after the malformed keys went")
