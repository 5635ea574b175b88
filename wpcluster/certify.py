"""One certification run: one run id, one results folder, one JUnit, one report (``tox -e cluster``).

The bring-up error tests build (and must clean up) broken labs of their own, so they run first in a
pytest session of their own; the suites run in a second one against the default lab. Both sessions
share the run id, write into ``results/<run>/`` and their JUnit files are merged into
``results/<run>/junit.xml``; ``results/latest`` points at the run, and ``report.html`` (with the
same summary printed at the end) is written from the bundle.

Arguments after ``--`` reach only the suites: with any of them the bring-up session is skipped
(``tox -e cluster -- -k routing`` runs routing and nothing else), and paths among them replace the
default suites. pytest's cache is on, so ``--lf`` reruns what failed last time. At the end the report is opened in
headless Chromium (``wpcluster.browser_check``): a page that does not show the JUnit's verdicts, or
a timeline that does not load, fails the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from wpcluster.labels import RUN_ID_ENV, new_run_id
from wpcluster.plugin.timings import LEDGER_ENV
from wpcluster.results import JUNIT, RESULTS_ENV, results_root, run_dir
from wpcluster.shape import PROJECT_ROOT
from wpcluster.timings import TIME_DIR

BRINGUP = ["tests/bringup"]
# The self-checks (tests/harness) last: every suite's test that passed earlier in the session is the
# healthy control of the self-check that seeds a defect for it (tests/harness/nested.py).
SUITES = ["tests/cluster", "tests/routing", "tests/cache", "tests/load", "tests/failover", "tests/harness"]
LATEST = "latest"
# pytest's exit code when a selection (-k, a path) leaves nothing to run in one session.
NO_TESTS_COLLECTED = 5


def selects_paths(args: list[str]) -> bool:
    """Whether ``args`` name tests by path (``tests/routing``, ``tests/x.py::test_y``)."""
    return any(not a.startswith("-") and (PROJECT_ROOT / a.split("::")[0]).exists() for a in args)


def sessions(args: list[str]) -> list[tuple[str, list[str]]]:
    """The pytest sessions to run, by name, each with its arguments."""
    if not args:
        return [("bringup", BRINGUP), ("suites", SUITES)]
    return [("suites", args if selects_paths(args) else [*SUITES, *args])]


def merge_junit(parts: list[Path], dest: Path) -> Path:
    """Every ``<testsuite>`` of ``parts`` under one ``<testsuites>`` in ``dest``; the parts are removed."""
    merged = ET.Element("testsuites")
    for part in parts:
        if not part.exists():
            continue
        root = ET.parse(part).getroot()
        merged.extend(root.iter("testsuite") if root.tag == "testsuites" else [root])
        part.unlink()
    ET.ElementTree(merged).write(dest, encoding="utf-8", xml_declaration=True)
    return dest


def link_latest(run: Path) -> Path:
    """``results/latest`` -> this run's folder (relative, so the results folder can be moved whole)."""
    latest = run.parent / LATEST
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(run.name, target_is_directory=True)
    return latest


def certify(args: list[str]) -> int:
    """Run the certification; return the worst pytest exit code (0 when everything passed)."""
    from wpcluster.browser_check import check_report  # local: the report's modules are needed only here
    from wpcluster.report import read_bundle, summary_text, write_report

    run_id = os.environ.setdefault(RUN_ID_ENV, new_run_id())
    run = run_dir(run_id)
    parts, codes = [], []
    for name, selection in sessions(args):
        junit = run / f"{name}.part.xml"
        env = dict(os.environ, **{LEDGER_ENV: str(run / TIME_DIR / f"{name}.json")})
        if name == "bringup":  # the broken labs' own folders land inside this run's bundle
            env[RESULTS_ENV] = str(run / "bringup")
        print(f"== {name}: pytest {' '.join(selection)}", flush=True)
        codes.append(subprocess.run([sys.executable, "-m", "pytest", "-ra", f"--junitxml={junit}", *selection],
                                    cwd=PROJECT_ROOT, env=env).returncode)
        parts.append(junit)
    merge_junit(parts, run / JUNIT)
    link_latest(run)
    report = write_report(run)
    print("\n" + summary_text(read_bundle(run)), flush=True)
    # The page itself, in a real browser: every timeline loads, and it shows the JUnit's verdicts.
    seen = check_report(report, run / JUNIT, run / "report.png")
    for problem in seen.problems():
        print(f"report check: {problem}", flush=True)
    print(f"\nresults: {run}\nreport:  {report} (screenshot {seen.screenshot.name})\njunit:   {run / JUNIT}",
          flush=True)
    ran = [c for c in codes if c != NO_TESTS_COLLECTED]
    worst = max(ran) if ran else NO_TESTS_COLLECTED
    return worst or (1 if seen.problems() else 0)


def latest_run() -> Path:
    return results_root() / LATEST
