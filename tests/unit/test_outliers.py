"""The sidekicks' outlier detection (images/sidekick/outliers.py): votes, quarantine, its lapse."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.unit.sidekick_modules import outliers

FAST = outliers.Settings(probe_every=0.01, budget=0.2, pass_within=0.1, fail_rounds=3, window=4, pass_rounds=2,
                         vote_ttl=3, quorum=2, eject_seconds=3, eject_max=30, memory=60)


class _Keys:
    """An etcd v2 keyspace in a dict, TTLs kept and not run down (a test expires a key by deleting it)."""

    def __init__(self):
        self.values: dict[str, str] = {}
        self.ttls: dict[str, int] = {}

    def tree(self, key, quorum=False):
        def node(path):
            children = sorted({k[len(path) + 1:].split("/")[0] for k in self.values if k.startswith(path + "/")})
            if path in self.values:
                return {"key": "/" + path, "value": self.values[path]}
            return {"key": "/" + path, "dir": True, "nodes": [node(f"{path}/{c}") for c in children]}
        return node(key)

    def put(self, key, value, ttl=None):
        self.values[key] = value
        self.ttls[key] = ttl

    def create(self, key, value, ttl):
        if key in self.values:
            return False
        self.put(key, value, ttl)
        return True

    def refresh(self, key, ttl):
        if key not in self.values:
            return False
        self.ttls[key] = ttl
        return True

    def delete(self, key):
        self.values.pop(key, None)

    def hand_lead_off(self, node, to):
        self.lead_asked = (node, to)
        return True

    def shun(self, hosts):
        self.shunned = hosts


def detectors(keys, down: set[str], nodes=("core-01", "core-02", "core-03")):
    """One detector per node, each probing through ``down`` (the nodes whose agents do not answer)."""
    seen: dict[str, str | None] = {}
    made = []
    for node in nodes:
        keys.put(f"p/agents/{node}", f"{node}:1")
        made.append(outliers.Detector(node, f"{node}:1", keys, "p", FAST,
                                      lambda q, n=node: seen.__setitem__(n, q),
                                      probe=lambda address, budget, payload:
                                      None if address.split(":")[0] in down else 0.001))
    return made, seen


def rounds(made, count: int) -> None:
    """``count`` rounds of every detector in turn, then every lead hand-off they asked for done."""
    for _ in range(count):
        for detector in made:
            detector.round()
    for detector in made:
        detector.pool.shutdown(wait=True)
        detector.pool = ThreadPoolExecutor(max_workers=8)


def test_a_prober_votes_after_three_of_four_failed_probes_and_takes_it_back_after_two_good_ones():
    record = outliers.Record(FAST)
    assert [record.add(took) for took in (None, 0.01, None)] == [False, False, False]
    assert record.add(None), "three failures in the last four probes and no vote"
    assert record.add(0.01), "one good probe took the vote back"
    assert not record.add(0.01)


def test_a_probe_near_the_budget_keeps_a_vote_it_would_not_start():
    """Between ``pass_within`` and the budget a probe is neither failed nor good: a node behind a
    narrow link, answering near the budget once its load is gone, keeps its vote."""
    record = outliers.Record(FAST)
    assert [record.add(took) for took in (0.15, 0.15, 0.15, 0.15)] == [False] * 4, "a slow answer is not a failure"
    for took in (None, None, None):
        record.add(took)
    assert all(record.add(0.15) for _ in range(10)), "answers near the budget took the vote back"
    assert record.add(0.05) and not record.add(0.05), "two good probes did not take the vote back"


def test_a_node_both_peers_vote_against_is_quarantined_and_every_sidekick_hears_of_it():
    keys = _Keys()
    made, seen = detectors(keys, down={"core-02"})
    rounds(made, 3)
    assert keys.values["p/quarantine"] == "core-02"
    assert keys.ttls["p/quarantine"] == FAST.eject_seconds
    assert outliers.read_view(keys.tree("p")).votes["core-02"] == {"core-01", "core-03"}
    rounds(made[:1], 1)
    assert seen["core-01"] == "core-02"
    assert keys.lead_asked[0] == "core-02", "a voter did not ask to take etcd's lead off the node it votes against"


def test_one_prober_alone_quarantines_nothing():
    keys = _Keys()
    made, _ = detectors(keys, down=set())
    lonely = outliers.Detector("core-01", "core-01:1", keys, "p", FAST, lambda q: None,
                               probe=lambda address, budget, payload: None if address.startswith("core-02") else 0.001)
    rounds([lonely, made[2]], 5)
    assert "p/votes/core-02/core-01" in keys.values
    assert "p/quarantine" not in keys.values


def test_at_most_one_node_is_quarantined():
    keys = _Keys()
    keys.put("p/quarantine", "core-02", ttl=FAST.eject_seconds)  # in force, its votes gone by now
    made, seen = detectors(keys, down={"core-03"})
    rounds(made, 3)
    assert outliers.read_view(keys.tree("p")).votes["core-03"] == {"core-01", "core-02"}
    assert keys.values["p/quarantine"] == "core-02", "a second node was quarantined while one was out"
    assert set(seen.values()) == {"core-02"}, f"the detectors disagree on who is out: {seen}"


def test_a_node_quarantined_again_soon_is_out_twice_as_long():
    keys = _Keys()
    made, _ = detectors(keys, down={"core-02"})
    rounds(made, 3)
    keys.delete("p/quarantine")  # lapsed
    rounds(made, 1)
    assert keys.values["p/quarantine"] == "core-02"
    assert keys.ttls["p/quarantine"] == 2 * FAST.eject_seconds
    assert outliers.eject_ttl(FAST, 10) == FAST.eject_max


def test_the_agent_answers_about_the_node_it_is_asked_of():
    quarantined: list[str | None] = [None]
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.close()
    agent = outliers.Agent(port, "core-01", lambda: quarantined[0])
    threading.Thread(target=agent.serve, daemon=True).start()
    for _ in range(200):  # until it listens (a probe takes a refusal for an answer: it cannot wait on one)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except ConnectionRefusedError:
            time.sleep(0.01)

    def ask(line: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(line)
            return conn.recv(64)

    assert ask(b"\n") == b"up\n"
    assert outliers.probe(f"127.0.0.1:{port}", 1.0, payload=100_000) is not None, "a probe's payload did not arrive"
    quarantined[0] = "core-02"
    assert ask(b"\n") == b"up\n", "core-01's agent reported its own node for a peer's quarantine"
    assert ask(b"core-02\n").startswith(b"down #"), "asked about a quarantined peer, the agent said up"
    quarantined[0] = "core-01"
    assert ask(b"\n").startswith(b"down #")


def test_a_probe_of_an_agent_that_accepts_and_never_answers_fails_within_its_budget():
    frozen = socket.create_server(("127.0.0.1", 0))  # listening, never accepting: a frozen node's kernel
    address = f"127.0.0.1:{frozen.getsockname()[1]}"
    started = time.monotonic()
    assert outliers.probe(address, 0.2) is None
    assert time.monotonic() - started < 1
    frozen.close()


def test_a_refused_probe_is_an_answer_a_node_without_its_sidekick_is_not_quarantined():
    closed = socket.create_server(("127.0.0.1", 0))
    address = f"127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    assert outliers.probe(address, 0.5) is not None


def test_settings_come_from_outlier_variables():
    settings = outliers.settings_from({"OUTLIER_BUDGET": "0.8", "OUTLIER_FAIL_ROUNDS": "2"})
    assert (settings.budget, settings.fail_rounds, settings.window) == (0.8, 2, outliers.Settings().window)


def test_the_agent_reads_the_node_named_with_or_without_a_newline():
    for sent in (b"core-02\n", b"core-02\\n", b"core-02"):
        client, server = socket.socketpair()
        client.sendall(sent)
        if not sent.endswith(b"\n"):
            client.shutdown(socket.SHUT_WR)
        assert outliers.asked_about(server) == "core-02", sent
        client.close()
        server.close()


def test_a_prober_that_finds_one_peer_alone_slow_asks_for_the_lead_before_any_quorum():
    # A vote is a write through etcd's leader, which may be the slow node itself: the lead is asked
    # off it at the first failed probe, when every other peer answers this prober quickly.
    keys = _Keys()
    made, _ = detectors(keys, down={"core-02"})
    rounds(made[:1], 1)
    assert keys.lead_asked == ("core-02", "core-01"), "the lead was not asked off at the first failed probe"


def test_a_prober_that_finds_every_peer_slow_does_not_ask_for_the_lead():
    # Behind a narrow link a node finds every peer slow; it must not pull the lead onto itself.
    keys = _Keys()
    made, _ = detectors(keys, down={"core-02", "core-03"})
    rounds(made[:1], FAST.fail_rounds + 1)
    assert not hasattr(keys, "lead_asked")


def test_a_vote_written_while_a_prober_probes_makes_the_quorum_in_that_round():
    # The view is read before the probes, which take up to the budget: the second voter reads the
    # votes again, so the quarantine does not wait for anyone's next round.
    keys = _Keys()
    probed = []

    def probe(address, budget, payload):
        if not address.startswith("core-02"):
            return 0.001
        probed.append(address)
        if len(probed) == FAST.fail_rounds:  # the probe that starts this prober's vote
            keys.put("p/votes/core-02/core-01", "", ttl=FAST.vote_ttl)  # the other peer votes meanwhile
        return None

    for node in ("core-01", "core-02", "core-03"):
        keys.put(f"p/agents/{node}", f"{node}:1")
    prober = outliers.Detector("core-03", "core-03:1", keys, "p", FAST, lambda q: None, probe=probe)
    rounds([prober], FAST.fail_rounds)
    assert keys.values.get("p/quarantine") == "core-02", "the quorum waited for a round after the second vote"
    assert keys.values["p/ejections/core-02"] == "1"


def test_writes_go_to_members_other_than_a_suspect_s():
    keys = _Keys()
    made, _ = detectors(keys, down={"core-02"})
    rounds(made[:1], 1)
    assert keys.shunned == {"core-02"}
    made[0].probe = lambda address, budget, payload: 0.001
    rounds(made[:1], 1)
    assert keys.shunned == set()
