"""etcd2 clients: python-etcd for keys, and a small reader of each member's health and role."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import ParseResult, urlparse

import etcd
import requests
import urllib3


def port_of(url: ParseResult) -> int:
    """An endpoint's port: every endpoint comes from the shape (or an inventory) with its port spelled."""
    if url.port is None:
        raise ValueError(f"etcd endpoint {url.geturl()!r} has no port; write it as http://host:port")
    return url.port


def keys_client(endpoints: list[str], timeout: float = 3) -> etcd.Client:
    """A python-etcd client over every member, failing over to the next when one is down.

    A member that is down costs one connect timeout, not four: python-etcd's pool would retry a dead
    member three times (urllib3's default) before failing over, and a check asking it while a node
    is dead took 12 s per call, which a failover test then counted as the site's recovery time."""
    hosts = tuple((url.hostname, port_of(url)) for url in map(urlparse, endpoints))
    client = etcd.Client(host=hosts, protocol="http", allow_reconnect=True, read_timeout=timeout)
    client.http = urllib3.PoolManager(num_pools=10, retries=urllib3.Retry(total=None, connect=0, read=0, status=0,
                                                                          redirect=5))
    return client


def member_client(endpoint: str, timeout: float = 3) -> etcd.Client:
    """A python-etcd client bound to one member only (no failover), to test that member."""
    url = urlparse(endpoint)
    return etcd.Client(host=url.hostname, port=port_of(url), protocol="http",
                       allow_reconnect=False, read_timeout=timeout)


@dataclass
class MemberState:
    endpoint: str
    healthy: bool
    name: str = ""
    member_id: str = ""
    state: str = ""  # StateLeader / StateFollower, from /v2/stats/self
    leader_id: str = ""
    error: str = ""


@dataclass
class Health:
    """What every endpoint said about itself and the member list."""

    endpoints: list[MemberState]
    members: list[dict] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(m.healthy for m in self.endpoints)

    @property
    def leaders(self) -> list[str]:
        return [m.name for m in self.endpoints if m.state == "StateLeader"]

    def describe(self) -> str:
        parts = []
        for m in self.endpoints:
            who = f"{m.name} ({m.endpoint})" if m.name else m.endpoint
            if m.healthy:
                parts.append(f"{who}: healthy {m.state.removeprefix('State').lower()}")
            else:
                parts.append(f"{who}: UNHEALTHY ({m.error})")
        return f"{len(self.members)} members listed; " + "; ".join(parts)


def member_state(endpoint: str, timeout: float = 2) -> MemberState:
    """Ask one member whether it is healthy (has a leader and quorum) and what role it plays."""
    state = MemberState(endpoint=endpoint, healthy=False)
    try:
        health = requests.get(f"{endpoint}/health", timeout=timeout)
        state.healthy = health.status_code == 200 and health.json().get("health") == "true"
        if not state.healthy:
            state.error = f"/health says {health.text.strip()[:120]}"
        stats = requests.get(f"{endpoint}/v2/stats/self", timeout=timeout).json()
        state.name, state.member_id = stats.get("name", ""), stats.get("id", "")
        state.state = stats.get("state", "")
        state.leader_id = stats.get("leaderInfo", {}).get("leader", "")
    except (requests.RequestException, ValueError) as exc:
        state.healthy = False
        state.error = f"no answer: {type(exc).__name__}"
    return state


def cluster_health(endpoints: list[str], timeout: float = 2, names: list[str] | None = None) -> Health:
    """Health of every endpoint, and the member list as the first answering member sees it.

    ``names`` (the nodes the endpoints belong to) name members that do not answer.
    """
    health = Health([member_state(e, timeout) for e in endpoints])
    for state, name in zip(health.endpoints, names or [], strict=False):
        state.name = state.name or name
    for endpoint in endpoints:
        try:
            health.members = requests.get(f"{endpoint}/v2/members", timeout=timeout).json()["members"]
            break
        except (requests.RequestException, ValueError, KeyError):
            continue
    return health
