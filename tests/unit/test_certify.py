"""One certification run: which sessions run with which arguments, and one JUnit and a latest link."""

from __future__ import annotations

from wpcluster.certify import BRINGUP, SUITES, link_latest, sessions


def test_no_arguments_run_the_bringup_session_then_every_suite():
    assert sessions([]) == [("bringup", BRINGUP), ("suites", SUITES)]


def test_options_reach_only_the_suites_and_skip_the_bringup_session():
    assert sessions(["-k", "routing"]) == [("suites", [*SUITES, "-k", "routing"])]
    assert sessions(["--lf"]) == [("suites", [*SUITES, "--lf"])]


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
