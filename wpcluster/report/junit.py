"""Reading a pytest session's JUnit file: each test's outcome, phase and pytest's own words.

The self-checks judge a nested session by it, and bench/time_to_verdict.py counts a suite's
outcomes from it. A setup or teardown ``<error>`` is an error even beside a failed call; the
``E`` lines of a failure are what pytest said went wrong, not the source listing around them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from wpcluster.core.shape import PROJECT_ROOT


@dataclass(frozen=True)
class CaseOutcome:
    """One testcase of a JUnit file: passed, failed (in its call), error (setup/teardown) or skipped."""

    nodeid: str
    outcome: str
    message: str  # the failure's or error's message attribute
    e_lines: str  # the ``E`` lines of the failure text (pytest's own words for what went wrong)


def _nodeid(case: ET.Element, root: Path) -> str:
    classname, name = case.get("classname", ""), case.get("name", "")
    parts = classname.split(".")
    # pytest writes classname as the module path with dots (and a class, if any): find the file.
    for cut in range(len(parts), 0, -1):
        path = Path(*parts[:cut]).with_suffix(".py")
        if (root / path).exists():
            return "::".join([path.as_posix(), *parts[cut:], name])
    return f"{classname}::{name}"


def read_junit(path: Path, root: Path = PROJECT_ROOT) -> dict[str, CaseOutcome]:
    """Every testcase in a JUnit file, by pytest node id (relative to ``root``, the session's rootdir)."""
    cases: dict[str, CaseOutcome] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        nodeid = _nodeid(case, root)
        failure, error, skipped = case.find("failure"), case.find("error"), case.find("skipped")
        if error is not None:  # a setup or teardown error: even with a failed call, not a clean verdict
            outcome, element = "error", error
        elif failure is not None:
            outcome, element = "failed", failure
        elif skipped is not None:
            outcome, element = "skipped", skipped
        else:
            outcome, element = "passed", None
        text = (element.text or "") if element is not None else ""
        e_lines = "\n".join(line[1:].strip() for line in text.splitlines() if line.startswith("E "))
        if outcome == "failed" and not e_lines:
            # pytest.fail(..., pytrace=False) records the message alone, without a source listing.
            e_lines = text.strip()
        cases[nodeid] = CaseOutcome(nodeid, outcome, element.get("message", "") if element is not None else "",
                                    e_lines)
    return cases
