"""The failover verdict and its picture, on synthetic histories."""

from wpcluster.faults import FaultRecord
from wpcluster.generator import Sample
from wpcluster.thresholds import seconds
from wpcluster.timeline import plot
from wpcluster.verdict import judge, longest_gap


def history(outage=(10.0, 14.0), length=30.0, step=0.1):
    samples, t = [], 0.0
    while t < length:
        failing = outage[0] <= t < outage[1]
        samples.append(Sample(1000 + t, 0.02, 502 if failing else 200, "" if failing else "wordpress-1@core-01",
                              "top LB", "/"))
        t += step
    return samples


def test_longest_gap_spans_the_outage():
    assert abs(longest_gap(history(), 1000, 1030) - 4.0) < 0.15


def test_judge_counts_errors_per_target_and_recovery():
    fault = FaultRecord("node-kill", "core-02", started=1008, ended=1020)
    verdict = judge(history(), fault, recovered_at=1016.5, until=1030)
    assert verdict.errors == 40 and verdict.requests == 220
    assert verdict.recovery_seconds == 8.5
    assert set(verdict.by_target) == {"top LB"}
    assert "node-kill on core-02" in verdict.summary() and "full recovery 8.5s" in verdict.summary()


def test_unrecovered_fault_says_so():
    verdict = judge(history(), FaultRecord("partition", "core-03", 1008), recovered_at=None, until=1030)
    assert "NOT RECOVERED" in verdict.summary()


def test_timeline_is_a_png(tmp_path):
    fault = FaultRecord("node-kill", "core-02", started=1008, ended=1020)
    samples = history()
    path = plot(samples, judge(samples, fault, 1016.5, 1030), tmp_path / "t.png", "node kill")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_durations():
    assert seconds("30s") == 30 and seconds("500ms") == 0.5 and seconds("2m") == 120
