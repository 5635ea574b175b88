"""The routing suites run against the deployed site; each test starts with every container registered."""

from __future__ import annotations

import pytest

from wpcluster.checks.state import check_registration

# A unit restarted by the previous test may still be booting: WordPress's first start takes 10 to
# 30 s here (a whole deploy's units are active within 30 s of their start).
REGISTERED_WITHIN = 60.0


@pytest.fixture(autouse=True)
def fully_registered(request, cluster, deployment, etcd, vulcand, gates):
    """Every unit active and every running container registered (URL included) in etcd and every vulcand."""
    def registered() -> bool:
        deployment.wait_units_active(timeout=0)
        check_registration(cluster, etcd, vulcand)
        return True

    gates.require(request, "site-registered", registered, REGISTERED_WITHIN)
