"""The run's time ledger: steps, waits, faults and test phases recorded where they happen, written
per session, added up for the report."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from wpcluster.core import ledger, progress
from wpcluster.core.results import RESULTS_ENV
from wpcluster.core.waits import NotReached, eventually, holds_for
from wpcluster.fixtures.ledger_hooks import LEDGER_ENV
from wpcluster.report import time_table
from wpcluster.report.bundle import read_bundle, render_html, summary_text

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def empty_ledger():
    ledger.clear()
    yield
    ledger.clear()


def recorded() -> list[ledger.Span]:
    """What the code under test recorded (this very session's plugin records the test's own phases)."""
    return [s for s in ledger.spans() if s.kind != ledger.TEST]


def test_a_step_is_recorded_with_its_outcome():
    with progress.step("building image wpcluster/sidekick"):
        pass
    with pytest.raises(RuntimeError), progress.step("deploying the site"):
        raise RuntimeError("boom")
    assert [(s.kind, s.name, s.ok) for s in recorded()] == [(ledger.STEP, "building image wpcluster/sidekick", True),
                        (ledger.STEP, "deploying the site", False)]


def test_a_wait_is_recorded_under_its_condition_reached_or_not():
    answers = iter([False, False, True])
    eventually(lambda: next(answers), timeout=5, interval=0.01, what="every unit running")
    with pytest.raises(NotReached):
        eventually(lambda: False, timeout=0.05, interval=0.01, what="a key that never comes")
    holds_for(lambda: True, seconds=0.03, interval=0.01, what="the machine listed")
    waits = [(s.name, s.ok) for s in recorded()]
    assert waits == [("every unit running", True), ("a key that never comes", False),
                     ("holds: the machine listed", True)]
    assert recorded()[1].seconds >= 0.05


def test_spans_belong_to_the_test_running_then():
    ledger.set_current_test("tests/failover/test_node_loss.py::test_kill")
    ledger.record(ledger.FAULT, "node-kill on core-01", 100.0, 30.0)
    ledger.set_current_test("")
    ledger.record(ledger.STEP, "lab up", 50.0, 5.0)
    assert [s.test for s in recorded()] == ["tests/failover/test_node_loss.py::test_kill", ""]


def test_the_time_table_adds_up_by_suite_test_and_condition():
    spans = [
        ledger.Span(ledger.SESSION, "suites", 0, 400.0),
        ledger.Span(ledger.TEST, "tests/failover/test_node_loss.py::test_kill setup", 0, 10.0),
        ledger.Span(ledger.TEST, "tests/failover/test_node_loss.py::test_kill call", 10, 50.0),
        ledger.Span(ledger.TEST, "tests/routing/test_routing.py::test_home call", 60, 3.0, ok=False),
        ledger.Span(ledger.WAIT, "every unit running", 1, 4.0),
        ledger.Span(ledger.WAIT, "every unit running", 20, 6.0, ok=False),
        ledger.Span(ledger.WAIT, "a key", 30, 1.0),
    ]
    table = time_table.time_table(spans)
    assert table.wall_seconds == 400.0
    assert [(line.name, line.total) for line in table.suites] == [("tests/failover", 60.0), ("tests/routing", 3.0)]
    assert table.tests[0] == time_table.Line("tests/failover/test_node_loss.py::test_kill", 2, 60.0, 50.0, 0)
    assert table.waits[0] == time_table.Line("every unit running", 2, 10.0, 6.0, 1)


def test_the_goal_gap_splits_the_wall_time_into_faults_failover_selfchecks_and_the_rest():
    spans = [
        ledger.Span(ledger.SESSION, "suites", 0, 900.0),
        ledger.Span(ledger.TEST, "tests/failover/test_node_loss.py::test_kill call", 0, 100.0),
        ledger.Span(ledger.FAULT, "node-kill on core-03", 20, 40.0),
        ledger.Span(ledger.TEST, "tests/harness/test_failover_breakage.py::test_x call", 100, 300.0),
        ledger.Span(ledger.TEST, "tests/routing/test_routing.py::test_home call", 400, 50.0),
    ]
    gap = time_table.goal_gap(time_table.time_table(spans), goal=480)
    assert gap.over == 420.0
    assert [seconds for _, seconds in gap.parts] == [40.0, 60.0, 300.0, 500.0]
    assert sum(seconds for _, seconds in gap.parts) == gap.wall


def test_the_failover_suite_over_its_goal_names_its_costliest_faults_and_why():
    spans = [ledger.Span(ledger.SESSION, "suites", 0, 900.0),
              ledger.Span(ledger.TEST, "tests/failover/test_node_loss.py::test_kill call", 0, 800.0)]
    table = time_table.time_table(spans)
    assert time_table.failover_gap(table) == 80.0
    records = [{"fault_kind": "s3-stop", "wall_seconds": 29.0, "span": {"start": 10.0, "heal": 25.0},
                "recovery_seconds": 16.0},
               {"fault_kind": "packet-loss 20%", "wall_seconds": 61.0, "span": {"start": 0.0, "heal": 38.0},
                "recovery_seconds": 50.0},
               {"fault_kind": "not judged", "span": {}}]
    holders = time_table.failover_holders(records, top=1)
    assert [h.describe() for h in holders] == ["packet-loss 20% 61s (held 38s, whole 50s from its start)"]


def test_a_run_without_the_failover_suite_has_no_failover_gap():
    table = time_table.time_table([ledger.Span(ledger.SESSION, "suites", 0, 10.0),
                                ledger.Span(ledger.TEST, "tests/routing/test_routing.py::test_home call", 0, 5.0)])
    assert time_table.failover_gap(table) is None


def test_a_session_writes_its_ledger_beside_its_junit(pytester: pytest.Pytester, tmp_path: Path):
    """A real pytest session with the plugin loaded: each test's phases and the waits inside them are
    in the ledger, which lands in the run's time folder (or where certify names it)."""
    pytester.makepyfile(test_sample="""
        from wpcluster.core.waits import eventually
        def test_waits():
            eventually(lambda: True, timeout=1, what="the sample condition")
        def test_fails():
            assert False
    """)
    results = tmp_path / "results"
    ledger_file = tmp_path / "named" / "suites.json"
    os.environ[RESULTS_ENV] = str(results)
    os.environ[LEDGER_ENV] = str(ledger_file)
    try:
        outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    finally:
        os.environ.pop(RESULTS_ENV)
        os.environ.pop(LEDGER_ENV, None)
    outcome.assert_outcomes(passed=1, failed=1)
    spans = [ledger.Span(**s) for s in json.loads(ledger_file.read_text())["spans"]]
    calls = {s.name.split("::")[1]: s.ok for s in spans if s.kind == ledger.TEST and s.name.endswith(" call")}
    assert calls == {"test_waits call": True, "test_fails call": False}
    wait = next(s for s in spans if s.kind == ledger.WAIT)
    assert (wait.name, wait.test) == ("the sample condition", "test_sample.py::test_waits")
    assert [s.name for s in spans if s.kind == ledger.SESSION] == ["suites"]


def test_the_report_shows_where_the_time_went(tmp_path: Path):
    run = tmp_path / "20261202-120000-abcd"
    (run).mkdir()
    (run / "junit.xml").write_text('<testsuites><testsuite><testcase classname="tests.failover.test_node_loss" '
                                   'name="test_kill" time="60"/></testsuite></testsuites>')
    ledger.write(run / ledger.TIME_DIR / "suites.json", "suites", [
        ledger.Span(ledger.SESSION, "suites", 0, 400.0),
        ledger.Span(ledger.TEST, "tests/failover/test_node_loss.py::test_kill call", 0, 60.0),
        ledger.Span(ledger.FAULT, "node-kill on core-01", 5, 32.5),
        ledger.Span(ledger.WAIT, "every unit of core-01 rescheduled", 6, 25.0),
    ])
    bundle = read_bundle(run)
    page = render_html(bundle)
    for shown in ("Where the time went", "node-kill on core-01", "every unit of core-01 rescheduled", "32.5",
                  "400 s in all against the 900 s goal", "within the goal"):
        assert shown in page
    assert "time: 400s in all; tests/failover 60s" in summary_text(bundle)


def test_parallel_workers_each_certify_their_own_lab_and_keep_ledgers(pytester: pytest.Pytester, tmp_path: Path):
    """pytest -n 2: each worker loads its own lab's shape (another name, subnet and site port) and
    writes its own ledger beside the controller's; the controller records every test once."""
    pytester.makepyfile(test_sample="""
        import os
        from wpcluster.core.shape import load_shape
        from wpcluster.core.waits import eventually
        def test_a():
            eventually(lambda: True, timeout=1, what="worker condition a")
            open(os.environ["SEEN"] + "/a", "w").write(os.environ["PYTEST_XDIST_WORKER"] + " " + load_shape().lab_name)
        def test_b():
            eventually(lambda: True, timeout=1, what="worker condition b")
            open(os.environ["SEEN"] + "/b", "w").write(os.environ["PYTEST_XDIST_WORKER"] + " " + load_shape().lab_name)
    """)
    seen = tmp_path / "seen"
    seen.mkdir()
    ledger_file = tmp_path / "time" / "suites.json"
    env = {RESULTS_ENV: str(tmp_path / "results"), LEDGER_ENV: str(ledger_file), "SEEN": str(seen)}
    os.environ.update(env)
    try:
        outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--dist", "load")
    finally:
        for name in env:
            os.environ.pop(name, None)
    outcome.assert_outcomes(passed=2)
    for test in "ab":
        worker, lab = (seen / test).read_text().split()
        assert lab == {"gw0": "wpcluster", "gw1": "wpcluster-w1"}[worker], f"{worker} loaded lab {lab}"
    table = time_table.time_table(ledger.read_run(tmp_path))
    assert [line.name for line in table.sessions] == ["suites"]
    assert sorted(line.name for line in table.workers) == ["suites-gw0", "suites-gw1"]
    assert sorted(line.name for line in table.tests) == ["test_sample.py::test_a", "test_sample.py::test_b"]
    assert all(line.count == 3 for line in table.tests), "each test's setup, call and teardown, once"
    assert sorted(line.name for line in table.waits) == ["worker condition a", "worker condition b"]


def test_a_bring_ups_steps_are_read_from_the_ledger():
    with progress.step("before the bring-up"):
        pass
    started = time.time()
    with progress.step("images"), progress.step("building image wpcluster/node"):
        pass
    assert list(ledger.steps_since(started)) == ["building image wpcluster/node", "images"]
