"""Self-checks run part of a suite in a nested pytest session and judge it by that session's JUnit.

A seeded-defect check is worth something only if the test it checks *fails at its assertion*
with a message that names the defect: not a setup error of some fixture, not a failure of an
unrelated line, and not a string that pytest's own source listing happens to print. So the
nested session writes its own JUnit file (under ``results/<run>/selfchecks/<check>/``, away
from the run's top-level results), and ``expect_failure`` reads the named test's outcome from
it: the ``<failure>`` element of its call phase, and the ``E`` lines of that failure only.

A failure proves something only if the same test passes on the healthy lab: its *control*. A
self-check names its targets with ``@pytest.mark.controls(...)``; before its defect is seeded, each
target must have passed in the certification of this source and shape that ``wpcluster selfcheck``
takes its controls from (or earlier in this session), or it is run in a nested session on the
healthy lab and must pass there (``establish_controls``; the harness's conftest runs every missing
target of the session in one such run). ``NestedRun.prove`` refuses a target that has no control. A target that
does nothing passes with the defect in place, and ``expect_failure`` refuses that.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

from wpcluster.core.results import RESULTS_ENV, run_dir
from wpcluster.core.shape import PROJECT_ROOT
from wpcluster.report.junit import CaseOutcome, read_junit

# The targets that passed on the healthy lab in this session (their controls), by node id.
CONTROLLED: set[str] = set()


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
        """``expect_failure`` on ``test``, which must have passed on the healthy lab (its control)."""
        __tracebackhide__ = True
        assert test in CONTROLLED, (f"{test} has no control: it never passed on the healthy lab in this session; "
                                    f"name it in the self-check's @pytest.mark.controls(...)")
        return expect_failure(self.cases, test, names_defect)

    def expect_passed(self, test: str) -> None:
        __tracebackhide__ = True
        case = self.cases.get(test)
        assert case is not None, f"the nested run has no test {test}; it ran {sorted(self.cases)}"
        assert case.outcome == "passed", f"{test} {case.outcome}: {case.e_lines or case.message}\n{self.output[-2000:]}"


def run_nested(check: str, *selection: str, timeout: float = 300) -> NestedRun:
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
    env = dict(os.environ, **{RESULTS_ENV: str(folder / "results")})
    done = subprocess.run([*args, *selection], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout,
                          env=env)
    output = done.stdout + done.stderr
    (folder / "output.txt").write_text(output)
    assert junit.exists(), f"the nested session wrote no JUnit (exit {done.returncode}):\n{output[-3000:]}"
    return NestedRun(output, read_junit(junit))


def establish_controls(targets: tuple[str, ...], outcomes: dict[str, str], check: str,
                       timeout: float = 900) -> None:
    """Each of ``targets`` passed on the healthy lab: earlier in this session (``outcomes``), or now, in
    one nested session run before the defect is seeded. A target that failed or was skipped earlier
    leaves the self-check without a control: its failure with the defect would prove nothing."""
    __tracebackhide__ = True
    missing = []
    for target in targets:
        outcome = outcomes.get(target)
        if outcome == "passed":
            CONTROLLED.add(target)
        elif outcome is not None:
            raise AssertionError(f"no control for {check}: {target} {outcome.upper()} on the healthy lab (in the "
                                 "certification the controls come from, or earlier in this session), so its failure "
                                 "with the defect seeded would prove nothing")
        else:
            missing.append(target)
    if missing:
        control = run_nested(f"control-{check}", *missing, timeout=timeout)
        for target in missing:
            control.expect_passed(target)
            outcomes[target] = "passed"
            CONTROLLED.add(target)


def run_missing_controls(targets: list[str], outcomes: dict[str, str], timeout: float = 2400) -> list[str]:
    """Every target of ``targets`` with no outcome yet, run in one nested session on the healthy lab (the
    failover targets as one experiment), its outcome recorded in ``outcomes``; the targets it ran."""
    missing = [t for t in targets if t not in outcomes]
    if missing:
        control = run_nested("controls", *missing, timeout=timeout)
        for target in missing:
            if target in control.cases:
                outcomes[target] = control.cases[target].outcome
    return missing
