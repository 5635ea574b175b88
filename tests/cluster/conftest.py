"""Shared by the cluster suites: every test starts from a healthy etcd2 cluster."""

from __future__ import annotations

import pytest

from wpcluster.checks.state import check_etcd_healthy


@pytest.fixture(autouse=True)
def healthy_etcd(request, cluster, gates, pytestconfig):
    """Wait for a whole cluster before the test, so one test's faults never leak into the next."""
    gates.require(request, "etcd-healthy", lambda: check_etcd_healthy(cluster) or True,
                  pytestconfig.getoption("--settle-timeout"), 0.5)
