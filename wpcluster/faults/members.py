"""etcd faults: one member stopped, killed or replaced (removed, wiped, added back as a new member), or
a majority of the members stopped."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests

from wpcluster.core.waits import eventually
from wpcluster.faults.base import Fault, Ledger, NodeFault

if TYPE_CHECKING:
    from wpcluster.core.cluster import Cluster, Node

ETCD_UNIT = "etcd2.service"
ETCD_ENV = "/etc/etcd2.env"  # images/node/etcd2.service reads it; written per node before boot
ETCD_DATA_DIR = "/var/lib/etcd2"
REJOIN_ENV = "/etc/etcd2-rejoin.env"
REJOIN_DROPIN = f"/etc/systemd/system/{ETCD_UNIT}.d/rejoin.conf"
MEMBER_CHANGE_WITHIN = 15.0  # a member change needs a leader: an election after a stop, with retries
# An empty member joining three takes a snapshot and the log since: seconds on the lab. Past this it
# is not coming (a node config that founds a new cluster instead retries forever).
REJOIN_WITHIN = 30.0
START_MEMBER = f"systemctl start {ETCD_UNIT}"
STOP_MEMBER = f"systemctl stop {ETCD_UNIT}"


def etcd_request(cluster: Cluster, node: Node, method: str, path: str, **kwargs: object) -> requests.Response:
    """``method`` ``path`` on ``node``'s etcd client URL; raises RuntimeError on an answer that is no success."""
    url = cluster.shape.etcd_client_url(node.address) + path
    reply = requests.request(method, url, timeout=5, **kwargs)
    if reply.status_code >= 300:
        raise RuntimeError(f"etcd {method} {url} answered {reply.status_code}: {reply.text[:300]}")
    return reply


def check_member_joined(cluster: Cluster, node: Node) -> bool:
    """``node``'s member answers healthy, and a peer lists it under its name (it has started);
    raises AssertionError saying which is not so."""
    peer = next(n for n in cluster.nodes if n is not node)
    try:
        health = etcd_request(cluster, node, "GET", "/health").json()
        names = {m.get("name") for m in etcd_request(cluster, peer, "GET", "/v2/members").json()["members"]}
    except (RuntimeError, requests.RequestException) as exc:
        raise AssertionError(f"{node.name}'s member or its peer {peer.name} does not answer: {exc}") from None
    assert health.get("health") == "true", f"{node.name}'s member says {health}"
    assert node.name in names, f"{peer.name} lists members {sorted(names)}"
    return True


class MemberStop(NodeFault):
    """The node's etcd2 member stopped cleanly; systemd will not restart it until healed."""

    family = "etcd-member-stop"

    def _act(self) -> None:
        self.node.exec(STOP_MEMBER).check()

    def _undo(self) -> None:
        self.node.exec(START_MEMBER).check()


class MemberKill(NodeFault):
    """The node's etcd2 member SIGKILLed and kept down until healed."""

    family = "etcd-member-kill"

    def _act(self) -> None:
        self.node.exec(f"systemctl kill --signal=KILL {ETCD_UNIT}; {STOP_MEMBER}").check()

    def _undo(self) -> None:
        self.node.exec(START_MEMBER).check()


class MemberReplace(NodeFault):
    """The node's etcd member stopped, removed from the cluster (through a peer) and its data wiped, as an
    operator replacing a member's disk does; healing joins it again as a new, empty member.

    Recorded before acting: a member stopped and not yet removed is still a fault to undo. Its kind
    names the removed member's ID once it is gone ("etcd-member-replace 8e9e05c52164694d")."""

    family = "etcd-member-replace"
    record_before_acting = True

    def __init__(self, nemesis: Ledger, node: Node) -> None:
        super().__init__(nemesis, node)
        self.peer: Node | None = None  # the member the changes go through
        self.member_id = ""  # the node's member before the replacement
        self.removed = ""  # that ID, once the member is out of the cluster

    @property
    def kind(self) -> str:
        return f"{self.family} {self.removed}" if self.removed else self.family

    def available(self, cluster: Cluster) -> str | None:
        if len(cluster.nodes) < 3:
            return (f"a member is removed with the quorum of the others, and {len(cluster.nodes)} members "
                    "have none with one stopped")
        return super().available(cluster)

    def _prepare(self) -> None:
        self.removed = ""
        self.peer = next(n for n in self.cluster.nodes if n is not self.node)
        members = etcd_request(self.cluster, self.peer, "GET", "/v2/members").json()["members"]
        # By name, or by peer URL: a member added back that never started has no name yet.
        peer_url = self.cluster.shape.etcd_peer_url(self.node.address)
        self.member_id = next(m["id"] for m in members if m.get("name") == self.node.name
                              or peer_url in m["peerURLs"])

    def _act(self) -> None:
        node, old = self.node, self.member_id
        node.exec(STOP_MEMBER).check()
        # A stopped leader leaves the others a second or two without one: the removal waits for it.
        eventually(lambda: etcd_request(self.cluster, self.peer, "DELETE", f"/v2/members/{old}"),
                   MEMBER_CHANGE_WITHIN, 0.5, what=f"etcd removing {node.name}'s member {old}")
        node.exec(f"rm -rf {ETCD_DATA_DIR}/member").check()
        self.removed = old
        if self.record is not None:
            self.record.kind = self.kind

    def _undo(self) -> None:
        """Announce the node as a new member, then start it with the existing cluster to join (not the
        discovery URL it was born with, which is spent) through a drop-in taken away once it runs."""
        cluster, node, peer = self.cluster, self.node, self.peer
        peer_url = cluster.shape.etcd_peer_url(node.address)
        eventually(lambda: etcd_request(cluster, peer, "POST", "/v2/members", json={"peerURLs": [peer_url]}),
                   MEMBER_CHANGE_WITHIN, 0.5, what=f"etcd adding {node.name} back as a new member")
        members = etcd_request(cluster, peer, "GET", "/v2/members").json()["members"]
        initial = ",".join(f"{m.get('name') or node.name}={m['peerURLs'][0]}" for m in members)
        env = (f"grep -v '^ETCD_DISCOVERY=' {ETCD_ENV} > {REJOIN_ENV} && "
               f"printf 'ETCD_INITIAL_CLUSTER=%s\nETCD_INITIAL_CLUSTER_STATE=existing\n' '{initial}' >> {REJOIN_ENV}")
        dropin = f"[Service]\nEnvironmentFile=\nEnvironmentFile={REJOIN_ENV}\n"
        # A node told its settings by cloud-config has them in drop-ins, not in the lab's file: this
        # drop-in, read after them, overrides the discovery URL (empty: none) and the initial cluster.
        cloud_config = (f"[Service]\nEnvironment=ETCD_DISCOVERY=\nEnvironment=ETCD_INITIAL_CLUSTER={initial}\n"
                        "Environment=ETCD_INITIAL_CLUSTER_STATE=existing\n")
        # --no-block: a member that cannot join never tells systemd it is ready, and the wait below
        # says why sooner, and better, than systemd's start timeout.
        node.exec(f"mkdir -p {REJOIN_DROPIN.rsplit('/', 1)[0]} && "
                  f"if [ -f {ETCD_ENV} ]; then {env} && printf '{dropin}' > {REJOIN_DROPIN}; "
                  f"else printf '{cloud_config}' > {REJOIN_DROPIN}; fi "
                  f"&& systemctl daemon-reload && systemctl start --no-block {ETCD_UNIT}").check()
        try:
            eventually(lambda: check_member_joined(cluster, node), REJOIN_WITHIN, 0.5,
                       what=f"{node.name}'s etcd member joining as a new member")
        except AssertionError as exc:
            journal = node.exec(f"journalctl -u {ETCD_UNIT} -n 300 --no-pager", timeout=20).stdout.splitlines()
            said = [line for line in journal if any(w in line for w in ("mismatch", "error", "fatal", "panic"))]
            raise AssertionError(f"{node.name}'s etcd member did not rejoin the cluster within {REJOIN_WITHIN:g}s "
                                 f"of being added back ({exc}); its journal ends: {said[-4:]}") from None
        finally:
            # From now on the member starts from its data dir, as every other does.
            node.exec(f"rm -f {REJOIN_DROPIN} {REJOIN_ENV} && systemctl daemon-reload").check()


class MajorityLost(Fault):
    """The etcd members of ``nodes`` (a majority) stopped: no leader, no writes, no TTL expiry.

    Recorded before acting: the members stop one by one, and those stopped before a failure are
    started again at teardown."""

    family = "etcd-majority-lost"
    record_before_acting = True

    def __init__(self, nemesis: Ledger, nodes: list[Node]) -> None:
        super().__init__(nemesis)
        self.nodes = tuple(nodes)

    @property
    def target(self) -> tuple[Node, ...]:
        return self.nodes

    @property
    def where(self) -> str:
        return self.where_of(self.nodes)

    @staticmethod
    def where_of(nodes: list[Node] | tuple[Node, ...]) -> str:
        """The name a majority loss of ``nodes`` is recorded on: theirs, joined ("core-02+core-03")."""
        return "+".join(n.name for n in nodes)

    def available(self, cluster: Cluster) -> str | None:
        names = [n.name for n in cluster.nodes]
        if len(names) < 3:
            return (f"a majority loss takes at least three members (with fewer it is every one); the cluster "
                    f"has {len(names)}")
        if strangers := [n.name for n in self.nodes if n.name not in names]:
            return f"{', '.join(strangers)} are no nodes of this cluster ({', '.join(names)})"
        if 2 * len({n.name for n in self.nodes}) <= len(names):
            return f"{self.where} are no majority of the {len(names)} members"
        return None

    def _act(self) -> None:
        for node in self.nodes:
            node.exec(STOP_MEMBER).check()

    def _undo(self) -> None:
        for node in self.nodes:
            node.exec(START_MEMBER).check()
