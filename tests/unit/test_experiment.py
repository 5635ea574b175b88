"""One experiment, one history: the steady gate before each fault, and each fault judged on its slice."""

from __future__ import annotations

import time

import pytest

from tests.unit.test_verdict import steady
from wpcluster.checks.verdict import DEVIATED, PASS, NotEstablished
from wpcluster.core.history import FaultRecord
from wpcluster.core.shape import load_shape
from wpcluster.load.experiment import STEADY_REQUESTS, Experiment, Trial, last_recovery_miss


def fed(*histories) -> Experiment:
    """An experiment whose requests come from elsewhere (as Locust's do), fed ``histories``."""
    experiment = Experiment({"top LB": "http://lb", "vulcand on core-01": "http://v1"}, "site", None, load_shape())
    for samples in histories:
        for s in samples:
            experiment.history.add(s)
    return experiment


def test_a_fault_waits_only_for_the_last_requests_of_every_judged_entry_point():
    lb = steady(1000, 1030)
    vulcand = steady(1000, 1030, rate=4, target="vulcand on core-01", failing=((1000, 1020),))
    experiment = fed(lb, vulcand)
    since = experiment.history.steady_since(["top LB", "vulcand on core-01"])
    assert since == pytest.approx(1030 - STEADY_REQUESTS / 4, abs=0.3)  # the slower entry point's window
    assert experiment.history.steady_since(["top LB"]) == pytest.approx(1030 - STEADY_REQUESTS / 10, abs=0.2)
    unsteady = fed(steady(1000, 1030, failing=((1028, 1029),)))
    assert unsteady.history.steady_since(["top LB"]) is None
    with pytest.raises(NotEstablished, match=r"top LB 1[0-9]/20 ok \(502\); nothing was injected"):
        unsteady.wait_steady(["top LB"], within=0.3)


def test_the_before_window_is_clean_on_every_entry_point_not_only_in_each_ones_last_requests():
    # The vulcand's last 20 reach back 5 s; the top LB failed 4 s back, before its own last 20 began.
    lb = steady(1000, 1030, failing=((1026, 1026.2),))
    vulcand = steady(1000, 1030, rate=4, target="vulcand on core-01")
    assert fed(lb).history.steady_since(["top LB"]) is not None
    assert fed(lb, vulcand).history.steady_since(["top LB", "vulcand on core-01"]) is None
    later = fed(lb, vulcand, steady(1030, 1040), steady(1030, 1040, rate=4, target="vulcand on core-01"))
    assert later.history.steady_since(["top LB", "vulcand on core-01"]) == pytest.approx(1040 - 20 / 4, abs=0.3)


def test_faults_one_after_another_are_judged_each_on_their_own_slice_of_one_history():
    # One history: a 30 s outage through the vulcand in the second fault's span only.
    history = [*steady(1000, 1200), *steady(1000, 1200, rate=4, target="vulcand on core-01",
                                               hung=((1130, 1160),))]
    experiment = fed(history)
    first = Trial(["top LB", "vulcand on core-01"], baseline_from=1010,
                  fault=FaultRecord("node-pause", "core-02", 1020, 1050), recovered_at=1055, until=1070)
    second = Trial(["top LB", "vulcand on core-01"], baseline_from=1080,
                   fault=FaultRecord("node-pause", "core-02", 1100, 1140), recovered_at=1142, until=1190)
    spared = Trial(["top LB"], baseline_from=1080,  # the vulcand on the victim's node is not judged
                   fault=FaultRecord("node-pause", "core-01", 1100, 1140), recovered_at=1142, until=1190)
    assert experiment.judge(first).status == PASS
    assert experiment.judge(second).status == DEVIATED
    assert second.verdict.broken[0].target == "vulcand on core-01"
    assert experiment.judge(spared).status == PASS and set(spared.verdict.by_target) == {"top LB"}


def test_no_fault_is_injected_while_a_request_is_held(tmp_path):
    """A request still waiting for its answer may yet fail before the fault: the gate waits for it."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            time.sleep(3 if self.path == "/held" else 0)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    experiment = Experiment({"top LB": f"http://127.0.0.1:{server.server_port}"}, "site", {"top LB": 20.0},
                            load_shape())
    experiment.reader.paths = ("/held",) + ("/",) * 199  # the first request is held 3 s, every other answered
    try:
        experiment.start()
        time.sleep(2.1)
        assert experiment.history.steady_since(["top LB"]) is not None  # its last 20 answers all succeeded
        with pytest.raises(NotEstablished):
            experiment.wait_steady(["top LB"], within=0.5)  # ... but one request has waited over 2 s
        assert experiment.wait_steady(["top LB"], within=3) > 0  # answered: steady
    finally:
        experiment.stop()
        server.shutdown()


def test_the_after_window_lasts_until_every_judged_entry_point_answered_a_before_windows_worth():
    trial = Trial(["top LB", "vulcand on core-01"], baseline_from=1010,
                  fault=FaultRecord("node-pause", "core-02", 1020, 1050), recovered_at=1055)
    enough = fed(steady(1000, 1062), steady(1000, 1062, rate=4, target="vulcand on core-01"))
    started = time.monotonic()
    enough.read_after(trial, within=5)
    assert time.monotonic() - started < 1  # 28 requests of the vulcand's begun after the recovery
    short = fed(steady(1000, 1062), steady(1000, 1058, rate=4, target="vulcand on core-01"))
    started = time.monotonic()
    short.read_after(trial, within=0.5)  # 12 of the vulcand's: the window runs out, the verdict judges those
    assert 0.5 <= time.monotonic() - started < 2


def test_a_slow_recovery_names_what_its_last_failed_check_saw():
    experiment = Experiment({"top LB": "http://lb"}, "site", None, load_shape())
    trial = Trial(["top LB"], time.time() - 10, fault=FaultRecord("node-kill", "core-01", time.time() - 5))
    answers = iter([AssertionError("units not running on live machines: ['wordpress@3.service not scheduled']"),
                    AssertionError("wrong URL for core-02.wordpress-3"), True])

    def whole() -> bool:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    experiment.recover(trial, whole, within=10)
    assert trial.recovered_at is not None and len(trial.recovery_misses) == 2
    assert "2 recovery check(s) failed" in last_recovery_miss(trial)
    assert "saw: AssertionError: wrong URL for core-02.wordpress-3" in last_recovery_miss(trial)
