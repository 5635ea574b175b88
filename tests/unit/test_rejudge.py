"""A saved run's faults judged again from their histories (``wpcluster rejudge``), and a verdict that
could not be established reported as an error."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_verdict import steady
from wpcluster.checks.verdict import DEVIATED, judge, save_samples
from wpcluster.cli import main
from wpcluster.core.history import FaultRecord

pytest_plugins = ["pytester"]


def saved_run(tmp_path, samples, fault, recovered_at, until):
    """A run folder as the failover suite leaves it, its verdict judged with no bounds (as a run older
    than the bounds table was)."""
    run = tmp_path / "20261204-000000-abcd"
    folder = run / "failover"
    verdict = judge(samples, fault, recovered_at, until=until, baseline_from=samples[0].started)
    verdict.save(folder, "test_partition")
    save_samples(samples, folder / "test_partition.samples.csv")
    (run / "bench").mkdir(parents=True)
    (run / "bench" / "failover.json").write_text(json.dumps([{"test": "test_partition", **verdict.to_dict()}]))
    return run


def test_rejudge_finds_the_outage_a_window_by_window_verdict_let_pass(tmp_path, capsys):
    samples = steady(1000, 1100, target="vulcand on core-01", hung=((1045, 1075),))
    run = saved_run(tmp_path, samples, FaultRecord("partition", "core-03", 1020, 1060), 1070, samples[-1].started)
    assert main(["rejudge", str(run)]) == 1
    out = capsys.readouterr().out
    assert "test_partition" in out and "deviated" in out and "brownout through vulcand on core-01" in out
    again = json.loads((run / "failover" / "test_partition.rejudged.json").read_text())
    assert again["status"] == DEVIATED and again["span"]["start"] == 1000
    figures = json.loads((run / "bench" / "failover.json").read_text())[0]
    assert figures["rejudged"]["status"] == DEVIATED and figures["status"] == "pass"  # the original stays


def test_rejudge_names_what_is_missing(tmp_path, capsys):
    assert main(["rejudge", str(tmp_path)]) == 2
    assert "holds no fault verdicts" in capsys.readouterr().err
    assert main(["rejudge", "no-such-run"]) == 2
    assert "no run no-such-run" in capsys.readouterr().err


def test_a_verdict_not_established_is_an_error_and_a_deviation_a_failure(pytester: pytest.Pytester):
    pytester.makepyfile(test_faults="""
        from wpcluster.checks.verdict import Deviated, NotEstablished

        def test_unsteady():
            raise NotEstablished("no steady baseline")

        def test_broken():
            raise Deviated("error rate during through top LB: 30%, bound 1%")
    """)
    result = pytester.runpytest("-p", "no:cacheprovider", "--junitxml=j.xml")
    result.assert_outcomes(failed=1, errors=1)
    junit = (pytester.path / "j.xml").read_text()
    assert '<error message="failed on setup with &quot;wpcluster.checks.verdict.NotEstablished' in junit
    assert '<failure message="wpcluster.checks.verdict.Deviated' in junit
