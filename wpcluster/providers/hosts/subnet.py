"""The lab network's subnet must not clash with anything the host already routes."""

from __future__ import annotations

import ipaddress
import json
import subprocess

import docker

from wpcluster.core.errors import LabError
from wpcluster.core.labels import RUN_LABEL, lab_of


def clashes(subnet: ipaddress.IPv4Network, in_use: dict[str, str]) -> list[str]:
    """Names (with their networks) of ``in_use`` networks that overlap ``subnet``."""
    found = []
    for owner, network in in_use.items():
        try:
            if subnet.overlaps(ipaddress.ip_network(network, strict=False)):
                found.append(f"{owner} ({network})")
        except ValueError:
            continue
    return found


def networks_in_use(client: docker.DockerClient, lab: str) -> dict[str, str]:
    """Every IPv4 network the host routes or a Docker network holds, but lab ``lab``'s own (removed as
    leftovers before the check). Another lab's network is named with its lab and run."""
    in_use: dict[str, str] = {}
    for net in client.networks.list():
        labels = net.attrs.get("Labels") or {}
        if RUN_LABEL in labels and lab_of(labels) == lab:
            continue
        owner = (f"the network {net.name} of lab {lab_of(labels)} (run {labels[RUN_LABEL]})" if RUN_LABEL in labels
                 else f"docker network {net.name}")
        for config in (net.attrs.get("IPAM") or {}).get("Config") or []:
            if "Subnet" in config and ":" not in config["Subnet"]:
                in_use[owner] = config["Subnet"]
    try:
        routes = json.loads(subprocess.run(["ip", "-j", "-4", "route"], capture_output=True, text=True).stdout)
    except (OSError, json.JSONDecodeError):
        routes = []
    for route in routes:
        dst, dev = route.get("dst", ""), route.get("dev", "?")
        # Docker's own bridges are covered, with their names, by the network list above.
        if dst and dst != "default" and not dev.startswith(("br-", "docker")):
            in_use[f"host route via {dev}"] = dst
    return in_use


def check_subnet_free(client: docker.DockerClient, subnet: ipaddress.IPv4Network, source: str, lab: str,
                      key: str = "[lab] subnet") -> None:
    """Raise naming what already uses ``subnet`` (the shape's ``key``) and how to pick another."""
    found = clashes(subnet, networks_in_use(client, lab))
    if found:
        raise LabError(
            f"the subnet {subnet} ({key}) is already in use by: {', '.join(found)}",
            f"choose a free subnet in {key} of {source} (or remove what uses it)",
        )
