"""Load generators (Jepsen's generator): bounded clients that record what every request saw."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
import urllib3

from wpcluster.clients.site import SERVED_BY
from wpcluster.core.history import Sample


def failure_name(exc: requests.RequestException) -> str:
    """What a request that got no whole answer met. A body that stops arriving after the headers
    came raises ConnectionError in requests, wrapping urllib3's read timeout: that request was held
    past the timeout like any other, so it is named a ReadTimeout (a hang), not a refusal."""
    if isinstance(exc, requests.ConnectionError) and "Read timed out" in str(exc):
        return "ReadTimeout"
    return type(exc).__name__


def connections_opened(session: requests.Session, url: str) -> int:
    """How many connections ``session`` has opened to any server so far (urllib3 counts them per pool)."""
    pools = session.get_adapter(url).poolmanager.pools
    return sum(pools[key].num_connections for key in pools.keys())


def closed_unanswered(exc: requests.RequestException) -> bool:
    """The connection closed (or was reset) after the request went out and before the answer's
    headers came: requests wraps urllib3's ProtocolError ("Connection aborted")."""
    return isinstance(exc, requests.ConnectionError) and bool(exc.args) and isinstance(
        exc.args[0], urllib3.exceptions.ProtocolError)


def get_as_a_browser(session: requests.Session, url: str, host: str, timeout: float) -> tuple[requests.Response, str]:
    """GET ``url`` with Host ``host`` as a browser does over keep-alive, and say what the first try met.

    A server may close a kept-alive connection whenever it is idle, so a request can cross the close
    and find its connection gone before any answer; HTTP lets a client send an idempotent request
    again in that case (RFC 9110 9.2.2, RFC 9112 9.3.1) and browsers do, on a new connection,
    without the visitor seeing it. vulcand does exactly this at every reload of its mux (its etcd
    member back after an outage): the old mux closes the connections that bring it a request.
    So such a request, and only on a connection the session already had, is sent once more; what
    the second try gets is the answer (a new connection refused or closed too is the error it is).
    Returns the answer and the first try's failure ("" when it was sent once)."""
    def send() -> requests.Response:
        return session.get(url, headers={"Host": host}, timeout=timeout, allow_redirects=False)

    opened = connections_opened(session, url)
    try:
        return send(), ""
    except requests.ConnectionError as exc:
        if not closed_unanswered(exc) or connections_opened(session, url) != opened:
            raise
        first = type(exc.args[0].args[-1]).__name__ if exc.args[0].args else "ProtocolError"
    return send(), first


def hammer(url: str, host: str, workers: int = 4, seconds: float = 10.0, max_requests: int = 100_000,
           paths: tuple[str, ...] = ("",)) -> list[Sample]:
    """GET ``url`` with Host ``host`` from ``workers`` threads until ``seconds`` pass or ``max_requests`` are sent;
    each worker goes round ``paths`` (appended to ``url``).

    Both bounds hold whatever the server does: a loop that stops by itself.
    """
    samples: list[Sample] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    budget = [max_requests]

    def worker(first: int) -> None:
        session = requests.Session()
        i = first
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            path, i = paths[i % len(paths)], i + 1
            started, clock = time.time(), time.monotonic()
            try:
                reply = session.get(f"{url}{path}", headers={"Host": host}, timeout=5, allow_redirects=False)
                status, served_by = reply.status_code, reply.headers.get(SERVED_BY, "")
            except requests.RequestException:
                status, served_by = 0, ""
            sample = Sample(started, time.monotonic() - clock, status, served_by, path=path)
            with lock:
                samples.append(sample)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 10)
    return samples


def summarize(samples: list[Sample]) -> dict[str, float | int]:
    """Requests/s, error count and latency percentiles (ms) of one run."""
    if not samples:
        return {"requests": 0}
    ok = [s for s in samples if s.ok]
    span = max(s.started + s.seconds for s in samples) - min(s.started for s in samples)
    latencies = sorted(s.seconds * 1000 for s in ok) or [0.0]
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "requests": len(samples),
        "errors": len(samples) - len(ok),
        "requests_per_second": round(len(ok) / span, 1) if span else 0.0,
        "latency_ms_p50": round(quantiles[49], 1),
        "latency_ms_p95": round(quantiles[94], 1),
        "containers": len({s.served_by for s in ok}),
    }


# A reader's mix of pages, weighted like a blog's traffic: mostly the home page and posts.
READER_PATHS = ("/", "/", "/", "/hello-world/", "/?p=1", "/wp-json/wp/v2/posts", "/?s=hello")

# The failover readers' steady rates at most (requests/s, an open model): what a visitor uses, the
# top LB, gets the most; each vulcand is read directly, without the LB's retries.
LB_RATE = 10.0
VULCAND_RATE = 4.0
# ... and never more, all entry points together, than this share of what the site serves on this
# machine (measured before the faults: closed loop through the top LB). An open-model load near
# capacity queues: 22 requests/s on a CI machine whose site served little more kept its baseline at
# a p95 of 277 ms, and after a fault the queue outlived every window (reads hung long after the
# heal, and 8 failovers failed), though the same load passed where 22/s was three quarters of
# capacity. At half, a fault's backlog drains at least as fast as it built up.
LOAD_SHARE = 0.5
# Fewer requests through the top LB than this leave too few in a fault window to judge a 1 % error
# rate on: below it the machine is refused, not judged.
MIN_LB_RATE = 3.0


class CapacityError(RuntimeError):
    """The site cannot carry the failover readers on this machine."""


@dataclass(frozen=True)
class SteadyLoad:
    """The failover readers' rates, scaled to this machine's measured capacity."""

    capacity: float  # successes/s through the top LB, closed loop
    lb_rate: float
    vulcand_rate: float
    scale: float  # of LB_RATE and VULCAND_RATE

    def rates(self, targets: list[str], lb: str) -> dict[str, float]:
        return {name: self.lb_rate if name == lb else self.vulcand_rate for name in targets}


def steady_load(capacity: float, vulcands: int) -> SteadyLoad:
    """Rates for the top LB and ``vulcands`` vulcands read directly: LB_RATE and VULCAND_RATE, scaled
    down (never up) so that together they stay within LOAD_SHARE of ``capacity``."""
    full = LB_RATE + vulcands * VULCAND_RATE
    scale = min(1.0, LOAD_SHARE * capacity / full)
    load = SteadyLoad(round(capacity, 1), round(LB_RATE * scale, 2), round(VULCAND_RATE * scale, 2), round(scale, 3))
    if load.lb_rate < MIN_LB_RATE:
        raise CapacityError(
            f"the site serves only {capacity:.1f} requests/s through the top LB on this machine; at "
            f"{LOAD_SHARE:.0%} of that the failover readers would send {load.lb_rate} requests/s through it, "
            f"under the {MIN_LB_RATE:g} a 1 % error rate can be judged on: free the machine's cores "
            f"(another lab or build running?) or use a larger machine")
    return load


def measure_capacity(base: str, host: str, paths: tuple[str, ...], seconds: float = 8.0, workers: int = 6) -> float:
    """Successes/s of ``paths`` under ``base`` under a closed-loop load of ``workers`` clients for
    ``seconds``, after a 2 s warm-up whose requests are not counted (the first pages fill PHP's
    opcode cache). The clients share the machine with the site, as the readers do."""
    hammer(base, host, workers=workers, seconds=2.0, paths=paths)
    return float(summarize(hammer(base, host, workers=workers, seconds=seconds, paths=paths))["requests_per_second"])


class Reader:
    """Background readers (Jepsen's client) at a steady rate: an open model, as etcd's robustness
    traffic is. Each target gets its ``rates[target]`` requests per second on a fixed schedule,
    whatever the answers take, so a hung request never slows the offered load and goodput per
    second is steady enough to judge a brownout in one-second bins.

    Every request's time, status, latency, target and answering container is kept. Bounded by
    ``max_seconds`` and ``max_requests`` whatever happens: the loop stops by itself.
    """

    def __init__(self, targets: dict[str, str], host: str, rates: dict[str, float],
                 max_seconds: float = 300, max_requests: int = 50_000, timeout: float = 5,
                 paths: tuple[str, ...] = READER_PATHS, record: Callable[[Sample], None] | None = None) -> None:
        missing = sorted(set(targets) - set(rates))
        if missing:
            raise ValueError(f"no rate for targets {missing}")
        self.targets, self.host, self.paths, self.timeout = targets, host, paths, timeout
        self.rates = rates
        self.deadline = 0.0
        self.max_seconds, self.budget = max_seconds, max_requests
        self.samples: list[Sample] = []
        self.record = record  # also hands each request, as it ends, to a history (wpcluster.load.experiment)
        self._lock = threading.Lock()
        self._in_flight: dict[str, dict[object, float]] = {}
        self._held: set[str] = set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sessions = threading.local()  # one keep-alive session per sending thread

    def hold(self, names: set[str]) -> None:
        """Send nothing to ``names`` from now on (their schedules run on) until ``release``."""
        with self._lock:
            self._held = set(names)

    def release(self) -> None:
        with self._lock:
            self._held = set()

    def oldest_in_flight(self, name: str) -> float | None:
        """When the oldest request to ``name`` still waiting for its answer was sent (None: none waits)."""
        with self._lock:
            return min(self._in_flight.get(name, {}).values(), default=None)

    def _send(self, name: str, base: str, path: str) -> None:
        session = getattr(self._sessions, "session", None) or requests.Session()
        self._sessions.session = session
        started, clock = time.time(), time.monotonic()
        token = object()
        with self._lock:
            self._in_flight.setdefault(name, {})[token] = started
        retried = ""
        try:
            reply, retried = get_as_a_browser(session, f"{base}{path}", self.host, self.timeout)
            status, served_by, error = reply.status_code, reply.headers.get(SERVED_BY, ""), ""
        except requests.RequestException as exc:
            status, served_by, error = 0, "", failure_name(exc)
        sample = Sample(started, time.monotonic() - clock, status, served_by, name, path, error, retried)
        with self._lock:
            self.samples.append(sample)
            del self._in_flight[name][token]
        if self.record is not None:
            self.record(sample)

    def _schedule(self, name: str, base: str, rate: float) -> None:
        # Enough senders for every request of the last timeout to be in flight at once (all hanging).
        with ThreadPoolExecutor(max_workers=int(rate * (self.timeout + 1)) + 2) as senders:
            due, i = time.monotonic(), 0
            while not self._stop.is_set() and time.monotonic() < self.deadline:
                with self._lock:
                    if self.budget <= 0:
                        return
                    held = name in self._held
                    if not held:
                        self.budget -= 1
                if not held:
                    senders.submit(self._send, name, base, self.paths[i % len(self.paths)])
                i += 1
                due += 1 / rate
                self._stop.wait(max(0.0, due - time.monotonic()))

    @property
    def successes(self) -> int:
        with self._lock:
            return sum(1 for s in self.samples if s.ok)

    @property
    def failures(self) -> int:
        """Requests answered with an error, or not at all within the timeout (hung)."""
        with self._lock:
            return sum(1 for s in self.samples if not s.ok)

    def start(self) -> Reader:
        self.deadline = time.monotonic() + self.max_seconds
        for name, base in self.targets.items():
            thread = threading.Thread(target=self._schedule, args=(name, base.rstrip("/"), self.rates[name]),
                                      daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def read_until(self, when: float) -> None:
        """Let the readers run until ``when`` (wall clock): an observation window of a set length."""
        self._stop.wait(max(0.0, when - time.time()))

    def stop(self) -> list[Sample]:
        self._stop.set()
        for thread in self._threads:  # each waits for its requests in flight, which end by their timeout
            thread.join(self.timeout + 5)
        with self._lock:
            return sorted(self.samples, key=lambda s: s.started)

    def __enter__(self) -> Reader:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
