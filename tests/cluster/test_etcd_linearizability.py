"""etcd2 stays linearizable while members are killed and partitioned (checked by porcupine, not by hand).

Concurrent clients, each bound to one member, read (quorum), write and compare-and-swap a few
keys while the nemesis kills the leader's member, restarts it, cuts a follower off and heals it.
The recorded history goes to tools/linearizability (porcupine); its HTML view and verdict land in
results/<run>/etcd/.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from wpcluster.checks.linearizability import check, record_history, summary
from wpcluster.clients.etcd import cluster_health
from wpcluster.core.results import append_figures, run_dir
from wpcluster.core.waits import eventually
from wpcluster.fixtures.options import RUN_KEY

pytestmark = [pytest.mark.destructive, pytest.mark.slow]

# The history runs until the faults are healed and this much longer (operations that straddle a heal
# and the member catching up), never past RECORD_WITHIN; each fault is held FAULT_SECONDS.
AFTER_HEAL_SECONDS = 3.0
RECORD_WITHIN = 90.0
FAULT_SECONDS = 5.0
MAX_OPERATIONS = 40_000


def leader(cluster):
    health = cluster_health(cluster.etcd_endpoints, names=[n.name for n in cluster.nodes])
    return cluster.node(health.leaders[0]) if health.leaders else None


def test_history_under_member_kills_and_partitions_is_linearizable(request, cluster, nemesis):
    healed = threading.Event()
    errors: list[BaseException] = []

    def faults():
        try:
            time.sleep(1.0)  # a history before the first fault
            first = leader(cluster)
            nemesis.kill_member(first)
            time.sleep(FAULT_SECONDS)  # the clients run against two members meanwhile
            nemesis.restart_member(first)
            eventually(lambda: cluster_health(cluster.etcd_endpoints).healthy, 30, 0.5, what="member back")
            follower = next(n for n in cluster.nodes if n is not leader(cluster))
            nemesis.partition(follower)
            time.sleep(FAULT_SECONDS)
            nemesis.heal(follower)
            time.sleep(AFTER_HEAL_SECONDS)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            healed.set()

    nemesis_thread = threading.Thread(target=faults, daemon=True)
    nemesis_thread.start()
    history = record_history(cluster.etcd_endpoints, keys=4, clients=9, seconds=RECORD_WITHIN,
                             max_ops=MAX_OPERATIONS, stop=healed)
    nemesis_thread.join(60)
    assert not errors, f"the nemesis failed: {errors[0]!r}"
    assert [r.kind for r in nemesis.records] == ["etcd-member-kill", "partition"], nemesis.records
    # A fault outside the history tests nothing: every one must begin and end inside it.
    first, last = min(op.at for op in history), max(op.at for op in history)
    outside = [f"{r.describe()} {r.started:.1f}-{r.ended or 0:.1f}" for r in nemesis.records
               if r.ended is None or not first <= r.started <= r.ended <= last]
    assert not outside, f"faults outside the recorded history ({first:.1f}-{last:.1f}, {len(history)} operations): " \
                        f"{outside}"

    folder = run_dir(request.config.stash[RUN_KEY]) / "etcd"
    verdict = check(history, timeout_s=120, visualization=folder / "etcd-linearizability.html")
    figures = {**summary(history), "result": verdict.result, "check_seconds": verdict.seconds,
               "faults": [f"{r.describe()} {r.started:.1f}-{r.ended:.1f}" for r in nemesis.records]}
    (folder / "etcd-linearizability.json").write_text(json.dumps(figures, indent=2) + "\n")
    append_figures(request.config.stash[RUN_KEY], "etcd_linearizability", figures)
    assert verdict.operations > 100, f"too few operations recorded to judge: {figures}"
    assert verdict.ok, f"etcd2's history is {verdict.result} under faults: {figures}; see {verdict.visualization}"
