"""A load shape for failover: steady readers while the lab takes one fault of the suites' catalogue.

    locust -f loadtests/site.py,loadtests/failover_shape.py Reader --headless \\
        --host http://127.0.0.1:8888 --site-host wordpress.local:8888 --html results/failover-load.html

The fault comes from the same catalogue the failover suites use (``wpcluster.faults.FAULTS``):
WPCLUSTER_FAILOVER_FAULT names it (default node-kill: the node running wordpress-admin; the
others are listed by ``python -c 'import wpcluster.faults as f; print(*f.FAULTS)'``: packet-loss,
bandwidth-cap, etcd-majority-lost, dockerd-restart, etcd-member-replace, fleetd-freeze, db-stop, db-pause,
s3-stop, and db-latency, db-stall, s3-latency, s3-stall through the fault proxy). It is injected at
WPCLUSTER_FAILOVER_FAULT_AT (default 20 s), healed WPCLUSTER_FAILOVER_HOLD seconds later
(default 20) and the run ends at WPCLUSTER_FAILOVER_SECONDS (default 90) with
WPCLUSTER_FAILOVER_USERS readers (default 10). When Locust quits, every request it made is
judged by the suites' checker and the same window table is printed: before, during and after
the fault, goodput against the baseline, error rate, p95 and the brownout. Whatever is still
broken is healed. Lab only: it reaches the nodes through the lab provider.
"""

from __future__ import annotations

import os
import threading
import time

from locust import LoadTestShape, events

from wpcluster.generator import Sample

USERS = int(os.environ.get("WPCLUSTER_FAILOVER_USERS", "10"))
SECONDS = int(os.environ.get("WPCLUSTER_FAILOVER_SECONDS", "90"))
FAULT_AT = int(os.environ.get("WPCLUSTER_FAILOVER_FAULT_AT", "20"))
HOLD = int(os.environ.get("WPCLUSTER_FAILOVER_HOLD", "20"))
FAULT = os.environ.get("WPCLUSTER_FAILOVER_FAULT", "node-kill")

_state: dict = {"nemesis": None, "record": None, "started": None}
_samples: list[Sample] = []
_lock = threading.Lock()


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response=None, exception=None, **_kw) -> None:
    status = 0 if exception is not None or response is None else getattr(response, "status_code", 0) or 0
    sample = Sample(time.time() - response_time / 1000, response_time / 1000, status, "", "top LB", name,
                    type(exception).__name__ if exception is not None else "")
    with _lock:
        _samples.append(sample)


def _fault_then_heal() -> None:
    from wpcluster.faults import Nemesis, inject
    from wpcluster.providers.lab.provider import Lab
    from wpcluster.shape import load_shape

    lab = Lab.attach(load_shape())
    if lab is None:
        print("failover_shape: no lab is up; no fault injected", flush=True)
        return
    nemesis = _state["nemesis"] = Nemesis(lab)
    heal = inject(nemesis, FAULT)
    _state["record"] = nemesis.records[-1]
    print(f"failover_shape: {_state['record'].describe()} at t={FAULT_AT}s, healed after {HOLD}s", flush=True)
    time.sleep(HOLD)  # the fault's length is the scenario itself, not a wait for a condition
    heal()
    print(f"failover_shape: healed {_state['record'].describe()}", flush=True)


@events.quitting.add_listener
def _judge_and_heal(**_kw) -> None:
    nemesis, record = _state["nemesis"], _state["record"]
    if nemesis is not None:
        nemesis.heal_all()
        nemesis.cluster.close()
    if record is None or not _samples:
        return
    from wpcluster.verdict import judge

    with _lock:
        samples = sorted(_samples, key=lambda s: s.started)
    verdict = judge(samples, record, recovered_at=None, until=samples[-1].started, baseline_from=_state["started"])
    print("failover_shape verdict (Locust's requests, judged by the failover suites' checker):", flush=True)
    print(verdict.summary(), flush=True)


class SteadyThroughAFault(LoadTestShape):
    """USERS readers for SECONDS; the fault at FAULT_AT, healed HOLD later (in a thread: the shape keeps ticking)."""

    injected = False

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()
        if _state["started"] is None:
            _state["started"] = time.time()
        if run_time >= SECONDS:
            return None
        if run_time >= FAULT_AT and not self.injected:
            self.injected = True
            threading.Thread(target=_fault_then_heal, daemon=True).start()
        return USERS, USERS
