"""One container killed behind its scheduler's back."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from wpcluster.faults.base import Ledger, NodeFault

if TYPE_CHECKING:
    from wpcluster.core.cluster import Node


class ContainerKill(NodeFault):
    """The container ``name`` on the node SIGKILLed; ``revive`` brings it back (a fleet restart, say):
    what runs it again is the scheduler's business, so the caller says."""

    family = "container-kill"

    def __init__(self, nemesis: Ledger, node: Node, name: str, revive: Callable[[], object]) -> None:
        super().__init__(nemesis, node)
        self.container = name
        self.revive = revive

    @property
    def kind(self) -> str:
        return f"{self.family} {self.container}"

    def _act(self) -> None:
        self.node.exec(f"docker kill {self.container}").check()

    def _undo(self) -> None:
        self.revive()
