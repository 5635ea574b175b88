"""Profiles: a named overlay of the shape's timers plus a selection of faults.

``release`` is the shape as written (the seed's production timers) and every fault: what a release
is certified with, and the default. ``quick`` is for every change: fleet's agent TTL and the
sidekick's server TTL, heartbeat and reconcile shortened to what fleet's and etcd's own test suites
run with, every suite, and one fault of each family (the failover test marked
``@pytest.mark.represents(family)``). Every bound is derived from the shape (``wpcluster.checks.thresholds``),
so it tightens with the timers; none is loosened for a profile.

The profile is chosen by ``--profile`` (the ``wpcluster`` command, ``wpcluster certify``, pytest) or
$WPCLUSTER_PROFILE, which every process of a run (nested sessions, Locust) inherits. A lab records
the timers it was brought up with, and a run refuses a lab brought up with other timers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from wpcluster.core.errors import WpclusterError

PROFILE_ENV = "WPCLUSTER_PROFILE"


@dataclass(frozen=True)
class Profile:
    name: str
    purpose: str
    # Dotted shape keys -> the value that replaces the shape file's own.
    timers: dict[str, Any] = field(default_factory=dict)
    # Only the failover test that represents its family (``represents`` marker) runs.
    one_fault_per_family: bool = False

    def overlay(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The parsed shape document with this profile's timers in place of its own."""
        merged = {section: dict(values) if isinstance(values, dict) else values for section, values in doc.items()}
        for key, value in self.timers.items():
            section, name = key.split(".", 1)
            merged.setdefault(section, {})[name] = value
        return merged


RELEASE = Profile("release", "a release certification: the shape's own timers, every fault")
# fleet's functional tests run fleetd with agent_ttl=3s; etcd's tests use leases of a few seconds. The
# engine reconciles every 0.5 s, so its leader's lease (5 of those) runs out within the agent TTL too.
QUICK = Profile(
    "quick", "a check of every change: shortened timers, every suite, one fault of each family",
    timers={"fleet.agent_ttl": "3s", "fleet.engine_reconcile_interval": 0.5, "site.server_ttl": 5,
            "site.heartbeat": 1, "site.reconcile": 3},
    one_fault_per_family=True)
PROFILES = {p.name: p for p in (RELEASE, QUICK)}


def profile_named(name: str) -> Profile:
    """The profile ``name``, or an error listing the profiles there are."""
    try:
        return PROFILES[name]
    except KeyError:
        raise WpclusterError(f"no profile {name!r}",
                             f"use --profile {' or --profile '.join(PROFILES)} (or set {PROFILE_ENV})") from None


def current_profile() -> Profile:
    """The run's profile: $WPCLUSTER_PROFILE, else release."""
    return profile_named(os.environ.get(PROFILE_ENV) or RELEASE.name)


def take_profile_option(args: list[str]) -> list[str]:
    """``args`` without ``--profile NAME`` / ``--profile=NAME``; the name chosen goes to $WPCLUSTER_PROFILE
    (after checking it names a profile), so every process of the run inherits it."""
    rest, chosen, it = [], None, iter(args)
    for arg in it:
        if arg == "--profile":
            chosen = next(it, None)
            if chosen is None:
                raise WpclusterError("--profile needs a name", f"write --profile {' or --profile '.join(PROFILES)}")
        elif arg.startswith("--profile="):
            chosen = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if chosen is not None:
        os.environ[PROFILE_ENV] = profile_named(chosen).name
    return rest
