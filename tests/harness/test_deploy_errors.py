"""A deploy that cannot work stops with the unit, the node and the journal, and leaves nothing half-deployed."""

from __future__ import annotations

import re
import secrets as random
from dataclasses import replace

import pytest

from wpcluster.core.errors import WpclusterError
from wpcluster.core.secrets import Secrets
from wpcluster.deployment.deploy import DeployError, Deployment


def assert_site_untouched(deployment):
    """A deploy that stopped before touching units leaves every unit running and the site answering.

    (Destroyed units would not come back by themselves, so waiting a little cannot hide that.)
    """
    deployment.wait_units_active(timeout=60)
    deployment.wait_site_answers(timeout=60)


def site_units_left(fleet, deployment):
    return [u.name for u in fleet.list_units() if u.name in deployment.units]


@pytest.mark.destructive
@pytest.mark.slow
def test_wrong_db_password_names_the_failed_unit_its_node_and_journal(cluster, fleet, deployment, secrets):
    wrong = Secrets({**secrets.values, "WORDPRESS_DB_PASSWORD": "not" + secrets["WORDPRESS_DB_PASSWORD"]})
    try:
        with pytest.raises(DeployError) as err:
            Deployment(cluster, fleet, wrong).deploy()
        message = str(err.value)
        assert re.search(r"wordpress(-admin|@\d+)\.service is failed/failed on core-\d+", message), message
        assert "access denied" in message, message
        assert wrong["WORDPRESS_DB_PASSWORD"] not in message and secrets["WORDPRESS_DB_PASSWORD"] not in message
        assert not site_units_left(fleet, deployment), "a failed deploy left units behind"
    finally:
        deployment.deploy()


@pytest.mark.destructive
def test_missing_bucket_stops_the_deploy_before_any_unit_is_touched(cluster, fleet, deployment, secrets,
                                                                     monkeypatch):
    # The same cluster, deployed against a bucket that does not exist in its store.
    missing = f"missing-{random.token_hex(4)}"
    monkeypatch.setattr(cluster, "shape", replace(cluster.shape, site=replace(cluster.shape.site, bucket=missing)))
    with pytest.raises(DeployError, match=f"bucket '{missing}'.*cannot be used"):
        Deployment(cluster, fleet, secrets).deploy()
    monkeypatch.undo()
    assert_site_untouched(deployment)


@pytest.mark.destructive
def test_unreachable_registry_is_named(cluster, fleet, deployment, secrets):
    if cluster.provider != "lab":
        pytest.skip("the registry is the lab's own")
    registry = cluster.client.containers.get(cluster.container_name("registry"))
    registry.stop()
    try:
        with pytest.raises(WpclusterError, match="registry"):
            Deployment(cluster, fleet, secrets).deploy()
    finally:
        registry.start()
    assert_site_untouched(deployment)
