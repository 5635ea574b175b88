"""The readers are an open model: a steady rate whatever the server does, and a hang is told from a refusal."""

import collections
import http.server
import threading
import time

import pytest

from wpcluster.faults import BANDWIDTH_CAP_KBIT, bandwidth_cap
from wpcluster.load.generator import (
    LB_RATE,
    LOAD_SHARE,
    VULCAND_RATE,
    CapacityError,
    Reader,
    measure_capacity,
    steady_load,
)


class _Site(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps connections alive, as vulcand does
    answered = 0  # on this connection (one handler per connection)
    received: collections.Counter = collections.Counter()  # requests per path, every connection

    def do_GET(self):  # noqa: N802 - http.server's name
        _Site.received[self.path] += 1
        if self.path.startswith("/hang"):
            time.sleep(1.0)  # longer than the readers' timeout
        # Like vulcand's old mux at a reload: a request on a kept-alive connection is read, then the
        # connection closed without an answer (/closes-kept), or every request is (/closes-all).
        if self.path.startswith("/closes-all") or (self.path.startswith("/closes-kept") and self.answered):
            self.close_connection = True
            return
        self.answered += 1
        self.send_response(200)
        self.send_header("X-Served-By", "wordpress-1@core-01")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
    _Site.received.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run(reader: Reader, seconds: float):
    reader.start()
    reader.read_until(time.time() + seconds)
    return reader.stop()


def test_hung_requests_do_not_slow_the_offered_rate(site):
    # A closed-loop reader would send one request per timeout (2 in 1 s); the open model sends 20/s.
    reader = Reader({"lb": site}, "wordpress.local", {"lb": 20.0}, timeout=0.3, paths=("/hang",))
    samples = run(reader, 1.0)
    assert 12 <= len(samples) <= 25, f"{len(samples)} requests in 1 s at 20/s"
    assert all(s.hung and not s.ok for s in samples)


def test_each_target_gets_its_own_rate_and_answers_are_recorded(site):
    reader = Reader({"lb": site, "v": site}, "wordpress.local", {"lb": 20.0, "v": 5.0}, paths=("/",))
    samples = run(reader, 1.0)
    by_target = {t: [s for s in samples if s.target == t] for t in ("lb", "v")}
    assert 12 <= len(by_target["lb"]) <= 25 and 3 <= len(by_target["v"]) <= 7
    assert all(s.ok and not s.hung and s.served_by == "wordpress-1@core-01" for s in samples)


def test_a_refused_connection_is_an_error_but_not_a_hang():
    reader = Reader({"lb": "http://127.0.0.1:9"}, "wordpress.local", {"lb": 10.0})
    samples = run(reader, 0.5)
    assert samples and all(not s.ok and not s.hung and s.error == "ConnectionError" for s in samples)


def test_a_read_whose_kept_alive_connection_closes_unanswered_is_sent_again_as_a_browser_does(site):
    reader = Reader({"lb": site}, "wordpress.local", {"lb": 10.0}, paths=("/closes-kept",))
    samples = run(reader, 1.0)
    assert samples and all(s.ok for s in samples), [s.error for s in samples if not s.ok]
    assert any(s.retried == "RemoteDisconnected" for s in samples), "no read crossed a closing kept-alive connection"


def test_a_new_connection_closed_unanswered_is_an_error_not_sent_again(site):
    reader = Reader({"lb": site}, "wordpress.local", {"lb": 10.0}, paths=("/closes-all",))
    samples = run(reader, 0.5)
    assert samples and all(not s.ok and s.error == "ConnectionError" and not s.retried for s in samples)
    # A second try that failed too would leave the same samples: the server counts what it was sent.
    assert _Site.received["/closes-all"] == len(samples), "a read on a new connection was sent again"


def test_every_target_needs_a_rate():
    with pytest.raises(ValueError, match="no rate for targets"):
        Reader({"lb": "http://x", "v": "http://y"}, "h", {"lb": 1.0})


def test_readers_keep_their_full_rates_on_a_machine_with_room():
    load = steady_load(capacity=100.0, vulcands=3)
    assert (load.lb_rate, load.vulcand_rate, load.scale) == (LB_RATE, VULCAND_RATE, 1.0)
    rates = load.rates(["top LB", "vulcand on core-01"], "top LB")
    assert rates == {"top LB": LB_RATE, "vulcand on core-01": VULCAND_RATE}


def test_readers_slow_down_to_their_share_of_a_small_machine():
    load = steady_load(capacity=24.0, vulcands=3)
    offered = load.lb_rate + 3 * load.vulcand_rate
    assert offered == pytest.approx(LOAD_SHARE * 24.0, abs=0.05)
    assert load.lb_rate / load.vulcand_rate == pytest.approx(LB_RATE / VULCAND_RATE, rel=0.01)


def test_a_machine_too_small_to_judge_on_is_refused_with_the_fix():
    with pytest.raises(CapacityError, match=r"serves only 5.0 requests/s .* free the machine's cores"):
        steady_load(capacity=5.0, vulcands=3)


def test_capacity_is_what_the_site_served_in_a_closed_loop(site):
    # The handler answers at once, so even a slow test machine serves far more than one request/s.
    assert measure_capacity(site, "wordpress.local", ("/", "/a"), seconds=0.5, workers=2) > 20


def test_the_bandwidth_cap_scales_with_the_readers_so_the_link_stays_as_overfilled():
    assert bandwidth_cap() == f"{BANDWIDTH_CAP_KBIT}kbit"
    assert bandwidth_cap(0.473) == f"{round(BANDWIDTH_CAP_KBIT * 0.473)}kbit"


def test_a_body_that_stops_arriving_is_a_hang_not_a_refusal():
    import requests
    import urllib3

    from wpcluster.core.history import Sample
    from wpcluster.load.generator import failure_name

    stalled = requests.ConnectionError(urllib3.exceptions.ReadTimeoutError(None, "/", "Read timed out."))
    assert failure_name(stalled) == "ReadTimeout"
    assert Sample(0, 5.2, 0, "", error=failure_name(stalled)).hung
    assert failure_name(requests.ConnectionError("Connection refused")) == "ConnectionError"


def test_a_held_target_gets_no_requests_until_released(site):
    reader = Reader({"lb": site, "v": site}, "wordpress.local", {"lb": 20.0, "v": 20.0}, paths=("/",))
    reader.hold({"v"})
    reader.start()
    reader.read_until(time.time() + 0.5)
    released = time.time()
    reader.release()
    reader.read_until(time.time() + 0.5)
    samples = reader.stop()
    to_v = [s for s in samples if s.target == "v"]
    assert to_v and all(s.started >= released for s in to_v), "a held target got requests, or none once released"
    assert 15 <= len([s for s in samples if s.target == "lb"]) <= 25, "holding one target slowed another"
