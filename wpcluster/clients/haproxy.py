"""The top LB's own view of its servers: HAProxy's statistics page as CSV (``/stats;csv``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class ServerState:
    backend: str
    server: str
    status: str  # "UP", "DOWN", "UP 1/2" (going down), "DOWN 1/2" (coming up), "MAINT", "no check"
    check: str  # the last check's result: "L7OK", "L4TOUT", "L7STS", ...

    @property
    def in_rotation(self) -> bool:
        """HAProxy sends requests to it: up, or up and failing its checks without yet being taken out."""
        return self.status.startswith("UP")


def parse_stats(text: str) -> dict[tuple[str, str], ServerState]:
    """(backend, server) -> its state, for every server line of HAProxy's CSV statistics."""
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return {(r["pxname"], r["svname"]): ServerState(r["pxname"], r["svname"], r["status"], r.get("check_status", ""))
            for r in rows if r.get("svname") not in ("FRONTEND", "BACKEND", None)}


class HAProxyStats:
    """Reads one HAProxy's statistics page."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self.url, self.timeout = url, timeout

    def servers(self) -> dict[tuple[str, str], ServerState]:
        reply = requests.get(self.url, timeout=self.timeout)
        reply.raise_for_status()
        return parse_stats(reply.text)
