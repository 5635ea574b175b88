"""Self-checks run part of a suite in a nested pytest session and judge it by that session's JUnit.

A seeded-defect check is worth something only if the test it checks *fails at its assertion*
with a message that names the defect: not a setup error of some fixture, not a failure of an
unrelated line, and not a string that pytest's own source listing happens to print. So the
nested session writes its own JUnit file (under ``results/<run>/selfchecks/<check>/``, away
from the run's top-level results), and ``expect_failure`` reads the named test's outcome from
it: the ``<failure>`` element of its call phase, and the ``E`` lines of that failure only.

Every nested session also runs a *hollow* copy of each selected test (``tests/harness/hollow.py``):
the same fixtures, a body that does nothing. ``NestedRun.prove`` requires ``expect_failure``
to reject that copy, which shows that the check would notice a test that checks nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

from wpcluster.junit import CaseOutcome, read_junit
from wpcluster.results import RESULTS_ENV, run_dir
from wpcluster.shape import PROJECT_ROOT

HOLLOW_SUFFIX = "-hollow"


def hollow_id(test: str) -> str:
    """The node id (or name) of a test's hollow copy: ``test_x[a]`` -> ``test_x-hollow[a]``."""
    base, bracket, params = test.partition("[")
    return f"{base}{HOLLOW_SUFFIX}{bracket}{params}"


def expect_failure(cases: dict[str, CaseOutcome], test: str, names_defect: str) -> CaseOutcome:
    """The test ``test`` (a node id) FAILED in its call phase with an ``E`` line matching ``names_defect``.

    Raises AssertionError saying what happened instead: missing, passed, skipped, a setup or
    teardown error, or a failure whose message does not name the defect.
    """
    case = cases.get(test)
    if case is None:
        raise AssertionError(f"the nested run has no test {test}; it ran {sorted(cases)}")
    if case.outcome == "passed":
        raise AssertionError(f"{test} PASSED with the defect in place")
    if case.outcome == "skipped":
        raise AssertionError(f"{test} was skipped, not failed: {case.message}")
    if case.outcome == "error":
        raise AssertionError(f"{test} errored outside its call (setup or teardown), not failed at its "
                             f"assertion: {case.message[:600]}")
    if not re.search(names_defect, case.e_lines, re.DOTALL):
        raise AssertionError(f"{test} failed, but its E lines do not name the defect (/{names_defect}/):\n"
                             f"{case.e_lines[:2000]}")
    return case


@dataclass
class NestedRun:
    """A finished nested session: its output (for messages only) and its JUnit outcomes."""

    output: str
    cases: dict[str, CaseOutcome]

    def prove(self, test: str, names_defect: str) -> CaseOutcome:
        """``expect_failure`` on ``test``, and proof that the hollow copy of it is not accepted."""
        __tracebackhide__ = True
        case = expect_failure(self.cases, test, names_defect)
        hollow = hollow_id(test)
        assert hollow in self.cases, f"the nested run has no hollow copy {hollow}; it ran {sorted(self.cases)}"
        try:
            expect_failure(self.cases, hollow, names_defect)
        except AssertionError:
            return case
        raise AssertionError(f"the self-check accepts {hollow}, a copy of the test that does nothing")

    def expect_passed(self, test: str) -> None:
        __tracebackhide__ = True
        case = self.cases.get(test)
        assert case is not None, f"the nested run has no test {test}; it ran {sorted(self.cases)}"
        assert case.outcome == "passed", f"{test} {case.outcome}: {case.e_lines or case.message}\n{self.output[-2000:]}"


def run_nested(check: str, *selection: str, timeout: float = 300, hollow: bool = True) -> NestedRun:
    """Run ``selection`` against the session's running lab and site (adopted as it is, and left up).

    The nested session's JUnit, results and diagnostics go to ``results/<run>/selfchecks/<check>/``.
    """
    run_id = os.environ["WPCLUSTER_RUN_ID"]
    folder = run_dir(run_id) / "selfchecks" / re.sub(r"[^\w.-]+", "_", check)
    folder.mkdir(parents=True, exist_ok=True)
    junit = folder / "nested-session.xml"
    junit.unlink(missing_ok=True)
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--keep-cluster", "--site-as-is",
            "--settle-timeout=5", f"--junitxml={junit}", "-o", "junit_logging=no"]
    if hollow:
        args += ["-p", "tests.harness.hollow", "--hollow-copies"]
    env = dict(os.environ, **{RESULTS_ENV: str(folder / "results")})
    done = subprocess.run([*args, *selection], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout,
                          env=env)
    output = done.stdout + done.stderr
    (folder / "output.txt").write_text(output)
    assert junit.exists(), f"the nested session wrote no JUnit (exit {done.returncode}):\n{output[-3000:]}"
    return NestedRun(output, read_junit(junit))
