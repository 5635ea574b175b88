"""The Locust profiles against the deployed lab: gates pass, a lowered gate fails, bad input stops early,
and a master with two workers reports in the same format as a local run."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from wpcluster.core.results import run_dir
from wpcluster.core.shape import PROJECT_ROOT
from wpcluster.fixtures.options import RUN_KEY

pytestmark = [pytest.mark.load, pytest.mark.changes]  # the Admin profile publishes posts
LOCUSTFILE = PROJECT_ROOT / "loadtests" / "site.py"


def locust(cluster, secrets, *args, password=None, timeout=180, host=None):
    env = dict(os.environ, WPCLUSTER_ADMIN_USER=cluster.shape.site.admin_user,
               WPCLUSTER_ADMIN_PASSWORD=password if password is not None else secrets["WORDPRESS_ADMIN_PASSWORD"])
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
               "--host", host or f"http://{cluster.site_address}", "--site-host", cluster.shape.site_authority,
               "--only-summary", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, cwd=PROJECT_ROOT)


def headless(out, name, users="8", seconds="12s"):
    return ["--headless", "-u", users, "-r", "4", "-t", seconds, "--stop-timeout", "5",
            "--csv", str(out / name), "--html", str(out / f"{name}.html")]


def header(path):
    with open(path, newline="") as f:
        return next(csv.reader(f))


@pytest.fixture(scope="module")
def out(request, deployment):
    folder = run_dir(request.config.stash[RUN_KEY]) / "load"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_headless_profiles_pass_their_gates_and_report_the_spread(cluster, secrets, out):
    result = locust(cluster, secrets, *headless(out, "local"))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "gates passed" in result.stdout
    for suffix in ("_stats.csv", "_stats_history.csv", "_failures.csv", "_containers.csv", ".html"):
        assert (out / f"local{suffix}").exists(), f"no local{suffix}"
    rows = {r[0]: r[1:] for r in csv.reader(open(out / "local_containers.csv"))}
    public = [c for c in rows["route"] if c.startswith("wordpress-") and c != "wordpress-admin"]
    assert len(public) == cluster.shape.site.wordpress_instances, f"home reached only {public}"


def test_a_gate_above_what_the_lab_can_do_fails_and_names_it(cluster, secrets, out):
    result = locust(cluster, secrets, *headless(out, "gated", users="2", seconds="6s"), "--gate-min-rps", "100000")
    assert result.returncode == 1, (result.stdout + result.stderr)[-2000:]
    assert "is below the gate 100000" in result.stderr, result.stderr[-2000:]


@pytest.mark.parametrize(("args", "password", "host", "says"), [
    (["--gate-p95-ms", "fast"], None, None, "--gate-p95-ms 'fast' is not a number"),
    ([], "wrong-password", None, "cannot log in"),
    ([], None, "http://127.0.0.1:9", "does not answer"),
])
def test_bad_input_stops_before_any_load(cluster, secrets, out, args, password, host, says):
    result = locust(cluster, secrets, *headless(out, "bad", users="1", seconds="5s"), *args,
                    password=password, host=host, timeout=60)
    assert result.returncode == 2 and says in result.stderr, (result.stdout + result.stderr)[-2000:]
    stats = out / "bad_stats.csv"
    sent = stats.exists() and any(row.get("Request Count", "0") != "0" for row in csv.DictReader(open(stats)))
    assert not sent, "load was sent before the input was checked"


def test_on_the_lab_the_admin_profile_logs_in_without_being_given_a_password(cluster, secrets, out):
    """The command docs/load.md shows for the lab, without --admin-password: the lab's own credential."""
    if cluster.provider != "lab":
        pytest.skip("only the lab's credential is found without being given")
    # The login is judged here, not the throughput: a short run's rate is no gate.
    result = locust(cluster, secrets, *headless(out, "lab-credential", users="2", seconds="6s"), "--gate-min-rps", "0",
                    password="")
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    assert "admin credential" in result.stderr, result.stderr[-2000:]


def test_a_master_with_two_workers_reports_in_the_same_format(cluster, secrets, out):
    if not (out / "local_stats.csv").exists():
        locust(cluster, secrets, *headless(out, "local"))
    workers = [subprocess.Popen([sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
                                 "--master-host", "127.0.0.1", "--master-port", "5599",
                                 "--site-host", cluster.shape.site_authority],
                                cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, WPCLUSTER_ADMIN_PASSWORD=secrets["WORDPRESS_ADMIN_PASSWORD"]))
               for _ in range(2)]
    try:
        result = locust(cluster, secrets, *headless(out, "distributed"), "--master", "--expect-workers", "2",
                        "--master-bind-port", "5599")
    finally:
        for worker in workers:  # workers quit with the master; make sure, within a bound
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    assert result.returncode == 0, (result.stderr[-2000:] + result.stdout[-2000:])
    for suffix in ("_stats.csv", "_stats_history.csv", "_failures.csv"):
        assert header(out / f"distributed{suffix}") == header(out / f"local{suffix}"), f"{suffix} differs"
    # The spread table has one column per container reached, so compare its shape, not its columns.
    rows = list(csv.reader(open(out / "distributed_containers.csv")))
    assert rows[0][0] == "route" and len(rows) > 1 and len(rows[0]) > 1, f"distributed spread table: {rows[:3]}"
