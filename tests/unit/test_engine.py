"""No Docker engine: root gets one installed and started; anyone else gets the exact command."""

import pytest

from wpcluster.core.errors import EngineError
from wpcluster.providers.hosts import engine


def test_no_engine_and_not_root_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    monkeypatch.setattr(engine.os, "geteuid", lambda: 1000)
    with pytest.raises(EngineError) as err:
        engine.ensure_engine()
    message = str(err.value)
    assert f"no Docker engine answers (DOCKER_HOST=unix://{tmp_path}/no-docker.sock)" in message
    assert "apt-get install -y docker.io" in message


def test_missing_package_and_not_root_names_the_command(monkeypatch):
    monkeypatch.setattr(engine.os, "geteuid", lambda: 1000)
    with pytest.raises(EngineError, match=r"sudo apt-get install -y debootstrap"):
        engine.apt_install(["debootstrap"], why="the base image")
