"""The fault interface: what a fault is, and the record it leaves while it is in force."""

from __future__ import annotations

import abc
import time
from typing import TYPE_CHECKING, ClassVar, Protocol, Self

from wpcluster.core.history import FaultRecord

if TYPE_CHECKING:
    from wpcluster.core.cluster import Cluster, Node


class Ledger(Protocol):
    """What a fault reports to (the ``Nemesis``): the cluster it breaks, and when it began and ended.
    A fault knows no more of the nemesis than this, so the families need not import it."""

    cluster: Cluster

    def began(self, fault: Fault, started: float) -> FaultRecord: ...

    def ended(self, fault: Fault) -> None: ...


class Fault(abc.ABC):
    """One way of breaking the cluster, bound to what it breaks.

    ``inject`` breaks it and records it with its ``Nemesis``; ``heal`` undoes it and ends the record.
    ``available`` says, before anything is done, whether this cluster can have the fault at all.
    Subclasses say what ``_act`` and ``_undo`` do; the timing around them is the same for every fault.
    """

    # A kind's first word: the family thresholds.fault_bounds knows the fault's bounds by.
    family: str
    # A fault is recorded once its action returned, so that an action that failed leaves nothing to
    # heal. One whose action can stop half done (members stopped one by one, a clean stop that gives
    # up) is recorded before acting instead, so that teardown undoes the part that was done.
    record_before_acting: ClassVar[bool] = False

    def __init__(self, nemesis: Ledger) -> None:
        self.nemesis = nemesis
        self.record: FaultRecord | None = None

    @property
    def cluster(self) -> Cluster:
        return self.nemesis.cluster

    @property
    def kind(self) -> str:
        """What the record calls the fault (e.g. "packet-loss 20%"); bounds are looked up by it."""
        return self.family

    @property
    @abc.abstractmethod
    def target(self) -> object:
        """What the fault acts on: a node, a set of nodes, or a service's role."""

    @property
    @abc.abstractmethod
    def where(self) -> str:
        """The target's name, as the record shows it."""

    def available(self, cluster: Cluster) -> str | None:
        """None when ``cluster`` can have this fault; otherwise a sentence saying why not."""
        return None

    @property
    def in_force(self) -> bool:
        return self.record is not None and self.record.ended is None

    def describe(self) -> str:
        return f"{self.kind} on {self.where}"

    def inject(self) -> Self:
        """Break the cluster and record the fault. Its start is taken before acting: the requests it
        breaks may fail while the action itself runs (a container's kill takes a while)."""
        if self.in_force:
            raise RuntimeError(f"{self.describe()} is already in force")
        self._prepare()
        started = time.time()
        if self.record_before_acting:
            self.nemesis.began(self, started)
            self._act()
        else:
            self._act()
            self.nemesis.began(self, started)
        return self

    def heal(self) -> None:
        """Undo the fault and end its record; nothing to do when it is not in force. An undo that raises
        leaves the fault in force, for the nemesis to try again at teardown."""
        if not self.in_force:
            return
        self._undo()
        self.nemesis.ended(self)

    def _prepare(self) -> None:  # noqa: B027 - most faults need nothing read first
        """Read what the action needs (a PID, a member ID): not part of the fault's time."""

    @abc.abstractmethod
    def _act(self) -> None:
        """Break what the fault breaks."""

    @abc.abstractmethod
    def _undo(self) -> None:
        """Put back what ``_act`` broke."""

    def __repr__(self) -> str:
        state = "in force" if self.in_force else "not in force"
        return f"<{type(self).__name__} {self.describe()}, {state}>"


class NodeFault(Fault):
    """A fault on one node of the cluster."""

    def __init__(self, nemesis: Ledger, node: Node) -> None:
        super().__init__(nemesis)
        self.node = node

    @property
    def target(self) -> Node:
        return self.node

    @property
    def where(self) -> str:
        return self.node.name

    def available(self, cluster: Cluster) -> str | None:
        if self.node.name not in [n.name for n in cluster.nodes]:
            return f"{self.node.name} is not a node of this cluster ({', '.join(n.name for n in cluster.nodes)})"
        return None

    def peers(self) -> list[Node]:
        """Every other node of the cluster."""
        return [n for n in self.cluster.nodes if n is not self.node]
