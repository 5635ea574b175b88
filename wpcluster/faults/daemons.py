"""Daemon faults: a node's Docker daemon restarted, its fleetd hung."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from wpcluster.faults.base import Ledger, NodeFault

if TYPE_CHECKING:
    from wpcluster.core.cluster import Node

DOCKER_UNIT = "docker.service"
FLEET_UNIT = "fleet.service"
FLEET_WATCHDOG_UNIT = "fleet-watchdog.service"


class DockerdRestart(NodeFault):
    """The node's dockerd restarted as an upgrade does (``systemctl restart docker``): every container
    there stops with it, and systemd restarts the units that require it once it is back.

    There is nothing to undo, and ``heal`` leaves the record open: the fault lasts until its units are
    back (the verdict's during window runs to the full recovery); the nemesis closes it at teardown."""

    family = "dockerd-restart"
    record_before_acting = True

    def _act(self) -> None:
        self.node.exec(f"systemctl restart {DOCKER_UNIT}").check()

    def _undo(self) -> None:
        pass

    def heal(self) -> None:
        pass


class FleetdFreeze(NodeFault):
    """The node's fleetd frozen (SIGSTOP), as a fleetd hung in its own shutdown is: the process lives,
    answers nothing and beats no heartbeat, and its units keep running. The node's fleet watchdog is
    what should kill it; healing resumes it if it still lives."""

    family = "fleetd-freeze"

    def __init__(self, nemesis: Ledger, node: Node) -> None:
        super().__init__(nemesis, node)
        self.pid = 0  # the frozen fleetd's, once injected

    def _prepare(self) -> None:
        self.pid = fleetd_pid(self.node)

    def _act(self) -> None:
        self.node.exec(f"kill -STOP {self.pid}").check()

    def _undo(self) -> None:
        self.node.exec(f"kill -CONT {self.pid} 2>/dev/null || true").check()


def fleetd_pid(node: Node) -> int:
    """The PID of the node's fleetd as systemd knows it (0 while fleet.service has no process)."""
    return int(node.exec(f"systemctl show --property=MainPID --value {FLEET_UNIT}").check().stdout.strip() or 0)


def fleetd_api_status(node: Node) -> str:
    """The HTTP status the node's fleetd answers on its API now ("000": no answer), asked the way
    the node's fleet watchdog asks it (images/node/fleet-watchdog). fleetd serves its API only once
    it has registered its machine and started its agent."""
    # The script is where the node's unit runs it (the node image's /usr/local/sbin; /opt/bin on CoreOS).
    shown = node.exec(f"systemctl show --property=ExecStart --value {FLEET_WATCHDOG_UNIT}").check().stdout
    found = re.search(r"path=(\S+)", shown)
    if found is None:
        raise AssertionError(f"{node.name} runs no fleet watchdog ({FLEET_WATCHDOG_UNIT}: {shown.strip()!r})")
    return node.exec(f"{found.group(1)} --status").check().stdout.strip()
