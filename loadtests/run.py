"""`tox -e load`: bring up (or reuse) the lab, deploy the site, run the Locust profiles headless.

Locust's CSV and HTML reports and the spread over containers go to
results/<run>/load/; the gates in loadtests/gates.py decide the exit code.

    python loadtests/run.py [--keep-cluster] [--users 20] [--spawn-rate 5] [--time 45s] [-- locust options]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from wpcluster.clients.fleet import Fleetctl
from wpcluster.core.errors import WpclusterError
from wpcluster.core.labels import new_run_id
from wpcluster.core.results import run_dir
from wpcluster.core.shape import load_shape
from wpcluster.deployment.deploy import Deployment
from wpcluster.providers.lab.provider import Lab

LOCUSTFILE = Path(__file__).with_name("site.py")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep-cluster", action="store_true", help="reuse a lab that is up, and leave it up")
    parser.add_argument("--users", default="20")
    parser.add_argument("--spawn-rate", default="5")
    parser.add_argument("--time", default="45s", help="how long the load runs (a bound: it stops by itself)")
    parser.add_argument("locust_args", nargs="*", help="more options for locust (after --)")
    args = parser.parse_args()

    shape = load_shape()
    lab = Lab.attach(shape) if args.keep_cluster else None
    owned = lab is None
    try:
        lab = lab or Lab(shape, new_run_id()).up()
        secrets = lab.secrets()
        Deployment(lab, Fleetctl(lab), secrets).deploy(reuse=True)
        out = run_dir(lab.run_id) / "load"
        out.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--host", f"http://{lab.site_address}", "--site-host", shape.site_authority,
            "-u", args.users, "-r", args.spawn_rate, "-t", args.time, "--stop-timeout", "10",
            "--csv", str(out / "site"), "--html", str(out / "site.html"), "--only-summary", *args.locust_args,
        ]
        env = dict(os.environ, WPCLUSTER_ADMIN_USER=shape.site.admin_user,
                   WPCLUSTER_ADMIN_PASSWORD=secrets["WORDPRESS_ADMIN_PASSWORD"])
        print(f"==> locust: {args.users} users for {args.time} through {lab.site_address}; reports in {out}",
              flush=True)
        return subprocess.run(command, env=env, timeout=3600).returncode
    except WpclusterError as exc:
        print(f"loadtests/run.py: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if lab is not None:
            lab.down() if owned and not args.keep_cluster else lab.close()


if __name__ == "__main__":
    sys.exit(main())
