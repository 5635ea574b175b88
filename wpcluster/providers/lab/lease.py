"""Which live process holds a lab: an exclusive lease per lab (the shape's [lab] name), so that runs
sharing an engine never break each other.

A process that brings a lab up (or adopts a kept one) first takes an ``flock`` on
``<cache>/leases/<lab name>.lease`` and keeps it for as long as it uses the lab, with its run id,
pid, command line and start time written inside. A second run of the same lab is refused with
those, before it touches anything; a run of another lab (another name, subnet and site port) goes
ahead beside it. Once the holder has died the kernel has dropped its lock, so whatever its lab left
is an interrupted run's leftover and the next run of that lab removes it. A nested session (a
self-check) inherits its parent's run id and shares its parent's lease.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from wpcluster.core.build_cache import cache_dir
from wpcluster.core.errors import LabError
from wpcluster.core.labels import RUN_ID_ENV


@dataclass(frozen=True)
class Holder:
    """The live process holding a lab's lease, as it wrote itself down."""

    run: str
    pid: int
    command: str
    since: str
    lab: str

    def describe(self) -> str:
        return f"run {self.run} (pid {self.pid}, `{self.command}`, since {self.since})"


def lease_dir() -> Path:
    path = cache_dir() / "leases"
    path.mkdir(parents=True, exist_ok=True)
    return path


# The leases this process holds: lab name -> the open file its lock is on.
_held: dict[str, int] = {}


def _path(lab: str) -> Path:
    return lease_dir() / f"{lab}.lease"


def _read(path: Path) -> Holder | None:
    try:
        return Holder(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def acquire(lab: str, run: str, source: str) -> None:
    """Hold ``lab``'s lease for ``run`` until ``release`` or this process ends; raise naming the live run
    that holds it. A process whose run id is the holder's (a nested session) shares the lease."""
    if lab in _held:
        return
    me = os.environ.get(RUN_ID_ENV, "") or run
    path = _path(lab)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        other = _read(path)
        if other is not None and other.run == me:
            return  # our parent session's lab
        who = other.describe() if other else "run ? (its lease is unreadable)"
        raise LabError(f"the lab {lab} is in use by the live {who}",
                       "wait for that run to finish, or run this one as a lab of its own: another [lab] name, "
                       f"subnet and site port than {source}'s (pytest -n gives each worker one)") from None
    info = {"run": me, "pid": os.getpid(), "command": " ".join(sys.argv)[:200],
            "since": time.strftime("%Y-%m-%d %H:%M:%S"), "lab": lab}
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(info).encode())
    _held[lab] = fd


def release(lab: str) -> None:
    """Give ``lab``'s lease back (its lab is down, or this process lets it go)."""
    fd = _held.pop(lab, None)
    if fd is not None:
        os.close(fd)
