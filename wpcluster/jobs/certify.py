"""The two jobs, each one run: one run id, one results folder, one JUnit, one report.

``wpcluster certify`` (``tox -e cluster``) certifies the deployment: every suite against the default
lab, brought up once. ``wpcluster selfcheck`` (``tox -e selfcheck``) checks the harness itself: the
bring-up error tests (each builds a broken lab of its own and must clean it up) in a session of
their own, then the seeded-defect self-checks, the deploy error tests and the inventory run against
a lab of their own. Nothing in a certification's report depends on the self-checks.

A self-check's failure proves something only if its target passed on a healthy lab (its control).
A certification that ran this very source on this very shape (``wpcluster.jobs.fingerprint``) is such a
run, so ``selfcheck`` takes its controls from the latest one's JUnit; without one, the self-checks
run their targets on their own healthy lab first (slower; the run says so).

Arguments after ``--`` reach only the job's main session: with any of them a self-check run skips
its bring-up session, and paths among them replace the default suites (``tox -e cluster -- -k
routing`` runs routing and nothing else). pytest's cache is on, so ``--lf`` reruns what failed last
time. At the end the report is opened in headless Chromium (``wpcluster.report.browser_check``): a page
that does not show the JUnit's verdicts, or a timeline that does not load, fails the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from wpcluster.core.labels import RUN_ID_ENV, new_run_id
from wpcluster.core.ledger import TIME_DIR
from wpcluster.core.profiles import current_profile, take_profile_option
from wpcluster.core.results import JUNIT, RESULTS_ENV, RUN_RECORD, results_root, run_dir, run_record
from wpcluster.core.shape import PROJECT_ROOT, load_shape, shape_file
from wpcluster.fixtures.ledger_hooks import LEDGER_ENV
from wpcluster.fixtures.outcomes import CONTROLS_ENV
from wpcluster.jobs.fingerprint import source_digest
from wpcluster.report.time_table import FAILOVER_SUITE, LOAD_SUITE

SUITES = ["tests/cluster", "tests/routing", "tests/cache", LOAD_SUITE, FAILOVER_SUITE]
BRINGUP = ["tests/bringup"]
HARNESS = ["tests/harness"]
# pytest's exit code when a selection (-k, a path) leaves nothing to run in one session.
NO_TESTS_COLLECTED = 5


@dataclass(frozen=True)
class Job:
    """One of the two things a user runs: its pytest sessions by name, and where its latest run is linked."""

    name: str  # as the summary's first line says it
    sessions: tuple[tuple[str, tuple[str, ...]], ...]  # (name, default selection), in order
    latest: str  # results/<latest> -> its newest run

    @property
    def main_session(self) -> str:
        return self.sessions[-1][0]


CERTIFICATION = Job("certification", (("suites", tuple(SUITES)),), "latest")
# The self-checks run under the release timers: under the quick ones they take as long (their targets'
# controls run first, since the quick certification runs six faults; 1,422 s measured) and the bandwidth
# cap's control deviates (3 top-LB errors in an 8 s window: 5.7 %, bound 1 %).
SELFCHECK = Job("self-check", (("bringup", tuple(BRINGUP)), ("harness", tuple(HARNESS))), "latest-selfcheck")


def selects_paths(args: list[str]) -> bool:
    """Whether ``args`` name tests by path (``tests/routing``, ``tests/x.py::test_y``)."""
    return any(not a.startswith("-") and (PROJECT_ROOT / a.split("::")[0]).exists() for a in args)


def sessions(args: list[str], job: Job = CERTIFICATION) -> list[tuple[str, list[str]]]:
    """The pytest sessions to run, by name, each with its arguments."""
    if not args:
        return [(name, list(selection)) for name, selection in job.sessions]
    default = dict(job.sessions)[job.main_session]
    return [(job.main_session, args if selects_paths(args) else [*default, *args])]


def controls_source(source: str, profile: str) -> Path | None:
    """The latest certification's folder if it certified ``source`` (a digest) under ``profile`` and left
    its JUnit."""
    latest = results_root() / CERTIFICATION.latest
    if not (latest / JUNIT).exists():
        return None
    record = run_record(latest)
    same = (record["job"], record.get("source"), record["profile"]) == (
        CERTIFICATION.name, source, profile)
    return latest.resolve() if same else None


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


def link_latest(run: Path, name: str = CERTIFICATION.latest) -> Path:
    """``results/<name>`` -> this run's folder (relative, so the results folder can be moved whole)."""
    latest = run.parent / name
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(run.name, target_is_directory=True)
    return latest


def run_job(job: Job, args: list[str]) -> int:
    """Run ``job``; return the worst pytest exit code (0 when everything passed)."""
    from wpcluster.report.browser_check import check_report  # local: the report's modules are needed only here
    from wpcluster.report.bundle import read_bundle, summary_text, write_report

    args = take_profile_option(args)  # to $WPCLUSTER_PROFILE, which every session inherits
    shape = load_shape()
    run_id = os.environ.setdefault(RUN_ID_ENV, new_run_id())
    run = run_dir(run_id)
    record = {"job": job.name, "source": source_digest(shape_file()), "profile": shape.profile,
              "timers": shape.timers_text, "arguments": args}
    print(f"== profile {shape.profile}: {current_profile().purpose} ({shape.timers_text})", flush=True)
    env_extra = {}
    if job is SELFCHECK:
        controls = controls_source(record["source"], shape.profile)
        record["controls_from"] = controls.name if controls else None
        if controls:
            env_extra[CONTROLS_ENV] = str(controls / JUNIT)
            print(f"== controls: the targets' outcomes in certification {controls.name} (this source and shape, "
                  f"profile {shape.profile})",
                  flush=True)
        else:
            print(f"== controls: no certification of this source and shape under profile {shape.profile} in "
                  "results/latest; the self-checks' targets run on the healthy lab first (run `wpcluster certify` "
                  "first, under the same profile, to save that time)", flush=True)
    (run / RUN_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    parts, codes = [], []
    for name, selection in sessions(args, job):
        junit = run / f"{name}.part.xml"
        env = dict(os.environ, **env_extra, **{LEDGER_ENV: str(run / TIME_DIR / f"{name}.json")})
        if name == "bringup":  # the broken labs' own folders land inside this run's bundle
            env[RESULTS_ENV] = str(run / "bringup")
        print(f"== {name}: pytest {' '.join(selection)}", flush=True)
        codes.append(subprocess.run([sys.executable, "-m", "pytest", "-ra", f"--junitxml={junit}", *selection],
                                    cwd=PROJECT_ROOT, env=env).returncode)
        parts.append(junit)
    merge_junit(parts, run / JUNIT)
    link_latest(run, job.latest)
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


def certify(args: list[str]) -> int:
    """The deployment's certification (``tox -e cluster``)."""
    return run_job(CERTIFICATION, args)


def selfcheck(args: list[str]) -> int:
    """The harness's own checks (``tox -e selfcheck``)."""
    return run_job(SELFCHECK, args)


def latest_run() -> Path:
    return results_root() / CERTIFICATION.latest
