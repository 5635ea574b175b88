"""Faults on the site's hosts outside fleet (MariaDB "db", the S3 store "s3"): the host stopped or frozen,
or the path to it slowed or stalled by the fault proxy while the host stays as it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wpcluster.core.errors import WpclusterError
from wpcluster.faults.base import Fault, Ledger

if TYPE_CHECKING:
    from wpcluster.core.cluster import Cluster, ServiceHost, ServicePath

# The slow-path faults' sizes: a database in another availability zone of a busy region (every
# answer 20 ms late: a home page's ~30 queries add ~0.6 s), and an S3 store across an ocean.
DB_LATENCY_MS = 20
S3_LATENCY_MS = 300


class _RoleFault(Fault):
    """A fault on the site's ``role`` host or the path to it; its family is the role's ("db-stop")."""

    action: str  # the family's second half

    def __init__(self, nemesis: Ledger, role: str) -> None:
        super().__init__(nemesis)
        self.role = role
        self.family = f"{role}-{self.action}"

    @property
    def target(self) -> str:
        return self.role

    @property
    def where(self) -> str:
        return self.role


class _HostFault(_RoleFault):
    """A fault on the ``role`` host itself, which ``Cluster.service_host`` hands out. It is asked for when
    first acted on, so that a cluster whose provider runs no such host can say so through ``available``."""

    def __init__(self, nemesis: Ledger, role: str, host: ServiceHost | None = None) -> None:
        super().__init__(nemesis, role)
        self._host = host

    @property
    def host(self) -> ServiceHost:
        if self._host is None:
            self._host = self.cluster.service_host(self.role)
        return self._host

    def available(self, cluster: Cluster) -> str | None:
        try:
            cluster.service_host(self.role)
        except WpclusterError as exc:
            return exc.problem
        return None


class ServiceStop(_HostFault):
    """MariaDB or the S3 store stopped; healing starts it and waits until it listens.

    Recorded before acting: a clean stop takes a while, and the requests it breaks count."""

    action = "stop"
    record_before_acting = True

    def _act(self) -> None:
        self.host.stop()

    def _undo(self) -> None:
        self.host.start()


class ServicePause(_HostFault):
    """MariaDB or the S3 store frozen: connections are accepted and never answered (a gray failure)."""

    action = "pause"
    record_before_acting = True

    def _act(self) -> None:
        self.host.pause()

    def _undo(self) -> None:
        self.host.unpause()


class _PathFault(_RoleFault):
    """A fault on the path from the site's containers to the ``role`` host, through the fault proxy that
    ``Cluster.service_path`` hands out (asked for when first acted on, as a host is)."""

    def __init__(self, nemesis: Ledger, role: str, path: ServicePath | None = None) -> None:
        super().__init__(nemesis, role)
        self._path = path
        self.toxic = ""  # the proxy's name for what this fault put on the path

    @property
    def path(self) -> ServicePath:
        if self._path is None:
            self._path = self.cluster.service_path(self.role)
        return self._path

    def available(self, cluster: Cluster) -> str | None:
        try:
            cluster.service_path(self.role)
        except WpclusterError as exc:
            return exc.problem
        return None

    def _undo(self) -> None:
        self.path.remove(self.toxic)


class PathLatency(_PathFault):
    """Every answer from MariaDB or the S3 store reaches the site ``latency_ms`` late (give or take
    ``jitter_ms``)."""

    action = "latency"

    def __init__(self, nemesis: Ledger, role: str, latency_ms: int, jitter_ms: int = 0,
                 path: ServicePath | None = None) -> None:
        super().__init__(nemesis, role, path)
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms

    @property
    def kind(self) -> str:
        return f"{self.family} {self.latency_ms}ms"

    def _act(self) -> None:
        self.toxic = self.path.add_latency(self.latency_ms, self.jitter_ms)


class PathStall(_PathFault):
    """Connections to MariaDB or the S3 store open and then carry nothing, either way, until healed (a
    black-holed link, or a host that stopped answering mid-stream)."""

    action = "stall"

    def _act(self) -> None:
        self.toxic = self.path.stall()
