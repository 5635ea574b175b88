"""The history an experiment records and its verdicts read: what each request saw (``Sample``, written by
the readers in ``wpcluster.load``) and when each fault held (``FaultRecord``, written by the nemesis in
``wpcluster.faults``). Both sides import these records from here, so checks read a history without
importing the load or the faults that made it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    started: float  # wall-clock seconds (time.time()), so faults and samples share one clock
    seconds: float
    status: int  # 0 when no response came back
    served_by: str
    target: str = ""
    path: str = "/"
    error: str = ""  # the client's exception when no response came back (ReadTimeout, ConnectionError)
    # What the first attempt met when it was sent again (see wpcluster.load.generator.get_as_a_browser):
    # its kept-alive connection closed before any byte of an answer. Empty when sent once.
    retried: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400

    @property
    def hung(self) -> bool:
        """No answer within the client's timeout: the server held the request (not refused it)."""
        return self.error in HUNG_ERRORS


HUNG_ERRORS = ("ReadTimeout", "ConnectTimeout", "Timeout")


@dataclass
class FaultRecord:
    """One fault: what, on which node, and its start and end (wall-clock seconds, for timelines)."""

    kind: str
    node: str
    started: float
    ended: float | None = None

    def describe(self) -> str:
        return f"{self.kind} on {self.node}"
