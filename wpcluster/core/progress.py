"""Progress on long steps: one line when a step starts, one when it ends, with its time.

Every step's duration is kept in the run's time ledger (``wpcluster.core.ledger``), where benchmarks
and figure files read where a bring-up spent its time without timing anything twice.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from wpcluster.core import ledger

_depth = 0


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# Where progress lines go: stderr for the CLI; under pytest the plugin sends them through its
# terminal writer, past output capture, as they happen (and nowhere with -q).
_sink: Callable[[str], None] = _to_stderr


def set_sink(sink: Callable[[str], None] | None) -> None:
    """Send progress lines to ``sink`` from now on (``None``: back to stderr)."""
    global _sink
    _sink = sink or _to_stderr


def say(message: str) -> None:
    """One progress line, indented by the steps it is inside."""
    _sink(f"{'  ' * _depth}{message}")


@contextmanager
def step(title: str) -> Iterator[None]:
    """Announce ``title``, run the block, then report it done or failed with its duration."""
    global _depth
    say(f"==> {title}")
    _depth += 1
    started, wall = time.monotonic(), time.time()
    try:
        yield
    except BaseException:
        _depth -= 1
        ledger.record(ledger.STEP, title, wall, time.monotonic() - started, ok=False)
        say(f"<== {title}: FAILED after {time.monotonic() - started:.1f}s")
        raise
    _depth -= 1
    elapsed = time.monotonic() - started
    ledger.record(ledger.STEP, title, wall, elapsed)
    say(f"<== {title}: done in {elapsed:.1f}s")
