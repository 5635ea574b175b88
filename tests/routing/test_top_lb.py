"""The top LB's checks, live: a vulcand that cannot serve leaves its rotation, and comes back when it serves.

Frozen (SIGSTOP) is the hard case: its node's kernel still accepts every connection, so only a check
that asks for an answer (the LB's HTTP checks through vulcand's API and proxy) can tell. The LB's own
statistics page says what it decided, and when.
"""

from __future__ import annotations

import time

import pytest

from wpcluster.checks.thresholds import LB_BRINGS_BACK_SECONDS, LB_TAKES_OUT_SECONDS
from wpcluster.clients.haproxy import HAProxyStats, ServerState
from wpcluster.core.results import append_figures
from wpcluster.core.units import VULCAND_UNIT, container_of
from wpcluster.core.waits import eventually

BACKEND = "vulcands"


def _state(stats: HAProxyStats, node: str) -> ServerState:
    states = stats.servers()
    assert (BACKEND, node) in states, f"the top LB has no server {node} in {BACKEND}: {sorted(states)}"
    return states[(BACKEND, node)]


def _until(stats: HAProxyStats, node: str, in_rotation: bool, since: float, bound: float) -> tuple[float, ServerState]:
    """Poll the LB's view of ``node`` until it is (or is not) in rotation; the seconds from ``since``."""
    deadline = since + bound + 10  # past the bound, to tell a slow LB from one that never decides
    while True:
        state = _state(stats, node)
        if state.in_rotation == in_rotation:
            return time.time() - since, state
        if time.time() > deadline:
            return float("inf"), state
        time.sleep(0.1)


@pytest.mark.destructive
def test_the_top_lb_takes_out_a_frozen_vulcand_and_brings_it_back(cluster, run_id):
    if cluster.top_lb_stats_url is None:
        pytest.skip(f"the {cluster.provider} cluster's top LB shows the harness no statistics")
    stats = HAProxyStats(cluster.top_lb_stats_url)
    node = cluster.nodes[0]
    eventually(lambda: all(_state(stats, n.name).status == "UP" for n in cluster.nodes), 30, 0.5,
               what="every vulcand in the top LB's rotation")
    name = container_of(VULCAND_UNIT)
    pid = node.exec(f"docker inspect -f '{{{{.State.Pid}}}}' {name}").check().stdout.strip()
    assert pid.isdigit() and pid != "0", f"no running vulcand on {node.name} (pid {pid!r})"
    node.exec(f"kill -STOP {pid}").check()
    frozen = time.time()  # frozen by now: the LB is not timed for the command's own way to the node
    try:
        out_after, seen = _until(stats, node.name, False, frozen, LB_TAKES_OUT_SECONDS)
    finally:
        node.exec(f"kill -CONT {pid}").check()
        resumed = time.time()
    back_after, back = _until(stats, node.name, True, resumed, LB_BRINGS_BACK_SECONDS)
    append_figures(run_id, "top-lb", {"node": node.name, "taken_out_seconds": round(out_after, 2),
                                      "brought_back_seconds": round(back_after, 2)})
    assert out_after <= LB_TAKES_OUT_SECONDS, (
        f"the top LB kept the frozen vulcand on {node.name} in rotation "
        f"{'for good' if out_after == float('inf') else f'{out_after:.1f}s'} (bound {LB_TAKES_OUT_SECONDS:g}s): "
        f"its checks do not see a vulcand that accepts connections and answers nothing "
        f"(status {seen.status}, last check {seen.check or 'none'})")
    assert back_after <= LB_BRINGS_BACK_SECONDS, (
        f"the top LB left the vulcand on {node.name} out "
        f"{'for good' if back_after == float('inf') else f'{back_after:.1f}s'} after it served again "
        f"(bound {LB_BRINGS_BACK_SECONDS:g}s; status {back.status}, last check {back.check or 'none'})")
