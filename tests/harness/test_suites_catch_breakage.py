"""The suites are worth something only if they fail on a broken cluster: break it, run them, read the verdict."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from wpcluster.checkers import check_etcd_healthy
from wpcluster.shape import PROJECT_ROOT
from wpcluster.waits import eventually


def run_suite(*selection: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run part of a suite against the session's running lab (reused, and left up)."""
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
