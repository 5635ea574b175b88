"""The discovery sidekick: registers this node's WordPress containers as vulcand servers.

One runs on every node (discovery.service, a global unit). It watches the node's Docker
events and reconciles on a period as well, so a missed event is repaired:

* every running ``wordpress-N`` container is a server of backend ``wordpress``,
  the ``wordpress-admin`` container a server of backend ``wordpressadmin``,
  each at ``http://<node ip>:<host port published for 80/tcp>``;
* server keys carry an etcd TTL that a heartbeat keeps alive, so the servers
  of a node that dies (or whose sidekick stops) expire by themselves;
* a new container is registered only once it has answered a first request of the home page
  (the warm-up gate): until then vulcand would send users to an Apache that is not listening yet
  or to PHP compiling WordPress for the first time;
* a container that stops or dies is deregistered at once;
* on start, servers registered for this node that no longer run are removed;
* a node its peers find frozen or too slow to answer is quarantined (outliers.py): its servers
  are deleted by the other sidekicks and its own registers none until the quarantine lapses;
* the frontends send every admin path (wp-admin/, wp-login.php, xmlrpc.php,
  wp-cron.php, in every form Apache serves them) and every write (POST, PUT,
  PATCH, DELETE) to ``wordpressadmin``, and everything else to ``wordpress``.

Containers that are not the site's are ignored. It speaks etcd's v2 keys API
(requests) and the Docker Engine API (http.client over the Unix socket), so it
needs nothing but python3 and python3-requests.

Environment: NODE_NAME, NODE_IP, ETCD_ENDPOINTS (comma-separated URLs),
VULCAND_PREFIX (default vulcand), SERVER_TTL (s, default 15), HEARTBEAT (s,
default 5), RECONCILE (s, default 10), DOCKER_SOCKET (default /var/run/docker.sock),
SITE_URL (the site's URL: its host is the warm-up request's Host), WARMUP_LIMIT (s, default 30),
AGENT_PORT (the outlier agent's: outliers.py; none, and this node neither probes nor is probed),
OUTLIER_PREFIX (its etcd keys, default wpcluster/outliers) and OUTLIER_* (outliers.Settings).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator

import outliers
import requests

log = logging.getLogger("sidekick")

PUBLIC_NAME = re.compile(r"^wordpress-(\d+)$")
ADMIN_NAME = "wordpress-admin"
BACKENDS = {"public": "wordpress", "admin": "wordpressadmin"}
# vulcand v0.9.2's routes have no `||` and frontends no priority: routes are tried in reverse
# byte order of their text, and a path matcher sees the path as sent (not decoded, not cleaned).
# PassHostHeader keeps the site's Host for WordPress's own redirects. Buffered (not Stream), so
# vulcand replays a read that failed on one server on the next (FailoverPredicate): a node cut
# off or frozen leaves its servers in every vulcand's rotation until their TTL runs out, and
# vulcand answers 502 (refused) or 504 (its 1 s dial timed out) for what it sent them. Two
# replays at most, GETs only. No read timeout: a replay after one costs a server another page,
# and under load that feeds itself (a 2 s read timeout with replays took the whole site down after
# a partition's heal, 94 % of reads failing); the servers close every connection instead
# (images/wordpress), so no request waits on a kept-alive connection to a node since cut off.
SETTINGS = {"PassHostHeader": True,
            "FailoverPredicate": 'IsNetworkError() && RequestMethod() == "GET" && Attempts() <= 2'}
# The doors only the admin container may serve: wp-admin/ and the files that log in or act.
ADMIN_DIRECTORY = "wp-admin"
ADMIN_FILES = ("wp-login.php", "xmlrpc.php", "wp-cron.php")


def spelled(word: str) -> str:
    """A regexp for ``word`` (letters, digits, ``-`` and ``.``) with any character percent-encoded
    or not, as Apache decodes them: ``wp-%61dmin`` is wp-admin to Apache, so it is to this route."""
    out = []
    for char in word:
        code = f"{ord(char):02x}"
        hex_digit = f"[{code[1]}{code[1].upper()}]" if code[1].isalpha() else code[1]
        out.append(f"(?:{'[.]' if char == '.' else char}|%{code[0]}{hex_digit})")
    return "".join(out)


def admin_path_regexp() -> str:
    """Every path Apache serves as an admin path: the admin doors after any run of slashes (Apache
    merges them), with any path info after them, in any percent-encoding of their letters; and any
    path with a dot segment (``/./``, ``/../``, ``%2e``: Apache resolves them, so such a path can
    land anywhere, wp-admin/ included, and only the admin container may see it)."""
    doors = "|".join([spelled(ADMIN_DIRECTORY), *map(spelled, ADMIN_FILES)])
    dot_segment = "(?:[.]|%2[eE]){1,2}"
    return f"^(?:/+(?:{doors})(?:/.*)?|.*/{dot_segment}(?:/.*)?)$"


# Every state-changing request, wherever it is sent (the REST API, ?rest_route=, comments):
# public containers serve reads only. Its route starts `PathRegexp(`^/`)`, so it sorts before
# the admin route and the catch-all; a route starting with Method(...) would sort after both.
WRITE_METHODS = "^(POST|PUT|PATCH|DELETE)$"
FRONTENDS = {
    "wordpressadmin": {
        "Type": "http",
        "BackendId": "wordpressadmin",
        "Route": f"PathRegexp(`{admin_path_regexp()}`)",
        "Settings": SETTINGS,
    },
    "wordpresswrites": {
        "Type": "http",
        "BackendId": "wordpressadmin",
        "Route": f"PathRegexp(`^/`) && MethodRegexp(`{WRITE_METHODS}`)",
        "Settings": SETTINGS,
    },
    "wordpress": {"Type": "http", "BackendId": "wordpress", "Route": "PathRegexp(`/.*`)", "Settings": SETTINGS},
}


def site_backend(container_name: str) -> str | None:
    """The vulcand backend a container belongs to, or None if it is not the site's."""
    if container_name == ADMIN_NAME:
        return BACKENDS["admin"]
    if PUBLIC_NAME.match(container_name):
        return BACKENDS["public"]
    return None


def desired_servers(containers: list[dict], node: str, node_ip: str) -> dict[tuple[str, str], str]:
    """(backend, server id) -> URL for every running site container with port 80 published.

    ``containers`` are Docker API container summaries (GET /containers/json).
    """
    wanted: dict[tuple[str, str], str] = {}
    for container in containers:
        name = container.get("Names", ["/"])[0].lstrip("/")
        backend = site_backend(name)
        if backend is None or container.get("State", "running") != "running":
            continue
        port = next((p.get("PublicPort") for p in container.get("Ports", [])
                     if p.get("PrivatePort") == 80 and p.get("PublicPort")), None)
        if port is None:
            continue
        wanted[(backend, server_id(node, name))] = f"http://{node_ip}:{port}"
    return wanted


def server_id(node: str, container_name: str) -> str:
    return f"{node}.{container_name}"


def owned_by(node: str, sid: str) -> bool:
    return sid.startswith(f"{node}.")


def plan(wanted: dict[tuple[str, str], str], registered: dict[tuple[str, str], str], node: str
         ) -> tuple[dict[tuple[str, str], str], list[tuple[str, str]]]:
    """What to write (new or changed, or every wanted one to refresh TTLs) and what to delete.

    Only this node's servers are deleted here: other nodes' sidekicks own theirs (a quarantined
    node's are the exception, deleted by every other sidekick: ``Sidekick.evict``).
    """
    stale = [key for key in registered if owned_by(node, key[1]) and key not in wanted]
    return dict(wanted), stale


def answers(url: str, host: str | None, timeout: float = 10) -> bool:
    """True if ``url`` answers a GET of the home page with any HTTP response (a 500 is PHP
    running too: the gate waits for a server that serves, not for a healthy site)."""
    try:
        requests.get(f"{url}/", headers={"Host": host} if host else {}, timeout=timeout, allow_redirects=False)
    except requests.RequestException:
        return False
    return True


class WarmUp:
    """Holds new servers back until each has answered its first request.

    A WordPress container published a moment ago refuses connections until Apache listens, and its
    first pages take seconds while PHP compiles WordPress (measured: 2.5-3.5 s a page for ~4 s after
    a dockerd restart brought five containers up at once on a 2-core machine, past a reader's 5 s
    timeout under load). Registered at once, it takes a share of every vulcand's traffic through
    that. So the sidekick sends the first request itself, and registers the server when it answers.

    A server etcd already holds at the same URL is serving (a restarted sidekick, a key that
    expired during an etcd outage) and is not held back. One that has not answered within
    ``limit`` seconds is let in anyway, as before the gate, so that a container that cannot serve
    is still seen, and judged, by vulcand and the certification.

    After a quarantine (``after_quarantine``) one answer is not enough: the node was out because it
    served too slowly, and its peers lift the quarantine on their probes of its sidekick's agent,
    which say the link is clear, not that its pages are. So each server must answer ``quick_rounds``
    pages in a row, each within ``quick_within`` seconds, before it goes back (a CI run whose capped
    node came back 6 s after the heal timed reads out through every vulcand for 11 s more).
    """

    quick_rounds = 3
    quick_within = 1.0

    def __init__(self, probe: Callable[[str], bool], on_ready: Callable[[str], None], limit: float = 30,
                 retry_every: float = 0.5) -> None:
        self.probe, self.on_ready, self.limit, self.retry_every = probe, on_ready, limit, retry_every
        self.lock = threading.Lock()
        self.answered: set[tuple[tuple[str, str], str]] = set()
        self.probing: set[tuple[tuple[str, str], str]] = set()
        self.after_quarantine = False

    def admit(self, wanted: dict[tuple[str, str], str], registered: dict[tuple[str, str], str]
              ) -> dict[tuple[str, str], str]:
        """The servers of ``wanted`` that may be written now; a probe starts for each of the others."""
        admitted: dict[tuple[str, str], str] = {}
        with self.lock:
            # A server that left (its container died) must pass again if its URL comes back.
            self.answered &= set(wanted.items())
            for key, url in wanted.items():
                if registered.get(key) == url:
                    self.answered.add((key, url))
                if (key, url) in self.answered:
                    admitted[key] = url
                elif (key, url) not in self.probing:
                    self.probing.add((key, url))
                    rounds = self.quick_rounds if self.after_quarantine else 1
                    threading.Thread(target=self._warm, args=(key, url, rounds), daemon=True).start()
            if wanted and not self.probing and len(admitted) == len(wanted):
                self.after_quarantine = False
        return admitted

    def _warm(self, key: tuple[str, str], url: str, rounds: int = 1) -> None:
        """Probe ``url`` until it has answered ``rounds`` pages in a row (more than one: each within
        ``quick_within``), or ``limit`` seconds have passed."""
        started = time.monotonic()
        deadline = started + self.limit
        in_a_row = 0
        while True:
            asked = time.monotonic()
            answered = self.probe(url)
            quick = answered and (rounds == 1 or time.monotonic() - asked <= self.quick_within)
            in_a_row = in_a_row + 1 if quick else 0
            if in_a_row >= rounds or time.monotonic() >= deadline:
                break
            if not quick:
                time.sleep(self.retry_every)
        took = time.monotonic() - started
        with self.lock:
            self.probing.discard((key, url))
            self.answered.add((key, url))
        if in_a_row >= rounds:
            what = "its first page" if rounds == 1 else f"{rounds} pages in a row within {self.quick_within:g}s each"
            self.on_ready(f"{key[1]} answered {what} after {took:.1f}s")
        else:
            log.warning("%s at %s has not answered %s in %.0fs; registering it anyway", key[1], url,
                        "a page" if rounds == 1 else f"{rounds} quick pages in a row", self.limit)
            self.on_ready(f"{key[1]} not answering after {took:.0f}s")


class Etcd:
    """The few v2 keys-API calls the sidekick needs, failing over between endpoints.

    With ``patience`` a call that no endpoint answered goes round them again until that many seconds
    have passed: a write sent to a follower while the leader is frozen is lost with the leader and
    only its timeout ends it, while the same write sent again after the election lands at once.
    Endpoints on ``shunned`` hosts are tried last (their nodes answer their peers late or not at all)."""

    def __init__(self, endpoints: list[str], timeout: float = 3, patience: float = 0.0) -> None:
        self.endpoints = list(dict.fromkeys(endpoints))
        self.timeout = timeout
        self.patience = patience
        self.shunned: frozenset[str] = frozenset()
        self.session = requests.Session()

    def shun(self, hosts: set[str]) -> None:
        self.shunned = frozenset(hosts)

    def _in_order(self) -> list[str]:
        return sorted(self.endpoints, key=lambda e: urllib.parse.urlsplit(e).hostname in self.shunned)

    def _call(self, method: str, key: str, **kwargs: object) -> requests.Response:
        return self._request(method, f"v2/keys/{key}", **kwargs)

    def _request(self, method: str, path: str, timeout: float | None = None, **kwargs: object) -> requests.Response:
        last: Exception | None = None
        give_up = time.monotonic() + self.patience
        while True:
            for endpoint in self._in_order():
                try:
                    reply = self.session.request(method, f"{endpoint}/{path}", timeout=timeout or self.timeout,
                                                 **kwargs)
                except requests.RequestException as exc:
                    last = exc
                    continue
                if reply.status_code >= 500:
                    last = RuntimeError(f"{endpoint}: {reply.status_code} {reply.text[:200]}")
                    continue
                return reply
            if time.monotonic() >= give_up:
                raise RuntimeError(f"no etcd endpoint accepted {method} {path.removeprefix('v2/keys/')}: {last}")
            time.sleep(0.05)  # every endpoint refused at once: do not spin

    def refresh(self, key: str, ttl: int, timeout: float | None = None) -> bool:
        """Renew a key's TTL without a watch event; False if the key is gone (expired)."""
        reply = self._call("PUT", key, data={"ttl": str(ttl), "refresh": "true", "prevExist": "true"},
                           timeout=timeout)
        if reply.status_code == 404:
            return False
        if reply.status_code not in (200, 201):
            raise RuntimeError(f"refresh {key}: {reply.status_code} {reply.text[:200]}")
        return True

    def put(self, key: str, value: str, ttl: int | None = None) -> None:
        data = {"value": value}
        if ttl:
            data["ttl"] = str(ttl)
        reply = self._call("PUT", key, data=data)
        if reply.status_code not in (200, 201):
            raise RuntimeError(f"PUT {key}: {reply.status_code} {reply.text[:200]}")

    def put_if_changed(self, key: str, value: str) -> bool:
        """PUT ``value`` unless the key holds it already; True if it wrote. Every write wakes each
        vulcand's watch, and vulcand reloads the route on it: a route rewritten unchanged on every
        reconcile is churn on every proxy, three nodes times every ten seconds."""
        reply = self._call("GET", key)
        if reply.status_code == 200 and reply.json().get("node", {}).get("value") == value:
            return False
        self.put(key, value)
        return True

    def create(self, key: str, value: str, ttl: int) -> bool:
        """Write ``key`` only if it does not exist; False if it does."""
        reply = self._call("PUT", key, data={"value": value, "ttl": str(ttl), "prevExist": "false"})
        if reply.status_code == 412:
            return False
        if reply.status_code not in (200, 201):
            raise RuntimeError(f"create {key}: {reply.status_code} {reply.text[:200]}")
        return True

    def hand_lead_off(self, node: str, to: str) -> bool:
        """If ``node``'s member leads etcd, ask it to hand the lead to ``to``'s member (etcd's v3
        transfer-leadership); True if it was asked. Every write waits on the leader: one behind a
        narrow link makes the very votes and evictions that would take its node out crawl."""
        members = {m["name"]: m for m in self._request("GET", "v2/members").json().get("members", [])}
        if node not in members or to not in members:
            return False
        leader = self._request("GET", "v2/stats/self").json().get("leaderInfo", {}).get("leader")
        if leader != members[node]["id"]:
            return False
        url = members[node]["clientURLs"][0]
        # The request crosses the slow node's own link: give it the time that takes, whatever the
        # client's timeout (a 1 s timeout failed it behind a 627 kbit/s cap, the lead stayed,
        # and the quarantine lapsed unrenewed mid-fault).
        target = {"targetID": str(int(members[to]["id"], 16))}
        self.session.post(f"{url}/v3/maintenance/transfer-leadership", json=target,
                          timeout=max(self.timeout, LEAD_HAND_OFF_TIMEOUT)).raise_for_status()
        return True

    def tree(self, key: str, quorum: bool = False) -> dict:
        """The recursive listing of ``key`` (etcd's ``node``), empty if it does not exist; with
        ``quorum`` as the majority has it (a member's own copy can be behind: one that was frozen)."""
        reply = self._call("GET", key, params={"recursive": "true", **({"quorum": "true"} if quorum else {})})
        if reply.status_code == 404:
            return {}
        return reply.json().get("node", {})

    def delete(self, key: str) -> None:
        reply = self._call("DELETE", key)
        if reply.status_code not in (200, 404):
            raise RuntimeError(f"DELETE {key}: {reply.status_code} {reply.text[:200]}")

    def watch(self, key: str, after: int | None, timeout: float = 30) -> dict | None:
        """The next change under ``key`` (recursive) after index ``after`` (etcd v2's ``wait``), or None
        if none came within ``timeout`` or the history no longer reaches back to it."""
        params = {"wait": "true", "recursive": "true", **({"waitIndex": str(after + 1)} if after else {})}
        try:
            reply = self._request("GET", f"v2/keys/{key}", timeout=timeout, params=params)
        except RuntimeError:  # no endpoint answered within the timeout: nothing changed, or etcd is down
            return None
        if reply.status_code == 400 and reply.json().get("errorCode") == 401:  # the index is outdated
            return {"action": "outdated", "node": {}}
        return reply.json() if reply.status_code == 200 else None

    def servers(self, prefix: str) -> dict[tuple[str, str], str]:
        """Every registered server under every backend: (backend, id) -> URL."""
        reply = self._call("GET", f"{prefix}/backends", params={"recursive": "true"})
        if reply.status_code == 404:
            return {}
        found: dict[tuple[str, str], str] = {}
        for backend in reply.json().get("node", {}).get("nodes", []) or []:
            backend_id = backend["key"].rsplit("/", 1)[-1]
            for child in backend.get("nodes", []) or []:
                if not child["key"].endswith("/servers"):
                    continue
                for server in child.get("nodes", []) or []:
                    try:
                        url = json.loads(server.get("value", "{}")).get("URL", "")
                    except json.JSONDecodeError:
                        url = ""
                    found[(backend_id, server["key"].rsplit("/", 1)[-1])] = url
        return found


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over the Docker daemon's Unix socket."""

    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Docker:
    """The two Docker Engine API calls the sidekick needs, over the node's socket."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path

    def _get(self, path: str, timeout: float | None) -> http.client.HTTPResponse:
        conn = _UnixConnection(self.socket_path, timeout)
        conn.request("GET", path)
        reply = conn.getresponse()
        if reply.status != 200:
            raise RuntimeError(f"docker GET {path}: {reply.status} {reply.read()[:200]!r}")
        return reply

    def running(self) -> list[dict]:
        return json.loads(self._get("/containers/json", timeout=10).read())

    def events(self) -> Iterator[dict]:
        filters = json.dumps({"type": ["container"], "event": ["start", "die", "stop", "kill", "destroy"]})
        reply = self._get(f"/events?filters={urllib.parse.quote(filters)}", timeout=None)
        log.info("watching Docker's container events")
        for line in reply:
            if line.strip():
                yield json.loads(line)


class Sidekick:
    def __init__(self, node: str, node_ip: str, etcd: Etcd, docker: Docker, prefix: str = "vulcand",
                 ttl: int = 15, heartbeat: float = 5, reconcile_every: float = 10,
                 probe: Callable[[str], bool] = lambda url: answers(url, None), warmup_limit: float = 30,
                 quarantined_now: Callable[[], bool] = lambda: False) -> None:
        self.node, self.node_ip, self.etcd, self.docker = node, node_ip, etcd, docker
        self.prefix, self.ttl, self.heartbeat, self.reconcile_every = prefix, ttl, heartbeat, reconcile_every
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.registered: dict[tuple[str, str], str] = {}
        self.warmup = WarmUp(probe, self._warmed, warmup_limit)
        # This node quarantined by its peers' probes (outliers.py): it registers nothing meanwhile.
        # ``quarantined_now`` asks etcd before a key is written again: a node resumed after a freeze
        # finds its keys evicted, and its heartbeat wakes before its detector's next round does.
        self._quarantined = False
        self.quarantined_now = quarantined_now

    @property
    def quarantined(self) -> bool:
        return self._quarantined

    @quarantined.setter
    def quarantined(self, value: bool) -> None:
        # However the quarantine was first heard of (the detector's round, or etcd asked before a
        # write), its servers come back through the stricter warm-up.
        if value:
            self.warmup.after_quarantine = True
        self._quarantined = value

    def _warmed(self, reason: str) -> None:
        try:
            self.reconcile(reason)
        except Exception as exc:  # noqa: BLE001 - the periodic reconcile registers it next time
            log.warning("reconcile after a warm-up failed: %s", exc)

    def ensure_routes(self) -> None:
        for backend in BACKENDS.values():
            self.etcd.put_if_changed(f"{self.prefix}/backends/{backend}/backend", json.dumps({"Type": "http"}))
        for frontend, spec in FRONTENDS.items():
            self.etcd.put_if_changed(f"{self.prefix}/frontends/{frontend}/frontend", json.dumps(spec))

    def server_key(self, backend: str, sid: str) -> str:
        return f"{self.prefix}/backends/{backend}/servers/{sid}"

    def reconcile(self, reason: str) -> None:
        """Make etcd match the containers running now: write new or changed servers once they have
        answered (the warm-up gate), refresh the rest, delete this node's stale ones."""
        with self.lock:
            self.quarantined = self.quarantined or self.quarantined_now()
            running = {} if self.quarantined else desired_servers(self.docker.running(), self.node, self.node_ip)
            registered = self.etcd.servers(self.prefix)
            wanted = self.warmup.admit(running, registered)
            writes, stale = plan(wanted, registered, self.node)
            for (backend, sid), url in writes.items():
                key = self.server_key(backend, sid)
                if registered.get((backend, sid)) == url and self.etcd.refresh(key, self.ttl):
                    continue
                self.etcd.put(key, json.dumps({"URL": url}), ttl=self.ttl)
                log.info("registered %s in %s at %s (%s)", sid, backend, url, reason)
            for backend, sid in stale:
                self.etcd.delete(self.server_key(backend, sid))
                log.info("deregistered %s from %s (%s)", sid, backend, reason)
            self.registered = wanted

    def on_quarantine(self, quarantined: str | None) -> None:
        """The outlier detector's word after each round: which node is quarantined, if any."""
        me = quarantined == self.node
        if me != self.quarantined:
            self.quarantined = me
            self.reconcile("quarantined by its peers' probes" if me else "quarantine lifted")
        if quarantined is not None and not me:
            self.evict(quarantined)

    def evict(self, node: str) -> None:
        """Delete the servers of quarantined ``node``: its own sidekick may be frozen, or too slow to."""
        doomed = [(backend, sid) for backend, sid in self.etcd.servers(self.prefix) if owned_by(node, sid)]
        # At once, not one after another: a write waits on etcd's leader, which may be on that very node.
        threads = [threading.Thread(target=self.etcd.delete, args=(self.server_key(*key),)) for key in doomed]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for backend, sid in doomed:
            log.warning("evicted %s from %s: %s is quarantined", sid, backend, node)

    def beat(self, timeout: float | None = None) -> None:
        """Renew every registered server's TTL (each etcd endpoint given ``timeout``, or the client's);
        write again a key that is gone."""
        with self.lock:
            for (backend, sid), url in self.registered.items():
                if not self.etcd.refresh(self.server_key(backend, sid), self.ttl, timeout=timeout):
                    self.write_back(backend, sid, url, "its key had expired")

    def write_back(self, backend: str, sid: str, url: str, why: str) -> None:
        """Register again a running server whose key is gone, unless this node is quarantined: then
        its peers took the key, and etcd's majority is asked (a resumed node's own member is behind)."""
        if self.quarantined or self.quarantined_now():
            self.quarantined = True
            return
        self.etcd.put(self.server_key(backend, sid), json.dumps({"URL": url}), ttl=self.ttl)
        log.info("re-registered %s in %s: %s", sid, backend, why)

    def heartbeat_loop(self) -> None:
        """Refresh TTLs every heartbeat; a full reconcile every reconcile period repairs missed events.

        A heartbeat that failed is tried again at once and again, each try giving an endpoint a short
        time, until one passes: while etcd has no majority no TTL is renewed, and the leader elected at
        its return expires every key whose TTL ran out at its first sync (within 0.5 s), all at once;
        a renewal that reaches the new leader before that sync keeps the key. One node's keys kept
        are enough: vulcand answers 503 only while a backend has no server at all."""
        # The start-up reconcile was a full one: the next is a whole period later.
        last_full, failing_since = time.monotonic(), None
        wait = self.heartbeat
        while not self.stopping.wait(wait):
            try:
                if failing_since is not None:
                    self.beat(timeout=HEARTBEAT_RETRY_TIMEOUT)
                    log.info("heartbeat passed again after %.1fs", time.monotonic() - failing_since)
                elif time.monotonic() - last_full >= self.reconcile_every:
                    self.ensure_routes()
                    self.reconcile("periodic")
                    last_full = time.monotonic()
                else:
                    self.beat()
                failing_since, wait = None, self.heartbeat
            except Exception as exc:  # noqa: BLE001 - keep beating; etcd may be back next time
                if failing_since is None:
                    log.warning("heartbeat failed: %s; trying again every %gs", exc, HEARTBEAT_RETRY_EVERY)
                    failing_since = time.monotonic()
                wait = min(HEARTBEAT_RETRY_EVERY, self.heartbeat)

    def on_change(self, event: dict) -> int | None:
        """Write back at once a server key of this node that etcd let expire while its container
        runs; the index to watch from next. At an etcd majority's return the new leader expires every
        key whose TTL ran out during the outage, all at once: until the sidekicks write them again,
        every vulcand has an empty backend and answers 503."""
        node = event.get("node", {})
        if event.get("action") == "expire":
            parts = node.get("key", "").strip("/").split("/")
            key = (parts[-3], parts[-1]) if len(parts) >= 3 and parts[-2] == "servers" else None
            if key and (url := self.registered.get(key)):
                self.write_back(*key, url, "the moment etcd let its key expire")
        return node.get("modifiedIndex")

    def expiry_loop(self) -> None:
        after: int | None = None
        while not self.stopping.is_set():
            try:
                event = self.etcd.watch(f"{self.prefix}/backends", after)
                if event is None or event.get("action") == "outdated":
                    after = None
                    continue
                after = self.on_change(event) or after
            except Exception as exc:  # noqa: BLE001 - etcd may be down: watch again
                log.warning("watching for expired keys failed: %s", exc)
                after = None
                self.stopping.wait(1)

    def event_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                for event in self.docker.events():
                    name = event.get("Actor", {}).get("Attributes", {}).get("name", "")
                    if site_backend(name) is not None:
                        self.reconcile(f"{name} {event.get('status') or event.get('Action')}")
            except Exception as exc:  # noqa: BLE001 - reconnect to the event stream
                log.warning("docker event stream broke: %s; reconnecting", exc)
                self.stopping.wait(1)

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.ensure_routes()
                self.reconcile("start: removing stale servers of this node")
                break
            except Exception as exc:  # noqa: BLE001 - etcd may not be up yet
                log.warning("start-up reconcile failed: %s; retrying", exc)
                self.stopping.wait(2)
        threading.Thread(target=self.heartbeat_loop, daemon=True).start()
        threading.Thread(target=self.expiry_loop, daemon=True).start()
        self.event_loop()


# A failed heartbeat is tried again this often, each endpoint given this long (sidekick.heartbeat_loop).
HEARTBEAT_RETRY_EVERY = 0.25
HEARTBEAT_RETRY_TIMEOUT = 0.5
# Seconds a request to hand etcd's lead off a slow node may take (it crosses that node's link).
LEAD_HAND_OFF_TIMEOUT = 5.0
# Seconds each etcd call of the outlier detector waits on one endpoint before trying the next, and
# how long it goes on trying them. The vote is due before the top LB's first try (3 s) ends: a node
# frozen while it led etcd takes a write sent before the election with it (about 1.5 s here), and with
# 1 s on this node's member and 1 s on the frozen one's the votes landed 3.2 s after the freeze.
DETECTOR_ETCD_TIMEOUT = 0.5
DETECTOR_ETCD_PATIENCE = 2.0


def setting(name: str) -> str:
    """A setting the unit must pass (units/discovery.service, from the shape through site.env): none
    has a default here, so a site.env that lacks one stops the sidekick naming it instead of
    registering with a TTL or prefix the harness does not expect."""
    value = os.environ.get(name, "")
    if not value:
        sys.exit(f"sidekick: {name} is not set; units/discovery.service passes it from /etc/wpcluster/site.env "
                 f"(deploy the site again with wpcluster deploy)")
    return value


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s sidekick %(message)s")
    node, node_ip = os.environ["NODE_NAME"], os.environ["NODE_IP"]
    endpoints = [e.strip() for e in os.environ["ETCD_ENDPOINTS"].split(",") if e.strip()]
    # The warm-up asks for the site's own home page, so PHP renders it rather than redirecting.
    site_host = urllib.parse.urlsplit(os.environ.get("SITE_URL", "")).netloc or None
    sidekick = Sidekick(
        node, node_ip, Etcd(endpoints), Docker(os.environ.get("DOCKER_SOCKET", "/var/run/docker.sock")),
        prefix=setting("VULCAND_PREFIX"),
        ttl=int(setting("SERVER_TTL")),
        heartbeat=float(setting("HEARTBEAT")),
        reconcile_every=float(setting("RECONCILE")),
        probe=lambda url: answers(url, site_host),
        warmup_limit=float(os.environ.get("WARMUP_LIMIT", "30")),
    )

    def stop(signum: int, frame: object) -> None:
        # Leave the keys: the containers may still run; if they do not, the TTL removes them.
        log.info("stopping on signal %d; registered servers expire by TTL unless refreshed", signum)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("sidekick for %s (%s) on etcd %s", node, node_ip, ",".join(endpoints))
    agent_port = int(os.environ.get("AGENT_PORT", "0"))
    if agent_port:
        # Its own client, with a short timeout tried again: a vote goes through etcd's leader, and when
        # the node just frozen led, a write sent before the election is lost with it and waits out the
        # timeout (with 3 s, a peer voted 7 s after a freeze). The suspects' members are tried last.
        detector_etcd = Etcd(endpoints, timeout=DETECTOR_ETCD_TIMEOUT, patience=DETECTOR_ETCD_PATIENCE)
        detector = outliers.Detector(node, f"{node_ip}:{agent_port}", detector_etcd,
                                     os.environ.get("OUTLIER_PREFIX", "wpcluster/outliers"),
                                     outliers.settings_from(dict(os.environ)), sidekick.on_quarantine)
        sidekick.quarantined_now = detector.quarantined_now
        agent = outliers.Agent(agent_port, node, lambda: detector.quarantined)
        threading.Thread(target=agent.serve, daemon=True, name="agent").start()
        threading.Thread(target=detector.run, args=(sidekick.stopping,), daemon=True, name="outliers").start()
    else:
        log.warning("no AGENT_PORT: this node neither probes its peers nor answers their probes")
    sidekick.run()


if __name__ == "__main__":
    main()
