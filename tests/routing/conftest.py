"""The routing suites run against the deployed site; each test starts with every container registered."""

from __future__ import annotations

import pytest

from wpcluster.checkers import check_registration
from wpcluster.waits import eventually

# A unit restarted by the previous test may still be pulling or booting.
REGISTERED_WITHIN = 90.0


@pytest.fixture(autouse=True)
def fully_registered(cluster, deployment, etcd, vulcand, fleet):
    deployment.wait_units_active()
    eventually(lambda: check_registration(cluster, etcd, vulcand) or True, REGISTERED_WITHIN, 1,
               what="every site container registered in etcd and every vulcand")
