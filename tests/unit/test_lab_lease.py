"""Runs sharing one engine: a live run's lab is refused to another run by name, a dead run's is free,
a nested session shares its parent's; parallel workers get labs of their own from the shape."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from wpcluster.core.errors import LabError
from wpcluster.core.labels import RUN_ID_ENV, run_labels
from wpcluster.core.shape import load_shape
from wpcluster.providers.hosts.subnet import networks_in_use
from wpcluster.providers.lab import lease

# A second process that takes a lab's lease as run "run-live", says so, and holds it until its stdin closes.
HOLDER = """
import os, sys
os.environ["WPCLUSTER_RUN_ID"] = "run-live"
from wpcluster.providers.lab import lease
lease.acquire(sys.argv[1], "run-live", "cluster.toml")
print("held", flush=True)
sys.stdin.read()
"""


# Another process (another run) trying a lab's lease: exits 0 if it got it, 1 if refused.
TRIER = """
import sys
from wpcluster.core.errors import LabError
from wpcluster.providers.lab import lease
try:
    lease.acquire(sys.argv[1], "run-other", "cluster.toml")
except LabError:
    sys.exit(1)
"""


def another_run_gets(lab: str) -> bool:
    env = {k: v for k, v in os.environ.items() if k != RUN_ID_ENV}
    return subprocess.run([sys.executable, "-c", TRIER, lab], env=env, timeout=30).returncode == 0


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WPCLUSTER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    yield
    for lab in list(lease._held):
        lease.release(lab)


@pytest.fixture
def live_holder():
    """Start a process holding the lease of the lab it is given; stop it with ``.stop()``."""
    started = []

    def start(lab: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, lab], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, env=dict(os.environ))
        assert proc.stdout.readline().strip() == "held"
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stdin.close()
        proc.wait(timeout=10)


def test_a_live_runs_lab_is_refused_naming_that_run(live_holder):
    proc = live_holder("wpcluster")
    with pytest.raises(LabError) as err:
        lease.acquire("wpcluster", "run-second", "cluster.toml")
    message = str(err.value)
    assert "lab wpcluster is in use by the live run run-live" in message
    assert f"pid {proc.pid}" in message and "another [lab] name, subnet and site port" in message


def test_a_dead_runs_lease_is_free(live_holder):
    proc = live_holder("wpcluster")
    proc.stdin.close()
    proc.wait(timeout=10)
    lease.acquire("wpcluster", "run-next", "cluster.toml")  # the dead holder's lock went with it
    assert not another_run_gets("wpcluster"), "this run got the lease, yet another run could take it too"


def test_another_lab_is_not_blocked(live_holder):
    live_holder("wpcluster")
    lease.acquire("wpcluster-w1", "run-worker", "cluster.toml")
    assert not another_run_gets("wpcluster-w1")
    lease.release("wpcluster-w1")
    assert another_run_gets("wpcluster-w1"), "a released lease stayed held"


def test_a_nested_session_shares_its_parents_lease(live_holder, monkeypatch):
    live_holder("wpcluster")
    monkeypatch.setenv(RUN_ID_ENV, "run-live")  # a nested pytest inherits its parent's run id
    lease.acquire("wpcluster", "run-of-the-kept-lab", "cluster.toml")


def test_each_worker_gets_its_own_lab_name_subnet_and_port():
    shape = load_shape()
    workers = [shape.for_worker(i) for i in range(3)]
    assert workers[0] is shape
    assert [w.lab_name for w in workers] == ["wpcluster", "wpcluster-w1", "wpcluster-w2"]
    assert [str(w.lab_subnet) for w in workers] == ["172.30.8.0/24", "172.30.9.0/24", "172.30.10.0/24"]
    assert [w.site_port_on_host for w in workers] == [8888, 8889, 8890]
    assert workers[2].node_address("core-01") == "172.30.10.101"
    assert workers[2].site_url == shape.site_url  # the site, as WordPress knows it, is the same
    assert len({w.lab_subnet for w in workers}) == 3
    assert not any(a.lab_subnet.overlaps(b.lab_subnet) for a in workers for b in workers if a is not b)


def test_another_labs_network_is_named_as_in_use():
    def network(name: str, subnet: str, labels: dict) -> SimpleNamespace:
        return SimpleNamespace(name=name, attrs={"Labels": labels, "IPAM": {"Config": [{"Subnet": subnet}]}})

    client = SimpleNamespace(networks=SimpleNamespace(list=lambda: [
        network("wpcluster-lab", "172.30.8.0/24", run_labels("run-a", "network")),
        network("wpcluster-w1-lab", "172.30.9.0/24", run_labels("run-b", "network", "wpcluster-w1")),
        network("someone-elses", "10.9.0.0/16", {}),
    ]))
    in_use = networks_in_use(client, "wpcluster")
    assert "the network wpcluster-w1-lab of lab wpcluster-w1 (run run-b)" in in_use
    assert "docker network someone-elses" in in_use
    assert not any("wpcluster-lab" in owner for owner in in_use), "the lab's own network is its leftover"
    assert ipaddress.IPv4Network("172.30.9.0/24") == ipaddress.IPv4Network(
        in_use["the network wpcluster-w1-lab of lab wpcluster-w1 (run run-b)"])
