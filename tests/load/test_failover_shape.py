"""Locust's failover shape runs the suites' experiment: it judges its fault with the suites' bounds and
exits by the verdict, and it refuses to start with no lab to inject into."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from wpcluster.core.shape import PROJECT_ROOT

pytestmark = [pytest.mark.load]
FILES = f"{PROJECT_ROOT / 'loadtests' / 'site.py'},{PROJECT_ROOT / 'loadtests' / 'failover_shape.py'}"


def failover_shape(cluster, secrets, fault: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess:
    environment = dict(os.environ, WPCLUSTER_ADMIN_USER=cluster.shape.site.admin_user,
                       WPCLUSTER_ADMIN_PASSWORD=secrets["WORDPRESS_ADMIN_PASSWORD"], WPCLUSTER_FAILOVER_FAULT=fault,
                       WPCLUSTER_FAILOVER_FAULT_AT="3", WPCLUSTER_FAILOVER_HOLD="5", WPCLUSTER_FAILOVER_USERS="4",
                       **env)
    command = [sys.executable, "-m", "locust", "-f", FILES, "Reader", "--headless", "--only-summary",
               "--host", f"http://{cluster.site_address}", "--site-host", cluster.shape.site_authority]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout, cwd=PROJECT_ROOT)


def test_the_failover_shape_refuses_to_start_without_a_lab(cluster, secrets, deployment, tmp_path):
    """The site answers (the profiles' own checks pass); the shape names a lab that is not up."""
    shape = tmp_path / "elsewhere.toml"
    shape.write_text((PROJECT_ROOT / "cluster.toml").read_text().replace('name = "wpcluster"', 'name = "wpc-absent"'))
    result = failover_shape(cluster, secrets, "dockerd-restart", timeout=60, WPCLUSTER_SHAPE=str(shape))
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    assert "no lab is up" in output and "wpcluster lab up && wpcluster deploy" in output, output[-2000:]
    assert "dockerd-restart on" not in output, "a fault was injected with no lab"


@pytest.mark.destructive
def test_the_failover_shape_judges_its_fault_with_the_suites_bounds(cluster, secrets, deployment):
    """A node's dockerd restarted under Locust's readers: systemd brings its units back in place and the
    top LB's retries cover the node meanwhile, so the verdict, by the suites' bounds for dockerd-restart,
    passes and Locust exits 0. (Not a fault of the S3 store: Locust's readers fetch the pages' assets
    from the bucket, as a browser does, where the suites' readers read pages only.)"""
    result = failover_shape(cluster, secrets, "dockerd-restart")
    output = result.stdout + result.stderr
    victim = cluster.nodes[1].name  # the catalogue's dockerd-restart acts on the second node
    assert "failover_shape verdict" in output and f"fault: dockerd-restart on {victim}: PASS" in output, \
        output[-3000:]
    assert result.returncode == 0, output[-3000:]
