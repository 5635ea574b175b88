"""The verdict on one fault (Jepsen's checker): what the readers saw, and how long recovery took."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from wpcluster.faults import FaultRecord
from wpcluster.generator import Sample

# Goodput below this fraction of the baseline is a brownout. Losing one node of three takes about a
# third of the site's capacity away (five containers on three nodes), which is the deployment working
# as designed; below half, a visitor sees a site that fails or stalls.
BROWNOUT_FRACTION = 0.5
# The width of the bins goodput is counted in for the brownout (successes by completion time), and
# the fewest successes a bin must hold at the baseline (an entry point read slowly gets wider bins).
BIN_SECONDS = 1.0
MIN_PER_BIN = 8


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def successes_per_second(samples: list[Sample], start: float, end: float) -> float:
    """Successful requests completed in [start, end), per second."""
    done = sum(1 for s in samples if s.ok and start <= s.started + s.seconds < end)
    return done / (end - start) if end > start else 0.0


def brownout_seconds(samples: list[Sample], start: float, end: float, baseline: float,
                     fraction: float = BROWNOUT_FRACTION) -> float:
    """The longest stretch in [start, end) whose goodput stays below ``fraction`` of ``baseline``
    successes/s, in whole bins (a trailing part-bin has had no time to complete its requests).
    A request that hangs completes nothing, so a hang is a brownout even when no error is ever
    returned. A bin is ``BIN_SECONDS`` long, or longer where the baseline is low, so that it holds
    ``MIN_PER_BIN`` successes at the baseline: noise alone must not halve a bin."""
    if baseline <= 0 or end <= start:
        return 0.0
    width = max(BIN_SECONDS, MIN_PER_BIN / baseline)
    counts = [0] * int((end - start) / width)
    for s in samples:
        done = s.started + s.seconds
        if s.ok and start <= done and (k := int((done - start) / width)) < len(counts):
            counts[k] += 1
    longest = run = 0
    for count in counts:
        run = run + 1 if count / width < fraction * baseline else 0
        longest = max(longest, run)
    return round(longest * width, 1)


def window_figures(samples: list[Sample], start: float, end: float, baseline: float | None) -> dict[str, object]:
    """One window of one entry point: requests started in it, goodput against ``baseline`` successes/s,
    error rate and latency percentiles (of every request, a slow failure included)."""
    inside = [s for s in samples if start <= s.started < end]
    rate = successes_per_second(samples, start, end)
    latencies = [s.seconds * 1000 for s in inside]
    errors = sum(1 for s in inside if not s.ok)
    return {
        "start": round(start, 3), "end": round(end, 3), "seconds": round(end - start, 1),
        "requests": len(inside), "successes_per_second": round(rate, 2),
        "goodput_ratio": round(rate / baseline, 3) if baseline else None,
        "error_rate": round(errors / len(inside), 4) if inside else 0.0,
        "hung": sum(1 for s in inside if s.hung),
        # What the failures were: an HTTP status, or the client's exception when nothing came back.
        "errors_by_kind": dict(Counter(str(s.status) if s.status else s.error or "no answer"
                                       for s in inside if not s.ok).most_common()),
        **{f"p{q}_ms": (round(v, 1) if (v := percentile(latencies, q / 100)) is not None else None)
           for q in (50, 95, 99)},
        "brownout_seconds": brownout_seconds(samples, start, end, baseline) if baseline else None,
    }


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
    fault_kind: str = ""
    # before (the baseline), during (fault to heal, or to recovery for a fault healed later) and
    # after: the first entry point's figures (the top LB, what a visitor uses) with every entry
    # point's under by_target.
    windows: dict[str, dict[str, object]] = field(default_factory=dict)
    brownout_seconds: float | None = None  # the top LB's, from the fault's start to the end

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
        for name, figures in self.windows.items():
            kinds = ", ".join(f"{k} x{n}" for k, n in figures.get("errors_by_kind", {}).items())
            lines.append(f"  {name:6}: {figures['seconds']}s, {figures['requests']} requests, goodput "
                         f"{figures['goodput_ratio']} of the baseline, errors {figures['error_rate']:.2%}"
                         f"{f' ({kinds})' if kinds else ''}, hung {figures.get('hung', 0)}, "
                         f"p95 {figures['p95_ms']} ms (first entry point)")
        if self.brownout_seconds is not None:
            lines.append(f"  brownout (goodput under {BROWNOUT_FRACTION:.0%} of the baseline): "
                         f"{self.brownout_seconds:.1f}s")
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


def judge(samples: list[Sample], fault: FaultRecord, recovered_at: float | None, until: float,
          baseline_from: float | None = None) -> FaultVerdict:
    """Judge the readers' history from the fault's start to ``until`` (the end of observation), with
    the windows before (from ``baseline_from``), during and after the fault."""
    window = [s for s in samples if fault.started <= s.started <= until]
    overall = _figures(window, fault.started, until)
    verdict = FaultVerdict(
        fault=fault.describe(), fault_started=fault.started, fault_ended=fault.ended, recovered_at=recovered_at,
        requests=int(overall["requests"]), errors=int(overall["errors"]), error_rate=overall["error_rate"],
        longest_gap_seconds=overall["longest_gap_seconds"], fault_kind=fault.kind,
    )
    targets = sorted({s.target for s in window})
    for target in targets:
        verdict.by_target[target] = _figures([s for s in window if s.target == target], fault.started, until)
    if baseline_from is not None and baseline_from < fault.started:
        healed = fault.ended or recovered_at or until
        spans = {"before": (baseline_from, fault.started), "during": (fault.started, min(healed, until)),
                 "after": (min(healed, until), until)}
        ordered = sorted(targets, key=lambda t: (t != "top LB", t))
        for name, (start, end) in spans.items():
            by_target = {}
            for target in ordered:
                mine = [s for s in samples if s.target == target]
                baseline = successes_per_second(mine, baseline_from, fault.started)
                by_target[target] = window_figures(mine, start, end, baseline)
            verdict.windows[name] = {**(by_target[ordered[0]] if ordered else {}), "by_target": by_target}
        if ordered:
            mine = [s for s in samples if s.target == ordered[0]]
            verdict.brownout_seconds = brownout_seconds(
                mine, fault.started, until, successes_per_second(mine, baseline_from, fault.started))
    return verdict


def save_samples(samples: list[Sample], path: Path) -> Path:
    """Every request the readers made, one CSV row each: the raw history behind a verdict."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["started", "seconds", "status", "error", "served_by", "target", "path"])
        for s in samples:
            writer.writerow([f"{s.started:.3f}", f"{s.seconds:.3f}", s.status, s.error, s.served_by, s.target, s.path])
    return path
