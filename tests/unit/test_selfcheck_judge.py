"""The self-checks' judge reads a nested session's JUnit: only a call-phase failure naming the defect counts.

These run a real nested pytest on small test files and judge its real JUnit, so the judge is held
to what pytest writes, not to a hand-made XML.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.harness.nested import NestedRun, expect_failure, hollow_id
from wpcluster.junit import read_junit
from wpcluster.shape import PROJECT_ROOT

DEFECT = r"core-03 \S+: UNHEALTHY"
CASES = '''
import pytest

@pytest.fixture
def gate():
    raise AssertionError("precondition: core-03 (http://x): UNHEALTHY")

def test_passes():
    pass

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
                           "-p", "tests.harness.hollow", "--hollow-copies", "test_cases.py"],
                          cwd=folder, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"})
    return NestedRun(done.stdout + done.stderr, read_junit(junit, root=folder))


def case(name: str) -> str:
    return f"test_cases.py::{name}"


def test_a_call_failure_naming_the_defect_is_accepted(nested):
    assert nested.prove(case("test_fails_naming_the_defect"), DEFECT).outcome == "failed"


def test_a_message_without_a_traceback_is_read_too(nested):
    nested.prove(case("test_fails_without_a_traceback"), DEFECT)


def test_parametrized_tests_have_their_own_hollow_copy(nested):
    assert hollow_id(case("test_parametrized[core-03]")) == case("test_parametrized-hollow[core-03]")
    nested.prove(case("test_parametrized[core-03]"), DEFECT)


@pytest.mark.parametrize("name, says", [
    ("test_passes", "PASSED with the defect in place"),
    ("test_setup_error_names_it", "errored outside its call"),
    ("test_fails_elsewhere_with_the_defect_in_its_source", "do not name the defect"),
    ("test_fails_naming_the_defect-hollow", "PASSED"),
    ("test_no_such_test", "has no test"),
])
def test_anything_else_is_refused_with_what_happened(nested, name, says):
    with pytest.raises(AssertionError, match=says):
        expect_failure(nested.cases, case(name), DEFECT)


def test_a_test_that_does_nothing_never_satisfies_a_self_check(nested):
    # What a self-check would see if the checked test were emptied: its hollow copy's outcome.
    for name in ("test_fails_naming_the_defect", "test_setup_error_names_it", "test_parametrized[core-03]"):
        with pytest.raises(AssertionError):
            expect_failure(nested.cases, hollow_id(case(name)), DEFECT)
