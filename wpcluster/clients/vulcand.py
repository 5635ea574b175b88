"""vulcand's HTTP API (v2): status, backends, servers and frontends, as the running proxy sees them."""

from __future__ import annotations

import requests


class VulcandAPI:
    def __init__(self, url: str, timeout: float = 5) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str) -> object:
        reply = requests.get(f"{self.url}{path}", timeout=self.timeout)
        reply.raise_for_status()
        return reply.json()

    def status(self) -> object:
        return self._get("/v2/status")

    def backends(self) -> list[str]:
        return sorted(b["Id"] for b in self._get("/v2/backends")["Backends"])  # type: ignore[index]

    def servers(self, backend: str) -> dict[str, str]:
        """Server id -> URL of one backend."""
        return {s["Id"]: s["URL"] for s in self._get(f"/v2/backends/{backend}/servers")["Servers"]}  # type: ignore[index]

    def frontends(self) -> dict[str, dict]:
        return {f["Id"]: f for f in self._get("/v2/frontends")["Frontends"]}  # type: ignore[index]
