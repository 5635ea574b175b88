"""The failover suites: faults under load, a verdict and a timeline per fault.

Each test starts from a whole site, runs background readers through the top LB
and every surviving vulcand, reads a baseline of at least 10 s, injects one
fault through the nemesis, heals it, waits for full recovery, reads 10 s more,
and leaves in results/<run>/failover/ a PNG timeline, a text summary, the
readers' history (CSV) and the verdict as JSON. The verdict judges the fault by
every bound of its family (wpcluster.thresholds.fault_bounds) over its whole
span, and leaving the ``observe`` block raises it: ``Deviated`` fails the test,
``NotEstablished`` (no steady baseline) errors it. The nemesis heals whatever is
left broken.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.failover.load import steady_readers
from wpcluster.checkers import check_etcd_healthy, check_site_whole
from wpcluster.faults import FaultRecord
from wpcluster.generator import Reader, Sample
from wpcluster.plugin.options import RUN_KEY
from wpcluster.results import append_figures, run_dir
from wpcluster.thresholds import STEADY_ERROR_RATE, FailoverThresholds, failover_thresholds, fault_bounds
from wpcluster.timeline import plot
from wpcluster.verdict import FaultVerdict, NotEstablished, judge, save_samples
from wpcluster.waits import NotReached, eventually

WHOLE_WITHIN = 180.0  # a node restarted by the previous test boots, rejoins and gets its units back
# The baseline window before each fault: at least this long, and this many successful reads, so that
# goodput during and after the fault is compared with steady service (etcd's robustness reports use
# the same three windows).
BASELINE_SECONDS = 10.0
BASELINE = 30
# The window after the heal (or after full recovery, for a fault nothing heals): readers keep going
# this long, so "after" is judged on as much service as "before".
AFTER_SECONDS = 10.0


@pytest.fixture
def thresholds(cluster) -> FailoverThresholds:
    return failover_thresholds(cluster.shape)


@pytest.fixture(autouse=True)
def whole_site(request, cluster, deployment, fleet, etcd, site, gates):
    """Every failover test starts (and must be able to start) from a whole cluster and site, its public
    containers spread over the nodes as a deploy places them (Deployment.spread_public_units; never
    on a site certified as it is, nor on a cluster wpcluster does not deploy)."""
    def whole() -> bool:
        check_etcd_healthy(cluster)
        deployment.wait_units_active(timeout=0)
        if cluster.deploys and not request.config.getoption("--site-as-is"):
            deployment.spread_public_units()
        return check_site_whole(cluster, fleet, etcd, site)

    gates.require(request, "site-whole", whole, WHOLE_WITHIN)


@dataclass
class Observation:
    """One fault under load: the readers, the fault record, and when the site was whole again."""

    reader: Reader
    fault: FaultRecord | None = None
    recovered_at: float | None = None
    not_recovered: str = ""  # what the recovery check last saw, when it never passed
    acknowledged: list[int] = field(default_factory=list)  # posts WordPress said it saved
    try_post: Callable[[str], None] | None = None  # during the fault: publish a post, if the site lets us
    samples: list[Sample] = field(default_factory=list)
    verdict: FaultVerdict | None = None
    baseline_from: float | None = None  # when the readers started: the before window's start


@pytest.fixture
def observe(request, cluster, fleet, etcd, site, secrets, thresholds):
    """``with observe(survivors, recover_within) as obs:`` runs readers through the top LB and the vulcand
    of each surviving node (directly: no retries); record the fault in ``obs.fault``; on exit the
    test waits (bounded) for full recovery, judges, draws the timeline and saves the figures."""
    run_id = request.config.stash[RUN_KEY]
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    observations: list[Observation] = []

    class _Context:
        def __init__(self, survivors: list, recover_within: float) -> None:
            targets = {"top LB": f"http://{cluster.site_address}"} | {
                f"vulcand on {n.name}": cluster.vulcand_url(n) for n in survivors}
            rates = steady_readers(request.config, cluster).rates(list(targets), "top LB")
            self.obs = Observation(Reader(targets, cluster.shape.site_authority, rates,
                                          max_seconds=recover_within + 120))
            self.recover_within = recover_within

        def __enter__(self) -> Observation:
            obs = self.obs
            self.entered = time.time()
            session = site.login(cluster.shape.site.admin_user, secrets["WORDPRESS_ADMIN_PASSWORD"])
            nonce = site.rest_nonce(session)

            def try_post(title: str) -> None:
                try:  # refused is an allowed outcome during a fault; lost once acknowledged is not
                    obs.acknowledged.append(site.create_post(session, nonce, title))
                except Exception:  # noqa: BLE001
                    pass

            obs.acknowledged.append(site.create_post(session, nonce, f"before {request.node.name}"))
            obs.try_post = try_post
            reader = self.obs.reader.start()
            obs.baseline_from = time.time()
            try:
                eventually(lambda: reader.successes >= BASELINE and time.time() - obs.baseline_from >= BASELINE_SECONDS,
                           BASELINE_SECONDS + 30, 0.1,
                           what=f"a {BASELINE_SECONDS:g}s baseline of at least {BASELINE} reads before the fault")
                short = ""
            except NotReached:
                short = (f"only {reader.successes} of the baseline's {BASELINE} reads succeeded within "
                         f"{BASELINE_SECONDS + 30:g}s; ")
            # Never inject into a sick site: a fault on top of failing reads measures the failure, not it.
            failed, answered = reader.failures, reader.successes + reader.failures
            if short or failed > STEADY_ERROR_RATE * answered:
                reader.stop()
                raise NotEstablished(f"the site was not steady before the fault: {short}{failed} of {answered} "
                                     f"baseline requests failed or hung (bound {STEADY_ERROR_RATE:.0%}); nothing "
                                     "was injected")
            observations.append(self.obs)
            return self.obs

        def __exit__(self, *raised) -> None:
            obs = self.obs
            try:
                if raised[0] is None and obs.fault is not None and obs.recovered_at is None:
                    try:
                        # Recovered when the check that passed ended: the first moment every condition
                        # is known to hold (its start would claim the routes before they were asked).
                        eventually(lambda: check_site_whole(cluster, fleet, etcd, site), self.recover_within, 1,
                                   what=f"full recovery after {obs.fault.describe()}")
                        obs.recovered_at = time.time()
                    except AssertionError as failure:
                        obs.recovered_at, obs.not_recovered = None, str(failure)
                if raised[0] is None and obs.recovered_at is not None:
                    after_from = max(obs.recovered_at, obs.fault.ended or 0.0)
                    obs.reader.read_until(after_from + AFTER_SECONDS)
                    lost = [p for p in obs.acknowledged if site.get(f"/wp-json/wp/v2/posts/{p}").status != 200]
                    assert not lost, f"posts acknowledged before or during {obs.fault.describe()} are gone: {lost}"
            finally:
                obs.samples = obs.reader.stop()
                if obs.fault is not None and obs.samples:
                    obs.verdict = judge(obs.samples, obs.fault, obs.recovered_at, until=obs.samples[-1].started,
                                        baseline_from=obs.baseline_from,
                                        bounds=fault_bounds(cluster.shape, obs.fault.kind))
                    if obs.not_recovered:
                        obs.verdict.notes.append(f"not whole within the wait: {obs.not_recovered}")
                    folder = run_dir(run_id) / "failover"
                    obs.verdict.save(folder, name)
                    save_samples(obs.samples, folder / f"{name}.samples.csv")
                    plot(obs.samples, obs.verdict, folder / f"{name}.png", f"{request.node.name}")
                    append_figures(run_id, "failover", {
                        "test": name, **obs.verdict.to_dict(),
                        # What the fault cost the run: baseline, fault, recovery wait, after window.
                        "wall_seconds": round(time.time() - self.entered, 1)})
            # Every fault is judged by every bound of its family: a broken one fails the test here.
            if raised[0] is None and obs.verdict is not None:
                obs.verdict.raise_for_status()

    return _Context
