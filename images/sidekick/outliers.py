"""Outlier ejection: the sidekicks take a node that answers too slowly, or not at all, out of the site.

A node can stay in fleet's list, keep its etcd member and keep its servers registered while it
serves nobody in time: frozen (every process stopped while its kernel still accepts connections, so
what vulcand sends there hangs), or behind a link too narrow for its share of the pages. Its own
sidekick cannot tell (a frozen one sees nothing, and a narrow link is slow only from outside), so
the other nodes' sidekicks judge it:

* every sidekick answers on its agent port with one line, ``up`` or ``down`` (its node is
  quarantined): HAProxy's agent protocol, so the top LB asks the same port;
* every sidekick probes every other node's agent each ``probe_every`` seconds; a probe that has not
  answered within ``budget`` fails, and a node that failed ``fail_rounds`` of the last
  ``window`` probes gets this sidekick's vote (a key with a short TTL, renewed while it holds);
  ``pass_rounds`` good probes in a row, each answered within ``pass_within`` (half the budget),
  take the vote back. The gap between the two is hysteresis: a node behind a narrow link answers
  near the budget whenever its queue runs short, and would take its vote back mid-fault;
* a node with ``quorum`` votes is quarantined: one key, created only where none is, so at most one
  node is out at a time (two slow at once says more about the probers than about the nodes), renewed
  while the votes hold. It lapses ``eject_seconds`` after they stop, twice that if the node was
  quarantined within the last ``memory`` seconds, and so on up to ``eject_max``: a node behind a
  narrow link passes its probes once its load is gone, and would otherwise flap in and out;
* while a node is quarantined every other sidekick deletes its servers from vulcand's backends, its
  own registers none, and its agent answers ``down``, so the top LB takes its vulcand out as well.

With fewer than ``quorum`` + 1 nodes nothing is ever quarantined: one prober's word is not enough.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("sidekick.outliers")


@dataclass(frozen=True)
class Settings:
    probe_every: float = 0.5
    budget: float = 0.5
    pass_within: float = 0.25
    payload: int = 32768
    fail_rounds: int = 2
    window: int = 3
    pass_rounds: int = 4
    vote_ttl: int = 3
    quorum: int = 2
    eject_seconds: int = 5
    eject_max: int = 10
    memory: int = 60


class Keys(Protocol):
    """The etcd v2 calls the outlier detector needs (the sidekick's Etcd)."""

    def tree(self, key: str, quorum: bool = False) -> dict: ...
    def put(self, key: str, value: str, ttl: int | None = None) -> None: ...
    def create(self, key: str, value: str, ttl: int) -> bool: ...
    def refresh(self, key: str, ttl: int) -> bool: ...
    def delete(self, key: str) -> None: ...
    def hand_lead_off(self, node: str, to: str) -> bool: ...
    def shun(self, hosts: set[str]) -> None: ...


@dataclass
class View:
    """What etcd says now: every node's agent address, the votes against each node, the quarantined node."""

    agents: dict[str, str]
    votes: dict[str, set[str]]
    quarantined: str | None
    ejections: dict[str, int]


def read_view(tree: dict) -> View:
    """A View from the recursive listing of the outlier prefix (etcd v2's ``node``)."""
    agents: dict[str, str] = {}
    votes: dict[str, set[str]] = {}
    ejections: dict[str, int] = {}
    quarantined = None
    for child in tree.get("nodes", []) or []:
        name = child["key"].rsplit("/", 1)[-1]
        if name == "quarantine":
            quarantined = child.get("value") or None
        elif name == "agents":
            agents = {n["key"].rsplit("/", 1)[-1]: n.get("value", "") for n in child.get("nodes", []) or []}
        elif name == "votes":
            for target in child.get("nodes", []) or []:
                voters = {n["key"].rsplit("/", 1)[-1] for n in target.get("nodes", []) or []}
                if voters:
                    votes[target["key"].rsplit("/", 1)[-1]] = voters
        elif name == "ejections":
            for n in child.get("nodes", []) or []:
                try:
                    ejections[n["key"].rsplit("/", 1)[-1]] = int(n.get("value", "0"))
                except ValueError:
                    continue
    return View(agents, votes, quarantined, ejections)


class Record:
    """One prober's recent probes of one node: the last ``window`` outcomes (answered within the budget
    or not) and the current run of good ones (answered within ``pass_within``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.outcomes: deque[bool] = deque(maxlen=settings.window)
        self.passes = 0
        self.voting = False

    def add(self, seconds: float | None) -> bool:
        """Record one probe (how long it took, None if it failed); True while this prober votes against
        the node."""
        self.outcomes.append(seconds is not None)
        self.passes = self.passes + 1 if seconds is not None and seconds <= self.settings.pass_within else 0
        failed = sum(1 for outcome in self.outcomes if not outcome)
        if not self.voting and failed >= self.settings.fail_rounds:
            self.voting = True
        elif self.voting and self.passes >= self.settings.pass_rounds:
            self.voting = False
            self.outcomes.clear()
        return self.voting


def to_quarantine(view: View, quorum: int) -> str | None:
    """The node to quarantine now, if none is: the one with the most votes, at least ``quorum``
    (ties by name, so every sidekick proposes the same one)."""
    if view.quarantined is not None:
        return None
    ranked = sorted((-len(voters), node) for node, voters in view.votes.items() if len(voters) >= quorum)
    return ranked[0][1] if ranked else None


def eject_ttl(settings: Settings, times: int) -> int:
    """How long a quarantine lasts past its last renewal, the ``times``-th within ``memory`` seconds."""
    return min(settings.eject_max, settings.eject_seconds * 2 ** max(0, times - 1))


# What a probe asks an agent for: its status line and this many bytes more, half of one of the site's
# pages (48-64 KB). A one-line answer slips through a link that cannot carry the node's pages (under
# a 1 Mbit/s cap 94 % of one-line probes answered within budget while pages stalled in TCP's
# retransmission timeouts). 8 KB was not enough either: behind a ~700 kbit/s cap whose queue holds
# 400 ms, 8 KB took 0.4 + 0.09 s, the budget's very edge, so the vote came 4-5 s after the cap and
# the node passed four probes in a row mid-fault and came back. Half a page needs 0.37 s of such
# a link alone: it fails behind a full queue and is never good (``pass_within``) while capped.
PROBE_ASK = "probe"


def probe(address: str, budget: float, payload: int = Settings.payload) -> float | None:
    """How long the agent at ``host:port`` took to answer a probe (its line and ``payload`` bytes);
    None if it did not within ``budget``.

    A refused connection is an answer: the node's kernel answered at once, and only its sidekick is
    gone (stopped, restarting, or not yet started on a node booted again). A node without its
    sidekick loses its servers by their TTL; it is not frozen or slow, and is not quarantined."""
    host, _, port = address.rpartition(":")
    started = time.monotonic()
    try:
        with socket.create_connection((host, int(port)), timeout=budget) as conn:
            conn.sendall(f"{PROBE_ASK} {payload}\n".encode())
            received = 0
            while received <= payload:
                conn.settimeout(max(0.01, started + budget - time.monotonic()))
                chunk = conn.recv(65536)
                if not chunk:
                    break
                received += len(chunk)
            if received <= payload:
                return None
    except ConnectionRefusedError:
        pass
    except OSError:
        return None
    return time.monotonic() - started


class Agent:
    """HAProxy's agent protocol on ``port``: the client names a node on one line (none: this one),
    and the agent answers one line about it, ``up`` or ``down #<why>`` (quarantined).

    Any node's agent answers for any node: the top LB asks a peer about each node (a frozen node's
    own agent answers nothing, and one behind a narrow link answers late), and the peers' probes ask
    each node about itself."""

    def __init__(self, port: int, own: str, quarantined: Callable[[], str | None]) -> None:
        self.port, self.own, self.quarantined = port, own, quarantined

    def serve(self) -> None:
        server = socket.create_server(("", self.port), backlog=64)
        while True:
            conn, _ = server.accept()
            threading.Thread(target=self.answer, args=(conn,), daemon=True).start()

    def answer(self, conn: socket.socket) -> None:
        try:
            asked = asked_about(conn)
            if asked.startswith(PROBE_ASK):
                word = asked.split()[-1]
                size = min(int(word) if word.isdigit() else 0, 1 << 20)
                conn.sendall(f"{status_line(self.own, self.quarantined())}\n".encode() + b"." * size)
            else:
                conn.sendall(f"{status_line(asked or self.own, self.quarantined())}\n".encode())
        except OSError:
            pass
        finally:
            conn.close()


def asked_about(conn: socket.socket, wait: float = 0.2) -> str:
    """The node a client names: what it sends up to a newline, its end, or ``wait`` seconds of silence."""
    conn.settimeout(wait)
    asked = b""
    try:
        while b"\n" not in asked and len(asked) < 64:
            chunk = conn.recv(64)
            if not chunk:
                break
            asked += chunk
    except OSError:
        pass
    # HAProxy's agent-send may arrive with its "\n" as the two characters it was written as.
    return asked.decode(errors="replace").replace("\\n", "\n").split("\n")[0].strip()


class Detector:
    """One sidekick's part: its agent's address in etcd, probes of the others, votes, quarantines."""

    def __init__(self, node: str, address: str, keys: Keys, prefix: str, settings: Settings,
                 on_quarantine: Callable[[str | None], None],
                 probe: Callable[[str, float, int], float | None] = probe) -> None:
        self.node, self.address, self.keys, self.prefix = node, address, keys, prefix
        self.settings, self.on_quarantine, self.probe = settings, on_quarantine, probe
        self.records: dict[str, Record] = {}
        self.quarantined: str | None = None
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="probe")
        # When each key this sidekick keeps alive was last written: a write goes through etcd's
        # leader, which may be the very node behind a narrow link, so a TTL is renewed only once
        # half of it has run, not every round.
        self.renewed: dict[str, float] = {}
        self.latencies: dict[str, list[float | None]] = {}
        self.led_away: set[str] = set()  # nodes this sidekick asked to hand etcd's lead off, this vote
        self.reported = time.monotonic()

    def key(self, *parts: str) -> str:
        return "/".join((self.prefix, *parts))

    def announce(self) -> None:
        self.keys.put(self.key("agents", self.node), self.address)

    def quarantined_now(self) -> bool:
        """Whether etcd's majority has this node quarantined, asked now (not at the last round): the
        node's own member, frozen with it, may not have heard of the quarantine yet."""
        return self.keys.tree(self.key("quarantine"), quorum=True).get("value") == self.node

    def round(self) -> None:
        """Probe every other node once, vote, and quarantine or renew as the votes say."""
        view = read_view(self.keys.tree(self.prefix))
        peers = {node: address for node, address in view.agents.items() if node != self.node}
        took = dict(zip(peers, self.pool.map(lambda a: self.probe(a, self.settings.budget, self.settings.payload),
                                             peers.values()), strict=True))
        # Every write below goes to a member: not to a suspect's, which may be frozen with its node.
        self.keys.shun({peers[node].rpartition(":")[0] for node, seconds in took.items()
                        if seconds is None or self.records.get(node, Record(self.settings)).voting})
        for node, seconds in took.items():
            self.latencies.setdefault(node, []).append(seconds)
            record = self.records.setdefault(node, Record(self.settings))
            was_voting = record.voting
            vote = self.key("votes", node, self.node)
            voting = record.add(seconds)
            # Before any vote is written: the write waits on etcd's leader, which may be the very node
            # (behind a narrow link every vote and the quarantine crawled, 3.8 s to quarantine; with
            # the lead asked off only at the vote, the second vote still landed 3.5 s after the cap).
            # So at its first failed probe, when this prober finds that node alone slow, or when a
            # peer agrees: a node behind a narrow link finds every peer slow and would pull the lead
            # onto itself (and, healed, finds one peer quick while its vote against the other runs out).
            alone = seconds is None and not was_voting and self._alone_against(node, took)
            agreed = voting and len(view.votes.get(node, set()) - {self.node}) + 1 >= self.settings.quorum
            if node not in self.led_away and (alone or agreed):
                self.led_away.add(node)
                self.pool.submit(self._lead_away, node)
            elif not voting and all(record.outcomes):
                self.led_away.discard(node)  # a blip, gone: the next one may ask again
            if voting:
                self._keep(vote, "", self.settings.vote_ttl, create=not was_voting)
                view.votes.setdefault(node, set()).add(self.node)
                if not was_voting:
                    log.warning("voting to quarantine %s: %d of its last %d probes failed (budget %.2fs)",
                                node, sum(not o for o in record.outcomes), len(record.outcomes), self.settings.budget)
            elif was_voting:
                self.keys.delete(vote)
                self.renewed.pop(vote, None)
                self.led_away.discard(node)
                view.votes.get(node, set()).discard(self.node)
                log.info("vote against %s taken back: %d good probes in a row", node, record.passes)
        self._report()
        if any(len(view.votes.get(node, ())) < self.settings.quorum for node, record in self.records.items()
               if record.voting and view.quarantined is None):
            # The view was read before the probes, half a second ago or more: a peer's vote written
            # meanwhile makes the quorum now, not a round later.
            view = read_view(self.keys.tree(self.prefix))
        ejected = self._quarantine(view) if len(view.agents) > self.settings.quorum else None
        self._notice(view.quarantined)
        if ejected is not None:
            # Counted once the servers are out: every write waits on etcd's leader.
            node, times = ejected
            self.keys.put(self.key("ejections", node), str(times), ttl=self.settings.memory)

    def _quarantine(self, view: View) -> tuple[str, int] | None:
        """Quarantine the node the votes name, or renew the quarantine they hold; the node this
        sidekick quarantined now and how many times within ``memory``, if it did."""
        if view.quarantined is not None:
            if len(view.votes.get(view.quarantined, ())) >= self.settings.quorum:
                times = view.ejections.get(view.quarantined, 1)
                self._keep(self.key("quarantine"), view.quarantined, eject_ttl(self.settings, times), create=False,
                           recreate=False)  # a quarantine that lapsed is over: another node may be out now
            return None
        node = to_quarantine(view, self.settings.quorum)
        if node is None:
            return None
        times = view.ejections.get(node, 0) + 1
        if not self.keys.create(self.key("quarantine"), node, eject_ttl(self.settings, times)):
            view.quarantined = read_view(self.keys.tree(self.prefix)).quarantined
            return None
        self.renewed[self.key("quarantine")] = time.monotonic()
        log.warning("quarantined %s (votes: %s; time %d within %ds)", node,
                    ", ".join(sorted(view.votes[node])), times, self.settings.memory)
        view.quarantined = node
        return node, times

    def _keep(self, key: str, value: str, ttl: int, create: bool, recreate: bool = True) -> None:
        """Write ``key`` (``create``), or renew its TTL once half of it has run since this sidekick last
        did; a key that expired meanwhile is written again if ``recreate``."""
        now = time.monotonic()
        if not create and now - self.renewed.get(key, 0.0) < ttl / 2:
            return
        if create or (not self.keys.refresh(key, ttl) and recreate):
            self.keys.put(key, value, ttl=ttl)
        self.renewed[key] = now

    def _alone_against(self, node: str, took: dict[str, float | None]) -> bool:
        """Whether every other peer answered this round's probe within ``pass_within``: then the slow
        one is ``node``, not this prober's own link."""
        others = [seconds for peer, seconds in took.items() if peer != node]
        return bool(others) and all(s is not None and s <= self.settings.pass_within for s in others)

    def _lead_away(self, node: str) -> None:
        """Take etcd's lead off a node this sidekick votes against, to its own member."""
        try:
            if self.keys.hand_lead_off(node, self.node):
                log.warning("asked %s's etcd member, the leader, to hand the lead to %s's", node, self.node)
        except Exception as exc:  # noqa: BLE001 - the quarantine goes on without it, only slower
            log.warning("could not take etcd's lead off %s: %s", node, exc)

    def _report(self) -> None:
        """Every minute, each peer's probe times: what the budget is judged against."""
        if time.monotonic() - self.reported < 60:
            return
        for node, seen in sorted(self.latencies.items()):
            answered = sorted(s for s in seen if s is not None)
            if answered:
                log.info("probes of %s in the last minute: %d, %d over budget; answered in p50 %.0f ms, "
                         "p99 %.0f ms, max %.0f ms", node, len(seen), len(seen) - len(answered),
                         1000 * answered[len(answered) // 2], 1000 * answered[int(len(answered) * 0.99)],
                         1000 * answered[-1])
            else:
                log.info("probes of %s in the last minute: %d, none answered within budget", node, len(seen))
        self.latencies.clear()
        self.reported = time.monotonic()

    def _notice(self, quarantined: str | None) -> None:
        if quarantined != self.quarantined:
            log.warning("quarantine now: %s (was %s)", quarantined or "none", self.quarantined or "none")
            self.quarantined = quarantined
        self.on_quarantine(quarantined)

    def run(self, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                self.announce()
                break
            except Exception as exc:  # noqa: BLE001 - etcd may not be up yet
                log.warning("announcing the agent failed: %s; retrying", exc)
                stopping.wait(2)
        last_read = time.monotonic()
        while not stopping.is_set():
            started = time.monotonic()
            try:
                self.round()
                last_read = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - keep probing; etcd may answer next round
                log.warning("outlier round failed: %s", exc)
                # A quarantine nobody can renew has lapsed by now: no node stays out on a stale word
                # while etcd cannot be read (its majority lost, or this node cut off).
                if self.quarantined is not None and time.monotonic() - last_read > self.settings.eject_seconds:
                    self._notice(None)
            stopping.wait(max(0.0, self.settings.probe_every - (time.monotonic() - started)))


def status_line(node: str, quarantined: str | None) -> str:
    """The agent's answer about ``node``. HAProxy reads ``down`` only as a word of its own: the reason
    goes after a space and a ``#`` ("down#why" is taken for an unknown word and ignored)."""
    return "down #quarantined by its peers' probes" if quarantined == node else "up"


def settings_from(environ: dict[str, str]) -> Settings:
    """Settings from OUTLIER_* variables, each defaulting to Settings'."""
    base = Settings()
    values = {}
    for field, default in base.__dict__.items():
        raw = environ.get(f"OUTLIER_{field.upper()}")
        if raw is not None:
            values[field] = type(default)(raw)
    return Settings(**{**base.__dict__, **values})
