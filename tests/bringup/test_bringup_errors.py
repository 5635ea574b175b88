"""A lab that cannot come up says why, saves the journals, and leaves nothing running."""

from __future__ import annotations

import os
import subprocess
import sys

import docker.types
import pytest

from wpcluster.core.errors import LabError
from wpcluster.core.labels import RUN_ID_ENV, RUN_LABEL, lab_of
from wpcluster.providers.lab.provider import Lab


def test_lab_up_and_down_leaves_nothing(shape, assert_nothing_left):
    lab = Lab(shape).up()
    assert [n.name for n in lab.nodes if n.is_running()] == list(shape.nodes)
    lab.down()


def test_interrupted_run_is_removed_by_the_next_up(shape, docker_client, assert_nothing_left):
    first = Lab(shape).up()
    first.close()  # as if the process died: nothing torn down
    second = Lab(shape).up()
    runs = {c.labels[RUN_LABEL] for c in docker_client.containers.list(all=True, filters={"label": RUN_LABEL})}
    assert runs == {second.run_id}, f"the first run's containers survived: {runs}"
    second.down()


def test_subnet_in_use_is_named(shape, docker_client, assert_nothing_left):
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(shape.lab_subnet))])
    squatter = docker_client.networks.create("someone-elses-net", driver="bridge", ipam=ipam)
    try:
        with pytest.raises(LabError) as err:
            Lab(shape).up()
        message = str(err.value)
        assert f"subnet {shape.lab_subnet} ([lab] subnet) is already in use" in message
        assert "someone-elses-net" in message and "[lab] subnet" in message
    finally:
        squatter.remove()


def test_node_that_never_reaches_running_is_named(shape, assert_nothing_left):
    # The last node looks for its peers under a discovery token nobody minted: its etcd2 never
    # starts, so neither its boot nor (waiting for their third member) the others' completes.
    last = shape.nodes[-1]
    bogus = f"{shape.etcd_client_url(shape.host_address('discovery'))}/v2/keys/_etcd/registry/never-minted"
    lab = Lab(shape, boot_timeout=20, etcd_overrides={last: {"ETCD_DISCOVERY": bogus}})
    with pytest.raises(LabError) as err:
        lab.up()
    message = str(err.value)
    assert f"node {last} booted" in message and "not every node service is active: etcd2.service" in message, message
    others = [n for n in shape.nodes if n != last]
    assert all(f"node {n} running not reached within 20s" in message for n in others), message
    assert "'etcd2.service start'" in message, message
    assert "etcd" in (lab.diagnostics_dir / f"{last}.journal.txt").read_text()


def test_etcd_unhealthy_at_the_deadline_names_the_member(shape, assert_nothing_left):
    # The last node's etcd2 serves clients on loopback only: the member runs, nobody can ask it.
    last = shape.nodes[-1]
    broken = {last: {"ETCD_LISTEN_CLIENT_URLS": f"http://127.0.0.1:{shape.etcd_client_port}"}}
    lab = Lab(shape, health_timeout=10, etcd_overrides=broken)
    with pytest.raises(LabError) as err:
        lab.up()
    message = str(err.value)
    assert f"etcd2 healthy with {shape.size} members not reached within 10s" in message
    endpoint = shape.etcd_client_url(shape.node_address(last))
    assert f"{last} ({endpoint}): UNHEALTHY (no answer" in message, message
    assert all((lab.diagnostics_dir / f"{n}.journal.txt").exists() for n in shape.nodes)


def run_cli(*args: str, run_id: str) -> subprocess.CompletedProcess:
    """``wpcluster ...`` as another run (its own run id), from another process."""
    return subprocess.run([sys.executable, "-m", "wpcluster.cli", *args], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, **{RUN_ID_ENV: run_id}))


def lab_containers(client, lab: str) -> dict[str, str]:
    """Name -> id of every container of lab ``lab``."""
    return {c.name: c.id for c in client.containers.list(all=True, filters={"label": RUN_LABEL})
            if lab_of(c.labels) == lab}


def test_a_second_run_of_a_live_lab_is_refused_naming_it(shape, docker_client, assert_nothing_left):
    """Two runs of one lab started a few seconds apart would break each other (the second would remove
    the first's containers as leftovers; pushes would clash): the second is refused before it touches
    anything, and told which live run holds the lab."""
    lab = Lab(shape).up()
    try:
        before = lab_containers(docker_client, shape.lab_name)
        for command in (["lab", "up"], ["lab", "down"], ["deploy"]):
            second = run_cli(*command, run_id="20261202-000000-beef")
            assert second.returncode != 0, f"`wpcluster {' '.join(command)}` went ahead: {second.stdout}"
            assert f"lab {shape.lab_name} is in use by the live run" in second.stderr, second.stderr
            assert f"pid {os.getpid()}" in second.stderr, second.stderr
            assert lab_containers(docker_client, shape.lab_name) == before, "the refused run touched the lab"
    finally:
        lab.down()


def test_two_workers_labs_run_side_by_side_and_leave_each_other_alone(shape, docker_client, assert_nothing_left):
    """Parallel workers each bring up a lab of their own (``Shape.for_worker``): another name, subnet and
    site port. Both come up healthy at once, and taking one down leaves every container of the other."""
    first, second = Lab(shape), Lab(shape.for_worker(1))
    try:
        first.up()
        second.up()
        kept = lab_containers(docker_client, shape.lab_name)
        assert kept and lab_containers(docker_client, second.shape.lab_name)
        assert {n.address for n in second.nodes}.isdisjoint({n.address for n in first.nodes})
        second.down()
        assert lab_containers(docker_client, shape.lab_name) == kept, "worker 1's teardown touched worker 0's lab"
        assert not lab_containers(docker_client, second.shape.lab_name)
        first.wait_healthy()
    finally:
        second.down()
        first.down()
