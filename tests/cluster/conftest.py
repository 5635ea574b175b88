"""Shared by the cluster suites: every test starts from a healthy etcd2 cluster."""

from __future__ import annotations

import pytest

from wpcluster.checkers import check_etcd_healthy
from wpcluster.waits import eventually


@pytest.fixture(autouse=True)
def healthy_etcd(cluster, pytestconfig):
    """Wait for a whole cluster before the test, so one test's faults never leak into the next."""
    eventually(lambda: check_etcd_healthy(cluster) or True, pytestconfig.getoption("--settle-timeout"), 0.5,
               what="etcd2 healthy with every member before the test")
