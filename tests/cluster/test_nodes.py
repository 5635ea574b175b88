"""Each node is a CoreOS-style host: its services run and its environment is what units expect."""

from __future__ import annotations

import pytest

SERVICES = ["etcd2.service", "fleet.service", "docker.service"]


@pytest.mark.parametrize("service", SERVICES)
def test_node_services_enabled_and_running(cluster, hosts, service):
    # Enabled, or started at every boot by the nodes' cloud-config (which leaves them disabled).
    at_boot = service in cluster.started_at_boot
    down = {name: host.service(service) for name, host in hosts.items()}
    not_running = [name for name, svc in down.items() if not (svc.is_running and (at_boot or svc.is_enabled))]
    assert not not_running, (f"{service} is not {'running' if at_boot else 'enabled and running'} on "
                             f"{not_running}")


def test_environment_names_the_node_address_and_registry(cluster, hosts):
    for node in cluster.nodes:
        env = hosts[node.name].file("/etc/environment").content_string
        assert f"COREOS_PUBLIC_IPV4={node.address}\n" in env, f"{node.name}: /etc/environment is {env!r}"
        assert f"COREOS_PRIVATE_IPV4={node.address}\n" in env, f"{node.name}: /etc/environment is {env!r}"
        if cluster.registry:  # the lab's; an inventory's nodes name their own
            assert f"WPCLUSTER_REGISTRY={cluster.registry}\n" in env, f"{node.name}: /etc/environment is {env!r}"


def test_every_node_can_pull_from_the_lab_registry(cluster):
    if not cluster.registry:
        pytest.skip("the cluster names no registry of the harness's")
    image = f"{cluster.registry}/wpcluster/busybox"
    for node in cluster.nodes:
        node.exec(f"docker pull -q {image}", timeout=120).check()
        assert node.exec(f"docker run --rm {image} echo pulled").check().stdout.strip() == "pulled"


def test_machine_ids_are_distinct(cluster, hosts):
    ids = {name: host.file("/etc/machine-id").content_string.strip() for name, host in hosts.items()}
    assert len(set(ids.values())) == len(ids), f"nodes share a machine-id: {ids}"
