"""A load shape for failover: steady readers while a node of the lab is killed, then brought back.

    locust -f loadtests/site.py,loadtests/failover_shape.py Reader --headless \\
        --host http://127.0.0.1:8888 --site-host wordpress.local:8888 --html results/failover-load.html

Locust's own report then shows throughput and failures through the node loss.
WPCLUSTER_FAILOVER_USERS (default 10), _SECONDS (default 90) and _FAULT_AT
(default 20) set the shape; the killed node is the one running wordpress-admin.
The node is always restarted when Locust quits. Lab only: it reaches the
nodes through the lab provider.
"""

from __future__ import annotations

import os
import threading

from locust import LoadTestShape, events

USERS = int(os.environ.get("WPCLUSTER_FAILOVER_USERS", "10"))
SECONDS = int(os.environ.get("WPCLUSTER_FAILOVER_SECONDS", "90"))
FAULT_AT = int(os.environ.get("WPCLUSTER_FAILOVER_FAULT_AT", "20"))

_nemesis = None


def _kill_admin_node() -> None:
    global _nemesis
    from wpcluster.clients.fleet import Fleetctl
    from wpcluster.faults import Nemesis
    from wpcluster.providers.lab.provider import Lab
    from wpcluster.shape import load_shape

    lab = Lab.attach(load_shape())
    if lab is None:
        print("failover_shape: no lab is up; no fault injected", flush=True)
        return
    admin = Fleetctl(lab).unit("wordpress-admin.service")
    victim = next(n for n in lab.nodes if admin is not None and n.address == admin.ip)
    _nemesis = Nemesis(lab)
    _nemesis.kill_node(victim)
    print(f"failover_shape: killed {victim.name} at t={FAULT_AT}s", flush=True)


@events.quitting.add_listener
def _heal(**_kw) -> None:
    if _nemesis is not None:
        _nemesis.heal_all()
        _nemesis.cluster.close()


class SteadyThroughAFault(LoadTestShape):
    """USERS readers for SECONDS; the fault at FAULT_AT (in a thread: the shape must keep ticking)."""

    injected = False

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()
        if run_time >= SECONDS:
            return None
        if run_time >= FAULT_AT and not self.injected:
            self.injected = True
            threading.Thread(target=_kill_admin_node, daemon=True).start()
        return USERS, USERS
