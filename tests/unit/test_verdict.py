"""The failover verdict and its picture, on synthetic histories."""

import dataclasses

import pytest

from wpcluster.checks.verdict import brownout_seconds, judge, longest_gap
from wpcluster.core.history import FaultRecord, Sample
from wpcluster.report.timelines import plot


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


def test_a_bin_with_exactly_half_the_baselines_completions_is_on_the_line_not_under_it():
    # At 6.9/s a bin is 8/6.9 s wide and the line is 4 completions in it; compared as a rate, 4/width fell
    # a rounding error under 6.9/2 and a bin exactly on the line read as a brownout.
    baseline = 6.9
    width = 8 / baseline

    def bins(counts: list[int]) -> list[Sample]:
        return [Sample(1000 + (k + (j + 0.5) / count) * width - 0.05, 0.05, 200, "w@c", "top LB")
                for k, count in enumerate(counts) for j in range(count)]

    assert brownout_seconds(bins([8] * 5 + [4] + [8] * 4), 1000, 1000 + 10 * width, baseline=baseline) == 0.0
    assert brownout_seconds(bins([8] * 5 + [3] + [8] * 4), 1000, 1000 + 10 * width,
                            baseline=baseline) == round(width, 1)


def test_pages_that_take_longer_for_a_second_are_no_brownout_but_pages_later_than_a_visitor_waits_are():
    # 8 asked per second; those asked in one second take 0.9 s, the rest 0.05 s. Counted by completion,
    # the slow second's bin held almost nothing (its pages completed in the next) and read as a 1 s
    # brownout of a steady site (a clean-clone CI, etcd majority loss, bound 0 s). Counted by when they
    # were asked, it is whole; pages asked for 3 s that take longer than a visitor waits (4 s) are not.
    def asked(latency) -> list[Sample]:
        return [Sample(1000 + i / 8, latency(1000 + i / 8), 200, "w@c", "top LB") for i in range(240)]

    jitter = asked(lambda t: 0.9 if 1010 <= t < 1011 else 0.05)
    assert brownout_seconds(jitter, 1000, 1030, baseline=8.0) == 0.0
    late = asked(lambda t: 4.0 if 1010 <= t < 1013 else 0.05)
    assert brownout_seconds(late, 1000, 1030, baseline=8.0) == 3.0


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


# ---- statuses and bounds over the fault's whole span -------------------------------------------------
from wpcluster.checks.thresholds import fault_bounds  # noqa: E402
from wpcluster.checks.verdict import DEVIATED, NOT_ESTABLISHED, PASS, Deviated, NotEstablished  # noqa: E402
from wpcluster.core.shape import load_shape  # noqa: E402


def steady(start, end, rate=10.0, target="top LB", failing=(), hung=()):
    """A reader's history at ``rate`` req/s; requests started inside ``failing`` spans fail fast (502),
    inside ``hung`` spans they hang for 5 s and fail."""
    samples, t = [], start
    while t < end:
        if any(a <= t < b for a, b in hung):
            samples.append(Sample(t, 5.0, 0, "", target, "/", "ReadTimeout"))
        elif any(a <= t < b for a, b in failing):
            samples.append(Sample(t, 0.02, 502, "", target, "/"))
        else:
            samples.append(Sample(t, 0.05, 200, "w@c", target, "/"))
        t += 1 / rate
    return samples


def test_an_outage_straddling_the_heal_is_one_outage_and_deviates():
    # 30 s of nothing through a vulcand read directly (a node fault bounds its errors at the top LB
    # only), from 15 s before the heal to 15 s after it: each window alone holds 15 s (under the
    # 20 s node bound), the span holds 30.
    shape = load_shape()
    fault = FaultRecord("partition", "core-03", started=1020, ended=1060)
    samples = steady(1000, 1100, target="vulcand on core-01", hung=((1045, 1075),))
    verdict = judge(samples, fault, recovered_at=1070, until=1100, baseline_from=1000,
                    bounds=fault_bounds(shape, "partition"))
    assert verdict.windows["during"]["brownout_seconds"] <= 20 and verdict.windows["after"]["brownout_seconds"] <= 20
    assert verdict.brownout_by_target["vulcand on core-01"] >= 30
    assert verdict.status == DEVIATED and verdict.reason.startswith("brownout through vulcand on core-01")
    with pytest.raises(Deviated, match="brownout through vulcand on core-01: 3[0-9.]+s, bound 20s"):
        verdict.raise_for_status()


def test_errors_after_the_heal_are_bounded_too():
    fault = FaultRecord("packet-loss 20%", "core-02", started=1020, ended=1040)
    samples = steady(1000, 1070, failing=((1045, 1047),))  # 2 s of errors after the heal, none during
    verdict = judge(samples, fault, recovered_at=1045, until=1070, baseline_from=1000,
                    bounds=fault_bounds(load_shape(), fault.kind))
    assert verdict.windows["during"]["error_rate"] == 0
    assert verdict.status == DEVIATED and verdict.reason.startswith("error rate after through top LB")


def test_every_entry_point_is_judged_where_the_fault_bounds_all():
    fault = FaultRecord("s3-stop", "s3", started=1020, ended=1035)
    samples = [*steady(1000, 1060), *steady(1000, 1060, rate=4, target="vulcand on core-02",
                                            failing=((1025, 1027),))]
    verdict = judge(samples, fault, recovered_at=1040, until=1060, baseline_from=1000,
                    bounds=fault_bounds(load_shape(), fault.kind))
    assert [(c.bound, c.target) for c in verdict.broken] == [("error rate during", "vulcand on core-02")]


def test_recovery_is_timed_from_the_fault_start_for_every_fault():
    bounds = fault_bounds(load_shape(), "dockerd-restart")
    fault = FaultRecord("dockerd-restart", "core-02", started=1020)  # nothing heals it: TTL + 15 s
    verdict = judge(steady(1000, 1090), fault, recovered_at=1020 + 46, until=1090, baseline_from=1000, bounds=bounds)
    assert verdict.status == DEVIATED and "recovery from the fault's start through the site: 46s, bound 45s" \
        in verdict.reason
    held = FaultRecord("db-latency 20ms", "db", started=1020, ended=1035)  # held 15 s: whole 15 s after the heal
    verdict = judge(steady(1000, 1090), held, recovered_at=1049, until=1090, baseline_from=1000,
                    bounds=fault_bounds(load_shape(), held.kind))
    assert verdict.status == PASS, verdict.summary()
    assert judge(steady(1000, 1090), held, recovered_at=None, until=1090, baseline_from=1000,
                 bounds=fault_bounds(load_shape(), held.kind)).status == DEVIATED


def test_a_database_fault_fails_fast_and_is_back_within_seconds_of_the_heal():
    bounds = fault_bounds(load_shape(), "db-stop")
    fault = FaultRecord("db-stop", "db", started=1020, ended=1035)
    fast = judge(steady(1000, 1070, failing=((1020, 1036),)), fault, 1040, 1070, 1000, bounds)
    assert fast.status == PASS, fast.summary()
    slow_back = judge(steady(1000, 1070, failing=((1020, 1045),)), fault, 1046, 1070, 1000, bounds)
    assert slow_back.status == DEVIATED and slow_back.broken[0].bound == "under the brownout line after the heal"
    hangs = judge(steady(1000, 1070, hung=((1020, 1025),), failing=((1025, 1036),)), fault, 1040, 1070, 1000, bounds)
    assert hangs.status == DEVIATED and hangs.broken[0].bound == "hung requests"


def test_no_steady_baseline_is_not_established_and_never_passes():
    bounds = fault_bounds(load_shape(), "node-kill")
    fault = FaultRecord("node-kill", "core-02", started=1020)
    sick = judge(steady(1000, 1060, failing=((1005, 1008),)), fault, 1040, 1060, 1000, bounds)
    assert sick.status == NOT_ESTABLISHED and "not steady before the fault" in sick.reason
    with pytest.raises(NotEstablished, match="not steady before the fault"):
        sick.raise_for_status()
    assert not issubclass(NotEstablished, AssertionError)  # pytest reports it as an error, not a failure
    no_before = judge(steady(1020, 1060), fault, 1040, 1060, None, bounds)
    assert no_before.status == NOT_ESTABLISHED


def test_a_verdict_saved_with_its_samples_is_judged_again_the_same(tmp_path):
    from wpcluster.checks.verdict import load_samples, save_samples

    fault = FaultRecord("partition", "core-03", started=1020, ended=1060)
    samples = steady(1000, 1100, hung=((1045, 1075),))
    samples[3] = dataclasses.replace(samples[3], retried="RemoteDisconnected")
    again = load_samples(save_samples(samples, tmp_path / "s.csv"))
    assert again == [Sample(round(s.started, 3), round(s.seconds, 3), s.status, s.served_by, s.target, s.path,
                            s.error, s.retried) for s in samples]
    assert again[3].retried == "RemoteDisconnected"
    first = judge(samples, fault, 1070, 1100, 1000, fault_bounds(load_shape(), "partition"))
    second = judge(again, fault, 1070, 1100, 1000, fault_bounds(load_shape(), "partition"))
    assert (first.status, first.brownout_by_target) == (second.status, second.brownout_by_target)


def test_every_fault_of_the_catalogue_has_bounds(monkeypatch):
    from tests.unit.test_nemesis import fake_nemesis
    from wpcluster.faults.catalogue import build, catalogue

    nemesis = fake_nemesis(monkeypatch)
    for name in catalogue():
        kind = build(name, nemesis).kind  # what its record will be called, as the bounds are looked up
        assert fault_bounds(load_shape(), kind).why_recovery, kind
    with pytest.raises(ValueError, match="no bounds for the fault 'meteor'"):
        fault_bounds(load_shape(), "meteor")


def test_a_node_fault_is_whole_within_the_node_kill_goal_however_long_it_is_held():
    bounds = fault_bounds(load_shape(), "node-pause")
    assert bounds.recovery_limit(1000, 1033) == bounds.recovery_limit(1000, None) == 45
    assert fault_bounds(load_shape(), "db-stop").recovery_limit(1000, 1015) == 30


def test_a_request_in_flight_when_the_fault_begins_is_the_faults_not_the_baselines():
    # MariaDB stops at 1020: the pages in flight then fail, though they started before it.
    samples = steady(1000, 1060, failing=((1020, 1035),))
    samples += [Sample(1019.9, 0.3, 500, "", "top LB", "/"), Sample(1019.95, 0.2, 500, "", "top LB", "/")]
    fault = FaultRecord("db-stop", "db", started=1020, ended=1035)
    verdict = judge(sorted(samples, key=lambda s: s.started), fault, 1040, 1060, 1000,
                    fault_bounds(load_shape(), "db-stop"))
    assert verdict.status == PASS, verdict.summary()
    failed_from_the_fault_on = sum(1 for s in samples if not s.ok)
    assert verdict.windows["before"]["errors"] == 0
    assert verdict.windows["during"]["errors"] == failed_from_the_fault_on


def test_the_majoritys_loss_allows_fleet_its_agent_ttl_after_the_heal_and_a_partition_does_not():
    shape = load_shape()
    assert fault_bounds(shape, "etcd-majority-lost").recovery_limit(1000, 1030) == 30 + 30 + 15
    assert fault_bounds(shape, "partition") == fault_bounds(shape, "node-kill")


def every_third_read_slow(start, end, slow=(), rate=7.0):
    """The top LB's history at ``rate`` req/s, round robin over three vulcands: inside ``slow`` spans
    every third read waits the LB's first try (3.05 s) and is answered by another vulcand."""
    samples = steady(start, end, rate=rate)
    for i, s in enumerate(samples):
        if i % 3 == 0 and any(a <= s.started < b for a, b in slow):
            samples[i] = Sample(s.started, 3.05, 200, "w@c", "top LB", "/")
    return samples


def test_an_lb_that_keeps_a_frozen_vulcand_reads_slowly_for_the_whole_fault_and_deviates():
    # No error and no brownout: every read is answered, a third of them after 3 s, as long as the
    # node is frozen (the LB's checks blind to it). Only the slow-read bound sees it.
    bounds = fault_bounds(load_shape(), "node-pause")
    fault = FaultRecord("node-pause", "core-02", started=1020, ended=1045)
    verdict = judge(every_third_read_slow(1000, 1070, slow=((1020, 1045),)), fault, recovered_at=1050, until=1070,
                    baseline_from=1000, bounds=bounds)
    assert verdict.windows["during"]["error_rate"] == 0 and verdict.brownout_seconds == 0
    assert verdict.slow_stretch_by_target["top LB"] >= 24
    assert [c.bound for c in verdict.broken] == ["slow reads (over 3s)"], verdict.summary()
    with pytest.raises(Deviated, match=r"slow reads \(over 3s\) through top LB: 2[0-9.]+s, bound 5s"):
        verdict.raise_for_status()


def test_slow_reads_until_the_lb_takes_a_frozen_vulcand_out_pass():
    # Slow reads for the 2 s the quarantine takes, and one more at the resume: two short stretches.
    fault = FaultRecord("node-pause", "core-02", started=1020, ended=1045)
    samples = every_third_read_slow(1000, 1070, slow=((1020, 1022), (1045, 1046)))
    verdict = judge(samples, fault, recovered_at=1050, until=1070, baseline_from=1000,
                    bounds=fault_bounds(load_shape(), "node-pause"))
    assert verdict.status == PASS and verdict.slow_stretch_by_target["top LB"] < 2.5, verdict.summary()
