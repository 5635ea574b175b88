"""Docker plumbing the hosts share: what a host (or a lab node) needs of the provider that runs it,
container names, and files put in as a tar stream."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import docker
    import docker.models.containers

    from wpcluster.core.shape import Shape


class HostEngine(Protocol):
    """What the hosts (and the lab's nodes) use of the provider that runs them (the lab, or a vagrant
    cluster's hosts): its shape, its engine, and how it names, labels, starts and pushes to its
    containers. They depend on this, not on the provider that holds them."""

    shape: Shape
    client: docker.DockerClient
    boot_timeout: float
    # Where the top LB finds each node's vulcand, and the loopback port it publishes the site on
    # (None: any free one, read back from the engine).
    node_addresses: dict[str, str]
    lb_port_on_host: int | None

    @property
    def diagnostics_dir(self) -> Path: ...

    def container_name(self, name: str) -> str: ...

    def labels(self, role: str) -> dict[str, str]: ...

    def push_image(self, local_tag: str, repository: str) -> str: ...

    def run_host(self, role: str, image: str, address: str, start: bool = True,
                 **options: object) -> docker.models.containers.Container: ...


def container_name(lab: str, name: str) -> str:
    """A container (or volume) ``name``, prefixed by the lab's name (the shape's [lab] name), so that labs
    on one engine never share one: ``wpcluster-core-01``, ``wpcluster-w1-lb``, ``wpcluster-vagrant-db``."""
    return f"{lab}-{name}"


def tarball(files: dict[str, tuple[str, int]]) -> bytes:
    """A tar stream of ``files`` (path -> (content, mode)), with their folders, for ``put_archive``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        dirs: set[str] = set()
        for path in files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            if d.startswith("home/core"):
                info.mode = 0o700 if d.endswith(".ssh") else 0o755
            tar.addfile(info)
        for path, (content, mode) in files.items():
            data = content.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
