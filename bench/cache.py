"""Benchmark: the S3 cache's first asset push on deploy, and page latency with and without the rewrite.

Runs against the lab that is up with the site deployed (`wpcluster lab up && wpcluster deploy`).
The push time is what the admin container logged when it pushed the static files at its first
start. The latency is the home page on one public container, measured with the same bounded
client twice: with the S3 plugin (URLs rewritten), then with the plugin taken out of that one
container (no rewrite), which is put back afterwards. Figures: bench/results/cache.json.

    python bench/cache.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

from wpcluster.checks.state import site_containers
from wpcluster.clients.fleet import Fleetctl
from wpcluster.core.results import bench_result
from wpcluster.core.shape import load_shape
from wpcluster.load.generator import hammer, summarize
from wpcluster.providers.lab.provider import Lab

RESULTS = bench_result("cache")
PLUGIN = "/var/lib/wordpress/wp-content/mu-plugins/wpcluster-s3-cache.php"
PUSH_LINE = re.compile(r"S3 cache: static files in \S+: (\d+) pushed \(([\d.]+) MB\).* in ([\d.]+) s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    shape = load_shape()
    lab = Lab.require(shape)
    try:
        figures: dict[str, object] = {"recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        journal = Fleetctl(lab).journal("wordpress-admin.service", lines=5000)
        pushes = [m.groups() for m in PUSH_LINE.finditer(journal) if int(m.group(1)) > 0]
        if pushes:
            files, megabytes, seconds = pushes[0]
            figures["first_push"] = {"files": int(files), "megabytes": float(megabytes), "seconds": float(seconds)}
        (backend, sid), url = next((k, u) for k, u in sorted(site_containers(lab).items()) if k[0] == "wordpress")
        node_name, container = sid.split(".", 1)
        node = lab.node(node_name)
        figures["container"] = sid
        figures["with_rewrite"] = summarize(hammer(f"{url}/", shape.site_authority, 2, args.seconds))
        node.exec(f"docker exec {container} mv {PLUGIN} /tmp/plugin.off").check()
        try:
            figures["without_rewrite"] = summarize(hammer(f"{url}/", shape.site_authority, 2, args.seconds))
        finally:
            node.exec(f"docker exec {container} mv /tmp/plugin.off {PLUGIN}").check()
        RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
        print(json.dumps(figures, indent=2))
    finally:
        lab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
