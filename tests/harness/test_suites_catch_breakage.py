"""The suites are worth something only if they fail on a broken cluster: break it, run them, read the verdict."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from wpcluster.checkers import check_etcd_healthy
from wpcluster.shape import PROJECT_ROOT
from wpcluster.waits import eventually


def run_suite(*selection: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run part of a suite against the session's running lab and site (reused, and left up)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--keep-cluster",
         "--settle-timeout=5", *selection],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout, env=dict(os.environ),
    )


@pytest.mark.destructive
def test_quorum_suite_fails_naming_a_member_kept_down(cluster, nemesis):
    down = cluster.nodes[-1]
    nemesis.stop_member(down)
    result = run_suite("tests/cluster/test_etcd_quorum.py::test_every_member_healthy_and_listed")
    output = result.stdout + result.stderr
    assert result.returncode == 1, f"the quorum suite passed with {down.name}'s member down:\n{output[-3000:]}"
    expected = f"{down.name} ({cluster.shape.etcd_client_url(down.address)}): UNHEALTHY"
    assert expected in output, f"the failure does not name the member that is down:\n{output[-3000:]}"


def test_quorum_suite_passes_on_the_healthy_cluster(cluster):
    # The same selection on a whole cluster passes: the failure above is the breakage's, not the harness's.
    eventually(lambda: check_etcd_healthy(cluster) or True, 45, 0.5, what="etcd2 whole again")
    result = run_suite("tests/cluster/test_etcd_quorum.py::test_every_member_healthy_and_listed")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


@pytest.mark.destructive
def test_routing_suite_fails_when_a_wrong_route_sends_wp_admin_to_the_public_backend(cluster, deployment, etcd):
    # A frontend someone added by hand: it takes /wp-admin paths to the public backend, and its route
    # sorts before the admin frontend's (vulcand tries routes in reverse alphabetical order of their
    # text), so it wins. The sidekicks keep their own frontends right but leave other keys alone.
    folder = f"/{cluster.shape.site.vulcand_prefix}/frontends/wpc-wrong-route"
    etcd.write(f"{folder}/frontend", json.dumps({
        "Type": "http", "BackendId": "wordpress", "Route": "PathRegexp(`^/wp-admin.*`)",
        "Settings": {"PassHostHeader": True, "Stream": True},
    }))
    try:
        result = run_suite("tests/routing/test_routing.py::test_admin_paths_reach_only_the_admin_container", "-x")
    finally:
        etcd.delete(folder, recursive=True)
    output = result.stdout + result.stderr
    assert result.returncode == 1, (
        f"the routing suite passed with wp-admin routed to the public backend:\n{output[-3000:]}"
    )
    assert re.search(r"/wp-admin/ through .* reached \{[^}]*'wordpress-\d+'", output), (
        f"the failure does not say that wp-admin reached a public container:\n{output[-3000:]}"
    )


@pytest.mark.destructive
def test_cache_suite_fails_when_uploads_stay_local(cluster, deployment):
    """Take the S3 plugin out of every WordPress container: uploads stay local, pages link local files."""
    plugin = "/var/lib/wordpress/wp-content/mu-plugins/wpcluster-s3-cache.php"
    moved = []
    for node in cluster.nodes:
        for name in node.exec("docker ps --format '{{.Names}}' --filter name=wordpress").stdout.split():
            if node.exec(f"docker exec {name} mv {plugin} /tmp/plugin.off").ok:
                moved.append((node, name))
    assert moved, "no WordPress container to break"
    try:
        result = run_suite(
            "tests/cache/test_cache.py::test_an_upload_lands_in_the_bucket_in_every_size_and_posts_link_it")
    finally:
        for node, name in moved:
            node.exec(f"docker exec {name} mv /tmp/plugin.off {plugin}")
    output = result.stdout + result.stderr
    assert result.returncode == 1, f"the cache suite passed with the S3 plugin removed:\n{output[-3000:]}"
    assert "sizes of the upload missing from the bucket" in output, (
        f"the failure does not say the upload stayed out of the bucket:\n{output[-3000:]}"
    )
