"""Benchmark: how long a suite takes to report a deployment that is broken for good.

Runs against the lab that is up with the site deployed (`wpcluster lab up && wpcluster deploy`).
Each scenario breaks the deployment in a way no test heals, runs one suite against it as it is
(`--keep-cluster --site-as-is`), records the suite's wall time, its outcomes and its own
verdict_times.json, then repairs the deployment:

* member-down: core-03's etcd member stopped and masked (a test's nemesis cannot start it again);
  the cluster suite (tests/cluster). Goal: a report within 90 s.
* stale-servers: a server registered for a node that does not exist, with no TTL; the routing
  suite (tests/routing). Goal: a report within 120 s.

Figures: bench/results/time_to_verdict.json.

    python bench/time_to_verdict.py [member-down] [stale-servers]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import etcd as python_etcd

from wpcluster.checks.state import check_etcd_healthy, check_registration
from wpcluster.clients.etcd import keys_client
from wpcluster.clients.vulcand import VulcandAPI
from wpcluster.core.results import bench_result
from wpcluster.core.shape import PROJECT_ROOT, load_shape
from wpcluster.core.waits import eventually
from wpcluster.providers.lab.provider import Lab
from wpcluster.report.junit import read_junit

RESULTS = bench_result("time_to_verdict")
GOALS = {"member-down": 90.0, "stale-servers": 120.0}


def run_suite(suite: str, folder: Path) -> dict[str, object]:
    junit = folder / "suite.xml"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--keep-cluster",
                           "--site-as-is", f"--junitxml={junit}", suite], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, env=dict(os.environ, WPCLUSTER_RESULTS=str(folder)))
    seconds = round(time.monotonic() - started, 1)
    outcomes = Counter(case.outcome for case in read_junit(junit).values())
    times = sorted(folder.glob("*/bench/verdict_times.json"))
    return {"suite": suite, "seconds": seconds, "exit_code": done.returncode, "outcomes": dict(outcomes),
            "verdict_times": json.loads(times[-1].read_text())[-1] if times else None,
            "closing_line": done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""}


def member_down(lab: Lab) -> tuple[str, Callable[[], None]]:
    node = lab.nodes[-1]
    node.exec("systemctl stop etcd2.service && systemctl mask --runtime etcd2.service").check()

    def repair() -> None:
        node.exec("systemctl unmask --runtime etcd2.service && systemctl start etcd2.service").check()
        eventually(lambda: check_etcd_healthy(lab) or True, 60, 0.5, what="etcd whole again")

    return "tests/cluster", repair


def stale_servers(lab: Lab) -> tuple[str, Callable[[], None]]:
    client = keys_client(lab.etcd_endpoints)
    shape = lab.shape
    # The next node's slot in the subnet: an address nothing answers on, as a node that was removed.
    gone = shape.lab_subnet.network_address + shape.lab_first_node_host + shape.size
    key = f"/{shape.site.vulcand_prefix}/backends/wordpress/servers/gone-node.wordpress-9"
    client.write(key, json.dumps({"URL": f"http://{gone}:32768"}))

    def repair() -> None:
        try:
            client.delete(key)
        except python_etcd.EtcdKeyNotFound:
            pass
        apis = {n.name: VulcandAPI(lab.vulcand_api_url(n)) for n in lab.nodes}
        eventually(lambda: check_registration(lab, client, apis) or True, 60, 1, what="registration whole again")

    return "tests/routing", repair


SCENARIOS = {"member-down": member_down, "stale-servers": stale_servers}


def main() -> int:
    chosen = sys.argv[1:] or list(SCENARIOS)
    lab = Lab.require(load_shape())
    records = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    try:
        for name in chosen:
            suite, repair = SCENARIOS[name](lab)
            try:
                with tempfile.TemporaryDirectory(prefix=f"wpcluster-{name}-") as folder:
                    figures = run_suite(suite, Path(folder))
            finally:
                repair()
            record = {"recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "scenario": name,
                      "goal_seconds": GOALS[name], "goal_met": figures["seconds"] <= GOALS[name], **figures}
            records.append(record)
            print(f"{name}: {suite} reported in {figures['seconds']}s (goal {GOALS[name]:g}s): "
                  f"{figures['outcomes']}; {figures['closing_line']}")
    finally:
        lab.close()
    RESULTS.write_text(json.dumps(records, indent=2) + "\n")
    print(f"figures: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
