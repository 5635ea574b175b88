"""Workers on other hosts send their result files home: one run, one bundle (wpcluster/fixtures/gather.py).

A worker with its own results folder stands in for one on another host (xdist's ``popen//env:``
gives it another ``WPCLUSTER_RESULTS``); the merge is the same code an ssh worker's files go through.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wpcluster.core import ledger
from wpcluster.core.labels import RUN_ID_ENV
from wpcluster.core.results import RESULTS_ENV, merge_worker_files
from wpcluster.fixtures.ledger_hooks import LEDGER_ENV
from wpcluster.report import time_table

pytest_plugins = ["pytester"]

RUN = "20261202-000000-gath"


def test_a_remote_workers_ledger_and_figures_land_in_the_controllers_bundle(pytester: pytest.Pytester,
                                                                           tmp_path: Path):
    pytester.makepyfile(test_sample="""
        import os
        from wpcluster.core.results import append_figures
        from wpcluster.core.waits import eventually
        def test_a():
            eventually(lambda: True, timeout=1, what="condition a")
            append_figures(os.environ["WPCLUSTER_RUN_ID"], "sample", {"test": "a"})
        def test_b():
            eventually(lambda: True, timeout=1, what="condition b")
            append_figures(os.environ["WPCLUSTER_RUN_ID"], "sample", {"test": "b"})
    """)
    home, away = tmp_path / "home", tmp_path / "away"
    env = {RESULTS_ENV: str(home), RUN_ID_ENV: RUN, LEDGER_ENV: str(home / RUN / "time" / "suites.json")}
    os.environ.update(env)
    try:
        # One worker, with a results folder of its own, as on another host: every test runs there.
        outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-d", "--tx",
                                                f"popen//env:{RESULTS_ENV}={away}")
    finally:
        for name in env:
            os.environ.pop(name, None)
    outcome.assert_outcomes(passed=2)
    outcome.stdout.fnmatch_lines([f"wpcluster: gw0 on * sent 2 result files home from {away / RUN}"])
    assert (away / RUN / "time" / "suites-gw0.json").exists(), "the worker wrote its ledger in its own folder"
    table = time_table.time_table(ledger.read_run(home / RUN))
    assert [line.name for line in table.sessions] == ["suites"]
    assert [line.name for line in table.workers] == ["suites-gw0"]
    assert sorted(line.name for line in table.waits) == ["condition a", "condition b"]
    figures = json.loads((home / RUN / "bench" / "sample.json").read_text())
    assert sorted(r["test"] for r in figures) == ["a", "b"]


def test_merging_appends_figures_and_never_overwrites_a_file(tmp_path: Path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "failover.json").write_text(json.dumps([{"fault": "node-kill"}]))
    (tmp_path / "failover").mkdir()
    (tmp_path / "failover" / "test_x.json").write_text("controller's")
    merged = merge_worker_files(tmp_path, {
        "bench/failover.json": json.dumps([{"fault": "partition"}]).encode(),
        "failover/test_x.json": b"worker's",
        "failover/test_y.png": b"\x89PNG",
    })
    assert merged == ["bench/failover.json", "failover/test_y.png"]
    assert json.loads((tmp_path / "bench" / "failover.json").read_text()) == [{"fault": "node-kill"},
                                                                             {"fault": "partition"}]
    assert (tmp_path / "failover" / "test_x.json").read_text() == "controller's"
    assert (tmp_path / "failover" / "test_y.png").read_bytes() == b"\x89PNG"
