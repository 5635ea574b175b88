"""The verdict on one fault (Jepsen's checker): what the readers saw, and how long recovery took."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from wpcluster.faults import FaultRecord
from wpcluster.generator import Sample


@dataclass
class FaultVerdict:
    fault: str
    fault_started: float
    fault_ended: float | None
    recovered_at: float | None
    requests: int
    errors: int
    error_rate: float
    longest_gap_seconds: float
    by_target: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def recovery_seconds(self) -> float | None:
        return None if self.recovered_at is None else round(self.recovered_at - self.fault_started, 2)

    def summary(self) -> str:
        recovery = f"{self.recovery_seconds:.1f}s" if self.recovery_seconds is not None else "NOT RECOVERED"
        lines = [
            f"fault: {self.fault}",
            f"requests {self.requests}, errors {self.errors} ({self.error_rate:.2%}), "
            f"longest gap without a success {self.longest_gap_seconds:.1f}s, full recovery {recovery}",
        ]
        for target, figures in self.by_target.items():
            lines.append(f"  {target}: {figures['requests']:.0f} requests, {figures['errors']:.0f} errors "
                         f"({figures['error_rate']:.2%}), longest gap {figures['longest_gap_seconds']:.1f}s")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def save(self, folder: Path, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.txt").write_text(self.summary() + "\n")
        path = folder / f"{name}.json"
        path.write_text(json.dumps({**asdict(self), "recovery_seconds": self.recovery_seconds}, indent=2) + "\n")
        return path


def longest_gap(samples: list[Sample], start: float, end: float) -> float:
    """The longest time inside [start, end] with no request succeeding (completion times)."""
    successes = sorted(s.started + s.seconds for s in samples if s.ok and start <= s.started + s.seconds <= end)
    edges = [start, *successes, end]
    return round(max(b - a for a, b in zip(edges, edges[1:], strict=False)), 2)


def _figures(samples: list[Sample], start: float, end: float) -> dict[str, float]:
    errors = sum(1 for s in samples if not s.ok)
    return {"requests": len(samples), "errors": errors,
            "error_rate": round(errors / len(samples), 4) if samples else 0.0,
            "longest_gap_seconds": longest_gap(samples, start, end)}


def judge(samples: list[Sample], fault: FaultRecord, recovered_at: float | None, until: float) -> FaultVerdict:
    """Judge the readers' history from the fault's start to ``until`` (the end of observation)."""
    window = [s for s in samples if fault.started <= s.started <= until]
    overall = _figures(window, fault.started, until)
    verdict = FaultVerdict(
        fault=fault.describe(), fault_started=fault.started, fault_ended=fault.ended, recovered_at=recovered_at,
        requests=int(overall["requests"]), errors=int(overall["errors"]), error_rate=overall["error_rate"],
        longest_gap_seconds=overall["longest_gap_seconds"],
    )
    for target in sorted({s.target for s in window}):
        verdict.by_target[target] = _figures([s for s in window if s.target == target], fault.started, until)
    return verdict
