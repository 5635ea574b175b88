"""What a node is told at boot: the etcd2, fleet and environment settings cloud-config gave CoreOS.

Rendering lives here, away from any provider, so the lab (files written into
a container before it boots), vagrant (a cloud-config user-data) and
inventory (checked against what is there) all derive the same values from
the one shape.
"""

from __future__ import annotations

import json
import math
import secrets

import requests

from wpcluster.core.errors import LabError, WpclusterError
from wpcluster.core.shape import Shape

DISCOVERY_PREFIX = "/v2/keys/_etcd/registry"
FLEET_CONF = "/etc/fleet/fleet.conf"
FLEET_WATCHDOG_ENV = "/etc/fleet/fleet-watchdog.env"  # images/node/fleet-watchdog.service reads it


def etcd2_environment(shape: Shape, node: str, discovery_url: str | None, cluster_token: str, *,
                      address: str | None = None, public_address: str | None = None) -> dict[str, str]:
    """etcd2's settings for ``node``, as the seed's user-data set them.

    With ``discovery_url`` the members find each other through the discovery
    service; without it they use a static initial cluster. ``address`` (the
    peers') and ``public_address`` (the clients') default to the node's lab
    address; a cloud-config passes coreos-cloudinit's ``$private_ipv4`` and
    ``$public_ipv4``.
    """
    address = address or shape.node_address(node)
    env = {
        "ETCD_NAME": node,
        "ETCD_DATA_DIR": "/var/lib/etcd2",
        "ETCD_ENABLE_V2": "true",
        # A member that was cut off must not disrupt the majority's leader when it returns.
        "ETCD_PRE_VOTE": "true",
        "ETCD_ADVERTISE_CLIENT_URLS": shape.etcd_client_url(public_address or address),
        "ETCD_INITIAL_ADVERTISE_PEER_URLS": shape.etcd_peer_url(address),
        "ETCD_LISTEN_CLIENT_URLS": f"http://0.0.0.0:{shape.etcd_client_port}",
        "ETCD_LISTEN_PEER_URLS": shape.etcd_peer_url(address),
    }
    if discovery_url:
        env["ETCD_DISCOVERY"] = discovery_url
    else:
        env["ETCD_INITIAL_CLUSTER"] = ",".join(
            f"{n}={shape.etcd_peer_url(shape.node_address(n))}" for n in shape.nodes
        )
        env["ETCD_INITIAL_CLUSTER_STATE"] = "new"
        env["ETCD_INITIAL_CLUSTER_TOKEN"] = cluster_token
    return env


def local_member_url(shape: Shape) -> str:
    """A node's own etcd member, as its daemons reach it."""
    return f"http://127.0.0.1:{shape.etcd_client_port}"


def other_members(shape: Shape, node: str) -> list[str]:
    """The client URLs of every etcd member but ``node``'s."""
    return [shape.etcd_client_url(shape.node_address(n)) for n in shape.nodes if n != node]


def fleet_settings(shape: Shape, public_ip: str, members: list[str]) -> dict[str, str | list[str] | float]:
    """fleetd's settings, by its option names: its own etcd member first, then ``members``; its public IP.

    CoreOS gave fleetd only the local member. With that member down for longer than the agent
    TTL, fleetd cannot heartbeat, the machine drops out of the cluster, its units move, and
    fleetd's registration back-off (up to a minute) keeps it out well after the member is back.
    The other members keep it in the cluster through a member outage.
    """
    return {
        "etcd_servers": [local_member_url(shape), *members],
        "public_ip": public_ip,
        "agent_ttl": shape.fleet_agent_ttl,
        "engine_reconcile_interval": shape.fleet_engine_reconcile,
    }


def fleet_config(shape: Shape, node: str) -> dict[str, str]:
    """/etc/fleet/fleet.conf's lines for ``node`` (fleet's config file quotes strings and lists)."""
    settings = fleet_settings(shape, shape.node_address(node), other_members(shape, node))
    return {key: f"{value:g}" if isinstance(value, float) else json.dumps(value) for key, value in settings.items()}


def fleet_watchdog_settings(shape: Shape, self_url: str, members: list[str]) -> dict[str, str]:
    """The fleet watchdog's settings (images/node/fleet-watchdog): its node's etcd member, the
    members it pings to tell a node cut off (``members`` but ``self_url``, its own member as the
    others reach it; the watchdog leaves it out again where one text serves every node) and fleet's
    agent TTL in whole seconds, rounded up (it counts in seconds)."""
    return {
        "ETCD_LOCAL_URL": local_member_url(shape),
        "ETCD_SELF_URL": self_url,
        "ETCD_PEER_URLS": " ".join(m for m in members if m != self_url),
        "FLEET_AGENT_TTL_SECONDS": str(math.ceil(shape.fleet_agent_ttl_seconds)),
    }


def fleet_watchdog_environment(shape: Shape, node: str) -> dict[str, str]:
    """/etc/fleet/fleet-watchdog.env for ``node``: the members by their lab addresses."""
    return fleet_watchdog_settings(shape, shape.etcd_client_url(shape.node_address(node)),
                                      [shape.etcd_client_url(shape.node_address(n)) for n in shape.nodes])


def coreos_environment(shape: Shape, node: str, registry: str, *, address: str | None = None,
                       public_address: str | None = None) -> dict[str, str]:
    """/etc/environment as units on CoreOS expect it, plus where to pull images from (addresses as
    in etcd2_environment)."""
    address = address or shape.node_address(node)
    return {
        "COREOS_PUBLIC_IPV4": public_address or address,
        "COREOS_PRIVATE_IPV4": address,
        "WPCLUSTER_REGISTRY": registry,
    }


def docker_daemon_config(registry: str) -> str:
    """/etc/docker/daemon.json: the harness's registry speaks plain HTTP."""
    return json.dumps({"insecure-registries": [registry]}) + "\n"


def env_file(values: dict[str, str]) -> str:
    """Render KEY=value lines (systemd EnvironmentFile and /etc/environment syntax)."""
    return "".join(f"{key}={value}\n" for key, value in values.items())


def mint_discovery_url(service: str, size: int, timeout: float = 5,
                       fix: str = "check that the discovery host is running, or set [etcd] bootstrap = \"static\"",
                       ) -> str:
    """Ask an etcd-protocol discovery service for a new token of ``size`` members.

    discovery.etcd.io is etcd's v2 keys API: a token is a directory under
    /_etcd/registry whose ``_config/size`` tells members how many to wait for.
    """
    token = secrets.token_hex(16)
    url = f"{service.rstrip('/')}{DISCOVERY_PREFIX}/{token}"
    try:
        reply = requests.put(f"{url}/_config/size", data={"value": str(size)}, timeout=timeout)
    except requests.RequestException as exc:
        raise LabError(f"the discovery service {service} does not answer: {exc}", fix) from None
    if reply.status_code not in (200, 201):
        raise LabError(f"the discovery service {service} refused a new token: {reply.status_code} {reply.text[:200]}",
                       "check the discovery service's logs")
    return url


def request_discovery_url(new_url: str, size: int, timeout: float = 10) -> str:
    """Ask a discovery.etcd.io-style service for a fresh token: GET ``new_url`` ({size} filled in)
    answers with the token's URL in the body (the seed's `curl https://discovery.etcd.io/new?size=3`)."""
    url = new_url.replace("{size}", str(size))
    fix = "check the network, or point [vagrant] discovery_service at a discovery service that answers"
    try:
        reply = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise WpclusterError(f"the discovery service {url} does not answer: {exc}", fix) from None
    token_url = reply.text.strip()
    if reply.status_code != 200 or not token_url.startswith(("http://", "https://")) or " " in token_url:
        raise WpclusterError(f"the discovery service {url} answered {reply.status_code} without a token URL: "
                             f"{reply.text[:200]!r}", fix)
    return token_url


def new_discovery_url(service: str, size: int) -> str:
    """A fresh token from ``service``: a discovery.etcd.io-style URL (``{size}`` in it; GET answers the
    token's URL) or an etcd's client URL, where the token is made as the lab makes it."""
    if "{size}" in service:
        return request_discovery_url(service, size)
    return mint_discovery_url(service, size, fix="check that the etcd at [vagrant] discovery_service answers, or "
                                                 "point it at a discovery service that does")
