"""Where a run's time goes: every long step, every wait with its condition, every fault, every test.

Everything in the harness that takes time already passes through one of three places:
``progress.step`` (bring-up, image builds, deploys), ``waits.eventually``/``holds_for`` (every wait
on a condition) and the nemesis (every fault, from injection to heal). Each records a ``Span`` in
this process's ledger; the pytest plugin (``wpcluster.fixtures.ledger_hooks``) adds each test's setup, call
and teardown and writes the session's ledger to ``results/<run>/time/<session>.json``. The report
reads every ledger of the run back (``read_run``) and shows where the time went, so that the next
change can be judged by figures rather than by feel.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

SESSION, WORKER, TEST, STEP, FAULT, WAIT = "session", "worker", "test", "step", "fault", "wait"
TIME_DIR = "time"


@dataclass(frozen=True)
class Span:
    """One stretch of wall-clock time: what it was, when it started and how long it lasted."""

    kind: str
    name: str
    started: float  # seconds since the epoch
    seconds: float
    ok: bool = True
    # The test that was running (its node id); "" for what happened outside any test.
    test: str = ""


_ledger: list[Span] = []
_current_test = ""


def record(kind: str, name: str, started: float, seconds: float, ok: bool = True) -> None:
    """Add one span to this process's ledger."""
    _ledger.append(Span(kind, name, started, seconds, ok, _current_test))


@contextmanager
def timed(kind: str, name: str) -> Iterator[None]:
    """Record the block as a span of ``kind``; a block that raises is recorded too, as not ok."""
    started, clock = time.time(), time.monotonic()
    ok = False
    try:
        yield
        ok = True
    finally:
        record(kind, name, started, time.monotonic() - clock, ok)


def set_current_test(nodeid: str) -> None:
    """Spans recorded from now on belong to ``nodeid`` ("" between tests)."""
    global _current_test
    _current_test = nodeid


def spans() -> list[Span]:
    return list(_ledger)


def steps_since(started: float) -> dict[str, float]:
    """Title -> seconds of every step that began at or after ``started`` (wall clock), for a figure
    file that lists one bring-up's steps."""
    return {s.name: round(s.seconds, 2) for s in _ledger if s.kind == STEP and s.started >= started}


def clear() -> None:
    _ledger.clear()


def write(path: Path, session: str, ledger: list[Span]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rounded = [asdict(s) | {"started": round(s.started, 3), "seconds": round(s.seconds, 3)} for s in ledger]
    path.write_text(json.dumps({"session": session, "spans": rounded}, indent=1) + "\n")
    return path


def read_run(run: Path) -> list[Span]:
    """Every span of every session ledger of a run's folder, oldest first."""
    found: list[Span] = []
    for path in sorted((run / TIME_DIR).glob("*.json")):
        found += [Span(**s) for s in json.loads(path.read_text()).get("spans", [])]
    return sorted(found, key=lambda s: s.started)
