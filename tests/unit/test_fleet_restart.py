"""``Fleetctl.restart`` starts a unit again only once fleet's engine has unscheduled it: an unload and a
start the engine sees together merge into nothing, and a failed unit stays failed."""

from __future__ import annotations

from wpcluster.clients.fleet import Fleetctl, Unit


class _Fleet(Fleetctl):
    """fleetctl's answers scripted: the engine unschedules after ``engine_lag`` listings, while the
    agents' states (list-units) lose the unit at once, as when its state flickers out."""

    def __init__(self, engine_lag: int) -> None:
        super().__init__(cluster=None)  # type: ignore[arg-type]
        self.engine_lag = engine_lag
        self.calls: list[str] = []

    def unload(self, *names: str) -> None:
        self.calls.append("unload")

    def start(self, *names: str) -> None:
        self.calls.append("start")

    def targets(self) -> dict[str, str]:
        self.calls.append("targets")
        self.engine_lag -= 1
        return {"wordpress@3.service": "172.30.8.102"} if self.engine_lag >= 0 else {}

    def list_units(self) -> list[Unit]:
        return []


def test_restart_waits_for_the_engine_not_for_the_agents_listing() -> None:
    fleet = _Fleet(engine_lag=2)
    fleet.restart("wordpress@3.service", timeout=10)
    assert fleet.calls == ["unload", "targets", "targets", "targets", "start"]
