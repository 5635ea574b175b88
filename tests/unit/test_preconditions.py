"""Preconditions as gates: the first test waits and reports, later ones fail at once naming it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from wpcluster.core.shape import PROJECT_ROOT
from wpcluster.report.junit import read_junit

CASES = '''
import pytest

BROKEN = {"now": True}

@pytest.fixture(autouse=True)
def gated(request, gates):
    def healthy():
        assert not BROKEN["now"], "member core-03 UNHEALTHY"
        return True
    gates.require(request, "etcd-healthy", healthy, timeout=1.0, interval=0.2)

def test_first():
    pass

def test_second():
    pass

@pytest.mark.checks("etcd-healthy")
def test_that_checks_it_itself():
    assert not BROKEN["now"], "member core-03 UNHEALTHY (asserted by the test)"

def test_heals():
    pass

def test_after_the_heal():
    pass
'''
CONFTEST = '''
import pytest
pytest_plugins = ["wpcluster.fixtures.options", "wpcluster.fixtures.preconditions"]

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if item.name == "test_after_the_heal":
        item.module.BROKEN["now"] = False
'''


def test_a_broken_gate_is_waited_for_once_then_fails_fast(tmp_path):
    (tmp_path / "test_cases.py").write_text(textwrap.dedent(CASES))
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    junit = tmp_path / "out.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
                           "test_cases.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin",
                               "WPCLUSTER_RESULTS": str(tmp_path / "results"), "WPCLUSTER_RUN_ID": "gates"})
    cases = read_junit(junit, root=tmp_path)
    outcome = {nodeid.split("::")[-1]: case for nodeid, case in cases.items()}
    assert outcome["test_first"].outcome == "error" and "failed:" in outcome["test_first"].message, done.stdout
    second = outcome["test_second"]
    assert second.outcome == "error" and "failed first in test_cases.py::test_first" in second.message
    assert outcome["test_that_checks_it_itself"].outcome == "failed"  # at its own assertion, not in setup
    assert outcome["test_after_the_heal"].outcome == "passed"  # a gate seen passing again opens
    times = json.loads(next((tmp_path / "results").glob("*/bench/verdict_times.json")).read_text())[-1]
    assert outcome["test_heals"].outcome == "error"
    assert times["gates_closed"] == {}, times["gates_closed"]  # reopened by the last test
    by_test = {t["test"].split("::")[-1]: t for t in times["tests"]}
    assert by_test["test_first"]["seconds"] >= 1.0 > by_test["test_second"]["seconds"], by_test


def test_a_session_that_certifies_nothing_leaves_no_figures(tmp_path):
    """The harness's own unit tests (no cluster, no gate) write no results folder of their own."""
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["wpcluster.fixtures.options", "wpcluster.fixtures.preconditions"]\n')
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"--junitxml={tmp_path / 'out.xml'}", "test_plain.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120,
                          env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin",
                               "WPCLUSTER_RESULTS": str(tmp_path / "results"), "WPCLUSTER_RUN_ID": "plain"})
    assert done.returncode == 0, done.stdout
    assert not list((tmp_path / "results").glob("*/bench/*.json")), "a unit-test session wrote figures"
