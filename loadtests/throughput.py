"""Throughput through each hop, measured in one run: top LB, one vulcand, one WordPress container.

    python loadtests/throughput.py [--users 16] [--seconds 15] [--rounds 3]

Runs this file as a locustfile (the ``Hammer`` user: FastHttpUser, no wait, the
home page) headless against each target in turn, on the lab that is up with
the site deployed. For each it records requests/s and the load generator's own
CPU (a Locust process uses at most one core: near 100 % means the generator,
not the site, was the limit). Figures: results/<run>/bench/load_throughput.json
and bench/results/load_throughput.json.

The LB/direct ratio is the median of ``--rounds`` pairs, each a top-LB run next to a
one-container run, in alternating order. One pair alone swung with whatever else the 2 cores
did in its seconds: 0.94, 0.93 and 0.80 in three runs on the same idle lab, and one container
alone read 35 to 39/s.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import statistics
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


def combined(runs: list[dict[str, float | str]]) -> dict[str, float | str]:
    """One hop's figures over several runs of it: the mean rate, every failure, the worst p95."""
    return {**runs[0],
            "requests_per_second": round(sum(float(r["requests_per_second"]) for r in runs) / len(runs), 1),
            "failures": sum(int(r["failures"]) for r in runs),
            "p95_ms": max(float(r["p95_ms"]) for r in runs),
            "generator_cpu": max(float(r["generator_cpu"]) for r in runs),
            "generator_bound": "yes" if any(r["generator_bound"] == "yes" for r in runs) else "no",
            "runs": len(runs)}


def main() -> int:
    import argparse

    from wpcluster.checks.state import site_containers
    from wpcluster.core.results import append_figures, bench_result
    from wpcluster.core.shape import load_shape
    from wpcluster.providers.lab.provider import Lab

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3, help="top-LB/one-container pairs; the ratio is their median")
    parser.add_argument("--bundle-only", action="store_true",
                        help="record the figures in the run's results folder only, not in bench/results/")
    args = parser.parse_args()
    shape = load_shape()
    lab = Lab.require(shape)
    try:
        direct = next(u for (b, _), u in sorted(site_containers(lab).items()) if b == "wordpress")
        targets = {"top_lb": f"http://{lab.site_address}", "one_vulcand": lab.vulcand_url(lab.nodes[0]),
                   "one_container": direct}
        figures: dict[str, object] = {"users": args.users, "seconds": args.seconds, "rounds": args.rounds}
        runs: dict[str, list[dict[str, float | str]]] = {name: [] for name in targets}
        ratios = []
        for n in range(args.rounds):
            pair = ("top_lb", "one_container") if n % 2 == 0 else ("one_container", "top_lb")
            for name in pair:
                runs[name].append(measure(targets[name], shape.site_authority, args.users, args.seconds))
                print(f"round {n + 1} {name:14} {runs[name][-1]}", flush=True)
            direct_rps = float(runs["one_container"][-1]["requests_per_second"])
            ratios.append(float(runs["top_lb"][-1]["requests_per_second"]) / direct_rps if direct_rps else 0.0)
        runs["one_vulcand"].append(measure(targets["one_vulcand"], shape.site_authority, args.users, args.seconds))
        print(f"{'one_vulcand':14} {runs['one_vulcand'][-1]}", flush=True)
        for name in targets:
            figures[name] = combined(runs[name])
        figures["ratios_lb_to_direct"] = [round(r, 2) for r in ratios]
        figures["ratio_lb_to_direct"] = round(statistics.median(ratios), 2) if ratios else None
        print(f"LB/direct per round {figures['ratios_lb_to_direct']}, median {figures['ratio_lb_to_direct']}")
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
