"""The verdict on one fault (Jepsen's checker), judged on the readers' history over the fault's span.

A fault's span runs from its before window (the baseline) through its during window (fault to heal)
and its after window (heal to the end of observation). Every figure is computed per entry point
(the top LB, and each vulcand read directly), and every bound of the fault's ``FaultBounds``
(wpcluster.checks.thresholds) is checked against it:

* the brownout is the longest continuous stretch below the brownout line anywhere from the fault's
  start to the end, wherever the heal falls (an outage that straddles the heal is one outage),
  counted by when visitors asked: of the requests asked in a stretch, how many were answered within
  a visitor's patience;
* the error rate is bounded in the during and in the after window, each;
* no request may hang past the readers' timeout where the fault says so;
* goodput must be back above the line within a bound of the heal, where the fault says so;
* the slow stretch (reads kept taking longer than a visitor waits) is bounded through the top LB,
  where the fault says so: an LB that retries hides a vulcand that holds reads from the error rate;
* recovery (the site whole) is timed from the fault's start.

A verdict has a status: PASS; DEVIATED (the deployment broke a bound: the test fails, naming the
bound, the entry point and the figure); NOT ESTABLISHED (no steady baseline, a sick site before the
fault, nothing read after it: the test errors, and it never reads as the deployment's fault). A
verdict saved with its samples can be judged again (``rejudge``) with the bounds of today.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from wpcluster.checks.thresholds import SLOW_READ_SECONDS, FaultBounds
from wpcluster.core.history import FaultRecord, Sample

# Goodput below this fraction of the baseline is a brownout. Losing one node of three takes about a
# third of the site's capacity away (five containers on three nodes), which is the deployment working
# as designed; below half, a visitor sees a site that fails or stalls.
BROWNOUT_FRACTION = 0.5
# The width of the bins the brownout is counted in (requests by when they were asked), and the
# fewest well-answered requests a bin must hold at the baseline (an entry point read slowly gets
# wider bins).
BIN_SECONDS = 1.0
MIN_PER_BIN = 8
# The entry point a visitor uses; listed first, and the one a one-line summary speaks of.
LB = "top LB"
WINDOWS = ("before", "during", "after")

PASS, DEVIATED, NOT_ESTABLISHED = "pass", "deviated", "not established"


class Deviated(AssertionError):
    """The deployment broke a bound of a fault: the test fails (an assertion)."""


class NotEstablished(Exception):
    """No verdict could be reached (no steady baseline, a sick site, a harness error): the test errors."""


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def successes_per_second(samples: list[Sample], start: float, end: float) -> float:
    """Successful requests completed in [start, end), per second."""
    done = sum(1 for s in samples if s.ok and start <= s.started + s.seconds < end)
    return done / (end - start) if end > start else 0.0


def bin_width(baseline: float) -> float:
    """``BIN_SECONDS``, or wider where the baseline is low, so that a bin holds ``MIN_PER_BIN``
    successes at the baseline: noise alone must not halve a bin."""
    return max(BIN_SECONDS, MIN_PER_BIN / baseline)


def answered_in_time(sample: Sample, patience: float = SLOW_READ_SECONDS) -> bool:
    """The request was answered, successfully, within a visitor's ``patience``."""
    return sample.ok and sample.seconds <= patience


def asked_and_answered_per_second(samples: list[Sample], start: float, end: float,
                                  patience: float = SLOW_READ_SECONDS) -> float:
    """Requests asked in [start, end) and answered in time (``answered_in_time``), per second: the
    brownout's baseline and the rate its line is drawn against."""
    good = sum(1 for s in samples if start <= s.started < end and answered_in_time(s, patience))
    return good / (end - start) if end > start else 0.0


def below_line_runs(samples: list[Sample], start: float, end: float, baseline: float,
                    fraction: float = BROWNOUT_FRACTION, patience: float = SLOW_READ_SECONDS,
                    known_until: float | None = None) -> list[tuple[float, float]]:
    """The stretches of [start, end) in which fewer than ``fraction`` of ``baseline`` requests/s were
    asked and answered in time (``asked_and_answered_per_second``), as (start, end) in whole bins.

    Bins hold requests by when they were asked: the readers ask on a fixed schedule (an open model),
    so a bin's count moves only with what the site did to its requests. Counted by completion, a bin
    emptied whenever its pages took a little longer than the last bin's (a steady site whose pages
    took up to a second browned out for a bin, with no fault to blame). A request that hangs, fails
    or is answered later than a visitor waits counts for nothing, so a hang is a brownout even when no
    error is ever returned. Requests asked in the last ``patience`` seconds before the history was read
    (``known_until``, by default ``end``) are not judged: they may still be on their way."""
    if baseline <= 0 or end <= start:
        return []
    width = bin_width(baseline)
    judged_end = min(end, (end if known_until is None else known_until) - patience)
    counts = [0] * max(0, int((judged_end - start) / width))
    for s in samples:
        k = int((s.started - start) / width)
        if answered_in_time(s, patience) and start <= s.started and k < len(counts):
            counts[k] += 1
    # The line as a count per bin, compared with a little slack: a bin with exactly half of the baseline's
    # requests is on the line, not under it (8/6.89 s wide, 4 of 8 read as under it by rounding alone).
    line = fraction * baseline * width - 1e-9
    runs, first = [], None
    for k, count in enumerate([*counts, None]):
        below = count is not None and count < line
        if below and first is None:
            first = k
        elif not below and first is not None:
            runs.append((start + first * width, start + k * width))
            first = None
    return runs


def brownout_seconds(samples: list[Sample], start: float, end: float, baseline: float,
                     fraction: float = BROWNOUT_FRACTION, patience: float = SLOW_READ_SECONDS,
                     known_until: float | None = None) -> float:
    """The longest continuous stretch in [start, end) under the brownout line (``below_line_runs``)."""
    runs = below_line_runs(samples, start, end, baseline, fraction, patience, known_until)
    return round(max((b - a for a, b in runs), default=0.0), 1)


def slow_stretch(samples: list[Sample], start: float, end: float, baseline: float, slow_seconds: float) -> float:
    """The longest stretch of [start, end) over which reads kept being slow: from the first to the last
    of a run of reads that each took longer than ``slow_seconds`` (answered or not), by when they were
    asked; a run ends where none was slow for two of the brownout's bins. A load balancer that keeps a
    vulcand which holds reads sends it every few reads (round robin), so the run lasts as it does."""
    asked = sorted(s.started for s in samples if start <= s.started < end and s.seconds > slow_seconds)
    gap = 2 * (bin_width(baseline) if baseline > 0 else BIN_SECONDS)
    longest, first = 0.0, None
    for previous, current in zip([None, *asked], asked, strict=False):
        if previous is None or current - previous > gap:
            first = current
        longest = max(longest, current - first)
    return round(longest, 1)


def below_line_after(samples: list[Sample], heal: float, start: float, end: float, baseline: float,
                     patience: float = SLOW_READ_SECONDS) -> float:
    """How long after ``heal`` goodput stayed under the brownout line: the end of the stretch under
    it that holds the heal (or begins in the bin just after it) minus the heal; 0 when goodput is
    above the line at the heal."""
    width = bin_width(baseline) if baseline > 0 else BIN_SECONDS
    for a, b in below_line_runs(samples, start, end, baseline, patience=patience):
        if a <= heal + width and b > heal:
            return round(b - heal, 1)
    return 0.0


def window_figures(samples: list[Sample], start: float, end: float, baseline: float | None,
                   members: list[Sample] | None = None, brownout_baseline: float | None = None,
                   patience: float = SLOW_READ_SECONDS, known_until: float | None = None) -> dict[str, object]:
    """One window of one entry point: its requests (``members``, or those started in it), goodput
    against ``baseline`` successes/s, error rate and latency percentiles (of every request, a slow
    failure included), and its brownout against ``brownout_baseline`` (``asked_and_answered_per_second``
    before the fault; by default ``baseline``)."""
    line_rate = baseline if brownout_baseline is None else brownout_baseline
    inside = members if members is not None else [s for s in samples if start <= s.started < end]
    rate = successes_per_second(samples, start, end)
    latencies = [s.seconds * 1000 for s in inside]
    errors = sum(1 for s in inside if not s.ok)
    return {
        "start": round(start, 3), "end": round(end, 3), "seconds": round(end - start, 1),
        "requests": len(inside), "errors": errors, "successes_per_second": round(rate, 2),
        "goodput_ratio": round(rate / baseline, 3) if baseline else None,
        "error_rate": round(errors / len(inside), 4) if inside else 0.0,
        "hung": sum(1 for s in inside if s.hung),
        # Reads whose kept-alive connection closed unanswered and that were sent again, as a browser does.
        "retried": sum(1 for s in inside if s.retried),
        # What the failures were: an HTTP status, or the client's exception when nothing came back.
        "errors_by_kind": dict(Counter(str(s.status) if s.status else s.error or "no answer"
                                       for s in inside if not s.ok).most_common()),
        **{f"p{q}_ms": (round(v, 1) if (v := percentile(latencies, q / 100)) is not None else None)
           for q in (50, 95, 99)},
        "brownout_seconds": (brownout_seconds(samples, start, end, line_rate, patience=patience,
                                              known_until=known_until) if line_rate else None),
    }


def longest_gap(samples: list[Sample], start: float, end: float) -> float:
    """The longest time inside [start, end] with no request succeeding (completion times)."""
    successes = sorted(s.started + s.seconds for s in samples if s.ok and start <= s.started + s.seconds <= end)
    edges = [start, *successes, end]
    return round(max(b - a for a, b in zip(edges, edges[1:], strict=False)), 2)


@dataclass
class Check:
    """One bound judged on one entry point (or the site): its figure, its limit and whether it held."""

    bound: str
    target: str
    figure: float | None
    limit: float
    met: bool
    why: str = ""
    detail: str = ""  # what the figure is made of (the errors by kind), shown beside it

    def describe(self) -> str:
        if self.figure is None:
            return f"{self.bound} through {self.target}: none within the observation, bound {self.limit:g}s"
        shown = f"{self.figure:.2%}" if self.bound.startswith("error rate") else f"{self.figure:g}"
        if self.detail:
            shown += f" ({self.detail})"
        limit = (f"{self.limit:.0%}" if self.bound.startswith("error rate") else f"{self.limit:g}")
        unit = "" if self.bound.startswith(("error rate", "hung")) else "s"
        return f"{self.bound} through {self.target}: {shown}{unit}, bound {limit}{unit}"


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
    # after: the top LB's figures with every entry point's under by_target.
    windows: dict[str, dict[str, object]] = field(default_factory=dict)
    brownout_seconds: float | None = None  # the top LB's, continuous, from the fault's start to the end
    span: dict[str, float] = field(default_factory=dict)  # the before window's start to the end
    brownout_by_target: dict[str, float] = field(default_factory=dict)
    back_after_heal_by_target: dict[str, float] = field(default_factory=dict)
    slow_stretch_by_target: dict[str, float] = field(default_factory=dict)
    status: str = PASS
    reason: str = ""
    bounds: dict[str, object] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def recovery_seconds(self) -> float | None:
        return None if self.recovered_at is None else round(self.recovered_at - self.fault_started, 2)

    @property
    def broken(self) -> list[Check]:
        return [c for c in self.checks if not c.met]

    def summary(self) -> str:
        recovery = f"{self.recovery_seconds:.1f}s" if self.recovery_seconds is not None else "NOT RECOVERED"
        lines = [
            f"fault: {self.fault}: {self.status.upper()}{f' ({self.reason})' if self.reason else ''}",
            f"requests {self.requests}, errors {self.errors} ({self.error_rate:.2%}), "
            f"longest gap without a success {self.longest_gap_seconds:.1f}s, full recovery {recovery} "
            "from the fault's start",
        ]
        for target, figures in self.by_target.items():
            lines.append(f"  {target}: {figures['requests']:.0f} requests, {figures['errors']:.0f} errors "
                         f"({figures['error_rate']:.2%}), longest gap {figures['longest_gap_seconds']:.1f}s, "
                         f"brownout {self.brownout_by_target.get(target, '-')}s, "
                         f"slow reads for {self.slow_stretch_by_target.get(target, '-')}s"
                         f"{f', sent again {n}' if (n := figures.get('retried')) else ''}")
        for name, figures in self.windows.items():
            kinds = ", ".join(f"{k} x{n}" for k, n in figures.get("errors_by_kind", {}).items())
            lines.append(f"  {name:6}: {figures['seconds']}s, {figures['requests']} requests, goodput "
                         f"{figures['goodput_ratio']} of the baseline, errors {figures['error_rate']:.2%}"
                         f"{f' ({kinds})' if kinds else ''}, hung {figures.get('hung', 0)}, "
                         f"{f'sent again {n}, ' if (n := figures.get('retried')) else ''}"
                         f"p95 {figures['p95_ms']} ms (top LB)")
        if self.brownout_seconds is not None:
            lines.append(f"  brownout (goodput under {BROWNOUT_FRACTION:.0%} of the baseline, continuous, from "
                         f"the fault's start): {self.brownout_seconds:.1f}s through the top LB")
        lines += [f"  deviated: {c.describe()} ({c.why})" for c in self.broken]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def raise_for_status(self) -> None:
        """Raise ``Deviated`` (every broken bound named) or ``NotEstablished``; return on a pass."""
        __tracebackhide__ = True
        if self.status == NOT_ESTABLISHED:
            raise NotEstablished(f"no verdict on {self.fault}: {self.reason}\n{self.summary()}")
        if self.status == DEVIATED:
            raise Deviated(f"{self.fault} broke {len(self.broken)} bound(s): "
                           + "; ".join(c.describe() for c in self.broken) + f"\n{self.summary()}")

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "recovery_seconds": self.recovery_seconds}

    def save(self, folder: Path, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.txt").write_text(self.summary() + "\n")
        path = folder / f"{name}.json"
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def _figures(samples: list[Sample], start: float, end: float) -> dict[str, float]:
    errors = sum(1 for s in samples if not s.ok)
    return {"requests": len(samples), "errors": errors,
            "error_rate": round(errors / len(samples), 4) if samples else 0.0,
            "longest_gap_seconds": longest_gap(samples, start, end), "retried": sum(1 for s in samples if s.retried)}


def judge(samples: list[Sample], fault: FaultRecord, recovered_at: float | None, until: float,
          baseline_from: float | None = None, bounds: FaultBounds | None = None) -> FaultVerdict:
    """Judge the readers' history around ``fault``: the windows before (from ``baseline_from``),
    during and after it up to ``until``, every entry point, against ``bounds`` (none: figures only)."""
    window = [s for s in samples if fault.started <= s.started <= until]
    overall = _figures(window, fault.started, until)
    verdict = FaultVerdict(
        fault=fault.describe(), fault_started=fault.started, fault_ended=fault.ended, recovered_at=recovered_at,
        requests=int(overall["requests"]), errors=int(overall["errors"]), error_rate=overall["error_rate"],
        longest_gap_seconds=overall["longest_gap_seconds"], fault_kind=fault.kind,
        bounds=asdict(bounds) if bounds else {},
    )
    targets = sorted({s.target for s in samples}, key=lambda t: (t != LB, t))
    for target in targets:
        verdict.by_target[target] = _figures([s for s in window if s.target == target], fault.started, until)
    if baseline_from is None or baseline_from >= fault.started:
        return _not_established(verdict, "no before window: the readers did not run before the fault")
    healed = min(fault.ended or recovered_at or until, until)
    verdict.span = {"start": round(baseline_from, 3), "heal": round(healed, 3), "end": round(until, 3)}
    spans = {"before": (baseline_from, fault.started), "during": (fault.started, healed), "after": (healed, until)}
    patience = bounds.slow_read_seconds if bounds else FaultBounds.slow_read_seconds
    mine = {target: [s for s in samples if s.target == target] for target in targets}
    baselines = {t: successes_per_second(mine[t], baseline_from, fault.started) for t in targets}
    # The brownout's baseline: requests asked before the fault and answered in time, per second.
    asked = {t: asked_and_answered_per_second(mine[t], baseline_from, fault.started, patience) for t in targets}
    for name, (start, end) in spans.items():
        by_target = {t: window_figures(mine[t], start, end, baselines[t], _members(mine[t], name, spans),
                                       asked[t], patience, until) for t in targets}
        verdict.windows[name] = {**(by_target[targets[0]] if targets else {}), "by_target": by_target}
    for target in targets:
        verdict.brownout_by_target[target] = brownout_seconds(mine[target], fault.started, until, asked[target],
                                                              patience=patience)
        verdict.back_after_heal_by_target[target] = below_line_after(mine[target], healed, fault.started, until,
                                                                     asked[target], patience)
        verdict.slow_stretch_by_target[target] = slow_stretch(mine[target], fault.started, until, baselines[target],
                                                              patience)
    verdict.brownout_seconds = verdict.brownout_by_target.get(LB)
    return _settle(verdict, bounds, baselines)


def _members(samples: list[Sample], window: str, spans: dict[str, tuple[float, float]]) -> list[Sample]:
    """A window's requests: those started in it, except that a request still in flight when the fault
    began is the fault's (during), not the steady service's before it."""
    fault_started = spans["during"][0]
    start, end = spans[window]

    def in_flight(s: Sample) -> bool:
        return s.started < fault_started <= s.started + s.seconds

    inside = [s for s in samples if start <= s.started < end]
    if window == "before":
        return [s for s in inside if not in_flight(s)]
    if window == "during":
        return [s for s in samples if in_flight(s) and s.started >= spans["before"][0]] + inside
    return inside


def _not_established(verdict: FaultVerdict, reason: str) -> FaultVerdict:
    verdict.status, verdict.reason = NOT_ESTABLISHED, reason
    return verdict


def _settle(verdict: FaultVerdict, bounds: FaultBounds | None, baselines: dict[str, float]) -> FaultVerdict:
    """The verdict's status: not established without a steady baseline, else deviated on any broken bound."""
    before = verdict.windows["before"]["by_target"]
    if not verdict.by_target or not any(f["requests"] for f in verdict.by_target.values()):
        return _not_established(verdict, "no request was read after the fault's start")
    idle = [t for t, rate in baselines.items() if rate <= 0]
    if idle:
        return _not_established(verdict, f"no request succeeded before the fault through {', '.join(idle)}")
    if bounds is None:
        return verdict
    sick = [f"{t} {f['error_rate']:.1%}" for t, f in before.items() if f["error_rate"] > bounds.steady_error_rate]
    if sick:
        return _not_established(verdict, f"the site was not steady before the fault: errors through "
                                         f"{', '.join(sick)} (a steady site fails at most "
                                         f"{bounds.steady_error_rate:.0%})")
    verdict.checks = list(_checks(verdict, bounds))
    if verdict.broken:
        first = verdict.broken[0]
        verdict.status, verdict.reason = DEVIATED, first.describe() + (
            f" (and {len(verdict.broken) - 1} more)" if len(verdict.broken) > 1 else "")
    return verdict


def _checks(verdict: FaultVerdict, bounds: FaultBounds) -> Iterator[Check]:
    targets = list(verdict.by_target)
    bounded = [t for t in targets if bounds.error_rate_everywhere or t == LB]
    if bounds.error_rate is not None:
        for name in ("during", "after"):
            for target in bounded:
                figures = verdict.windows[name]["by_target"][target]
                kinds = ", ".join(f"{k} x{n}" for k, n in list(figures.get("errors_by_kind", {}).items())[:3])
                yield Check(f"error rate {name}", target, figures["error_rate"], bounds.error_rate,
                            figures["error_rate"] <= bounds.error_rate, bounds.why_error_rate, kinds)
    if not bounds.hung_allowed:
        for target in targets:
            hung = sum(verdict.windows[w]["by_target"][target]["hung"] for w in ("during", "after"))
            yield Check("hung requests", target, hung, 0, hung == 0, bounds.why_hung)
    if bounds.brownout_seconds is not None:
        for target in targets:
            figure = verdict.brownout_by_target[target]
            yield Check("brownout", target, figure, bounds.brownout_seconds, figure <= bounds.brownout_seconds,
                        bounds.why_brownout)
    if bounds.slow_stretch_seconds is not None:
        figure = verdict.slow_stretch_by_target.get(LB)
        if figure is not None:
            yield Check(f"slow reads (over {bounds.slow_read_seconds:g}s)", LB, figure, bounds.slow_stretch_seconds,
                        figure <= bounds.slow_stretch_seconds, bounds.why_slow_stretch)
    if bounds.back_within_seconds is not None and verdict.fault_ended is not None:
        for target in targets:
            figure = verdict.back_after_heal_by_target[target]
            yield Check("under the brownout line after the heal", target, figure, bounds.back_within_seconds,
                        figure <= bounds.back_within_seconds, bounds.why_back_within)
    limit = bounds.recovery_limit(verdict.fault_started, verdict.fault_ended)
    recovery = verdict.recovery_seconds
    yield Check("recovery from the fault's start", "the site", recovery, limit,
                recovery is not None and recovery <= limit, bounds.why_recovery)


def save_samples(samples: list[Sample], path: Path) -> Path:
    """Every request the readers made, one CSV row each: the raw history behind a verdict."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["started", "seconds", "status", "error", "served_by", "target", "path", "retried"])
        for s in samples:
            writer.writerow([f"{s.started:.3f}", f"{s.seconds:.3f}", s.status, s.error, s.served_by, s.target, s.path,
                             s.retried])
    return path


def load_samples(path: Path) -> list[Sample]:
    """The history ``save_samples`` wrote, in the order the requests started."""
    with path.open(newline="") as rows:
        return sorted((Sample(float(r["started"]), float(r["seconds"]), int(r["status"]), r["served_by"], r["target"],
                              r["path"], r["error"], r.get("retried", "")) for r in csv.DictReader(rows)),
                      key=lambda s: s.started)
