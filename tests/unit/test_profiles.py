"""Profiles: the quick one shortens the shape's timers (and so its bounds), never loosens a bound, and
keeps one failover test of each family; the run names its profile."""

from __future__ import annotations

import os

import pytest

from tests.harness.listing import collected
from wpcluster.checks.thresholds import FAMILIES, failover_thresholds, fault_bounds
from wpcluster.core.errors import WpclusterError
from wpcluster.core.profiles import PROFILE_ENV, QUICK, RELEASE, take_profile_option
from wpcluster.core.shape import DEFAULT_SHAPE_FILE, parse_shape

KINDS = ["node-kill", "dockerd-restart", "packet-loss 20%", "s3-stop", "db-latency 20ms", "db-stop",
         "etcd-majority-lost"]


def shapes():
    text = DEFAULT_SHAPE_FILE.read_text()
    return parse_shape(text, "cluster.toml"), parse_shape(text, "cluster.toml", QUICK)


def test_the_release_profile_is_the_shape_as_written_and_quick_shortens_its_timers():
    release, quick = shapes()
    assert release.profile == "release" and release.fleet_agent_ttl == "30s" and release.site.server_ttl == 15
    assert quick.profile == "quick" and quick.timers_text == (
        "agent_ttl=3s engine_reconcile=0.5s server_ttl=5s heartbeat=1s reconcile=3s")
    assert quick.source == release.source  # the same file, another profile


def test_every_bound_is_at_least_as_tight_under_the_quick_profile():
    release, quick = shapes()
    for name, value in vars(failover_thresholds(quick)).items():
        assert value <= vars(failover_thresholds(release))[name], name
    for kind in KINDS:
        tight, loose = vars(fault_bounds(quick, kind)), vars(fault_bounds(release, kind))
        for name, value in tight.items():
            if isinstance(value, float | int) and not isinstance(value, bool):
                assert value <= loose[name], (kind, name)


def test_the_profile_option_is_taken_out_of_pytests_arguments(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV, "release")  # restored after the test
    assert take_profile_option(["-k", "x", "--profile", "quick"]) == ["-k", "x"]
    assert os.environ[PROFILE_ENV] == "quick"
    assert take_profile_option(["--profile=release", "tests/routing"]) == ["tests/routing"]
    assert os.environ[PROFILE_ENV] == RELEASE.name


def test_an_unknown_profile_is_named_with_the_ones_there_are(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV, "release")  # restored after the test
    with pytest.raises(WpclusterError, match="(?s)no profile .fast.*--profile release or --profile quick"):
        take_profile_option(["--profile", "fast"])


def collected_under(tmp_path, profile: str, *selection: str) -> dict[str, list[str]]:
    """Node id -> the families its ``represents`` marker names, of what ``selection`` collects under ``profile``."""
    listed = collected(list(selection), tmp_path, env={**os.environ, PROFILE_ENV: profile})
    return {nodeid: markers.get("represents", []) for nodeid, markers in listed.items()}


def test_the_quick_profile_keeps_one_failover_test_of_each_family(tmp_path):
    every = collected_under(tmp_path, "release", "tests/failover")
    quick = collected_under(tmp_path, "quick", "tests/failover")
    assert sorted(f for families in quick.values() for f in families) == sorted(FAMILIES)
    assert all(quick.values()) and set(quick) < set(every)


def test_a_failover_test_named_by_its_node_id_runs_under_any_profile(tmp_path):
    named = "tests/failover/test_gray_network.py::test_a_node_behind_a_bandwidth_cap_keeps_the_site_serving"
    assert list(collected_under(tmp_path, "quick", named)) == [named]


def test_fleet_notices_a_lost_engine_leader_only_when_its_lease_runs_out():
    from wpcluster.checks.thresholds import fleet_notices_seconds
    from wpcluster.core.profiles import Profile

    release, quick = shapes()
    assert fleet_notices_seconds(release) == 30.0  # the agent TTL outlasts the 10 s engine lease
    assert fleet_notices_seconds(quick) == 3.0  # 5 x 0.5 s lease, within the 3 s agent TTL
    short_ttl_only = Profile("t", "", timers={"fleet.agent_ttl": "3s"})
    shape = parse_shape(DEFAULT_SHAPE_FILE.read_text(), "cluster.toml", short_ttl_only)
    assert fleet_notices_seconds(shape) == 10.0  # fleet's default reconcile, 2 s: its leader's lease
    assert fault_bounds(shape, "node-kill").recovery_seconds == 25.0


def test_fleetd_is_told_the_engine_reconcile_interval():
    from wpcluster.providers.bootstrap import fleet_config

    _, quick = shapes()
    assert fleet_config(quick, "core-01")["engine_reconcile_interval"] == "0.5"


def test_an_engine_reconcile_interval_that_is_not_a_positive_number_is_named():
    from wpcluster.core.errors import ShapeError
    from wpcluster.core.profiles import Profile

    for bad in (0, "2s", True):
        with pytest.raises(ShapeError, match="fleet.engine_reconcile_interval"):
            parse_shape(DEFAULT_SHAPE_FILE.read_text(), "cluster.toml",
                        Profile("t", "", timers={"fleet.engine_reconcile_interval": bad}))
