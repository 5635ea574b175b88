"""Locust profiles for the site, through vulcand: readers, an admin and cache-cold visitors.

    locust -f loadtests/site.py --host http://wordpress.local:8888
    locust -f loadtests/site.py --host http://127.0.0.1:8888 --site-host wordpress.local:8888 \\
        --headless -u 20 -r 5 -t 60s --csv results/load/site --html results/load/site.html

Every request is named by route so the report groups them, and the container
that answered (X-Served-By) is counted per route; the spread is printed and,
with --csv, written beside Locust's own CSVs. Headless runs are judged by the
gates in loadtests/gates.py (override with --gate-fail-ratio, --gate-p95-ms,
--gate-min-rps); a missed gate sets the exit code and says which and by how much.
Before any load is sent the site must answer and, when admins are in the mix,
the admin must be able to log in.
"""

from __future__ import annotations

import csv
import os
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import requests
from locust import FastHttpUser, HttpUser, between, events, task
from locust.runners import WorkerRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gates import DEFAULT_FAIL_RATIO, DEFAULT_MIN_RPS, DEFAULT_P95_MS, Gates, judge  # noqa: E402

SERVED_BY = "X-Served-By"
ASSET = re.compile(r'(?:src|href)=["\']([^"\']+/(?:wp-includes|wp-content/themes)/[^"\']+)["\']')
SPREAD: dict[str, Counter] = defaultdict(Counter)


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    group = parser.add_argument_group("wpcluster")
    group.add_argument("--site-host", default="", help="Host header to send (default: the --host's host:port)")
    group.add_argument("--admin-user", default=os.environ.get("WPCLUSTER_ADMIN_USER", "admin"))
    group.add_argument("--admin-password", default=os.environ.get("WPCLUSTER_ADMIN_PASSWORD", ""),
                       help="the admin's password (or $WPCLUSTER_ADMIN_PASSWORD); never printed")
    group.add_argument("--gate-fail-ratio", default=str(DEFAULT_FAIL_RATIO))
    group.add_argument("--gate-p95-ms", default=str(DEFAULT_P95_MS))
    group.add_argument("--gate-min-rps", default=str(DEFAULT_MIN_RPS))


def site_host(options, host: str = "") -> str:
    return options.site_host or urlsplit(host or options.host or "").netloc


def headers(user) -> dict[str, str]:
    # user.host: on a worker the master's --host arrives here, not in the worker's own options
    return {"Host": site_host(user.environment.parsed_options, user.host)}


def fail(message: str) -> None:
    print(f"loadtests/site.py: error: {message}", file=sys.stderr)
    sys.exit(2)


@events.init.add_listener
def _preflight(environment, **_kw) -> None:
    """Check the options, the site and the admin login before any load is sent."""
    options = environment.parsed_options
    if options is None or isinstance(environment.runner, WorkerRunner):
        return
    try:
        environment.gates = Gates.parse(options.gate_fail_ratio, options.gate_p95_ms, options.gate_min_rps)
    except ValueError as exc:
        fail(str(exc))
    if not options.host:
        fail("no --host: give the site's address, e.g. --host http://wordpress.local:8888")
    host = site_host(options)
    try:
        reply = requests.get(f"{options.host}/", headers={"Host": host}, timeout=10, allow_redirects=False)
    except requests.RequestException as exc:
        fail(f"{options.host} does not answer ({type(exc).__name__}); is the site deployed and the address right?")
    if reply.status_code != 200:
        fail(f"{options.host}/ answered {reply.status_code} for Host {host}; is --site-host right?")
    if "Admin" in (options.user_classes or ["Admin"]):  # no classes named: all of them run
        if not options.admin_password:
            options.admin_password = lab_admin_password(options)
        if not options.admin_password:
            fail("the Admin profile needs --admin-password (or $WPCLUSTER_ADMIN_PASSWORD), or leave Admin out")
        if not login(requests.Session(), options.host, host, options.admin_user, options.admin_password):
            fail(f"the admin {options.admin_user!r} cannot log in at {options.host}/wp-login.php: wrong password?")


def lab_admin_password(options) -> str:
    """The lab's own admin password, when --host is the lab's site (its port on this machine) and a lab
    is up with the site deployed; "" otherwise. Another site's password is never guessed."""
    from wpcluster.core.shape import load_shape
    from wpcluster.providers.lab.provider import Lab

    shape = load_shape()
    url = urlsplit(options.host)
    if url.port != shape.site_port_on_host or url.hostname not in (shape.site_host, "127.0.0.1", "localhost"):
        return ""
    secrets = Lab.secrets_of_live_lab(shape)
    if secrets is None:
        return ""
    if options.admin_user == shape.site.admin_user:
        print(f"loadtests/site.py: the Admin profile logs in with the lab {shape.lab_name}'s admin credential",
              file=sys.stderr)
        return secrets["WORDPRESS_ADMIN_PASSWORD"]
    return ""


def login(session, base: str, host: str, user: str, password: str) -> bool:
    session.cookies.set("wordpress_test_cookie", "WP Cookie check")
    session.post(f"{base}/wp-login.php", headers={"Host": host}, allow_redirects=False, timeout=10,
                 data={"log": user, "pwd": password, "wp-submit": "Log In", "testcookie": "1"})
    return any(c.name.startswith("wordpress_logged_in") for c in session.cookies)


@events.report_to_master.add_listener
def _ship_spread(client_id, data, **_kw) -> None:
    """Workers send their per-container counts with each stats report, then start afresh."""
    data["wpcluster_spread"] = {route: dict(counts) for route, counts in SPREAD.items()}
    SPREAD.clear()


@events.worker_report.add_listener
def _merge_spread(client_id, data, **_kw) -> None:
    """The master adds every worker's counts, so a distributed run reports the same spread table."""
    for route, counts in data.get("wpcluster_spread", {}).items():
        SPREAD[route].update(counts)


@events.request.add_listener
def _count_container(name, response=None, exception=None, **_kw) -> None:
    if response is not None and exception is None:
        served = response.headers.get(SERVED_BY) if response.headers else None
        if served:
            SPREAD[name][served.split("@", 1)[0]] += 1


@events.quitting.add_listener
def _report(environment, **_kw) -> None:
    if isinstance(environment.runner, WorkerRunner) or not SPREAD and environment.stats.total.num_requests == 0:
        return
    print("\nrequests per container, by route:")
    containers = sorted({c for counts in SPREAD.values() for c in counts})
    for route, counts in sorted(SPREAD.items()):
        print(f"  {route:16} " + "  ".join(f"{c}={counts[c]}" for c in containers if counts[c]))
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix:
        with open(f"{prefix}_containers.csv", "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["route", *containers])
            for route, counts in sorted(SPREAD.items()):
                writer.writerow([route, *[counts[c] for c in containers]])
    gates = getattr(environment, "gates", None)
    if gates is None or not environment.parsed_options.headless:
        return
    total = environment.stats.total
    p95 = {e.name: e.get_response_time_percentile(0.95) for e in environment.stats.entries.values()
           if e.num_requests}
    missed = judge(gates, total.fail_ratio, total.total_rps, p95)
    if missed:
        print("\nGATES MISSED:\n  " + "\n  ".join(missed), file=sys.stderr)
        environment.process_exit_code = 1
    else:
        print(f"\ngates passed: fail ratio {total.fail_ratio:.2%}, {total.total_rps:.1f} requests/s, "
              f"every route's p95 under {gates.p95_ms:.0f} ms")


class Reader(FastHttpUser):
    """A visitor reading the blog: mostly the home page and posts, some archives and searches."""

    weight = 8
    wait_time = between(0.5, 2)

    @task(5)
    def home(self) -> None:
        with self.client.get("/", name="home", headers=headers(self), catch_response=True) as reply:
            self.assets = ASSET.findall(reply.text or "")[:10]

    @task(3)
    def post(self) -> None:
        self.client.get("/hello-world/", name="post", headers=headers(self))

    @task(1)
    def archive(self) -> None:
        # The date archive: every post is in this year's (the category archive 404s on this
        # install, a finding left for the site's own issue).
        self.client.get(time.strftime("/%Y/"), name="archive", headers=headers(self))

    @task(1)
    def search(self) -> None:
        self.client.get(f"/?s={random.choice(['hello', 'world', 'cluster'])}", name="search", headers=headers(self))

    @task(2)
    def static_asset(self) -> None:
        assets = getattr(self, "assets", [])
        if assets:  # absolute URLs on the cache home (the bucket), fetched as a browser would
            self.client.get(random.choice(assets).replace("&#038;", "&"), name="static asset")


class ColdVisitor(HttpUser):
    """A first-time visitor: a fresh connection and no cache, the page and every asset it names."""

    weight = 1
    wait_time = between(2, 5)

    @task
    def first_visit(self) -> None:
        self.client.cookies.clear()
        reply = self.client.get("/", name="cold: home", headers={**headers(self), "Connection": "close"})
        for url in ASSET.findall(reply.text or "")[:20]:
            self.client.get(url.replace("&#038;", "&"), name="cold: asset", headers={"Connection": "close"})


class Admin(HttpUser):
    """The editor: logs in through the admin route, opens the dashboard, saves a draft."""

    weight = 1
    wait_time = between(2, 5)

    def on_start(self) -> None:
        options = self.environment.parsed_options
        if not login(self.client, self.host, site_host(options, self.host), options.admin_user,
                     options.admin_password):
            raise RuntimeError("admin login failed")  # Locust records it; preflight already checked

    @task(3)
    def dashboard(self) -> None:
        self.client.get("/wp-admin/", name="dashboard", headers=headers(self))

    @task(1)
    def save_draft(self) -> None:
        nonce = self.client.get("/wp-admin/admin-ajax.php?action=rest-nonce", name="rest nonce",
                                headers=headers(self)).text.strip()
        self.client.post("/wp-json/wp/v2/posts", name="save draft", headers={**headers(self), "X-WP-Nonce": nonce},
                         json={"title": "load-test draft", "status": "draft"})
