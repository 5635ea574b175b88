"""The lab's hosts outside the fleet cluster (MariaDB, the S3 store) as faults see them: one container each."""

from __future__ import annotations

import socket

import docker

from wpcluster.core.cluster import ServiceHost
from wpcluster.core.waits import eventually

# A stopped MariaDB replays its redo log before it listens again; MinIO is quicker.
START_WITHIN = 60.0


def tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class ContainerServiceHost(ServiceHost):
    """One lab host container: stop and start it, or freeze it with the cgroup freezer."""

    def __init__(self, client: docker.DockerClient, container: str, role: str, address: str, port: int) -> None:
        self.client, self.container_name = client, container
        self.role, self.address, self.port = role, address, port

    @property
    def container(self) -> docker.models.containers.Container:
        return self.client.containers.get(self.container_name)

    def stop(self) -> None:
        self.container.stop(timeout=10)

    def start(self) -> None:
        self.container.start()
        eventually(lambda: tcp_open(self.address, self.port), START_WITHIN, 0.2,
                   what=f"the {self.role} host listening on {self.address}:{self.port} again")

    def pause(self) -> None:
        self.container.pause()

    def unpause(self) -> None:
        self.container.unpause()
