"""The two jobs: which sessions each runs with which arguments, one JUnit and a latest link each, and
where a self-check run takes its controls from."""

from __future__ import annotations

import json

from wpcluster.core.results import JUNIT, RESULTS_ENV, RUN_RECORD
from wpcluster.jobs.certify import (
    BRINGUP,
    CERTIFICATION,
    HARNESS,
    SELFCHECK,
    SUITES,
    controls_source,
    link_latest,
    sessions,
)


def test_a_certification_runs_every_suite_and_no_self_check():
    assert sessions([]) == [("suites", SUITES)]
    assert not {"tests/harness", "tests/bringup"} & set(SUITES)


def test_a_self_check_run_runs_the_bringup_session_then_the_harness():
    assert sessions([], SELFCHECK) == [("bringup", BRINGUP), ("harness", HARNESS)]


def test_options_reach_only_the_main_session():
    assert sessions(["-k", "routing"]) == [("suites", [*SUITES, "-k", "routing"])]
    assert sessions(["--lf"]) == [("suites", [*SUITES, "--lf"])]
    assert sessions(["-k", "quorum"], SELFCHECK) == [("harness", [*HARNESS, "-k", "quorum"])]


def test_paths_replace_the_default_suites():
    assert sessions(["tests/routing", "-x"]) == [("suites", ["tests/routing", "-x"])]
    picked = "tests/cluster/test_fleet.py::test_fleetctl_is_the_pinned_release"
    assert sessions([picked]) == [("suites", [picked])]


def test_latest_points_at_the_newest_run_and_moves_with_the_next(tmp_path):
    first, second = tmp_path / "20261202-100000-aaaa", tmp_path / "20261202-110000-bbbb"
    first.mkdir()
    second.mkdir()
    latest = link_latest(first)
    assert latest.resolve() == first.resolve()
    link_latest(second)
    assert latest.resolve() == second.resolve() and latest.is_symlink()


def _certification(tmp_path, source: str, job: str = CERTIFICATION.name):
    run = tmp_path / "20261205-100000-aaaa"
    run.mkdir()
    (run / JUNIT).write_text("<testsuites/>")
    (run / RUN_RECORD).write_text(json.dumps({"job": job, "source": source, "profile": "release"}))
    link_latest(run, CERTIFICATION.latest)
    return run


def test_controls_come_from_the_latest_certification_of_this_very_source(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    run = _certification(tmp_path, "abc")
    assert controls_source("abc", "release") == run.resolve()


def test_a_certification_of_other_source_or_a_self_check_run_gives_no_controls(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    assert controls_source("abc", "release") is None  # no run at all
    _certification(tmp_path, "other")
    assert controls_source("abc", "release") is None


def test_a_run_recorded_as_a_self_check_is_no_certification(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    _certification(tmp_path, "abc", job=SELFCHECK.name)
    assert controls_source("abc", "release") is None


def test_a_certification_under_another_profile_gives_no_controls(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    _certification(tmp_path, "abc")
    assert controls_source("abc", "quick") is None
