"""A load shape for failover: Locust's readers drive one fault of the suites' catalogue, judged by the suites' bounds.

    locust -f loadtests/site.py,loadtests/failover_shape.py Reader --headless \\
        --host http://127.0.0.1:8888 --site-host wordpress.local:8888 --html results/failover-load.html

It runs the failover suites' experiment (wpcluster.load.experiment) with Locust's users as its readers:
every request Locust makes enters the experiment's history (through the top LB). From
WPCLUSTER_FAILOVER_FAULT_AT seconds (default 20) it waits until the last requests all succeeded,
injects WPCLUSTER_FAILOVER_FAULT (default node-kill: the node running wordpress-admin; the
catalogue is ``python -c 'import wpcluster.faults.catalogue as c; print(*c.catalogue())'``), heals it
WPCLUSTER_FAILOVER_HOLD seconds later (default 20), waits for the site to be whole again, reads
the after window and judges the fault with the suites' bounds for it
(wpcluster.checks.thresholds.fault_bounds). The run then ends, with WPCLUSTER_FAILOVER_USERS readers
(default 10) throughout and at most WPCLUSTER_FAILOVER_SECONDS (default 300) in all.

Locust exits 0 when the verdict passes, 1 when the fault broke a bound, 2 when no verdict could be
reached (the site not steady, the fault not available on this cluster or never injected), and it
refuses to start, exiting 2, when no lab is up or its site does not answer. Whatever is still broken
is healed. Lab only: it reaches the nodes through the lab provider.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import requests
from locust import LoadTestShape, events

from wpcluster.checks.verdict import LB, NOT_ESTABLISHED, PASS
from wpcluster.core.history import Sample

USERS = int(os.environ.get("WPCLUSTER_FAILOVER_USERS", "10"))
SECONDS = int(os.environ.get("WPCLUSTER_FAILOVER_SECONDS", "300"))
FAULT_AT = int(os.environ.get("WPCLUSTER_FAILOVER_FAULT_AT", "20"))
HOLD = int(os.environ.get("WPCLUSTER_FAILOVER_HOLD", "20"))
FAULT = os.environ.get("WPCLUSTER_FAILOVER_FAULT", "node-kill")
# Exit codes: the deployment broke a bound; no verdict could be reached (or nothing to run on).
DEVIATED_EXIT, NOT_ESTABLISHED_EXIT = 1, 2

_state: dict = {"lab": None, "experiment": None, "nemesis": None, "done": False, "exit": None}


def _refuse(problem: str, fix: str) -> None:
    """Stop before any load is sent, as loadtests/site.py does for bad input."""
    print(f"loadtests/failover_shape.py: error: {problem}\n  fix: {fix}", file=sys.stderr, flush=True)
    sys.exit(NOT_ESTABLISHED_EXIT)


@events.init.add_listener
def _attach(environment, **_kw) -> None:
    """Before any user starts: a lab to break, a site that answers, a fault the catalogue has."""
    from wpcluster.core.errors import WpclusterError
    from wpcluster.core.shape import load_shape
    from wpcluster.faults.catalogue import catalogue
    from wpcluster.load.experiment import Experiment, entry_points
    from wpcluster.providers.lab.provider import Lab

    options = environment.parsed_options
    if options is not None and (getattr(options, "master", False) or getattr(options, "worker", False)):
        return _refuse("the failover shape judges the requests its own process sees",
                       "run it as one process: without --master or --worker")
    if FAULT not in catalogue():
        return _refuse(f"no fault {FAULT!r} in the catalogue",
                       f"set WPCLUSTER_FAILOVER_FAULT to one of {', '.join(catalogue())}")
    try:
        lab = Lab.attach(load_shape())
    except WpclusterError as exc:
        return _refuse(f"cannot reach the lab: {exc.problem}", exc.fix or "bring it up: wpcluster lab up")
    if lab is None:
        return _refuse("no lab is up: a failover shape needs a cluster to inject its fault into",
                       "bring one up and deploy the site: wpcluster lab up && wpcluster deploy")
    try:
        requests.get(f"http://{lab.site_address}/", headers={"Host": lab.shape.site_authority}, timeout=5,
                     allow_redirects=False).raise_for_status()
    except requests.RequestException as exc:
        lab.close()
        return _refuse(f"the site does not answer through the top LB ({exc})",
                       "deploy it: wpcluster deploy")
    _state["lab"] = lab
    # The profiles' throughput gates are for steady load; under a fault the verdict is the judge.
    environment.gates = None
    targets = {LB: entry_points(lab)[LB]}
    _state["experiment"] = Experiment(targets, lab.shape.site_authority, None, lab.shape)


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response=None, exception=None, **_kw) -> None:
    experiment = _state["experiment"]
    if experiment is None:
        return
    status = 0 if exception is not None or response is None else getattr(response, "status_code", 0) or 0
    experiment.history.add(Sample(time.time() - response_time / 1000, response_time / 1000, status, "", LB, name,
                                  type(exception).__name__ if exception is not None else ""))


def _trial(environment) -> None:
    """Steady service, the fault, its heal, full recovery, the after window, the verdict."""
    from wpcluster.checks.state import check_site_whole
    from wpcluster.checks.thresholds import failover_thresholds
    from wpcluster.checks.verdict import NotEstablished
    from wpcluster.clients.etcd import keys_client
    from wpcluster.clients.site import SiteClient
    from wpcluster.faults import Nemesis, build

    lab, experiment = _state["lab"], _state["experiment"]
    nemesis = _state["nemesis"] = Nemesis(lab)
    try:
        trial = experiment.begin([LB])
    except NotEstablished as exc:
        print(f"failover_shape: {exc}", flush=True)
        _state["exit"] = NOT_ESTABLISHED_EXIT
        return
    fault = build(FAULT, nemesis)
    if (unavailable := fault.available(lab)) is not None:
        print(f"failover_shape: no verdict: {fault.describe()} cannot be injected here: {unavailable}", flush=True)
        _state["exit"] = NOT_ESTABLISHED_EXIT
        return
    trial.fault = fault.inject().record
    print(f"failover_shape: {trial.fault.describe()}, healed in {HOLD}s", flush=True)
    time.sleep(HOLD)  # the fault's length is the scenario itself, not a wait for a condition
    fault.heal()
    print(f"failover_shape: healed {trial.fault.describe()}; waiting for the site to be whole", flush=True)
    etcd = keys_client(lab.etcd_endpoints)
    site = SiteClient(lab.shape.site_url, f"http://{lab.site_address}")
    experiment.recover(trial, lambda: check_site_whole(lab, etcd, site),
                       failover_thresholds(lab.shape).recovery_seconds)
    if trial.recovered_at is not None:
        experiment.read_after(trial)
    verdict = experiment.judge(trial)
    print("failover_shape verdict (Locust's requests, judged by the failover suites' bounds):\n" + verdict.summary(),
          flush=True)
    _state["exit"] = {PASS: 0, NOT_ESTABLISHED: NOT_ESTABLISHED_EXIT}.get(verdict.status, DEVIATED_EXIT)


def _run_trial(environment) -> None:
    try:
        _trial(environment)
    except Exception as exc:  # noqa: BLE001 - a harness error is no verdict, and must end the run
        print(f"failover_shape: no verdict: {type(exc).__name__}: {exc}", flush=True)
        _state["exit"] = NOT_ESTABLISHED_EXIT
    finally:
        _state["done"] = True


@events.quitting.add_listener
def _heal_and_exit(environment, **_kw) -> None:
    nemesis, lab = _state["nemesis"], _state["lab"]
    if nemesis is not None:
        nemesis.heal_all()
    if lab is not None:
        lab.close()
    if _state["exit"] is None and _state["experiment"] is not None:
        print(f"failover_shape: the run ended before the fault was judged (WPCLUSTER_FAILOVER_SECONDS={SECONDS})",
              flush=True)
        _state["exit"] = NOT_ESTABLISHED_EXIT
    if _state["exit"] is not None:
        environment.process_exit_code = _state["exit"]


class SteadyThroughAFault(LoadTestShape):
    """USERS readers until the fault's verdict (at most SECONDS); the trial starts at FAULT_AT, in a thread
    (the shape keeps ticking)."""

    started = False

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()
        if _state["done"] or run_time >= SECONDS or _state["experiment"] is None:
            return None
        if run_time >= FAULT_AT and not self.started:
            self.started = True
            threading.Thread(target=_run_trial, args=(self.runner.environment,), daemon=True).start()
        return USERS, USERS
