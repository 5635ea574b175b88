"""The failover verdict and its picture, on synthetic histories."""

from wpcluster.faults import FaultRecord
from wpcluster.generator import Sample
from wpcluster.thresholds import seconds
from wpcluster.timeline import plot
from wpcluster.verdict import brownout_seconds, judge, longest_gap


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


def test_windows_measure_goodput_against_the_baseline_and_a_hang_is_a_brownout():
    # 10 req/s for 30 s; from 12 s to 19 s every request hangs for 4 s and fails: no error is
    # returned before 16 s, yet nothing succeeds from 12 s to 19 s.
    samples = []
    for i in range(300):
        t = 1000 + i * 0.1
        hung = 1012 <= t < 1019
        samples.append(Sample(t, 4.0 if hung else 0.02, 0 if hung else 200, "" if hung else "wordpress-1@core-01",
                              "top LB", "/"))
    fault = FaultRecord("partition", "core-03", started=1011, ended=1020)
    verdict = judge(samples, fault, recovered_at=1022, until=1030, baseline_from=1000)
    before, during, after = (verdict.windows[w] for w in ("before", "during", "after"))
    assert before["goodput_ratio"] == 1.0 and before["error_rate"] == 0
    assert during["goodput_ratio"] < 0.3 and during["p95_ms"] == 4000.0
    assert after["goodput_ratio"] >= 0.95
    assert 7 <= verdict.brownout_seconds <= 8, verdict.brownout_seconds
    assert set(during["by_target"]) == {"top LB"} and "brownout" in verdict.summary()


def test_brownout_ignores_a_dip_above_the_fraction():
    samples = [Sample(1000 + i * 0.1, 0.02, 200 if i % 3 else 502, "w@c", "top LB") for i in range(200)]
    assert brownout_seconds(samples, 1000, 1020, baseline=10.0) == 0.0


def test_timeline_shades_the_three_windows(tmp_path):
    fault = FaultRecord("node-kill", "core-02", started=1012, ended=1020)
    samples = history()
    verdict = judge(samples, fault, 1022, 1030, baseline_from=1000)
    path = plot(samples, verdict, tmp_path / "w.png", "node kill, windows")
    assert path.stat().st_size > 10_000 and set(verdict.windows) == {"before", "during", "after"}


def test_a_window_ending_inside_a_bin_is_no_brownout():
    # Steady service; the window ends 0.2 s, then 0.6 s, into its last second: a part-bin has had no
    # time to complete its requests and is not judged, so there is no brownout in either.
    samples = [Sample(1000 + i * 0.1, 0.05, 200, "w@c", "top LB") for i in range(400)]
    assert brownout_seconds(samples, 1000, 1010.2, baseline=10.0) == 0.0
    assert brownout_seconds(samples, 1000, 1010.6, baseline=10.0) == 0.0


def test_a_hung_request_counts_as_hung_and_in_the_windows():
    ok = [Sample(1000 + i * 0.1, 0.05, 200, "w@c", "top LB") for i in range(100)]
    hung = [Sample(1010 + i * 0.1, 5.0, 0, "", "top LB", "/", "ReadTimeout") for i in range(20)]
    refused = [Sample(1012 + i * 0.1, 0.01, 0, "", "top LB", "/", "ConnectionError") for i in range(20)]
    fault = FaultRecord("db-pause", "db", started=1010, ended=1014)
    verdict = judge([*ok, *hung, *refused], fault, recovered_at=1014, until=1015, baseline_from=1000)
    assert verdict.windows["during"]["hung"] == 20 and verdict.windows["before"]["hung"] == 0


def test_a_slowly_read_entry_point_gets_bins_wide_enough_for_its_noise():
    # 4 req/s, one second in three with a single success (a 1 s bin would call it a brownout): at
    # 2 s bins (8 successes expected) the dips average out; a real 6 s outage is still found.
    samples = []
    for i in range(120):
        t = 1000 + i * 0.25
        dip = int(t) % 3 == 0 and i % 4
        out = 1020 <= t < 1026
        samples.append(Sample(t, 0.05, 502 if dip or out else 200, "w@c", "vulcand on core-01"))
    assert brownout_seconds(samples[:80], 1000, 1020, baseline=4.0) == 0.0
    assert brownout_seconds(samples, 1000, 1030, baseline=4.0) == 6.0
