"""Load generators (Jepsen's generator): bounded clients that record what every request saw."""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass

import requests

from wpcluster.clients.site import SERVED_BY


@dataclass(frozen=True)
class Sample:
    started: float  # monotonic seconds
    seconds: float
    status: int  # 0 when no response came back
    served_by: str


def hammer(url: str, host: str, workers: int = 4, seconds: float = 10.0, max_requests: int = 100_000
           ) -> list[Sample]:
    """GET ``url`` with Host ``host`` from ``workers`` threads until ``seconds`` pass or ``max_requests`` are sent.

    Both bounds hold whatever the server does: a loop that stops by itself.
    """
    samples: list[Sample] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    budget = [max_requests]

    def worker() -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            started = time.monotonic()
            try:
                reply = session.get(url, headers={"Host": host}, timeout=5, allow_redirects=False)
                status, served_by = reply.status_code, reply.headers.get(SERVED_BY, "")
            except requests.RequestException:
                status, served_by = 0, ""
            sample = Sample(started, time.monotonic() - started, status, served_by)
            with lock:
                samples.append(sample)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 10)
    return samples


def summarize(samples: list[Sample]) -> dict[str, float | int]:
    """Requests/s, error count and latency percentiles (ms) of one run."""
    if not samples:
        return {"requests": 0}
    ok = [s for s in samples if 200 <= s.status < 400]
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
