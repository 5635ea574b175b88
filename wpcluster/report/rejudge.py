"""Judge a saved run's faults again, without a lab: ``wpcluster rejudge [RUN]``.

Every failover test leaves its fault's verdict (``failover/<test>.json``: the fault record, when
the site was whole again, the span) and the readers' whole history (``failover/<test>.samples.csv``)
in the run's folder. This recomputes each verdict from that history with the bounds of today
(wpcluster.checks.thresholds.fault_bounds) and writes it beside the original: ``failover/<test>.rejudged.json``,
and under ``rejudged`` in the run's failover figures, which the report shows beside the verdict the
run reached.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from wpcluster.checks.thresholds import fault_bounds
from wpcluster.checks.verdict import FaultVerdict, judge, load_samples
from wpcluster.core.history import FaultRecord
from wpcluster.core.results import replace_figures
from wpcluster.core.shape import Shape

SAMPLES_SUFFIX = ".samples.csv"
REJUDGED_SUFFIX = ".rejudged.json"


@dataclass
class Rejudged:
    test: str
    then: str  # the status the run reached ("" for a run older than statuses)
    now: FaultVerdict


def fault_of(saved: dict) -> FaultRecord:
    """The fault record a saved verdict was judged on."""
    kind = saved.get("fault_kind") or saved["fault"].split(" on ")[0]
    node = saved["fault"].rsplit(" on ", 1)[1] if " on " in saved["fault"] else ""
    return FaultRecord(kind, node, saved["fault_started"], saved.get("fault_ended"))


def rejudge_one(verdict_json: Path, shape: Shape) -> Rejudged:
    """The verdict saved at ``verdict_json`` judged again from its samples with today's bounds."""
    samples_csv = verdict_json.with_name(verdict_json.stem + SAMPLES_SUFFIX)
    if not samples_csv.exists():
        raise FileNotFoundError(f"{verdict_json.name} has no history beside it ({samples_csv.name})")
    saved = json.loads(verdict_json.read_text())
    samples = load_samples(samples_csv)
    span = saved.get("span") or {}
    # A run older than spans kept its before window's start in its windows.
    baseline_from = span.get("start") or (saved.get("windows") or {}).get("before", {}).get("start")
    until = span.get("end") or (samples[-1].started if samples else saved["fault_started"])
    fault = fault_of(saved)
    now = judge(samples, fault, saved.get("recovered_at"), until=until, baseline_from=baseline_from,
                bounds=fault_bounds(shape, fault.kind))
    now.notes = [n for n in saved.get("notes", []) if n not in now.notes] + now.notes
    return Rejudged(verdict_json.stem, saved.get("status", ""), now)


def rejudge_run(run: Path, shape: Shape) -> list[Rejudged]:
    """Judge every fault of ``run`` again; write each beside its original and into the run's figures."""
    folder = run / "failover"
    saved = sorted(p for p in folder.glob("*.json") if not p.name.endswith(REJUDGED_SUFFIX)) if folder.exists() else []
    if not saved:
        raise FileNotFoundError(f"{run} holds no fault verdicts (failover/*.json): did its run include tests/failover?")
    results = [rejudge_one(path, shape) for path in saved]
    for r in results:
        (folder / f"{r.test}{REJUDGED_SUFFIX}").write_text(json.dumps(r.now.to_dict(), indent=2) + "\n")
    figures = run / "bench" / "failover.json"
    if figures.exists():
        by_test = {r.test: r.now for r in results}
        records = json.loads(figures.read_text())
        for record in records:
            if (again := by_test.get(record.get("test", ""))) is not None:
                record["rejudged"] = {"status": again.status, "reason": again.reason,
                                      "checks": [c.__dict__ for c in again.checks]}
        replace_figures(run, "failover", records)
    return results


def table(results: list[Rejudged]) -> str:
    """One line per fault: the status the run reached, the status today, and why."""
    width = max((len(r.test) for r in results), default=10)
    lines = [f"{'test':{width}}  {'then':15} {'now':15} why"]
    for r in results:
        lines.append(f"{r.test:{width}}  {r.then or '-':15} {r.now.status:15} {r.now.reason or '-'}")
    return "\n".join(lines)
