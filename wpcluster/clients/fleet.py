"""fleetctl, driven from the host with parsed results.

fleetctl's etcd driver reads and writes fleet's registry in etcd directly;
``journal`` and ``ssh`` reach the unit's machine over SSH, with the
provider's identity in an agent (the seed's `ssh-add` step).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from wpcluster.core.waits import eventually

if TYPE_CHECKING:
    import etcd as python_etcd

    from wpcluster.core.cluster import Cluster

# How long an etcd endpoint has to answer before fleetctl is told it last (``answering_first``).
ENDPOINT_PROBE_SECONDS = 0.5


def answering_first(endpoints: list[str], within: float = ENDPOINT_PROBE_SECONDS) -> list[str]:
    """``endpoints`` with those whose etcd answers ``/version`` within ``within`` first, in their order.

    fleetctl tries its endpoints in order and gives each its whole request timeout: with one node
    killed or frozen, every call waited 5 s on that member, and a wait for recovery that asks fleet
    twice a round saw the site whole 12 s after it was."""
    if len(endpoints) < 2:
        return endpoints

    def answers(endpoint: str) -> bool:
        try:
            return requests.get(f"{endpoint}/version", timeout=within).ok
        except requests.RequestException:
            return False

    with ThreadPoolExecutor(max_workers=len(endpoints)) as pool:
        answered = list(pool.map(answers, endpoints))
    return ([e for e, ok in zip(endpoints, answered, strict=True) if ok]
            + [e for e, ok in zip(endpoints, answered, strict=True) if not ok])


# fleet v1.0.0's registry in etcd: its default etcd_key_prefix, which bootstrap leaves as it is.
REGISTRY_PREFIX = "/_coreos.com/fleet"


def _machine_keys(etcd_client: python_etcd.Client, quorum: bool = False) -> dict[str, python_etcd.EtcdResult]:
    """Each fleet machine's presence key (``machines/<id>/object``), by machine ID."""
    read = etcd_client.read(f"{REGISTRY_PREFIX}/machines", recursive=True, **({"quorum": True} if quorum else {}))
    return {leaf.key.split("/")[-2]: leaf for leaf in read.leaves if leaf.key.endswith("/object")}


def machine_lease_ends(etcd_client: python_etcd.Client) -> dict[str, float]:
    """When each fleet machine's presence key runs out: machine ID -> epoch seconds.

    An agent sets its machine's key with the agent TTL at every beat; the engine moves the units of a
    machine whose key has run out."""
    return {machine: _epoch(leaf.expiration) for machine, leaf in _machine_keys(etcd_client).items()
            if leaf.expiration}


def registry_targets(etcd_client: python_etcd.Client) -> dict[str, str]:
    """What `Fleetctl.targets` lists (unit -> the address of the machine the engine scheduled it to),
    read from fleet's registry with ``etcd_client``: fleetctl's etcd driver asks any member it likes,
    and one behind a narrow link took it 1.6-5 s a listing under a bandwidth cap. Read from the member
    asked (not through the leader, which may be the very node behind that link)."""
    targets, live = registry_schedule(etcd_client, quorum=False)
    return {unit: address for unit, address in targets.items() if address in live}


def registry_schedule(etcd_client: python_etcd.Client, quorum: bool = True) -> tuple[dict[str, str], set[str]]:
    """What `Fleetctl.schedule` says, read from fleet's registry in two reads (through etcd's leader
    with ``quorum``): (unit -> the address of the machine the engine scheduled it to, or that
    machine's ID once its presence key is gone; the addresses of the machines fleet lists). Two
    fleetctl calls took 6.4 s under a failover's load, and a recovery check that slow saw the site
    whole seconds after it was."""
    options = {"quorum": True} if quorum else {}
    machines = {machine: json.loads(leaf.value).get("PublicIP", "")
                for machine, leaf in _machine_keys(etcd_client, quorum).items() if leaf.value}
    targets = {}
    for leaf in etcd_client.read(f"{REGISTRY_PREFIX}/job", recursive=True, **options).leaves:
        parts = leaf.key.split("/")
        if parts[-1] == "target" and leaf.value:
            targets[parts[-2]] = machines.get(leaf.value) or leaf.value
    return targets, {address for address in machines.values() if address}


def _epoch(rfc3339: str) -> float:
    """etcd's expiration ("2026-12-05T12:18:11.19135709Z": nanoseconds, UTC) in epoch seconds."""
    whole, _, fraction = rfc3339.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole + "+00:00").timestamp() + (float(f"0.{fraction}") if fraction else 0.0)


def agents_hurt_by_etcd_outage(start: float, outage: float, lease_ends: dict[str, float], agent_ttl: float
                               ) -> list[str]:
    """The machines whose fleet agent an etcd outage of ``outage`` seconds from ``start`` disturbs.

    fleet v1.0.0 beats every half agent TTL and, once a beat has failed for a third of it, restarts
    its server; that restart can hang (coreos/fleet#1716) until the node's watchdog replaces the
    fleetd, and the engine then moves the node's units. A machine whose key runs out before etcd is
    back is moved as well. Only the first beat at or after ``start`` can fail that long."""
    period, give_up = agent_ttl / 2, agent_ttl / 3
    hurt = []
    for machine, end in lease_ends.items():
        last_beat = end - agent_ttl
        first_tick = last_beat + math.ceil((start - last_beat) / period) * period
        if first_tick + give_up < start + outage or end < start + outage:
            hurt.append(machine)
    return sorted(hurt)


def quietest_etcd_outage_start(now: float, outage: float, lease_ends: dict[str, float], agent_ttl: float,
                               after_beat: float = 0.5) -> float:
    """When, within one beat period from ``now``, an etcd outage of ``outage`` seconds disturbs the
    fewest fleet agents (``agents_hurt_by_etcd_outage``): just after one of their beats, or now; the
    earliest of equals."""
    period = agent_ttl / 2
    candidates = [now]
    for end in lease_ends.values():
        last_beat = end - agent_ttl
        beat = last_beat + math.ceil((now - after_beat - last_beat) / period) * period + after_beat
        candidates.append(beat)
    return min(candidates, key=lambda s: (len(agents_hurt_by_etcd_outage(s, outage, lease_ends, agent_ttl)), s))


class FleetctlError(RuntimeError):
    """fleetctl exited non-zero; the message holds the command and what it printed."""


@dataclass(frozen=True)
class Machine:
    machine_id: str
    ip: str
    metadata: str


@dataclass(frozen=True)
class Unit:
    name: str
    machine_id: str
    ip: str
    active: str
    sub: str


def parse_machines(text: str) -> list[Machine]:
    """Parse `fleetctl list-machines --full --no-legend --fields=machine,ip,metadata`."""
    machines = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip():
            continue
        metadata = fields[2].strip() if len(fields) > 2 else "-"
        machines.append(Machine(fields[0].strip(), fields[1].strip(), metadata))
    return machines


def columns(line: str) -> list[str]:
    """A fleetctl listing's line as its columns: fleetctl aligns them with tabs, so a short value is
    followed by more than one."""
    return [f.strip() for f in line.split("\t") if f.strip()]


def parse_targets(text: str) -> dict[str, str]:
    """Parse `fleetctl list-unit-files --full --no-legend --fields=unit,target`: unit -> the address of
    the machine fleet's engine scheduled it to; units it has not scheduled (``-``) are left out."""
    targets = {}
    for line in text.splitlines():
        fields = columns(line)
        if len(fields) == 2 and "/" in fields[1]:
            targets[fields[0]] = fields[1].partition("/")[2]
    return targets


def parse_units(text: str) -> list[Unit]:
    """Parse `fleetctl list-units --full --no-legend --fields=unit,machine,active,sub`.

    The machine column reads ``<id>/<ip>``, or ``-`` for a unit not yet placed.
    """
    units = []
    for line in text.splitlines():
        fields = columns(line)
        if len(fields) != 4:
            continue
        name, machine, active, sub = fields
        machine_id, _, ip = machine.partition("/")
        units.append(Unit(name, "" if machine_id == "-" else machine_id, ip, active, sub))
    return units


class Fleetctl:
    """A fleetctl bound to one cluster: its binary, etcd endpoints and SSH environment."""

    def __init__(self, cluster: Cluster, timeout: float = 60) -> None:
        self.cluster = cluster
        self.timeout = timeout

    def command(self, *args: str) -> list[str]:
        endpoints = ",".join(answering_first(self.cluster.fleet_endpoints))
        return [
            self.cluster.fleetctl, "--driver=etcd", f"--endpoint={endpoints}",
            "--strict-host-key-checking=false", "--request-timeout=5", *args,
        ]

    def run(self, *args: str, timeout: float | None = None) -> str:
        env = dict(os.environ, **self.cluster.fleetctl_env)
        try:
            done = subprocess.run(self.command(*args), capture_output=True, text=True, env=env,
                                  timeout=timeout or self.timeout)
        except subprocess.TimeoutExpired:
            raise FleetctlError(f"`fleetctl {' '.join(args)}` did not finish within {timeout or self.timeout}s") \
                from None
        if done.returncode != 0:
            raise FleetctlError(f"`fleetctl {' '.join(args)}` exited {done.returncode}: "
                                f"{(done.stderr or done.stdout).strip()[-800:]}")
        return done.stdout

    def version(self) -> str:
        return self.run("version").strip().split()[-1]

    def list_machines(self) -> list[Machine]:
        return parse_machines(self.run("list-machines", "--full", "--no-legend", "--fields=machine,ip,metadata"))

    def list_units(self) -> list[Unit]:
        return parse_units(self.run("list-units", "--full", "--no-legend", "--fields=unit,machine,active,sub"))

    def placed(self, name: str, timeout: float = 30) -> Unit:
        """``name`` as fleet lists it once it is placed on a machine. An agent republishes a unit's
        state on its own schedule, so a listing right after a change can lack the unit for a while."""

        def listed_and_placed() -> Unit:
            unit = self.unit(name)
            assert unit is not None and unit.machine_id and unit.ip, f"fleet lists {name} as {unit}"
            return unit

        return eventually(listed_and_placed, timeout, 0.5, what=f"fleet listing {name} on a machine")

    def list_unit_files(self) -> list[str]:
        """Every unit submitted to fleet, whether or not a machine reports a state for it."""
        return [line.strip() for line in self.run("list-unit-files", "--full", "--no-legend", "--fields=unit")
                .splitlines() if line.strip()]

    def targets(self) -> dict[str, str]:
        """Unit -> the address of the machine the engine scheduled it to. Unlike `list-units`, which
        shows the states agents publish, this does not flicker: fleet 1.0's agent can delete a running
        unit's fresh state when its periodic publish replays a destroyed instance's, and the unit is
        missing from `list-units` until the next publish (up to 24 s with a 30 s TTL; seen after 2 of
        4 redeploys on the lab)."""
        return parse_targets(self.run("list-unit-files", "--full", "--no-legend", "--fields=unit,target"))

    def schedule(self) -> tuple[dict[str, str], set[str]]:
        """The engine's schedule (``targets``) and the addresses of the machines fleet lists."""
        return self.targets(), {m.ip for m in self.list_machines()}

    def unit(self, name: str) -> Unit | None:
        return next((u for u in self.list_units() if u.name == name), None)

    def submit(self, *paths: Path) -> None:
        self.run("submit", *map(str, paths))

    def start(self, *names: str) -> None:
        self.run("start", "--no-block", *names)

    def stop(self, *names: str) -> None:
        """Stop and wait until fleet reports the units stopped (a start right after a stop that
        fleet has not yet carried out is merged into nothing, and a failed unit stays failed)."""
        self.run("stop", "--block-attempts=60", *names, timeout=120)

    def unload(self, *names: str) -> None:
        self.run("unload", "--block-attempts=60", *names, timeout=120)

    def restart(self, *names: str, timeout: float = 60) -> None:
        """Bring back units that failed (say, their container was killed behind fleet's back).

        fleet does not restart a failed unit, and an unload followed at once by a start can be
        merged into nothing; so unload them, wait until the engine has unscheduled them and no agent
        lists them, then start. The engine's schedule decides: `list-units` shows the states agents
        publish, and a unit's state can be missing for a while (see ``targets``), which would read as
        "unloaded" before the engine has acted; the start would be merged with the unload and the unit
        stay failed.
        """

        self.unload(*names)

        def unplaced() -> bool:
            scheduled = sorted(name for name in self.targets() if name in names)
            placed = [u.name for u in self.list_units() if u.name in names and u.machine_id]
            assert not scheduled and not placed, f"still scheduled: {scheduled}; still placed: {placed}"
            return True

        eventually(unplaced, timeout, 0.5, what=f"fleet's engine unscheduling {', '.join(names)}")
        self.start(*names)

    def destroy(self, *names: str) -> None:
        self.run("destroy", *names)

    def journal(self, name: str, lines: int = 50) -> str:
        return self.run("journal", f"--lines={lines}", name)
