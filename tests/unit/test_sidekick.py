"""The sidekick's decisions: which containers are the site's, what to register, what to remove."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.unit.sidekick_modules import sidekick


def container(name, port=None, state="running"):
    ports = [{"PrivatePort": 80, "PublicPort": port, "Type": "tcp"}] if port else [{"PrivatePort": 80}]
    return {"Names": [f"/{name}"], "State": state, "Ports": ports}


def test_only_site_containers_belong_to_a_backend():
    assert sidekick.site_backend("wordpress-1") == "wordpress"
    assert sidekick.site_backend("wordpress-12") == "wordpress"
    assert sidekick.site_backend("wordpress-admin") == "wordpressadmin"
    for other in ("vulcan-1", "discovery-2", "wordpress", "wordpress-x", "my-wordpress-1", "hello"):
        assert sidekick.site_backend(other) is None, other


def test_desired_servers_use_the_node_ip_and_published_port():
    running = [container("wordpress-1", 32768), container("wordpress-admin", 32769),
               container("vulcan-1", 8000), container("wordpress-2"), container("wordpress-3", 32770, "exited")]
    assert sidekick.desired_servers(running, "core-02", "172.30.8.102") == {
        ("wordpress", "core-02.wordpress-1"): "http://172.30.8.102:32768",
        ("wordpressadmin", "core-02.wordpress-admin"): "http://172.30.8.102:32769",
    }


def test_plan_removes_only_this_nodes_stale_servers():
    wanted = {("wordpress", "core-01.wordpress-1"): "http://a:1"}
    registered = {
        ("wordpress", "core-01.wordpress-1"): "http://a:1",
        ("wordpress", "core-01.wordpress-4"): "http://a:4",  # ours, gone: remove
        ("wordpress", "core-02.wordpress-2"): "http://b:2",  # another node's: leave
    }
    writes, stale = sidekick.plan(wanted, registered, "core-01")
    assert writes == wanted
    assert stale == [("wordpress", "core-01.wordpress-4")]


def admin_pattern():
    import re

    route = sidekick.FRONTENDS["wordpressadmin"]["Route"]
    return re.compile(re.fullmatch(r"PathRegexp\(`(.*)`\)", route).group(1))


def test_admin_route_takes_the_admin_doors_in_every_form_apache_serves():
    pattern = admin_pattern()
    for path in ("/wp-admin", "/wp-admin/", "/wp-admin/edit.php", "/wp-login.php", "/wp-login.php/", "/xmlrpc.php",
                 "/wp-cron.php", "//wp-admin/", "///wp-login.php", "/wp-%61dmin/", "/wp-ad%6Din/", "/wp%2dadmin/",
                 "/wp-login%2ephp", "/./wp-admin/", "/x/../wp-admin/", "/%2e/wp-admin/", "/wp-admin/%2E%2E/x"):
        assert pattern.search(path), path
    for path in ("/", "/wp-adminx/", "/blog/wp-admin/", "/wp-login.phpx", "/hello-world/", "/WP-ADMIN/",
                 "/wp-includes/js/jquery.js", "/wp-content/uploads/a.png", "/a.b/", "/...", "/wp-json/wp/v2/posts"):
        assert not pattern.search(path), path
    assert sidekick.FRONTENDS["wordpressadmin"]["BackendId"] == "wordpressadmin"
    assert sidekick.FRONTENDS["wordpresswrites"]["BackendId"] == "wordpressadmin"
    assert sidekick.FRONTENDS["wordpress"]["BackendId"] == "wordpress"


def test_writes_and_the_admin_route_are_tried_before_the_catch_all():
    # vulcand v0.9.2 tries routes in reverse byte order of their text; a Method(...) route would sort last.
    routes = sorted((f["Route"] for f in sidekick.FRONTENDS.values()), reverse=True)
    assert routes[-1] == sidekick.FRONTENDS["wordpress"]["Route"]


class _Reply:
    def __init__(self, status, body=None):
        self.status_code, self._body, self.text = status, body or {}, ""

    def json(self):
        return self._body


class _EtcdKeys:
    """etcd's v2 keys API as the sidekick's requests session sees it: GET and PUT of plain keys."""

    def __init__(self):
        self.values, self.puts = {}, []

    def request(self, method, url, timeout=None, data=None, params=None):
        key = url.split("/v2/keys/", 1)[1]
        if method == "GET":
            if key not in self.values:
                return _Reply(404)
            return _Reply(200, {"node": {"key": f"/{key}", "value": self.values[key]}})
        self.puts.append(key)
        self.values[key] = data["value"]
        return _Reply(201)


def test_routes_are_written_once_and_not_again_while_unchanged():
    etcd = sidekick.Etcd(["http://etcd"])
    etcd.session = _EtcdKeys()
    car = sidekick.Sidekick("core-01", "10.0.0.1", etcd, docker=None)
    car.ensure_routes()
    first = list(etcd.session.puts)
    assert first, "no route was written to an empty etcd"
    car.ensure_routes()
    assert etcd.session.puts == first, "routes that had not changed were written again"
    changed = first[-1]
    etcd.session.values[changed] = "{}"  # someone else's value: the sidekick puts its own back
    car.ensure_routes()
    assert etcd.session.puts == [*first, changed]


class _Probe:
    """A container's first page: it answers once ``serving`` is set; every call is counted."""

    def __init__(self):
        self.serving, self.calls = threading.Event(), []

    def __call__(self, url):
        self.calls.append(url)
        return self.serving.is_set()


def _warm_up(probe, limit=30.0):
    ready = threading.Event()
    reasons = []

    def on_ready(reason):
        reasons.append(reason)
        ready.set()

    return sidekick.WarmUp(probe, on_ready, limit=limit, retry_every=0.01), ready, reasons


SERVER = ("wordpress", "core-01.wordpress-1")


def test_a_new_server_is_registered_only_once_it_has_answered():
    probe = _Probe()
    warmup, ready, reasons = _warm_up(probe)
    assert warmup.admit({SERVER: "http://a:1"}, {}) == {}, "a server that never answered was let in"
    assert warmup.admit({SERVER: "http://a:1"}, {}) == {}
    probe.serving.set()
    assert ready.wait(5), "the warm-up never reported the server ready"
    assert "core-01.wordpress-1 answered" in reasons[0]
    assert warmup.admit({SERVER: "http://a:1"}, {}) == {SERVER: "http://a:1"}
    assert set(probe.calls) == {"http://a:1"}


def test_a_server_etcd_holds_at_the_same_url_is_not_held_back():
    probe = _Probe()
    warmup, _, _ = _warm_up(probe)
    assert warmup.admit({SERVER: "http://a:1"}, {SERVER: "http://a:1"}) == {SERVER: "http://a:1"}
    assert probe.calls == []
    # The same container name at a new port (a restarted container) must answer first.
    assert warmup.admit({SERVER: "http://a:2"}, {SERVER: "http://a:1"}) == {}


def test_a_server_that_never_answers_is_let_in_after_the_limit():
    probe = _Probe()
    warmup, ready, reasons = _warm_up(probe, limit=0.2)
    assert warmup.admit({SERVER: "http://a:1"}, {}) == {}
    assert ready.wait(5)
    assert "not answering" in reasons[0]
    assert len(probe.calls) > 1, "the probe was not retried before the limit"
    assert warmup.admit({SERVER: "http://a:1"}, {}) == {SERVER: "http://a:1"}


def test_a_server_that_left_must_answer_again_when_its_url_comes_back():
    probe = _Probe()
    warmup, _, _ = _warm_up(probe)
    assert warmup.admit({SERVER: "http://a:1"}, {SERVER: "http://a:1"}) == {SERVER: "http://a:1"}
    assert warmup.admit({}, {}) == {}
    assert warmup.admit({SERVER: "http://a:1"}, {}) == {}, "a new container at a reused port skipped the gate"


def test_after_a_quarantine_a_server_goes_back_only_after_quick_pages_in_a_row():
    """A node quarantined for slow pages must serve quick ones again, several in a row, not just answer."""
    slow_pages = threading.Semaphore(0)  # how many slow answers the probe has given
    state = {"slow": True, "calls": 0}

    def probe(url):
        state["calls"] += 1
        if state["slow"]:
            time.sleep(0.05)
            slow_pages.release()
        return True

    warmup, ready, reasons = _warm_up(probe)
    warmup.quick_within = 0.03
    warmup.after_quarantine = True
    assert warmup.admit({}, {}) == {}, "the node, quarantined, wants no server"
    assert warmup.admit({SERVER: "http://a:1"}, {}) == {}
    for _ in range(warmup.quick_rounds + 1):
        assert slow_pages.acquire(timeout=5), "the warm-up stopped probing"
    assert not ready.is_set(), "a server whose pages answer slowly went back after a quarantine"
    state["slow"] = False
    assert ready.wait(5), "quick pages never let the server back"
    assert f"{warmup.quick_rounds} pages in a row" in reasons[0]
    assert warmup.admit({SERVER: "http://a:1"}, {}) == {SERVER: "http://a:1"}
    assert not warmup.after_quarantine, "the stricter gate outlived the servers it was for"
    ready.clear()
    before = state["calls"]
    warmup.admit({SERVER: "http://a:2"}, {})
    assert ready.wait(5), "a restarted server was never let in"
    assert state["calls"] == before + 1, "a plain restart was held to the stricter gate"


class _Docker:
    def __init__(self, containers):
        self.containers = containers

    def running(self):
        return self.containers


class _EtcdServers:
    """The Etcd calls reconcile makes, on a dict of server keys."""

    def __init__(self):
        self.keys, self.written = {}, threading.Event()

    def servers(self, prefix):
        return {(k.split("/")[2], k.split("/")[4]): json.loads(v)["URL"] for k, v in self.keys.items()}

    def refresh(self, key, ttl, timeout=None):
        return key in self.keys

    def put(self, key, value, ttl=None):
        self.keys[key] = value
        self.written.set()

    def delete(self, key):
        self.keys.pop(key, None)


def test_reconcile_writes_a_new_container_after_its_warm_up_and_not_before():
    probe = _Probe()
    etcd = _EtcdServers()
    car = sidekick.Sidekick("core-01", "10.0.0.1", etcd, _Docker([container("wordpress-1", 32768)]), probe=probe)
    car.reconcile("start")
    assert etcd.keys == {}, "registered before the container answered"
    probe.serving.set()
    assert etcd.written.wait(5), "the warm-up never registered the container"
    assert list(etcd.keys) == ["vulcand/backends/wordpress/servers/core-01.wordpress-1"]
    assert probe.calls[0] == "http://10.0.0.1:32768"


def test_a_quarantined_node_registers_nothing_and_the_others_evict_its_servers():
    etcd = _EtcdServers()
    etcd.keys = {"vulcand/backends/wordpress/servers/core-01.wordpress-1": json.dumps({"URL": "http://10.0.0.1:1"}),
                 "vulcand/backends/wordpress/servers/core-02.wordpress-2": json.dumps({"URL": "http://10.0.0.2:2"})}
    docker = _Docker([container("wordpress-1", 1)])
    owner = sidekick.Sidekick("core-01", "10.0.0.1", etcd, docker, probe=lambda url: True)
    peer = sidekick.Sidekick("core-02", "10.0.0.2", etcd, _Docker([container("wordpress-2", 2)]),
                             probe=lambda url: True)
    owner.on_quarantine("core-01")
    assert "vulcand/backends/wordpress/servers/core-01.wordpress-1" not in etcd.keys
    owner.reconcile("periodic")
    assert "vulcand/backends/wordpress/servers/core-01.wordpress-1" not in etcd.keys, "re-registered in quarantine"
    etcd.keys["vulcand/backends/wordpress/servers/core-01.wordpress-1"] = json.dumps({"URL": "http://10.0.0.1:1"})
    peer.on_quarantine("core-01")
    assert list(etcd.keys) == ["vulcand/backends/wordpress/servers/core-02.wordpress-2"], "the peer evicted nothing"
    etcd.written.clear()
    owner.on_quarantine(None)
    assert etcd.written.wait(5), "the quarantine lifted and the owner registered nothing"
    assert "vulcand/backends/wordpress/servers/core-01.wordpress-1" in etcd.keys


def test_a_quarantine_first_heard_from_etcd_still_brings_the_servers_back_through_the_stricter_warm_up():
    """The heartbeat may learn of the quarantine before the detector's round does."""
    heard = {"quarantined": True}
    calls = []
    etcd = _EtcdServers()
    car = sidekick.Sidekick("core-02", "10.0.0.2", etcd, _Docker([container("wordpress-2", 2)]),
                            probe=lambda url: calls.append(url) or True,
                            quarantined_now=lambda: heard["quarantined"])
    car.reconcile("periodic")
    assert car.quarantined
    car.on_quarantine("core-02")
    heard["quarantined"] = False
    car.on_quarantine(None)
    assert etcd.written.wait(5), "the quarantine lifted and nothing was registered"
    assert len(calls) == car.warmup.quick_rounds, f"the lifted node's server went back after {len(calls)} page(s)"


def test_a_node_resumed_in_quarantine_does_not_write_its_evicted_keys_again():
    etcd = _EtcdServers()
    car = sidekick.Sidekick("core-02", "10.0.0.2", etcd, _Docker([container("wordpress-2", 2)]),
                            probe=lambda url: True, quarantined_now=lambda: True)
    car.registered = {("wordpress", "core-02.wordpress-2"): "http://10.0.0.2:2"}  # as before the freeze
    car.beat()
    assert etcd.keys == {}, "the heartbeat wrote back a key its peers had evicted"
    car.reconcile("periodic")
    assert etcd.keys == {}, "the periodic reconcile wrote back a key its peers had evicted"


def test_a_key_etcd_lets_expire_while_its_container_runs_is_written_back_at_once():
    etcd = _EtcdServers()
    car = sidekick.Sidekick("core-01", "10.0.0.1", etcd, _Docker([]), probe=lambda url: True)
    car.registered = {("wordpress", "core-01.wordpress-1"): "http://10.0.0.1:1"}
    expired = {"action": "expire", "node": {"key": "/vulcand/backends/wordpress/servers/core-01.wordpress-1",
                                            "modifiedIndex": 42}}
    assert car.on_change(expired) == 42
    assert json.loads(etcd.keys["vulcand/backends/wordpress/servers/core-01.wordpress-1"]) == {"URL": "http://10.0.0.1:1"}
    others = {"action": "expire", "node": {"key": "/vulcand/backends/wordpress/servers/core-02.wordpress-2",
                                           "modifiedIndex": 43}}
    car.on_change(others)
    assert "vulcand/backends/wordpress/servers/core-02.wordpress-2" not in etcd.keys, "wrote back a peer's key"
    etcd.keys.clear()
    car.quarantined = True
    car.on_change(expired)
    assert etcd.keys == {}, "wrote back a key while its node is quarantined"


class _Member:
    """A session whose members time out until ``lands_after`` seconds have passed (a frozen leader's
    election), recording which endpoint each try went to."""

    def __init__(self, lands_after: float) -> None:
        self.started, self.lands_after, self.tries = time.monotonic(), lands_after, []

    def request(self, method, url, timeout, **kwargs):
        self.tries.append(url.split("/v2/")[0])
        if time.monotonic() - self.started < self.lands_after:
            raise sidekick.requests.ReadTimeout("lost with the leader")
        reply = sidekick.requests.Response()
        reply.status_code = 201
        return reply


def test_a_patient_client_tries_its_endpoints_again_until_a_write_lands():
    etcd = sidekick.Etcd(["http://own:2379", "http://other:2379"], timeout=0.05, patience=2)
    etcd.session = _Member(lands_after=0.2)
    etcd.put("k", "v")
    assert len(etcd.session.tries) > 2, "the write was not sent again after every endpoint had failed it"
    impatient = sidekick.Etcd(["http://own:2379", "http://other:2379"], timeout=0.05)
    impatient.session = _Member(lands_after=10)
    with pytest.raises(RuntimeError, match="no etcd endpoint accepted PUT k"):
        impatient.put("k", "v")
    assert impatient.session.tries == ["http://own:2379", "http://other:2379"]


def test_endpoints_on_shunned_hosts_are_tried_last_and_each_endpoint_once_a_round():
    etcd = sidekick.Etcd(["http://10.0.0.3:2379", "http://10.0.0.1:2379", "http://10.0.0.2:2379",
                          "http://10.0.0.3:2379"], timeout=0.05)
    etcd.session = _Member(lands_after=10)
    etcd.shun({"10.0.0.1"})
    with pytest.raises(RuntimeError):
        etcd.put("k", "v")
    assert etcd.session.tries == ["http://10.0.0.3:2379", "http://10.0.0.2:2379", "http://10.0.0.1:2379"]
