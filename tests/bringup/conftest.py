"""Bring-up error tests: each brings up a deliberately broken lab of its own.

They remove any lab that is up, so they never share a session with the
cluster suites (tox runs them in a pytest run of their own).
"""

from __future__ import annotations

import pytest

from wpcluster.core.labels import RUN_LABEL
from wpcluster.core.shape import load_shape
from wpcluster.providers.hosts.engine import ensure_engine


@pytest.fixture(scope="session")
def docker_client():
    return ensure_engine()


@pytest.fixture
def shape():
    return load_shape()


@pytest.fixture
def assert_nothing_left(docker_client):
    """After the test, no container, network or volume of any run may remain."""
    yield
    left = [c.name for c in docker_client.containers.list(all=True, filters={"label": RUN_LABEL})]
    left += [n.name for n in docker_client.networks.list(filters={"label": RUN_LABEL})]
    left += [v.name for v in docker_client.volumes.list(filters={"label": RUN_LABEL})]
    assert not left, f"a failed bring-up left these behind: {left}"
