"""Pass/fail gates for headless load runs: the defaults live here and nowhere else.

A gate names a figure of Locust's totals and a bound; ``judge`` returns, for
every gate missed, a sentence saying which gate and by how much.
"""

from __future__ import annotations

from dataclasses import dataclass

# Defaults for a 2-core lab with the load generator on the same machine.
DEFAULT_FAIL_RATIO = 0.01  # at most 1 % of requests may fail
DEFAULT_P95_MS = 2000.0  # per route, 95th percentile response time
DEFAULT_MIN_RPS = 5.0  # total requests per second the run must sustain


@dataclass(frozen=True)
class Gates:
    fail_ratio: float = DEFAULT_FAIL_RATIO
    p95_ms: float = DEFAULT_P95_MS
    min_rps: float = DEFAULT_MIN_RPS

    @classmethod
    def parse(cls, fail_ratio: str | float, p95_ms: str | float, min_rps: str | float) -> Gates:
        """Gates from command-line text; a value that does not parse raises ValueError naming the gate."""
        values = {}
        for name, text, low, high in (("fail-ratio", fail_ratio, 0.0, 1.0), ("p95-ms", p95_ms, 0.0, None),
                                      ("min-rps", min_rps, 0.0, None)):
            try:
                value = float(text)
            except (TypeError, ValueError):
                raise ValueError(f"--gate-{name} {text!r} is not a number") from None
            if value < low or (high is not None and value > high):
                bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
                raise ValueError(f"--gate-{name} {value:g} must be {bound}")
            values[name.replace("-", "_")] = value
        return cls(**values)


def judge(gates: Gates, fail_ratio: float, total_rps: float, p95_by_route: dict[str, float]) -> list[str]:
    """Every gate the run missed, as a sentence with the figure, the bound and the margin."""
    missed = []
    if fail_ratio > gates.fail_ratio:
        missed.append(f"fail ratio {fail_ratio:.2%} exceeds the gate {gates.fail_ratio:.2%} "
                      f"by {fail_ratio - gates.fail_ratio:.2%}")
    if total_rps < gates.min_rps:
        missed.append(f"throughput {total_rps:.1f} requests/s is below the gate {gates.min_rps:g} "
                      f"by {gates.min_rps - total_rps:.1f}")
    for route, p95 in sorted(p95_by_route.items()):
        if p95 > gates.p95_ms:
            missed.append(f"p95 of {route} is {p95:.0f} ms, over the gate {gates.p95_ms:.0f} ms "
                          f"by {p95 - gates.p95_ms:.0f} ms")
    return missed
