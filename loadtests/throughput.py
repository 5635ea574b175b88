"""Throughput through each hop, measured in one run: top LB, one vulcand, one WordPress container.

    python loadtests/throughput.py [--users 16] [--seconds 15]

Runs this file as a locustfile (the ``Hammer`` user: FastHttpUser, no wait, the
home page) headless against each target in turn, on the lab that is up with
the site deployed. For each it records requests/s and the load generator's own
CPU (a Locust process uses at most one core: near 100 % means the generator,
not the site, was the limit). Figures: results/<run>/bench/load_throughput.json
and bench/results/load_throughput.json.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from locust import FastHttpUser, constant, task

HOST_HEADER = os.environ.get("WPCLUSTER_SITE_HOST", "")


class Hammer(FastHttpUser):
    """As many home-page requests as one connection per user allows."""

    wait_time = constant(0)

    @task
    def home(self) -> None:
        self.client.get("/", name="home", headers={"Host": HOST_HEADER} if HOST_HEADER else {})


def measure(target: str, site_host: str, users: int, seconds: int) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory() as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "locust", "-f", __file__, "--headless", "--host", target, "-u", str(users),
             "-r", str(users), "-t", f"{seconds}s", "--csv", f"{tmp}/t", "--only-summary", "--stop-timeout", "5"],
            capture_output=True, text=True, env=dict(os.environ, WPCLUSTER_SITE_HOST=site_host), timeout=seconds + 120,
        )
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if run.returncode not in (0, 1):
            raise RuntimeError(f"locust against {target} exited {run.returncode}: {run.stderr[-1500:]}")
        rows = {r["Name"]: r for r in csv.DictReader(open(f"{tmp}/t_stats.csv"))}
    total = rows["Aggregated"]
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "target": target,
        "requests_per_second": round(float(total["Requests/s"]), 1),
        "failures": int(total["Failure Count"]),
        "p95_ms": float(total["95%"]),
        "generator_cpu": round(cpu / wall, 2),
        "generator_bound": "yes" if cpu / wall >= 0.9 else "no",
    }


def main() -> int:
    import argparse

    from wpcluster.checkers import site_containers
    from wpcluster.providers.lab.provider import Lab
    from wpcluster.results import append_figures, bench_result
    from wpcluster.shape import load_shape

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--bundle-only", action="store_true",
                        help="record the figures in the run's results folder only, not in bench/results/")
    args = parser.parse_args()
    shape = load_shape()
    lab = Lab.require(shape)
    try:
        direct = next(u for (b, _), u in sorted(site_containers(lab).items()) if b == "wordpress")
        targets = {"top_lb": f"http://{lab.site_address}", "one_vulcand": lab.vulcand_url(lab.nodes[0]),
                   "one_container": direct}
        figures: dict[str, object] = {"users": args.users, "seconds": args.seconds}
        for name, url in targets.items():
            figures[name] = measure(url, shape.site_authority, args.users, args.seconds)
            print(f"{name:14} {figures[name]}", flush=True)
        lb, direct_rps = figures["top_lb"]["requests_per_second"], figures["one_container"]["requests_per_second"]
        figures["ratio_lb_to_direct"] = round(lb / direct_rps, 2) if direct_rps else None
        # A certification session's run (its id is in the environment), else the lab's own.
        append_figures(os.environ.get("WPCLUSTER_RUN_ID", lab.run_id), "load_throughput", figures)
        if args.bundle_only:
            return 0
        out = bench_result("load_throughput")
        out.write_text(json.dumps({"recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **figures}, indent=2) + "\n")
        print(f"-> {out}")
    finally:
        lab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
