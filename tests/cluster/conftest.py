"""Shared by the cluster suites: every test starts from a healthy etcd2 cluster."""

from __future__ import annotations

import pytest

from wpcluster.checkers import check_etcd_healthy
from wpcluster.waits import eventually

# How long a cluster healed by the previous test may take to be whole again.
HEALTHY_WITHIN = 45.0


@pytest.fixture(autouse=True)
def healthy_etcd(cluster):
    """Wait for a whole cluster before the test, so one test's faults never leak into the next."""
    eventually(lambda: check_etcd_healthy(cluster) or True, HEALTHY_WITHIN, 0.5,
               what="etcd2 healthy with every member before the test")
