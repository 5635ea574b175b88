"""The certification bundle's summary: a verdict per capability, the figures, the timelines, versions.

Read from a run's folder after the run (``results/<run>/``: junit.xml, bench/*.json,
failover/*.json and *.png, versions.json, time/*.json, diagnostics/), so ``wpcluster report [RUN]`` can print or
re-render it at any time, offline. A template of our own rather than pytest-html: a run is one or two
pytest sessions (a certification's suites; a self-check run's bring-up and harness) plus figures and
pictures written beside the JUnit, and the page must be one self-contained file a release manager can
keep and sign (images are embedded).
"""

from __future__ import annotations

import base64
import html
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from wpcluster.core import ledger
from wpcluster.core.results import JUNIT, run_record
from wpcluster.report import time_table

REPORT = "report.html"
VERSIONS = "versions.json"
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
# A known gap of the deployment, held by a strict xfail (it fails the run the day it passes). pytest's
# JUnit writes it as skipped with type pytest.xfail; the summary names it as what it is.
XFAILED = "xfailed"
OUTCOMES = (PASSED, FAILED, XFAILED, SKIPPED)

# Capability -> the test modules that certify it (by their dotted JUnit classname's prefix). Every
# failover test is a capability of its own: one fault each.
CAPABILITIES = [
    ("bring-up errors named, nothing left", ("tests.bringup.",)),
    ("etcd2 quorum and linearizability", ("tests.cluster.test_etcd_",)),
    ("fleet", ("tests.cluster.test_fleet",)),
    ("nodes", ("tests.cluster.test_nodes",)),
    ("registration and deregistration", ("tests.routing.test_registration", "tests.routing.test_deregistration")),
    ("routing (wp-admin only to the admin container)", ("tests.routing.",)),
    ("S3 cache", ("tests.cache.",)),
    ("load through vulcand", ("tests.load.",)),
    ("the harness catches seeded defects", ("tests.harness.",)),
]
FAILOVER = "tests.failover."


@dataclass(frozen=True)
class Case:
    """One test's outcome, as its JUnit testcase says."""

    classname: str
    name: str
    outcome: str
    seconds: float
    message: str = ""

    @property
    def id(self) -> str:
        return f"{self.classname}::{self.name}"


def read_cases(junit: Path) -> list[Case]:
    """Every testcase of a (merged) JUnit file with its outcome: passed, failed (an error too), xfailed
    (pytest writes an expected failure as skipped, of type pytest.xfail) or skipped."""
    cases = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        outcome = (FAILED if bad is not None else PASSED if skipped is None
                   else XFAILED if skipped.get("type") == "pytest.xfail" else SKIPPED)
        detail = bad if bad is not None else skipped
        message = (detail.get("message") or "") if detail is not None else ""
        cases.append(Case(case.get("classname", ""), case.get("name", ""), outcome,
                          float(case.get("time", 0) or 0), message))
    return cases


@dataclass(frozen=True)
class Verdict:
    capability: str
    outcome: str
    cases: list[Case]

    @property
    def counts(self) -> str:
        tally = {o: sum(1 for c in self.cases if c.outcome == o) for o in OUTCOMES}
        return ", ".join(f"{n} {o}" for o, n in tally.items() if n)


def verdicts(cases: list[Case]) -> list[Verdict]:
    """A verdict per capability (first matching prefix wins), failover faults one by one."""
    grouped: dict[str, list[Case]] = {}
    for case in cases:
        if case.classname.startswith(FAILOVER):
            grouped.setdefault(f"failover: {case.name.removeprefix('test_').replace('_', ' ')}", []).append(case)
            continue
        capability = next((name for name, prefixes in CAPABILITIES
                           if any(case.classname.startswith(p) for p in prefixes)), "other")
        grouped.setdefault(capability, []).append(case)
    order = [name for name, _ in CAPABILITIES]
    result = []
    for capability, mine in sorted(grouped.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order
                                                                     else len(order), kv[0])):
        outcome = next((o for o in (XFAILED, SKIPPED) if all(c.outcome == o for c in mine)),
                       FAILED if any(c.outcome == FAILED for c in mine) else PASSED)
        result.append(Verdict(capability, outcome, mine))
    return result


def _records(run: Path, name: str) -> list[dict]:
    path = run / "bench" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else []


def _scalars(record: dict) -> dict[str, object]:
    """A figure record as table cells: numbers and words as they are, a nested record (a hop's
    figures, a bring-up's steps) as ``name value; ...`` in one cell."""
    cells: dict[str, object] = {}
    for key, value in record.items():
        if key == "recorded_at":
            continue
        if isinstance(value, dict):
            value = "; ".join(f"{k} {v}" for k, v in value.items() if isinstance(v, int | float | str))
        if isinstance(value, int | float | str):
            cells[key] = value
    return cells


@dataclass
class Bundle:
    """What one run left, read back."""

    run: Path
    record: dict  # what the run said about itself: its job, its source, where its controls came from
    cases: list[Case]
    verdicts: list[Verdict]
    versions: dict
    failover: list[dict]
    figures: dict[str, list[dict]]
    time: time_table.TimeTable

    @property
    def job(self) -> str:
        """"certification" or "self-check" (``wpcluster.jobs.certify``); a run from before run.json certified."""
        return self.record["job"]

    @property
    def profile(self) -> str:
        """The profile the run ran under (``wpcluster.core.profiles``); a run from before run.json: release."""
        return self.record["profile"]

    @property
    def provenance(self) -> str:
        """Which profile and source the run ran and, for a self-check run, where its controls came from."""
        record = self.record
        said = (f"profile {self.profile} ({record.get('timers', 'timers not recorded')}), "
                + (f"source {record['source']}" if record.get("source") else "source not recorded"))
        if self.job == "self-check":
            said += (f", controls from certification {self.record['controls_from']}" if self.record.get("controls_from")
                     else ", controls run on its own lab")
        return said

    @property
    def outcome(self) -> str:
        return FAILED if any(v.outcome == FAILED for v in self.verdicts) or not self.cases else PASSED


def read_bundle(run: Path) -> Bundle:
    junit = run / JUNIT
    if not junit.exists():
        raise FileNotFoundError(f"{run} holds no {JUNIT}: not a certification run (wpcluster certify)")
    cases = read_cases(junit)
    versions = json.loads((run / VERSIONS).read_text()) if (run / VERSIONS).exists() else {}
    figures = {p.stem: json.loads(p.read_text()) for p in sorted((run / "bench").glob("*.json"))
               if p.stem != "failover"} if (run / "bench").exists() else {}
    return Bundle(run, run_record(run), cases, verdicts(cases), versions, _records(run, "failover"), figures,
                  time_table.time_table(ledger.read_run(run)))


# How many rows of each time table the report shows (the ledger files hold them all).
TIME_ROWS = 12


def time_sections(table: time_table.TimeTable) -> list[tuple[str, list[time_table.Line]]]:
    """The time tables a reader asks for, by title, largest first."""
    return [("sessions", table.sessions), ("parallel workers (pytest -n)", table.workers),
            ("suites", table.suites), ("slowest tests", table.tests[:TIME_ROWS]),
            ("steps (bring-up, image builds, deploys)", table.steps[:TIME_ROWS]),
            ("faults (injected to healed)", table.faults[:TIME_ROWS]),
            ("waits, by condition", table.waits[:TIME_ROWS])]


def fault_status_lines(record: dict) -> list[str]:
    """A fault verdict's status with its one-line reason, and, after ``wpcluster rejudge``, today's beside it."""
    lines = []
    if record.get("status"):
        lines.append(f"verdict: {record['status'].upper()}" + (f": {record['reason']}" if record.get("reason") else ""))
    again = record.get("rejudged")
    if again:
        lines.append(f"rejudged with today's bounds: {again['status'].upper()}"
                     + (f": {again['reason']}" if again.get("reason") else ""))
    return lines


def summary_text(bundle: Bundle) -> str:
    """The terminal's version of the report: the verdict table, the failover windows, the versions."""
    passed = sum(1 for c in bundle.cases if c.outcome == PASSED)
    lines = [f"{bundle.job} {bundle.run.name}: {bundle.outcome.upper()} "
             f"({passed} of {len(bundle.cases)} tests passed)",
             f"  provider {bundle.versions.get('provider', '?')}, shape {bundle.versions.get('shape', '?')}, "
             f"{bundle.provenance}", ""]
    width = max((len(v.capability) for v in bundle.verdicts), default=10)
    for v in bundle.verdicts:
        lines.append(f"  {v.outcome.upper():7} {v.capability:{width}}  {v.counts}")
    if bundle.failover:
        lines += ["", "  failover (top LB): status, goodput ratio before/during/after, errors during, brownout, "
                      "recovery from the fault's start, wall"]
        for load in bundle.figures.get("failover-load", [])[:1]:  # one per session; the first says it
            lines.append(f"    readers: {load.get('lb_rate')}/s through the top LB, "
                         f"{load.get('vulcand_rate')}/s on each vulcand ({load.get('load_share', 0):.0%} of "
                         f"the {load.get('capacity')} successes/s the site served here)")
        for f in bundle.failover:
            w = f.get("windows", {})
            ratio = "/".join(str(w.get(k, {}).get("goodput_ratio", "-")) for k in ("before", "during", "after"))
            lines.append(f"    {f.get('fault_kind', f.get('fault', '?'))[:24]:24} {f.get('status', '-').upper():15} "
                         f"{ratio:18} {w.get('during', {}).get('error_rate', 0):7.2%} "
                         f"{f.get('brownout_seconds')!s:>6}s {f.get('recovery_seconds')!s:>6}s "
                         f"{f.get('wall_seconds', '-')!s:>6}s")
            lines += [f"      {why}" for why in fault_status_lines(f)]
    if bundle.time.sessions:
        lines += ["", f"  time: {bundle.time.wall_seconds:.0f}s in all; "
                      + ", ".join(f"{line.name} {line.total:.0f}s" for line in bundle.time.suites),
                  "    longest waits: " + "; ".join(f"{line.name} {line.total:.0f}s ({line.count}x)"
                                                    for line in bundle.time.waits[:3])]
        gap = job_gap(bundle)
        lines.append(f"    {gap.over:.0f}s over the {gap.goal:.0f}s goal: " if gap.over > 0
                     else f"    within the {gap.goal:.0f}s goal ({-gap.over:.0f}s to spare): ")
        lines[-1] += "; ".join(f"{name.split(' (')[0]} {seconds:.0f}s" for name, seconds in gap.parts)
        if gap.over > 0 and (tried := goal_tried(bundle)):
            lines.append(f"      why: {tried}")
        lines += failover_time_lines(bundle)
    components = bundle.versions.get("components", {})
    if components:
        lines += ["", "  versions: " + ", ".join(f"{k} {v}" for k, v in components.items())]
    return "\n".join(lines)


def job_gap(bundle: Bundle) -> time_table.GoalGap:
    """The run's wall time against its job's and profile's goal (a warm run on 2 cores)."""
    return time_table.goal_gap(bundle.time, time_table.run_goal(bundle.job, bundle.profile))


def goal_tried(bundle: Bundle) -> str:
    """What holds a run of this job and profile over its goal, and what was tried."""
    return time_table.GOAL_TRIED.get((bundle.job, bundle.profile), "")


def failover_time_lines(bundle: Bundle) -> list[str]:
    """The failover suite against its own goal and, when over it, the faults that hold it and why."""
    over = time_table.failover_gap(bundle.time)
    if over is None:
        return []
    goal = time_table.FAILOVER_GOAL_SECONDS
    if over <= 0:
        return [f"    failover suite within its {goal:.0f}s goal ({-over:.0f}s to spare)"]
    holders = time_table.failover_holders(bundle.failover)
    return [f"    failover suite {over:.0f}s over its {goal:.0f}s goal; costliest faults: "
            + "; ".join(h.describe() for h in holders),
            f"      why: {time_table.FAILOVER_HELD_BY}"]


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _table(rows: list[dict], cls: str = "") -> str:
    if not rows:
        return "<p>none recorded</p>"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r.get(k, '')))}</td>" for k in keys) + "</tr>"
                   for r in rows)
    return f'<table class="{cls}"><tr>{head}</tr>{body}</table>'


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 .passed, td.passed { color: #17702f; } h1 .failed, td.failed { color: #b3261e; } td.skipped { color: #777; }
td.xfailed { color: #8a5a00; }
table { border-collapse: collapse; margin: .5em 0 1.5em; } th, td { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #f4f4f4; text-align: left; } img { max-width: 100%; border: 1px solid #eee; }
details { margin: .3em 0; } .fault { margin: 1.5em 0; } code { background: #f4f4f4; }
"""
# After load, the page counts the images that rendered: the browser check reads it off the DOM.
CHECK_SCRIPT = """
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.images = imgs.length; document.body.dataset.imagesLoaded = ok;
});
"""


def render_html(bundle: Bundle) -> str:
    run = bundle.run
    versions = bundle.versions
    verdict_rows = "".join(
        f'<tr class="verdict"><td>{html.escape(v.capability)}</td><td class="{v.outcome}">{v.outcome}</td>'
        f"<td>{html.escape(v.counts)}</td></tr>" for v in bundle.verdicts)
    failures = "".join(f"<details><summary><code>{html.escape(c.id)}</code></summary><pre>"
                       f"{html.escape(c.message[:3000])}</pre></details>"
                       for c in bundle.cases if c.outcome == FAILED)
    faults = []
    for f in bundle.failover:
        windows = f.get("windows", {})
        rows = [{"window": k, "seconds": w.get("seconds"), "goodput ratio": w.get("goodput_ratio"),
                 "error rate": f"{w.get('error_rate', 0):.2%}", "hung": w.get("hung", 0),
                 "sent again": w.get("retried", 0), "p95 ms": w.get("p95_ms")}
                for k, w in windows.items()]
        png = run / "failover" / f"{f.get('test')}.png"
        checks = [{"bound": c.get("bound"), "through": c.get("target"), "figure": c.get("figure"),
                   "limit": c.get("limit"), "met": "yes" if c.get("met") else "NO"} for c in f.get("checks", [])]
        status = "".join(f"<p>{html.escape(line)}</p>" for line in fault_status_lines(f))
        faults.append(f'<div class="fault"><h3>{html.escape(str(f.get("fault", "")))} '
                      f'<small>({html.escape(str(f.get("test", "")))})</small></h3>{status}'
                      f"<p>brownout {f.get('brownout_seconds')} s (top LB, continuous), recovery "
                      f"{f.get('recovery_seconds')} s from the fault's start, wall {f.get('wall_seconds', '-')} s</p>"
                      + _table(rows) + (_table(checks) if checks else "") + (_img(png) if png.exists() else "")
                      + "</div>")
    figures = "".join(f"<h3>{html.escape(name)}</h3>" + _table([_scalars(r) for r in records])
                      for name, records in bundle.figures.items())
    diagnostics = sorted(p.relative_to(run) for p in run.glob("**/diagnostics/*") if p.is_dir())
    links = "".join(f'<li><a href="{html.escape(str(p))}">{html.escape(str(p))}</a></li>' for p in diagnostics)
    time_tables = "".join(
        f"<h3>{html.escape(title)}</h3>" + _table([{"name": line.name, "count": line.count, "total s": line.total,
                                                   "longest s": line.longest, "failed": line.failed}
                                                  for line in lines], "time")
        for title, lines in time_sections(bundle.time) if lines)
    gap = job_gap(bundle)
    if bundle.time.sessions:
        verdict = (f"{gap.over:.0f} s over the goal" if gap.over > 0 else "within the goal")
        time_tables = (f"<p>{gap.wall:.0f} s in all against the {gap.goal:.0f} s goal (a warm {bundle.job} run, "
                       f"profile {bundle.profile}, on 2 cores): {verdict}. What the time went to:</p>"
                       + _table([{"what": name, "seconds": seconds} for name, seconds in gap.parts], "goal")
                       + (f"<p>{html.escape(tried)}</p>" if gap.over > 0 and (tried := goal_tried(bundle)) else "")
                       + "".join(f"<p>{html.escape(line.strip())}</p>" for line in failover_time_lines(bundle))
                       + time_tables)
    components = _table([{"component": k, "version": v} for k, v in versions.get("components", {}).items()])
    images = _table([{"image": k, "id": v} for k, v in versions.get("images", {}).items()])
    passed = sum(1 for c in bundle.cases if c.outcome == PASSED)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wpcluster {bundle.job} {run.name}</title>
<style>{STYLE}</style><script>{CHECK_SCRIPT}</script></head><body>
<h1>{bundle.job.capitalize()} {html.escape(run.name)}:
<span class="{bundle.outcome}">{bundle.outcome.upper()}</span></h1>
<p>{passed} of {len(bundle.cases)} tests passed. Provider <b>{html.escape(str(versions.get('provider', '?')))}</b>,
shape <code>{html.escape(str(versions.get('shape', '?')))}</code>
({html.escape(", ".join(versions.get("nodes", [])))}); {html.escape(bundle.provenance)}.</p>
<h2>Verdict per capability</h2>
<table id="verdicts"><tr><th>capability</th><th>verdict</th><th>tests</th></tr>{verdict_rows}</table>
{f"<h2>Failures</h2>{failures}" if failures else ""}
<h2>Failover: windows and timelines</h2>{"".join(faults) or "<p>no fault ran</p>"}
<h2>Figures</h2>{figures or "<p>none recorded</p>"}
<h2>Where the time went</h2>{time_tables or "<p>no time ledger in this run</p>"}
<h2>Versions</h2>{components}<h3>Images</h3>{images}
<h2>Diagnostics</h2><ul>{links or "<li>none: no test failed with the cluster in hand</li>"}</ul>
</body></html>
"""


def write_report(run: Path) -> Path:
    """Render ``report.html`` into the run's folder; return its path."""
    path = run / REPORT
    path.write_text(render_html(read_bundle(run)))
    return path
