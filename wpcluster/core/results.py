"""Where a run writes what it produced: ``results/<run-id>/`` (JUnit, figures, journals)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from wpcluster.core.build_cache import locked
from wpcluster.core.shape import PROJECT_ROOT

RESULTS_ENV = "WPCLUSTER_RESULTS"
JUNIT = "junit.xml"  # a certification run's one JUnit file, at the top of its folder
# What a run says about itself, beside its JUnit: which job, which source, where its controls came from.
RUN_RECORD = "run.json"
# The benchmarks' figures kept in the tree (bench/*.py, loadtests/throughput.py), so the README can
# quote files that are there; each run's own figures stay in its results folder.
BENCH_RESULTS = PROJECT_ROOT / "bench" / "results"


def bench_result(name: str) -> Path:
    """``bench/results/<name>.json``, its folder made (a fresh clone has none)."""
    BENCH_RESULTS.mkdir(parents=True, exist_ok=True)
    return BENCH_RESULTS / f"{name}.json"


def results_root() -> Path:
    return Path(os.environ.get(RESULTS_ENV, PROJECT_ROOT / "results"))


# What a run written before run.json existed was: a release certification.
RUN_RECORD_DEFAULTS = {"job": "certification", "profile": "release"}


def run_record(run: Path) -> dict[str, Any]:
    """What ``run`` says about itself (``run.json``), its job and profile always named."""
    path = run / RUN_RECORD
    return {**RUN_RECORD_DEFAULTS, **(json.loads(path.read_text()) if path.exists() else {})}


def run_dir(run_id: str) -> Path:
    path = results_root() / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def append_figures(run_id: str, name: str, figures: dict[str, Any]) -> Path:
    """Append one record of measured figures to ``results/<run>/bench/<name>.json``."""
    path = run_dir(run_id) / "bench" / f"{name}.json"
    append_records(path, [{"recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **figures}])
    return path


def replace_figures(run: Path, name: str, records: list[dict[str, Any]]) -> Path:
    """Write ``records`` as ``<run>/bench/<name>.json`` in place of what it held."""
    path = run / "bench" / f"{name}.json"
    with locked(path.with_name(f".{path.stem}.lock")):
        path.write_text(json.dumps(records, indent=2) + "\n")
    return path


def append_records(path: Path, new: list[dict[str, Any]]) -> None:
    """Append ``new`` to the JSON list in ``path`` (made if missing), one writer at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Parallel workers of one run append to the same files: one at a time.
    with locked(path.with_name(f".{path.stem}.lock")):
        records = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps(records + new, indent=2) + "\n")


def merge_worker_files(run: Path, files: dict[str, bytes]) -> list[str]:
    """Merge the files a worker on another host wrote into the run's folder ``run``; return their names.

    A figure file (``bench/<name>.json``, a list of records) gains the worker's records beside those
    of the other workers. Any other file (a ledger, a verdict, a timeline, a journal) is named after
    its worker or its test, so it is written where it is missing and left alone where it is not.
    """
    merged = []
    for name, data in sorted(files.items()):
        target = run / name
        if Path(name).parent == Path("bench") and target.suffix == ".json":
            append_records(target, json.loads(data))
        elif not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        else:
            continue
        merged.append(name)
    return merged
