"""The self-checks' judge reads a nested session's JUnit: only a call-phase failure naming the defect counts.

These run a real nested pytest on small test files and judge its real JUnit, so the judge is held
to what pytest writes, not to a hand-made XML.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.harness import nested as nested_module
from tests.harness.nested import CONTROLLED, NestedRun, establish_controls, expect_failure, run_missing_controls
from wpcluster.core.shape import PROJECT_ROOT
from wpcluster.report.junit import read_junit

DEFECT = r"core-03 \S+: UNHEALTHY"
CASES = '''
import pytest

@pytest.fixture
def gate():
    raise AssertionError("precondition: core-03 (http://x): UNHEALTHY")

def test_passes():
    pass

def test_does_nothing():
    """What a self-check's target would be if it checked nothing."""

def test_setup_error_names_it(gate):
    assert False, "core-03 (http://x): UNHEALTHY"

def test_fails_naming_the_defect():
    state = "core-03 (http://x): UNHEALTHY"
    assert state.endswith("healthy"), f"member {state}"

def test_fails_elsewhere_with_the_defect_in_its_source():
    unused = "core-03 (http://x): UNHEALTHY"
    assert 1 + 1 == 3, "arithmetic"

def test_fails_without_a_traceback():
    pytest.fail("core-03 (http://x): UNHEALTHY", pytrace=False)

@pytest.mark.parametrize("member", ["core-03"])
def test_parametrized(member):
    assert member == "core-01", f"{member} (http://x): UNHEALTHY"
'''


@pytest.fixture(scope="module")
def nested(tmp_path_factory) -> NestedRun:
    folder = tmp_path_factory.mktemp("nested")
    (folder / "test_cases.py").write_text(textwrap.dedent(CASES))
    junit = folder / "out.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
                           "test_cases.py"],
                          cwd=folder, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"})
    return NestedRun(done.stdout + done.stderr, read_junit(junit, root=folder))


def case(name: str) -> str:
    return f"test_cases.py::{name}"


@pytest.fixture
def controlled():
    """Every test of the small file passed on the healthy lab (its control), for the length of a test."""
    names = [case(n) for n in ("test_fails_naming_the_defect", "test_fails_without_a_traceback",
                               "test_parametrized[core-03]", "test_does_nothing")]
    CONTROLLED.update(names)
    yield
    CONTROLLED.difference_update(names)


def test_a_call_failure_naming_the_defect_is_accepted(nested, controlled):
    assert nested.prove(case("test_fails_naming_the_defect"), DEFECT).outcome == "failed"


def test_a_message_without_a_traceback_is_read_too(nested, controlled):
    nested.prove(case("test_fails_without_a_traceback"), DEFECT)


def test_a_parametrized_test_is_named_with_its_parameters(nested, controlled):
    nested.prove(case("test_parametrized[core-03]"), DEFECT)


@pytest.mark.parametrize("name, says", [
    ("test_passes", "PASSED with the defect in place"),
    ("test_setup_error_names_it", "errored outside its call"),
    ("test_fails_elsewhere_with_the_defect_in_its_source", "do not name the defect"),
    ("test_no_such_test", "has no test"),
])
def test_anything_else_is_refused_with_what_happened(nested, name, says):
    with pytest.raises(AssertionError, match=says):
        expect_failure(nested.cases, case(name), DEFECT)


def test_a_target_that_does_nothing_is_rejected(nested, controlled):
    # Its control passes (it always does), and with the defect seeded it passes again: refused.
    with pytest.raises(AssertionError, match="PASSED with the defect in place"):
        nested.prove(case("test_does_nothing"), DEFECT)


def test_a_target_without_a_control_is_refused(nested):
    with pytest.raises(AssertionError, match="has no control"):
        nested.prove(case("test_fails_naming_the_defect"), DEFECT)


def test_a_control_that_failed_earlier_in_the_session_leaves_the_self_check_without_one():
    with pytest.raises(AssertionError, match="FAILED on the healthy lab"):
        establish_controls(("t.py::test_a",), {"t.py::test_a": "failed"}, "the-check")
    assert "t.py::test_a" not in CONTROLLED


def test_targets_that_passed_earlier_need_no_run_and_the_others_get_one(monkeypatch):
    ran = []

    def run_nested(check, *selection, timeout):
        ran.append((check, selection))
        return NestedRun("", {t: nested_module.CaseOutcome(t, "passed", "", "") for t in selection})

    monkeypatch.setattr(nested_module, "run_nested", run_nested)
    outcomes = {"t.py::test_a": "passed"}
    try:
        establish_controls(("t.py::test_a", "t.py::test_b"), outcomes, "the-check")
        assert ran == [("control-the-check", ("t.py::test_b",))]
        assert outcomes["t.py::test_b"] == "passed" and {"t.py::test_a", "t.py::test_b"} <= CONTROLLED
    finally:
        CONTROLLED.difference_update({"t.py::test_a", "t.py::test_b"})


def test_every_missing_control_runs_in_one_nested_session_and_its_outcomes_are_kept(monkeypatch):
    ran = []

    def run_nested(check, *selection, timeout):
        ran.append(selection)
        return NestedRun("", {"t.py::test_b": nested_module.CaseOutcome("t.py::test_b", "passed", "", ""),
                              "t.py::test_c": nested_module.CaseOutcome("t.py::test_c", "failed", "", "")})

    monkeypatch.setattr(nested_module, "run_nested", run_nested)
    outcomes = {"t.py::test_a": "passed"}
    assert run_missing_controls(["t.py::test_a", "t.py::test_b", "t.py::test_c"], outcomes) == [
        "t.py::test_b", "t.py::test_c"]
    assert ran == [("t.py::test_b", "t.py::test_c")]
    assert outcomes == {"t.py::test_a": "passed", "t.py::test_b": "passed", "t.py::test_c": "failed"}
    with pytest.raises(AssertionError, match="test_c FAILED on the healthy lab"):
        establish_controls(("t.py::test_c",), outcomes, "the-check")


def test_a_certifications_junit_gives_the_controls_by_node_id(tmp_path):
    from wpcluster.fixtures.outcomes import certified_outcomes

    junit = tmp_path / "junit.xml"
    junit.write_text('''<testsuites><testsuite>
<testcase classname="tests.unit.test_selfcheck_judge" name="test_a[top-lb]"/>
<testcase classname="tests.unit.test_selfcheck_judge" name="test_b"><failure message="no">E   no</failure></testcase>
<testcase classname="tests.unit.test_selfcheck_judge" name="test_c"><skipped type="pytest.xfail"/></testcase>
</testsuite></testsuites>''')
    module = "tests/unit/test_selfcheck_judge.py"
    assert certified_outcomes(junit) == {f"{module}::test_a[top-lb]": "passed", f"{module}::test_b": "failed",
                                         f"{module}::test_c": "skipped"}
