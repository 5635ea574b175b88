"""The time figures: the newest whole run of each kind, against its own goal, its cold cost named."""

from __future__ import annotations

import json

from wpcluster.core import ledger
from wpcluster.core.results import RESULTS_ENV, RUN_RECORD
from wpcluster.jobs.time_goals import figures, report


def _run(root, run_id: str, job: str, profile: str, wall: float, arguments=(), built: float = 0.0) -> None:
    run = root / run_id
    run.mkdir()
    (run / RUN_RECORD).write_text(json.dumps({"job": job, "profile": profile, "arguments": list(arguments)}))
    spans = [ledger.Span(ledger.SESSION, "suites", 0, wall)]
    if built:
        spans.append(ledger.Span(ledger.STEP, "images", 1, built))
    ledger.write(run / ledger.TIME_DIR / "suites.json", "suites", spans)


def test_the_newest_whole_run_of_each_kind_is_set_against_its_goal(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path))
    _run(tmp_path, "20261205-100000-aaaa", "certification", "release", 1000.0)
    _run(tmp_path, "20261205-110000-bbbb", "certification", "release", 1400.0, built=300.0)
    _run(tmp_path, "20261205-120000-cccc", "certification", "release", 50.0, arguments=["tests/routing"])
    _run(tmp_path, "20261205-130000-dddd", "certification", "quick", 200.0)
    found = {f.what: f for f in figures(since="20261205-105000", ci_seconds=2500.0)}
    release = found["certification, profile release"]
    assert (release.run, release.seconds, release.goal, release.cold_seconds, release.met) == (
        "20261205-110000-bbbb", 1400.0, 900.0, 300.0, False)
    assert found["certification, profile quick"].met and found["certification, profile quick"].goal == 240.0
    assert not found[".ci/run (goal: cold, fresh machine)"].met
    text = report(list(found.values()), "20261205-105000")
    assert "500s over its 900s goal; 300s of it building images" in text
    assert "self-check, profile release" in text and "no run since 20261205-105000" in text
