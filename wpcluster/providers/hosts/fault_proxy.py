"""The lab's fault proxy (Toxiproxy) between WordPress and its hosts outside fleet.

WordPress reaches MariaDB and the S3 store through one proxy each, named by the host's role and
listening on the host's own port at the proxy's address. Faults add toxics to a proxy through
Toxiproxy's HTTP API and remove them by name; nothing is restarted.
"""

from __future__ import annotations

import json
import secrets

import requests

from wpcluster.core.cluster import ServicePath
from wpcluster.core.errors import LabError
from wpcluster.core.shape import Shape

ROLES = ("db", "s3")


def proxy_config(shape: Shape) -> str:
    """Toxiproxy's start-up config: one proxy per role, from the proxy's address to the host's."""
    return json.dumps([{"name": role, "listen": f"0.0.0.0:{shape.lab_ports[role]}",
                        "upstream": shape.host_endpoint(role), "enabled": True} for role in ROLES], indent=2)


def proxied_endpoint(shape: Shape, role: str) -> str:
    """host:port at which the site's containers reach ``role`` through the proxy."""
    return f"{shape.host_address('faultproxy')}:{shape.lab_ports[role]}"


class ToxiproxyPath(ServicePath):
    """One proxy of the lab's Toxiproxy; toxics are named so that each can be taken off alone."""

    def __init__(self, api: str, role: str) -> None:
        self.api, self.role = api.rstrip("/"), role

    def _add(self, kind: str, stream: str, attributes: dict[str, int]) -> str:
        name = f"{kind}-{stream}-{secrets.token_hex(3)}"
        reply = requests.post(f"{self.api}/proxies/{self.role}/toxics", timeout=5, json={
            "name": name, "type": kind, "stream": stream, "toxicity": 1.0, "attributes": attributes})
        if reply.status_code != 200:
            raise LabError(f"the fault proxy refused a {kind} toxic on {self.role}: {reply.status_code} {reply.text}",
                           "read the lab's faultproxy container's log (<lab name>-faultproxy)")
        return name

    def add_latency(self, latency_ms: int, jitter_ms: int = 0) -> str:
        return self._add("latency", "downstream", {"latency": latency_ms, "jitter": jitter_ms})

    def stall(self) -> str:
        # timeout 0: the connection is never closed and its data is dropped while the toxic is on;
        # both ways, so neither a query nor an answer gets through.
        up = self._add("timeout", "upstream", {"timeout": 0})
        down = self._add("timeout", "downstream", {"timeout": 0})
        return f"{up},{down}"

    def remove(self, name: str) -> None:
        for toxic in name.split(","):
            reply = requests.delete(f"{self.api}/proxies/{self.role}/toxics/{toxic}", timeout=5)
            if reply.status_code not in (204, 404):
                raise LabError(f"the fault proxy did not remove {toxic} from {self.role}: {reply.status_code}",
                               "read the lab's faultproxy container's log (<lab name>-faultproxy)")
