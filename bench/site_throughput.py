"""Benchmark: deploy time, and requests/s through the top LB, one vulcand, and straight to one container.

All three are measured in one run against the same deployment, with the same
bounded client (threads x seconds), so the ratios say what each hop costs.
Uses the lab that is up (`wpcluster lab up`) or brings one up and removes it
after. Figures go to bench/results/site.json and the run's results folder.

    python bench/site_throughput.py [--workers 4] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from wpcluster.checks.state import site_containers
from wpcluster.clients.fleet import Fleetctl
from wpcluster.core.results import append_figures, bench_result
from wpcluster.core.shape import load_shape
from wpcluster.deployment.deploy import Deployment
from wpcluster.load.generator import hammer, summarize
from wpcluster.providers.lab.provider import Lab

RESULTS = bench_result("site")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    shape = load_shape()
    lab = Lab.attach(shape)
    owned = lab is None
    lab = lab or Lab(shape).up()
    try:
        deployment = Deployment(lab, Fleetctl(lab), lab.secrets()).deploy()  # a fresh deploy: its time is a figure
        node = lab.nodes[0]
        direct = next(url for (backend, _), url in sorted(site_containers(lab).items()) if backend == "wordpress")
        targets = {
            "top_lb": f"http://{lab.site_address}/",
            "one_vulcand": f"{lab.vulcand_url(node)}/",
            "one_container": f"{direct}/",
        }
        figures: dict[str, object] = {"deploy_seconds": round(deployment.seconds or 0, 2),
                                      "workers": args.workers, "seconds": args.seconds}
        for name, url in targets.items():
            figures[name] = summarize(hammer(url, shape.site_authority, args.workers, args.seconds))
            print(f"{name:14} {figures[name]}")
        rps = {k: figures[k]["requests_per_second"] for k in targets}  # type: ignore[index]
        if rps["one_container"]:
            figures["ratio_vulcand_to_direct"] = round(rps["one_vulcand"] / rps["one_container"], 2)
            figures["ratio_lb_to_direct"] = round(rps["top_lb"] / rps["one_container"], 2)
        figures["recorded_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
        append_figures(lab.run_id, "site", figures)
        print(f"-> {RESULTS}")
    finally:
        lab.down() if owned else lab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
