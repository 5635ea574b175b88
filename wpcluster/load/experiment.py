"""One failover experiment (Jepsen's test map): one load, a fault schedule, verdicts over one history.

Readers start once (an open model at a fixed rate per entry point: the top LB and every vulcand
read directly) and record one history for the whole experiment. Faults run one after another on
it. A fault is injected only once the last ``STEADY_REQUESTS`` requests of every entry point it is
judged on all succeeded: the after window of one fault serves as the before window of the next,
and no fault waits for a baseline it already has. Each fault is judged on the slice of the history
from its before window through its after window (wpcluster.checks.verdict).

The pytest suites (tests/failover) and Locust's failover shape (loadtests/failover_shape.py) both
drive an ``Experiment``; what differs is who sends the requests: the experiment's own readers, or
Locust's users feeding their requests into a ``History``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from wpcluster.checks.thresholds import fault_bounds
from wpcluster.checks.verdict import LB, FaultVerdict, NotEstablished, judge
from wpcluster.core.cluster import Cluster

# A fault is injected once this many of each judged entry point's latest requests all succeeded: a
from wpcluster.core.history import FaultRecord, Sample
from wpcluster.core.shape import Shape
from wpcluster.core.waits import NotReached, eventually
from wpcluster.load.generator import Reader

# count, not a time, as etcd's robustness tests ask for a minimal QPS before a failpoint. At the
# readers' slowest rate (a vulcand read directly, about 3/s) it spans six seconds of service.
STEADY_REQUESTS = 20
# How long a fault may wait for that steady service before the experiment gives up on it.
STEADY_WITHIN = 60.0
# ... and no request may have waited longer than this for its answer: a page takes well under a
# second on the lab, and one held longer may still fail, before the fault, where it would read as
# the baseline's failure.
STEADY_IN_FLIGHT_SECONDS = 2.0
# The window after the heal (or after full recovery, for a fault nothing heals) lasts until every
# judged entry point has answered as many requests begun in it as a steady before window holds
# (``STEADY_REQUESTS``): it is then the next fault's before window too. Locust's users may not reach
# every entry point that often; the window then ends after this long.
AFTER_WITHIN = 30.0
# The readers stop by themselves after this, whatever happens (a session's faults take minutes).
MAX_SECONDS = 3 * 3600
MAX_REQUESTS = 500_000


def entry_points(cluster: Cluster) -> dict[str, str]:
    """Every entry point a visitor's request can take: the top LB, and each node's vulcand directly."""
    return {LB: f"http://{cluster.site_address}"} | {f"vulcand on {n.name}": cluster.vulcand_url(n)
                                                      for n in cluster.nodes}


class History:
    """The requests an experiment observed, in one list, whoever sent them (its readers, or Locust)."""

    def __init__(self) -> None:
        self._samples: list[Sample] = []
        self._lock = threading.Lock()

    def add(self, sample: Sample) -> None:
        with self._lock:
            self._samples.append(sample)

    def samples(self, since: float = 0.0, until: float = float("inf")) -> list[Sample]:
        """The requests started in [since, until], in the order they started."""
        with self._lock:
            return sorted((s for s in self._samples if since <= s.started <= until), key=lambda s: s.started)

    def steady_since(self, targets: list[str], count: int = STEADY_REQUESTS) -> float | None:
        """The before window's start: when the last ``count`` answered requests of every one of
        ``targets`` began (the earliest such start), if every request of ``targets`` begun since then
        succeeded; None while any did not.

        Every request in the window, not only each target's last ``count``: a slow entry point's last
        ``count`` reach further back than a fast one's, and the window they open judged the fast one's
        older requests too (a top-LB 503 from the session's first second, 7 s before the fault, left a
        nested self-check's dockerd restart NOT ESTABLISHED in CI)."""
        with self._lock:
            done = sorted((s for s in self._samples if s.target in targets), key=lambda s: s.started)
        starts = []
        for target in targets:
            last = [s for s in done if s.target == target][-count:]
            if len(last) < count:
                return None
            starts.append(last[0].started)
        if not starts:
            return None
        since = min(starts)
        return since if all(s.ok for s in done if s.started >= since) else None

    def describe(self, targets: list[str], count: int = STEADY_REQUESTS) -> str:
        """Each target's last ``count`` requests: how many succeeded, and what the others met."""
        parts = []
        for target in targets:
            last = [s for s in self.samples() if s.target == target][-count:]
            failed = [str(s.status) if s.status else s.error or "no answer" for s in last if not s.ok]
            parts.append(f"{target} {len(last) - len(failed)}/{len(last)} ok"
                         + (f" ({', '.join(sorted(set(failed)))})" if failed else ""))
        return "; ".join(parts)


@dataclass
class Trial:
    """One fault on the experiment's history: what it broke, which entry points judge it, and when the
    site was whole again."""

    judged: list[str]
    baseline_from: float
    fault: FaultRecord | None = None
    recovered_at: float | None = None
    not_recovered: str = ""
    # The recovery checks that failed: (began, ended, what they saw), so a slow recovery says which
    # part of the site was not whole, and whether the check itself took the time.
    recovery_misses: list[tuple[float, float, str]] = field(default_factory=list)
    until: float | None = None
    verdict: FaultVerdict | None = None
    started_wall: float = field(default_factory=time.time)


def last_recovery_miss(trial: Trial) -> str:
    """The last recovery check that failed before the site was whole, timed from the fault's start."""
    began, ended, saw = trial.recovery_misses[-1]
    start = trial.fault.started if trial.fault else began
    return (f"{len(trial.recovery_misses)} recovery check(s) failed; the last began {began - start:.1f}s after "
            f"the fault's start, took {ended - began:.1f}s and saw: {saw[:400]}")


class Experiment:
    """The readers of one failover session and the faults scheduled on their history."""

    def __init__(self, targets: dict[str, str], host: str, rates: dict[str, float] | None,
                 shape: Shape, timeout: float = 5.0) -> None:
        self.targets, self.shape = targets, shape
        self.history = History()
        # Without rates the requests come from elsewhere (Locust's users), fed to ``history``.
        self.reader = (Reader(targets, host, rates, max_seconds=MAX_SECONDS, max_requests=MAX_REQUESTS,
                              timeout=timeout, record=self.history.add) if rates else None)
        self.trials: list[Trial] = []

    def start(self) -> Experiment:
        if self.reader is not None:
            self.reader.start()
        return self

    def stop(self) -> list[Sample]:
        if self.reader is not None:
            self.reader.stop()
        return self.history.samples()

    def wait_steady(self, judged: list[str], within: float = STEADY_WITHIN) -> float:
        """Wait until the last ``STEADY_REQUESTS`` of every entry point in ``judged`` succeeded; return
        the before window's start. Raises NotEstablished (nothing is injected) when service stays unsteady."""
        def steady() -> float | None:
            if self.reader is not None:
                oldest = [self.reader.oldest_in_flight(t) for t in judged]
                if any(t is not None and time.time() - t > STEADY_IN_FLIGHT_SECONDS for t in oldest):
                    return None
            return self.history.steady_since(judged)

        try:
            return eventually(steady, within, 0.2,
                              what=f"the last {STEADY_REQUESTS} requests of every entry point succeeding")
        except NotReached:
            raise NotEstablished(f"the site was not steady before the fault within {within:g}s: "
                                 f"{self.history.describe(judged)}; nothing was injected") from None

    def begin(self, judged: list[str] | None = None) -> Trial:
        """A new trial judged on ``judged`` (default: every entry point), once service is steady on them.

        The entry points it does not judge (the vulcand of a node the fault takes away) get no requests
        until the site is whole again: a frozen node's kernel queues every request sent to it, and its
        vulcand forwarded them all at the resume, a burst of pages no visitor waited for any more (58
        queued after 30 s; the site's pages/s went from 9 to 29 at the thaw, every page took 2-5 s)."""
        judged = list(judged or self.targets)
        if self.reader is not None:
            self.reader.hold(set(self.targets) - set(judged))
        trial = Trial(judged, self.wait_steady(judged))
        self.trials.append(trial)
        return trial

    def recover(self, trial: Trial, whole: Callable[[], object], within: float) -> None:
        """Wait (bounded) for ``whole`` to pass after the trial's fault; record when it did, or what it saw."""
        def checked() -> object:
            began = time.time()
            try:
                return whole()
            except Exception as miss:
                trial.recovery_misses.append((began, time.time(), f"{type(miss).__name__}: {miss}"))
                raise

        try:
            # Recovered when the check that passed ended: the first moment every condition is known to
            # hold (its start would claim the routes before they were asked).
            eventually(checked, within, 1, what=f"full recovery after {trial.fault.describe()}")
            trial.recovered_at = time.time()
        except AssertionError as failure:
            trial.recovered_at, trial.not_recovered = None, str(failure)
        if self.reader is not None:
            self.reader.release()

    def read_after(self, trial: Trial, count: int = STEADY_REQUESTS, within: float = AFTER_WITHIN) -> None:
        """Let the readers run the after window, from the heal or the recovery (whichever is later)
        until every judged entry point has answered ``count`` requests begun in it, or ``within`` s."""
        after_from = max(trial.recovered_at or time.time(), trial.fault.ended or 0.0)

        def answered_enough() -> bool:
            done = self.history.samples(since=after_from)
            return all(sum(1 for s in done if s.target == target) >= count for target in trial.judged)

        try:
            eventually(answered_enough, within, 0.2, what=f"{count} requests of every entry point after the heal")
        except NotReached:
            pass  # the verdict judges what was answered

    def slice(self, trial: Trial) -> list[Sample]:
        """The trial's requests: those to the entry points it is judged on, from its before window to its end."""
        return [s for s in self.history.samples(trial.baseline_from, trial.until or time.time())
                if s.target in trial.judged]

    def judge(self, trial: Trial) -> FaultVerdict:
        """The trial's verdict over its slice of the history, by its fault's bounds."""
        trial.until = trial.until or time.time()
        if self.reader is not None:
            self.reader.release()
        samples = self.slice(trial)
        trial.verdict = judge(samples, trial.fault, trial.recovered_at, until=trial.until,
                              baseline_from=trial.baseline_from, bounds=fault_bounds(self.shape, trial.fault.kind))
        if trial.not_recovered:
            trial.verdict.notes.append(f"not whole within the wait: {trial.not_recovered}")
        elif trial.recovery_misses:
            trial.verdict.notes.append(last_recovery_miss(trial))
        return trial.verdict
