"""Benchmark: wall time of `lab up` to a healthy etcd2 + fleet cluster, cold and warm.

Cold: every lab image removed and fleet built with empty Go module and build
caches (kept apart from the user's own), so the run does what a fresh machine
does: debootstrap, every docker build, every Go download. Warm: images and
binaries cached. Each bring-up is followed by `down`. The figures (total and
per step) are written to bench/results/lab_up.json; the goal is a warm
`lab up` under 30 s on 2 cores.

    python bench/lab_up.py [--warm-runs 3] [--no-cold]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

from wpcluster.core import ledger
from wpcluster.core.build_cache import cache_dir
from wpcluster.core.results import bench_result
from wpcluster.core.shape import load_shape
from wpcluster.providers.hosts.engine import ensure_engine
from wpcluster.providers.hosts.images import IMAGE_LABEL
from wpcluster.providers.lab.provider import Lab

RESULTS = bench_result("lab_up")
WARM_GOAL_SECONDS = 30.0


def one_up(label: str) -> dict[str, object]:
    started = time.monotonic()
    lab = Lab(load_shape()).up()
    wall = time.monotonic() - started
    lab.down()
    return {
        "kind": label,
        "wall_seconds": round(wall, 2),
        "images_built": lab.images_built,
        "steps": ledger.steps_since(lab.up_started),
    }


def forget_caches() -> None:
    """Remove the lab's images and built binaries, as on a machine that never ran the lab."""
    client = ensure_engine()
    Lab(load_shape(), client=client).remove_leftovers()
    for image in client.images.list(filters={"label": IMAGE_LABEL}):
        client.images.remove(image.id, force=True)
    client.images.prune(filters={"dangling": True})
    client.api.prune_builds() if hasattr(client.api, "prune_builds") else None
    shutil.rmtree(cache_dir() / "fleet", ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--no-cold", action="store_true", help="skip the cold run")
    args = parser.parse_args()

    runs = []
    if not args.no_cold:
        forget_caches()
        with tempfile.TemporaryDirectory(prefix="wpcluster-bench-go-") as go_home:
            # Empty Go caches for this run only; the user's own stay as they are.
            os.environ.update(GOMODCACHE=f"{go_home}/mod", GOCACHE=f"{go_home}/build")
            runs.append(one_up("cold"))
            os.environ.pop("GOMODCACHE")
            os.environ.pop("GOCACHE")
            shutil.rmtree(go_home, ignore_errors=True)  # module cache files are read-only
    for _ in range(args.warm_runs):
        runs.append(one_up("warm"))

    warm = [r["wall_seconds"] for r in runs if r["kind"] == "warm"]
    summary = {
        "benchmark": "lab up to healthy etcd2 + fleet",
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()},
        "cold_seconds": next((r["wall_seconds"] for r in runs if r["kind"] == "cold"), None),
        "warm_median_seconds": statistics.median(warm) if warm else None,
        "warm_goal_seconds": WARM_GOAL_SECONDS,
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\ncold: {summary['cold_seconds']} s   warm median: {summary['warm_median_seconds']} s "
          f"(goal < {WARM_GOAL_SECONDS:g} s)   -> {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
