"""A picture per fault: requests/s, errors/s and latency over its slice of the history, its status."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI
import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen

from wpcluster.checks.verdict import FaultVerdict, percentile  # noqa: E402
from wpcluster.core.history import Sample  # noqa: E402


def plot(samples: list[Sample], verdict: FaultVerdict, path: Path, title: str) -> Path:
    """Draw the readers' history around one fault and save it as a PNG."""
    if not samples:
        raise ValueError("no samples to plot")
    origin = samples[0].started
    ok: dict[int, int] = defaultdict(int)
    bad: dict[int, int] = defaultdict(int)
    latency: dict[int, list[float]] = defaultdict(list)
    for s in samples:
        second = int(s.started - origin)
        if s.ok:
            ok[second] += 1
            latency[second].append(s.seconds * 1000)
        else:
            bad[second] += 1
    span = range(int(samples[-1].started - origin) + 1)

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), sharex=True, height_ratios=[2, 1])
    top.plot(span, [ok[t] for t in span], color="tab:green", label="successes/s")
    top.bar(span, [bad[t] for t in span], color="tab:red", label="errors/s", width=1.0, align="edge")
    top.set_ylabel("requests per second")
    p95 = [percentile(latency[t], 0.95) if latency[t] else float("nan") for t in span]
    bottom.plot(span, p95, color="tab:blue", label="p95 latency")
    bottom.set_ylabel("p95 latency (ms)")
    bottom.set_xlabel("seconds since the before window began")
    shades = {"before": ("tab:gray", "baseline"), "during": ("tab:orange", "fault"), "after": ("tab:green", "after")}
    for axis in (top, bottom):
        if verdict.windows:
            for name, (color, label) in shades.items():
                window = verdict.windows[name]
                axis.axvspan(float(window["start"]) - origin, float(window["end"]) - origin, color=color,
                             alpha=0.15, label=f"{label} (goodput {window['goodput_ratio']})")
        else:
            end = (verdict.fault_ended or samples[-1].started) - origin
            axis.axvspan(verdict.fault_started - origin, end, color="tab:orange", alpha=0.2, label="fault")
        if verdict.recovered_at is not None:
            axis.axvline(verdict.recovered_at - origin, color="black", linestyle="--", label="full recovery")
        axis.grid(alpha=0.3)
    top.legend(loc="upper right", fontsize=8)
    recovery = f"{verdict.recovery_seconds:.1f}s" if verdict.recovery_seconds is not None else "none"
    brownout = f", brownout {verdict.brownout_seconds:.1f}s" if verdict.brownout_seconds is not None else ""
    top.set_title(f"{title}: {verdict.status.upper()}\n{verdict.requests} requests, {verdict.error_rate:.2%} errors, "
                  f"longest gap {verdict.longest_gap_seconds:.1f}s, recovery {recovery}{brownout}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
