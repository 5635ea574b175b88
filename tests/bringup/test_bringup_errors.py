"""A lab that cannot come up says why, saves the journals, and leaves nothing running."""

from __future__ import annotations

import docker.types
import pytest

from wpcluster.errors import LabError
from wpcluster.labels import RUN_LABEL
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
        assert f"lab subnet {shape.lab_subnet} is already in use" in message
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
