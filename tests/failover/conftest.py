"""The failover suites: one experiment per session, a fault per test, a verdict and a timeline per fault.

Readers start once, at the first failover test, through the top LB and every vulcand directly
(wpcluster.load.experiment), and record one history until the last failover test ends. Each test
starts from a whole site, waits until the last requests of every entry point it is judged on
succeeded (the previous fault's after window is this one's before window), injects one fault
through the nemesis, heals it, waits for full recovery and reads 10 s more. It leaves in
results/<run>/failover/ a PNG timeline, a text summary, its slice of the history (CSV) and the
verdict as JSON. The verdict judges the fault by every bound of its family
(wpcluster.checks.thresholds.fault_bounds) over its whole span, and leaving the ``observe`` block raises
it: ``Deviated`` fails the test, ``NotEstablished`` (no steady service before the fault) errors it.
The nemesis heals whatever is left broken.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.failover.load import steady_readers
from wpcluster.checks.state import check_etcd_healthy, check_site_whole
from wpcluster.checks.thresholds import FailoverThresholds, failover_thresholds
from wpcluster.checks.verdict import DEVIATED, LB, FaultVerdict, save_samples
from wpcluster.core.history import FaultRecord
from wpcluster.core.results import append_figures, run_dir
from wpcluster.deployment.sidekick_settings import quarantine_notes
from wpcluster.fixtures.options import RUN_KEY
from wpcluster.load.experiment import Experiment, Trial, entry_points
from wpcluster.report.timelines import plot

WHOLE_WITHIN = 180.0  # a node restarted by the previous test boots, rejoins and gets its units back
HERE = "tests/failover/"


@pytest.fixture
def thresholds(cluster) -> FailoverThresholds:
    return failover_thresholds(cluster.shape)


@pytest.fixture(autouse=True)
def whole_site(request, cluster, deployment, fleet, etcd, site, gates):
    """Every failover test starts (and must be able to start) from a whole cluster and site. A test
    marked ``spread_as_deployed`` (a fault on a node, whose cost depends on what runs there) starts
    from its public containers spread over the nodes as a deploy places them
    (Deployment.spread_public_units; never on a site certified as it is, nor on a cluster wpcluster
    does not deploy). The others start from wherever fleet left them: moving a unit back costs a
    restart and a warm-up, about 30 s, and a MariaDB or S3 fault costs the same wherever they run."""
    spread = request.node.get_closest_marker("spread_as_deployed") is not None

    def whole() -> bool:
        check_etcd_healthy(cluster)
        deployment.wait_units_active(timeout=0)
        if spread and cluster.deploys and not request.config.getoption("--site-as-is"):
            deployment.spread_public_units()
        return check_site_whole(cluster, etcd, site)

    gates.require(request, "site-whole", whole, WHOLE_WITHIN)


@pytest.fixture(scope="session")
def experiment(request, cluster, deployment) -> Experiment:
    """The session's one failover experiment: its readers start with the first failover test and stop
    after the last (``readers_stop_after_the_last_failover_test``); the whole history is kept in
    results/<run>/failover/history.csv."""
    targets = entry_points(cluster)
    rates = steady_readers(request.config, cluster).rates(list(targets), LB)
    running = Experiment(targets, cluster.shape.site_authority, rates, cluster.shape).start()
    yield running
    samples = running.stop()
    if samples:
        save_samples(samples, run_dir(request.config.stash[RUN_KEY]) / "failover" / "history.csv")


@pytest.fixture(autouse=True)
def readers_stop_after_the_last_failover_test(request):
    """The readers load the machine: once no failover test is left in the session, they stop."""
    yield
    failover = [item for item in request.session.items if item.nodeid.startswith(HERE)]
    if failover and request.node is failover[-1] and "experiment" in request.fixturenames:
        request.getfixturevalue("experiment").stop()


@dataclass
class Observation:
    """One fault on the experiment's history: the trial, the fault record, and the posts WordPress saved."""

    trial: Trial
    acknowledged: list[int] = field(default_factory=list)  # posts WordPress said it saved
    try_post: Callable[[str], None] | None = None  # during the fault: publish a post, if the site lets us
    # Waits for full recovery (``experiment.recover``); ``recover_while_observing`` runs it beside the test.
    recover: Callable[[], None] | None = None
    watcher: threading.Thread | None = None

    def recover_while_observing(self) -> None:
        """Start waiting for full recovery now, beside the rest of the test: a fault nothing heals (a dead
        node) is timed from its start, and what the test does meanwhile (a post that waits on the dead
        node, a wait for the TTL) must not delay seeing the site whole."""
        self.watcher = threading.Thread(target=self.recover, name="recovery", daemon=True)
        self.watcher.start()

    @property
    def fault(self) -> FaultRecord | None:
        return self.trial.fault

    @fault.setter
    def fault(self, record: FaultRecord) -> None:
        self.trial.fault = record

    @property
    def recovered_at(self) -> float | None:
        return self.trial.recovered_at

    @property
    def not_recovered(self) -> str:
        return self.trial.not_recovered

    @property
    def verdict(self) -> FaultVerdict | None:
        return self.trial.verdict

    def read_until(self, when: float) -> None:
        """Let the readers run until ``when`` (wall clock): a fault held for a set length."""
        time.sleep(max(0.0, when - time.time()))


@pytest.fixture
def observe(request, cluster, fleet, etcd, site, secrets, experiment):
    """``with observe(survivors, recover_within) as obs:`` schedules one fault on the session's
    experiment, judged on the top LB and the vulcand of each surviving node (directly: no retries);
    record the fault in ``obs.fault``. On exit the test waits (bounded) for full recovery, reads the
    after window, judges the fault over its span, draws the timeline, saves the figures and raises
    the verdict."""
    run_id = request.config.stash[RUN_KEY]
    name = re.sub(r"[^\w.-]+", "_", request.node.name)

    class _Context:
        def __init__(self, survivors: list, recover_within: float) -> None:
            self.judged = [LB, *(f"vulcand on {n.name}" for n in survivors)]
            self.recover_within = recover_within

        def __enter__(self) -> Observation:
            self.entered = time.time()
            session = site.login(cluster.shape.site.admin_user, secrets["WORDPRESS_ADMIN_PASSWORD"])
            nonce = site.rest_nonce(session)
            acknowledged = [site.create_post(session, nonce, f"before {request.node.name}")]

            def try_post(title: str) -> None:
                try:  # refused is an allowed outcome during a fault; lost once acknowledged is not
                    acknowledged.append(site.create_post(session, nonce, title))
                except Exception:  # noqa: BLE001
                    pass

            # Never inject into a sick site: a fault on top of failing reads measures the failure, not it.
            trial = experiment.begin(self.judged)
            self.obs = Observation(trial, acknowledged, try_post, lambda: experiment.recover(
                trial, lambda: check_site_whole(cluster, etcd, site), self.recover_within))
            return self.obs

        def __exit__(self, *raised) -> None:
            obs, trial = self.obs, self.obs.trial
            try:
                if obs.watcher is not None:
                    obs.watcher.join()
                elif raised[0] is None and trial.fault is not None and trial.recovered_at is None:
                    obs.recover()
                if raised[0] is None and trial.recovered_at is not None:
                    experiment.read_after(trial)
                    lost = [p for p in obs.acknowledged if site.get(f"/wp-json/wp/v2/posts/{p}").status != 200]
                    assert not lost, f"posts acknowledged before or during {trial.fault.describe()} are gone: {lost}"
            finally:
                if trial.fault is not None:
                    verdict = experiment.judge(trial)
                    if verdict.status == DEVIATED:
                        verdict.notes += quarantine_notes(cluster.nodes, trial.baseline_from, trial.fault.started)
                    folder = run_dir(run_id) / "failover"
                    verdict.save(folder, name)
                    samples = experiment.slice(trial)
                    save_samples(samples, folder / f"{name}.samples.csv")
                    plot(samples, verdict, folder / f"{name}.png", request.node.name)
                    append_figures(run_id, "failover", {
                        "test": name, **verdict.to_dict(),
                        # What the fault cost the run: steady gate, fault, recovery wait, after window.
                        "wall_seconds": round(time.time() - self.entered, 1)})
            # Every fault is judged by every bound of its family: a broken one fails the test here.
            if raised[0] is None and obs.verdict is not None:
                obs.verdict.raise_for_status()

    return _Context
