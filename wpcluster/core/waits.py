"""The one way the harness waits: poll a condition until it holds or a deadline passes.

Every wait is a span of the run's time ledger (``wpcluster.core.ledger``), named by its condition.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from wpcluster.core import ledger

T = TypeVar("T")


class NotReached(AssertionError):
    """A condition did not hold before its deadline; carries the last observed state."""


class GiveUp(AssertionError):
    """Raised by a check to stop waiting at once: the condition can no longer come true."""


def eventually(
    check: Callable[[], T],
    timeout: float,
    interval: float = 0.25,
    what: str = "condition",
) -> T:
    """Call ``check`` until it returns a truthy value without raising; return that value.

    ``check`` may raise (an assertion, a connection error) or return a falsy
    value to mean "not yet"; it raises ``GiveUp`` to mean "never". When ``timeout`` seconds pass, raise
    ``NotReached`` naming ``what`` and the last exception or value seen, so a
    failing wait says what it was waiting for and what it saw instead.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this loop
    with ledger.timed(ledger.WAIT, what):
        return _poll(check, timeout, interval, what)


def _poll(check: Callable[[], T], timeout: float, interval: float, what: str) -> T:
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = check()
            if value:
                return value
            last = value
        except GiveUp:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            last = exc
        if time.monotonic() >= deadline:
            seen = f"{type(last).__name__}: {last}" if isinstance(last, Exception) else repr(last)
            raise NotReached(f"{what} not reached within {timeout:g}s; last seen: {seen}")
        time.sleep(interval)


def holds_for(check: Callable[[], object], seconds: float, interval: float = 1.0, what: str = "condition") -> int:
    """Call ``check`` every ``interval`` for ``seconds``; raise AssertionError the first time it fails
    (raises, or returns False).

    The complement of ``eventually``: a property that must hold through a window (a machine that
    must stay listed while its etcd member is down), not one that must come true. Returns how
    many times it was checked.
    """
    __tracebackhide__ = True
    with ledger.timed(ledger.WAIT, f"holds: {what}"):
        return _hold(check, seconds, interval, what)


def _hold(check: Callable[[], object], seconds: float, interval: float, what: str) -> int:
    __tracebackhide__ = True
    began = time.monotonic()
    checks = 0
    while True:
        try:
            value = check()
            failure = "" if value is not False else "False"
        except Exception as exc:  # noqa: BLE001 - any failure breaks the property
            failure = f"{type(exc).__name__}: {exc}"
        if failure:
            raise AssertionError(f"{what} stopped holding after {time.monotonic() - began:.1f}s of {seconds:g}s: "
                                 f"{failure}")
        checks += 1
        left = began + seconds - time.monotonic()
        if left <= 0:
            return checks
        time.sleep(min(interval, left))
