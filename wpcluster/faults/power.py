"""Power faults: a node killed, stopped cleanly or frozen (the container's or VM's power, not a daemon)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wpcluster.faults.base import NodeFault

if TYPE_CHECKING:
    pass


class NodeKill(NodeFault):
    """The node powered off at once; healing boots it again."""

    family = "node-kill"

    def _act(self) -> None:
        self.node.kill()

    def _undo(self) -> None:
        self.node.start()


class NodeStop(NodeFault):
    """The node shut down cleanly; healing boots it again."""

    family = "node-stop"

    def _act(self) -> None:
        self.node.stop()

    def _undo(self) -> None:
        self.node.start()


class NodePause(NodeFault):
    """Every process on the node frozen: it holds its addresses and answers nothing (a gray failure)."""

    family = "node-pause"

    def _act(self) -> None:
        self.node.pause()

    def _undo(self) -> None:
        self.node.unpause()
