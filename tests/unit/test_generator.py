"""The readers are an open model: a steady rate whatever the server does, and a hang is told from a refusal."""

import http.server
import threading
import time

import pytest

from wpcluster.generator import Reader


class _Site(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path.startswith("/hang"):
            time.sleep(1.0)  # longer than the readers' timeout
        self.send_response(200)
        self.send_header("X-Served-By", "wordpress-1@core-01")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def site():
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


def test_every_target_needs_a_rate():
    with pytest.raises(ValueError, match="no rate for targets"):
        Reader({"lb": "http://x", "v": "http://y"}, "h", {"lb": 1.0})
