"""The harness's etcd client fails over from a dead member after one try, not four."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from wpcluster.clients.etcd import keys_client


@pytest.fixture
def dead_member():
    """A member that accepts connections and never answers (a frozen node): counts the connections."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    server.close()
    for conn in accepted:
        conn.close()


@pytest.fixture
def live_member(dead_member):
    """A member that answers: its machine list names the dead member too, as etcd's would."""
    dead_url = dead_member[0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.startswith("/v2/machines"):
                body = f"{dead_url}, http://127.0.0.1:{self.server.server_address[1]}".encode()
            elif self.path.startswith("/version"):
                body = json.dumps({"etcdserver": "2.3.8", "etcdcluster": "2.3.0"}).encode()
            else:
                body = json.dumps({"action": "get", "node": {"key": "/x", "value": "1", "modifiedIndex": 7,
                                                             "createdIndex": 7}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Etcd-Index", "7")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_dead_member_costs_one_try_before_failing_over(live_member, dead_member):
    dead_url, accepted = dead_member
    client = keys_client([live_member, dead_url], timeout=0.5)
    # The member the client was using has just died; the live one is next in its list.
    client._base_uri, client._machines_cache = dead_url, [live_member]
    started = time.monotonic()
    assert client.read("/x").value == "1"
    assert len(accepted) == 1, f"the dead member was tried {len(accepted)} times before failing over"
    assert time.monotonic() - started < 1.5
