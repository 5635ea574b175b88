"""Throughput through each hop (the top LB, one vulcand, one container), measured in every
certification and recorded in its bundle, where the report shows it with the LB/direct ratio."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wpcluster.checks.thresholds import LB_TO_DIRECT_GOAL
from wpcluster.core.results import run_dir
from wpcluster.core.shape import PROJECT_ROOT

pytestmark = pytest.mark.load
HOPS = ("top_lb", "one_vulcand", "one_container")


def test_every_hop_serves_without_failures_and_its_throughput_is_recorded(cluster, deployment, run_id):
    if cluster.provider != "lab":
        pytest.skip("loadtests/throughput.py measures the lab's hops")
    done = subprocess.run([sys.executable, "loadtests/throughput.py", "--users", "8", "--seconds", "8",
                           "--bundle-only"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    figures = json.loads((run_dir(run_id) / "bench" / "load_throughput.json").read_text())[-1]
    for hop in HOPS:
        assert figures[hop]["failures"] == 0, f"{hop}: {figures[hop]['failures']} failed requests: {figures[hop]}"
        assert figures[hop]["requests_per_second"] > 0, f"{hop} served nothing: {figures[hop]}"
    ratio = figures["ratio_lb_to_direct"]
    assert ratio is not None and ratio >= LB_TO_DIRECT_GOAL, (
        f"the top LB served {figures['top_lb']['requests_per_second']}/s, one container read directly "
        f"{figures['one_container']['requests_per_second']}/s (means of {figures['rounds']} rounds): median ratio "
        f"{ratio} of {figures['ratios_lb_to_direct']}, goal {LB_TO_DIRECT_GOAL} (HAProxy "
        f"and vulcand may cost at most {1 - LB_TO_DIRECT_GOAL:.0%} of what a container serves)")
