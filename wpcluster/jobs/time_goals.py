"""The four time figures, read from the runs' own bundles: a benchmark, not a timed test.

Each run of ``wpcluster certify`` or ``wpcluster selfcheck`` records its job and profile
(``run.json``) and where its time went (``time/``). ``wpcluster times`` picks the newest run of each
kind (since a given run id, for one ``.ci/run``), sets its wall time against its goal and says how
much of it went to building images and installing packages (a cold machine's cost, which a second
run does not pay), and, given the whole ``.ci/run``'s seconds, that figure against its own goal.
With ``--record`` the figures are appended to ``bench/results/job_times.json``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from wpcluster.core import ledger
from wpcluster.core.results import RUN_RECORD, append_records, bench_result, results_root, run_record
from wpcluster.report.time_table import CI_GOAL_SECONDS, run_goal, time_table

# The kinds of run the figures are about, in the order they are printed.
KINDS = (("certification", "release"), ("certification", "quick"), ("self-check", "release"))
# Steps that only a cold machine pays for: images built, packages installed, the engine started.
COLD_STEPS = ("images", "site images")
COLD_STEP_PREFIXES = ("installing ", "starting dockerd")


@dataclass(frozen=True)
class Figure:
    what: str
    run: str | None  # the run's id, or None for the whole .ci/run
    seconds: float
    goal: float
    cold_seconds: float = 0.0  # of ``seconds``, spent building images and installing

    @property
    def met(self) -> bool:
        return self.seconds <= self.goal

    def line(self) -> str:
        cold = f"; {self.cold_seconds:.0f}s of it building images and installing" if self.cold_seconds >= 1 else ""
        state = "within" if self.met else f"{self.seconds - self.goal:.0f}s over"
        where = f" (run {self.run})" if self.run else ""
        return f"  {self.what:34} {self.seconds:6.0f}s  {state} its {self.goal:.0f}s goal{cold}{where}"


def newest_runs(since: str = "") -> dict[tuple[str, str], Path]:
    """(job, profile) -> the newest whole run (its job's every session, no selection) of that kind whose
    id sorts at or after ``since``."""
    found: dict[tuple[str, str], Path] = {}
    for record_file in sorted(results_root().glob(f"*/{RUN_RECORD}")):
        run = record_file.parent
        if run.is_symlink() or run.name < since:
            continue
        record = run_record(run)
        if record.get("arguments", ["not recorded"]):
            continue
        found[(record["job"], record["profile"])] = run
    return found


def figure_of(run: Path, job: str, profile: str) -> Figure:
    table = time_table(ledger.read_run(run))
    cold = sum(line.total for line in table.steps
               if line.name in COLD_STEPS or line.name.startswith(COLD_STEP_PREFIXES))
    return Figure(f"{job}, profile {profile}", run.name, round(table.wall_seconds, 1), run_goal(job, profile),
                  round(cold, 1))


def figures(since: str = "", ci_seconds: float | None = None) -> list[Figure]:
    runs = newest_runs(since)
    found = [figure_of(runs[kind], *kind) for kind in KINDS if kind in runs]
    if ci_seconds is not None:
        # Its goal is for a cold run on a fresh machine; a machine whose engine kept the images runs warm.
        found.append(Figure(".ci/run (goal: cold, fresh machine)", None, round(ci_seconds, 1), CI_GOAL_SECONDS))
    return found


def report(found: list[Figure], since: str = "") -> str:
    missing = [f"{job}, profile {profile}" for job, profile in KINDS
               if not any(f.what == f"{job}, profile {profile}" for f in found)]
    lines = ["time figures (warm goals on 2 cores; a run that built images is cold):"]
    lines += [f.line() for f in found]
    lines += [f"  {what:34}  no run{' since ' + since if since else ''}" for what in missing]
    return "\n".join(lines)


def record(found: list[Figure], what: str) -> Path:
    path = bench_result("job_times")
    append_records(path, [{"recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "what": what,
                           "figures": [{**asdict(f), "met": f.met} for f in found]}])
    return path
