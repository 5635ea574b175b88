"""Progress on long steps: one line when a step starts, one when it ends, with its time.

Every step's duration is also kept in ``TIMINGS`` so benchmarks can record
where a bring-up spent its time without timing anything twice.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

TIMINGS: list[tuple[str, float]] = []
_depth = 0


def say(message: str) -> None:
    """Print a progress line to stderr (pytest shows it with -s, the CLI always)."""
    print(f"{'  ' * _depth}{message}", file=sys.stderr, flush=True)


@contextmanager
def step(title: str) -> Iterator[None]:
    """Announce ``title``, run the block, then report it done or failed with its duration."""
    global _depth
    say(f"==> {title}")
    _depth += 1
    started = time.monotonic()
    try:
        yield
    except BaseException:
        _depth -= 1
        say(f"<== {title}: FAILED after {time.monotonic() - started:.1f}s")
        raise
    _depth -= 1
    elapsed = time.monotonic() - started
    TIMINGS.append((title, elapsed))
    say(f"<== {title}: done in {elapsed:.1f}s")
