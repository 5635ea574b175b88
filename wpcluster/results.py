"""Where a run writes what it produced: ``results/<run-id>/`` (JUnit, figures, journals)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from wpcluster.build_cache import locked
from wpcluster.shape import PROJECT_ROOT

RESULTS_ENV = "WPCLUSTER_RESULTS"
# The benchmarks' figures kept in the tree (bench/*.py, loadtests/throughput.py), so the README can
# quote files that are there; each run's own figures stay in its results folder.
BENCH_RESULTS = PROJECT_ROOT / "bench" / "results"


def bench_result(name: str) -> Path:
    """``bench/results/<name>.json``, its folder made (a fresh clone has none)."""
    BENCH_RESULTS.mkdir(parents=True, exist_ok=True)
    return BENCH_RESULTS / f"{name}.json"


def results_root() -> Path:
    return Path(os.environ.get(RESULTS_ENV, PROJECT_ROOT / "results"))


def run_dir(run_id: str) -> Path:
    path = results_root() / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def append_figures(run_id: str, name: str, figures: dict[str, Any]) -> Path:
    """Append one record of measured figures to ``results/<run>/bench/<name>.json``."""
    path = run_dir(run_id) / "bench" / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    # Parallel workers of one run append to the same files: one at a time.
    with locked(path.with_name(f".{path.stem}.lock")):
        records = json.loads(path.read_text()) if path.exists() else []
        records.append({"recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **figures})
        path.write_text(json.dumps(records, indent=2) + "\n")
    return path
