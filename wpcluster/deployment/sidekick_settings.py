"""The discovery sidekick on one node, run for a while with settings other than site.env's.

A systemd drop-in adds one more environment file after site.env (systemd lets the later file win),
and the unit is restarted on the node; the drop-in goes and the unit restarts again when the block
ends. Only the environment changes, so another drop-in that replaces the unit's ExecStart (a
self-check's mutated sidekick, tests/harness/defects.py) still applies: the two compose.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import time
from collections.abc import Iterator

from wpcluster.core.cluster import Node
from wpcluster.core.units import SIDEKICK_UNIT
from wpcluster.core.waits import eventually

OVERRIDE_ENV = "/etc/wpcluster/sidekick-override.env"
OVERRIDE_DROPIN = f"/etc/systemd/system/{SIDEKICK_UNIT}.d/wpcluster-override.conf"
# What the sidekick logs once Docker's event stream is open: a container that ends before this
# line is handled by the next full reconcile only.
WATCHING_EVENTS = "watching Docker's container events"
# A restarted sidekick pulls nothing (the image is on the node) and opens the stream within seconds.
READY_WITHIN = 60.0


def _restart_and_wait_watching(node: Node, why: str) -> None:
    since = int(time.time()) - 1
    node.exec(f"systemctl daemon-reload && systemctl restart {SIDEKICK_UNIT}", timeout=90).check()

    def watching() -> bool:
        log = node.exec(f"journalctl --no-pager -o cat -u {SIDEKICK_UNIT} --since @{since}").stdout
        assert WATCHING_EVENTS in log, f"the sidekick on {node.name} has not logged {WATCHING_EVENTS!r} yet"
        return True

    eventually(watching, READY_WITHIN, 0.5, what=f"the sidekick on {node.name} watching Docker's events {why}")


@contextlib.contextmanager
def sidekick_settings(node: Node, **settings: str) -> Iterator[None]:
    """The sidekick on ``node`` runs with ``settings`` (site.env's names: ``SIDEKICK_RECONCILE="600"``)
    while the block runs, and as deployed afterwards; each start waits until it watches Docker's events."""
    unknown = sorted(name for name in settings if not name.startswith("SIDEKICK_"))
    if unknown:
        raise ValueError(f"not sidekick settings: {unknown}; site.env names them SIDEKICK_*")
    env = "".join(f"{name}={shlex.quote(value)}\n" for name, value in settings.items())
    node.put_file(OVERRIDE_ENV, env)
    node.put_file(OVERRIDE_DROPIN, f"# wpcluster: the sidekick's settings changed for a test\n[Service]\n"
                                   f"EnvironmentFile={OVERRIDE_ENV}\n")
    try:
        _restart_and_wait_watching(node, f"with {env.strip()}")
        yield
    finally:
        node.exec(f"rm -f {OVERRIDE_DROPIN} {OVERRIDE_ENV}").check()
        _restart_and_wait_watching(node, "as deployed again")


# What the outlier detector logs (images/sidekick/outliers.py) when the quarantine changes, and when
# a sidekick votes: a fault's verdict that deviated says which node was out, and when.
QUARANTINE_LINE = re.compile(r"(quarantine now: \S+ \(was \S+\)|voting to quarantine \S+:[^\n]*)")


def quarantine_notes(nodes: list[Node], since: float, origin: float, shown: int = 12) -> list[str]:
    """Every change of the quarantine and every vote since ``since``, as each running node's sidekick
    logged them, timed from ``origin`` (a fault's start): on a slow machine a healthy node voted out
    takes the others' capacity with it, and only one node can be out at a time."""
    seen: list[tuple[float, str]] = []
    for node in nodes:
        if not node.is_running():
            continue
        log = node.exec(f"journalctl --no-pager -o short-unix -u {SIDEKICK_UNIT} --since @{int(since)}", timeout=20)
        for line in log.stdout.splitlines():
            stamp, _, rest = line.partition(" ")
            if (found := QUARANTINE_LINE.search(rest)) and stamp.replace(".", "", 1).isdigit():
                at = float(stamp)
                seen.append((at, f"{node.name}'s sidekick at {at - origin:+.1f}s: {found.group(1)}"))
    notes = [text for _, text in sorted(seen)]
    return notes[:shown] + ([f"... and {len(notes) - shown} more quarantine lines"] if len(notes) > shown else [])
