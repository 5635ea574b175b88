"""The rendered config.rb and user-data, accepted by a real `vagrant validate` (Debian's vagrant).

A coreos-vagrant checkout cannot be fetched here, so the Vagrantfile is the
tests' own, written to coreos-vagrant's contract (tests/standins/coreos-vagrant).
Point WPCLUSTER_COREOS_VAGRANT at a real checkout to validate against it too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from wpcluster.core.shape import load_shape
from wpcluster.providers.hosts.engine import apt_install
from wpcluster.providers.vagrant.render import render_config_rb, render_user_data

STANDIN_CHECKOUT = Path(__file__).resolve().parents[1] / "standins" / "coreos-vagrant"
# What a coreos-vagrant user typically has in config.rb already (from config.rb.sample).
USER_CONFIG = """\
$num_instances=1
$vm_memory = 2048
$vm_cpus = 2
#$update_channel='alpha'
"""


@pytest.fixture(scope="module")
def vagrant() -> str:
    if shutil.which("vagrant") is None:
        apt_install(["vagrant"], why="`vagrant validate` checks the rendered config.rb and user-data")
    return shutil.which("vagrant") or pytest.fail("vagrant is still not on PATH after installing it")


def checkouts() -> list[Path]:
    real = os.environ.get("WPCLUSTER_COREOS_VAGRANT")
    return [STANDIN_CHECKOUT, *([Path(real)] if real else [])]


def rendered_checkout(source: Path, dest: Path) -> Path:
    dest.mkdir()
    shutil.copy(source / "Vagrantfile", dest / "Vagrantfile")
    shape = load_shape()
    (dest / "config.rb").write_text(render_config_rb(shape, USER_CONFIG))
    (dest / "user-data").write_text(render_user_data(shape, "https://discovery.etcd.io/0123456789abcdef"))
    return dest


def run_vagrant(vagrant: str, checkout: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`vagrant <args>` in the checkout, with a Vagrant home of its own (nothing from the user's)."""
    return subprocess.run([vagrant, *args], cwd=checkout, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, VAGRANT_HOME=str(checkout / ".vagrant.d")))


def validate(vagrant: str, checkout: Path) -> subprocess.CompletedProcess[str]:
    # --ignore-provider: the machine running the tests needs no VirtualBox to check the configuration.
    return run_vagrant(vagrant, checkout, "validate", "--ignore-provider")


@pytest.mark.parametrize("source", checkouts(), ids=lambda p: p.name)
def test_vagrant_validate_accepts_the_rendered_files(vagrant, source, tmp_path):
    checkout = rendered_checkout(source, tmp_path / "checkout")
    done = validate(vagrant, checkout)
    assert done.returncode == 0 and "validated successfully" in done.stdout, done.stdout + done.stderr


def test_vagrant_validate_machines_are_the_shapes_nodes(vagrant, tmp_path):
    checkout = rendered_checkout(STANDIN_CHECKOUT, tmp_path / "checkout")
    done = run_vagrant(vagrant, checkout, "status", "--machine-readable")
    machines = sorted({line.split(",")[1] for line in done.stdout.splitlines() if ",state," in line})
    assert machines == list(load_shape().nodes), done.stdout + done.stderr


def test_a_broken_config_rb_is_refused_by_vagrant_validate(vagrant, tmp_path):
    """The check can fail: a config.rb vagrant cannot load does not validate."""
    checkout = rendered_checkout(STANDIN_CHECKOUT, tmp_path / "checkout")
    (checkout / "config.rb").write_text((checkout / "config.rb").read_text() + "$forwarded_ports={8000 =>}\n")
    done = validate(vagrant, checkout)
    assert done.returncode != 0 and "config.rb" in done.stdout + done.stderr, done.stdout + done.stderr
