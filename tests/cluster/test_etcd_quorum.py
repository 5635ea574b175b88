"""etcd2 quorum: membership, replication, and what a majority (or its absence) allows."""

from __future__ import annotations

import secrets

import etcd as python_etcd
import pytest

from wpcluster.checks.state import check_etcd_healthy
from wpcluster.clients.etcd import cluster_health, member_client
from wpcluster.core.waits import eventually

PREFIX = "/wpcluster-test/quorum"
CATCH_UP_WITHIN = 30.0


def fresh_key(label: str) -> str:
    return f"{PREFIX}/{label}-{secrets.token_hex(4)}"


def client_of(cluster, node):
    return member_client(cluster.shape.etcd_client_url(node.address))


@pytest.mark.checks("etcd-healthy")
def test_every_member_healthy_and_listed(cluster):
    check_etcd_healthy(cluster)


def test_exactly_one_leader_that_every_member_follows(cluster):
    health = cluster_health(cluster.etcd_endpoints)
    assert len(health.leaders) == 1, f"expected one leader, found {health.leaders}: {health.describe()}"
    leader_id = next(m.member_id for m in health.endpoints if m.state == "StateLeader")
    followers = {m.name: m.leader_id for m in health.endpoints if m.state != "StateLeader"}
    assert all(lid == leader_id for lid in followers.values()), (
        f"followers disagree on the leader {leader_id}: {followers}"
    )


@pytest.mark.changes
def test_write_through_any_member_reads_back_from_every_other(cluster):
    for writer in cluster.nodes:
        key, value = fresh_key(f"from-{writer.name}"), secrets.token_hex(8)
        client_of(cluster, writer).write(key, value)
        for reader in cluster.nodes:
            if reader is writer:
                continue
            got = client_of(cluster, reader).read(key, quorum=True).value
            assert got == value, f"{key} written through {writer.name} reads {got!r} on {reader.name}"


@pytest.mark.destructive
def test_one_member_down_writes_still_succeed(cluster, nemesis):
    down = cluster.nodes[-1]
    nemesis.stop_member(down)
    for node in cluster.nodes[:-1]:
        key, value = fresh_key(f"one-down-{node.name}"), secrets.token_hex(8)
        client_of(cluster, node).write(key, value)
        assert client_of(cluster, node).read(key, quorum=True).value == value


@pytest.mark.destructive
def test_two_members_down_refuse_writes_and_lose_nothing_acknowledged(cluster, nemesis):
    survivor, *stopped = cluster.nodes
    acknowledged = {}
    for i in range(5):
        key, value = fresh_key(f"acked-{i}"), secrets.token_hex(8)
        client_of(cluster, survivor).write(key, value)
        acknowledged[key] = value

    for node in stopped:
        nemesis.stop_member(node)
    # A lone member must lose its leadership and refuse both writes and quorum reads.
    lone = client_of(cluster, survivor)
    eventually(lambda: not cluster_health([cluster.shape.etcd_client_url(survivor.address)]).healthy,
               15, 0.25, what=f"{survivor.name} reporting lost quorum")
    with pytest.raises(python_etcd.EtcdException) as write_error:
        lone.write(fresh_key("without-quorum"), "must-not-be-acknowledged")
    with pytest.raises(python_etcd.EtcdException):
        lone.read(next(iter(acknowledged)), quorum=True)
    assert str(write_error.value), "the refused write gave no error message"

    for node in stopped:
        nemesis.start_member(node)
    eventually(lambda: check_etcd_healthy(cluster) or True, 45, 0.5, what="quorum back after restart")
    for reader in cluster.nodes:
        client = client_of(cluster, reader)
        lost = {k: v for k, v in acknowledged.items() if client.read(k, quorum=True).value != v}
        assert not lost, f"acknowledged writes lost on {reader.name}: {sorted(lost)}"


@pytest.mark.destructive
def test_restarted_member_rejoins_and_catches_up(cluster, nemesis):
    member = cluster.nodes[1]
    others = [n for n in cluster.nodes if n is not member]
    nemesis.stop_member(member)
    written = {}
    for i in range(10):
        key, value = fresh_key(f"while-down-{i}"), secrets.token_hex(8)
        client_of(cluster, others[i % len(others)]).write(key, value)
        written[key] = value
    nemesis.start_member(member)

    def caught_up() -> bool:
        client = client_of(cluster, member)  # a local (non-quorum) read: the member's own copy
        missing = [k for k, v in written.items() if client.read(k).value != v]
        assert not missing, f"{member.name} still lacks {len(missing)} of {len(written)} writes"
        return True

    eventually(caught_up, CATCH_UP_WITHIN, 0.5, what=f"{member.name} rejoined and caught up")
    check_etcd_healthy(cluster)


@pytest.mark.destructive
def test_partitioned_member_refuses_writes_and_catches_up_after_heal(cluster, nemesis):
    cut = cluster.nodes[-1]
    majority = cluster.nodes[:-1]
    nemesis.partition(cut)
    isolated = client_of(cluster, cut)
    eventually(lambda: not cluster_health([cluster.shape.etcd_client_url(cut.address)]).healthy,
               15, 0.25, what=f"partitioned {cut.name} reporting lost quorum")
    with pytest.raises(python_etcd.EtcdException):
        isolated.write(fresh_key("minority"), "must-not-be-acknowledged")

    written = {}
    for i, node in enumerate(majority * 3):
        key, value = fresh_key(f"majority-{i}"), secrets.token_hex(8)
        client_of(cluster, node).write(key, value)
        written[key] = value

    nemesis.heal(cut)

    def caught_up() -> bool:
        missing = [k for k, v in written.items() if isolated.read(k).value != v]
        assert not missing, f"{cut.name} still lacks {len(missing)} of {len(written)} majority writes"
        return True

    eventually(caught_up, CATCH_UP_WITHIN, 0.5, what=f"{cut.name} caught up after the heal")
