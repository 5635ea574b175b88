"""Faults (Jepsen's nemesis): break the cluster on purpose, record when, and always undo.

A fault is an object bound to what it breaks (``Partition(nemesis, node)``): ``available(cluster)``
says whether this cluster can have it at all, ``inject()`` breaks it and ``heal()`` undoes it. Each
acts through the ``Cluster``/``Node`` interface only, so any provider that implements those can be
broken the same way. The ``Nemesis`` is one session's registry: it records every fault as it begins
and ends (``records``, for the verdicts and timelines) and, at teardown, heals whatever is still in
force, newest first, even when the test failed.

One module per family: ``power`` (kill, stop, pause), ``daemons`` (dockerd, fleetd), ``links``
(partition, loss, bandwidth), ``members`` (etcd members, majority), ``services`` (the site's hosts and
the paths to them), ``container``.
``catalogue`` names faults with their victims for drivers outside pytest (``catalogue.catalogue()``,
``build(name, nemesis)``).
"""

from wpcluster.faults.base import Fault, NodeFault
from wpcluster.faults.catalogue import admin_node, build, busiest_node, lossy_node
from wpcluster.faults.container import ContainerKill
from wpcluster.faults.daemons import DockerdRestart, FleetdFreeze, fleetd_api_status, fleetd_pid
from wpcluster.faults.links import (
    BANDWIDTH_CAP_KBIT,
    PACKET_LOSS,
    BandwidthCap,
    PacketLoss,
    Partition,
    bandwidth_cap,
)
from wpcluster.faults.members import ETCD_UNIT, MajorityLost, MemberKill, MemberReplace, MemberStop
from wpcluster.faults.nemesis import Nemesis
from wpcluster.faults.power import NodeKill, NodePause, NodeStop
from wpcluster.faults.services import (
    DB_LATENCY_MS,
    S3_LATENCY_MS,
    PathLatency,
    PathStall,
    ServicePause,
    ServiceStop,
)

__all__ = [
    "BANDWIDTH_CAP_KBIT", "DB_LATENCY_MS", "ETCD_UNIT", "PACKET_LOSS", "S3_LATENCY_MS",
    "BandwidthCap", "ContainerKill", "DockerdRestart", "Fault", "FleetdFreeze", "MajorityLost",
    "MemberKill", "MemberReplace", "MemberStop", "Nemesis", "NodeFault", "NodeKill", "NodePause", "NodeStop",
    "PacketLoss", "Partition", "PathLatency", "PathStall", "ServicePause", "ServiceStop",
    "admin_node", "bandwidth_cap", "build", "busiest_node", "lossy_node", "fleetd_api_status", "fleetd_pid",
]
