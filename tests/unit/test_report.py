"""The certification report: a verdict per capability from the JUnit, and the page a browser shows.

A small bundle is written as a run leaves one (a merged JUnit, failover figures with their PNG,
versions); the report is rendered from it and opened in headless Chromium, which must load every
image and show the same verdicts as the JUnit. Seeded defects show the check is not hollow: a
broken image and a verdict the page gets wrong are both reported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first
import pytest  # noqa: E402

from wpcluster.jobs.certify import merge_junit  # noqa: E402
from wpcluster.report.browser_check import check_report  # noqa: E402
from wpcluster.report.bundle import (  # noqa: E402  # noqa: E402
    FAILED,
    PASSED,
    XFAILED,
    read_bundle,
    read_cases,
    render_html,
    summary_text,
    verdicts,
    write_report,
)

FAULT_TEST = "test_pausing_a_node_and_resuming_it"
SUITES = f"""<testsuites><testsuite name="pytest" tests="5">
<testcase classname="tests.cluster.test_etcd_quorum" name="test_every_member_healthy_and_listed" time="1.5"/>
<testcase classname="tests.routing.test_routing" name="test_home_reaches_all_public_containers" time="2.0">
  <failure message="AssertionError: / through vulcand on core-02 reached only wordpress-1">trace</failure></testcase>
<testcase classname="tests.routing.test_routing" name="test_every_response_names_its_container" time="0.4"/>
<testcase classname="tests.failover.test_node_loss" name="{FAULT_TEST}" time="60.1"/>
<testcase classname="tests.failover.test_gray_network" name="test_a_bandwidth_cap" time="50.0">
  <skipped type="pytest.xfail" message="the deployment has no outlier detection"/></testcase>
</testsuite></testsuites>"""
BRINGUP = """<testsuite name="pytest" tests="1">
<testcase classname="tests.bringup.test_bringup_errors" name="test_subnet_in_use_is_named" time="20"/></testsuite>"""


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    run = tmp_path / "20261202-120000-abcd"
    (run / "failover").mkdir(parents=True)
    (run / "bringup.part.xml").write_text(BRINGUP)
    (run / "suites.part.xml").write_text(SUITES)
    merge_junit([run / "bringup.part.xml", run / "suites.part.xml"], run / "junit.xml")
    figure, axes = plt.subplots(figsize=(4, 2))
    axes.plot([0, 1, 2], [10, 2, 10])
    figure.savefig(run / "failover" / f"{FAULT_TEST}.png")
    plt.close(figure)
    window = {"seconds": 10.0, "goodput_ratio": 1.0, "error_rate": 0.0, "hung": 0, "p95_ms": 120.0}
    (run / "bench").mkdir()
    (run / "bench" / "failover.json").write_text(json.dumps([{
        "test": FAULT_TEST, "fault": "node-pause on core-02", "fault_kind": "node-pause", "brownout_seconds": 6.0,
        "recovery_seconds": 41.0, "recovery_goal_seconds": 45.0, "wall_seconds": 60.0,
        "windows": {"before": window, "during": {**window, "goodput_ratio": 0.6}, "after": window}}]))
    (run / "bench" / "deploy.json").write_text(json.dumps([{"recorded_at": "x", "seconds": 22.5}]))
    (run / "bench" / "failover-load.json").write_text(json.dumps([{
        "capacity": 24.0, "lb_rate": 5.45, "vulcand_rate": 2.18, "scale": 0.545, "load_share": 0.5}]))
    (run / "versions.json").write_text(json.dumps({"provider": "lab", "shape": "cluster.toml", "nodes": ["core-01"],
                                                   "components": {"etcd": "3.4.23"}, "images": {"a:b": "sha256:1"}}))
    return run


def test_merge_keeps_every_case_of_both_sessions_and_removes_the_parts(bundle):
    cases = read_cases(bundle / "junit.xml")
    assert len(cases) == 6
    assert not list(bundle.glob("*.part.xml"))


def test_a_verdict_per_capability_and_one_per_fault(bundle):
    shown = {v.capability: v.outcome for v in verdicts(read_cases(bundle / "junit.xml"))}
    assert shown["routing (wp-admin only to the admin container)"] == FAILED  # one of its two failed
    assert shown["etcd2 quorum and linearizability"] == PASSED
    assert shown["bring-up errors named, nothing left"] == PASSED
    assert shown["failover: pausing a node and resuming it"] == PASSED
    assert shown["failover: a bandwidth cap"] == XFAILED  # an expected failure: not a pass, not a skip
    assert read_bundle(bundle).outcome == FAILED


def test_the_terminal_summary_names_the_failed_capability_and_the_fault_figures(bundle):
    text = summary_text(read_bundle(bundle))
    assert "FAILED" in text.splitlines()[0]
    assert "FAILED  routing" in text
    assert "node-pause" in text and "etcd 3.4.23" in text
    assert re.search(r"XFAILED failover: a bandwidth cap +1 xfailed", text), text
    assert "readers: 5.45/s through the top LB, 2.18/s on each vulcand (50% of the 24.0 successes/s" in text


def test_the_page_in_a_browser_shows_every_image_and_the_junits_verdicts(bundle):
    report = write_report(bundle)
    check = check_report(report, bundle / "junit.xml", bundle / "report.png")
    assert check.images >= 1, "the report embedded no timeline"
    assert not check.problems(), check.problems()
    assert check.screenshot.stat().st_size > 10_000, "the screenshot is (nearly) empty"


def test_the_browser_check_reports_a_broken_image_and_a_wrong_verdict(bundle):
    page = render_html(read_bundle(bundle))
    broken = page.replace("data:image/png;base64,", "data:image/png;base64,AAAA", 1)
    wrong = broken.replace('<td class="failed">failed</td>', '<td class="passed">passed</td>', 1)
    assert wrong != page and broken != page, "the seeded defects changed nothing"
    report = bundle / "report.html"
    report.write_text(wrong)
    problems = check_report(report, bundle / "junit.xml", bundle / "report.png").problems()
    assert any("images did not load" in p for p in problems), problems
    assert any("verdict table differs" in p and "routing" in p for p in problems), problems
