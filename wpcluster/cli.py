"""`wpcluster`: the lab, the deployment on it, the two jobs and their reports.

    wpcluster [--profile quick] lab up [--reuse]
                                   build images, boot the lab, wait for etcd2 and fleet
    wpcluster lab status           every lab container, its role, run and state
    wpcluster lab down             remove every lab container, network and volume
    wpcluster vagrant up|status|halt|destroy --vagrant-dir DIR
                                   the seed's coreos-vagrant cluster, through python-vagrant
    wpcluster deploy [--keep|--undeploy] [--provider vagrant --vagrant-dir DIR]
                                   the site on the lab (or vagrant cluster) that is up, through fleet, in the
                                   seed's order
    wpcluster certify [PYTEST ARGS] the deployment's certification as one run (tox -e cluster)
    wpcluster selfcheck [PYTEST ARGS]
                                   the harness's own checks as one run (tox -e selfcheck)
    wpcluster report [RUN]         a run's summary, and its report.html written again
    wpcluster rejudge [RUN]        a run's fault verdicts judged again from their saved histories
    wpcluster times [--since RUN] [--ci-seconds S] [--record]
                                   the newest release, quick and self-check runs' wall times against their goals
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from wpcluster.core.errors import WpclusterError
from wpcluster.core.profiles import PROFILES, take_profile_option
from wpcluster.core.shape import load_shape


def lab_up(args: argparse.Namespace) -> int:
    from wpcluster.providers.lab.provider import Lab

    shape = load_shape(args.shape)
    if args.reuse and (kept := Lab.attach(shape)) is not None:
        kept.wait_healthy()
        print(f"lab of run {kept.run_id} is up and healthy; reusing it")
        return 0
    lab = Lab(shape).up()
    lab.close()
    print(f"\nlab up: run {lab.run_id}, {lab.up_seconds:.1f}s "
          f"({'warm: every image cached' if not lab.images_built else 'built ' + ', '.join(lab.images_built)})")
    for node in lab.nodes:
        print(f"  {node.name:10} {node.address:15} etcd {shape.etcd_client_url(node.address)}")
    print(f"  registry   {lab.registry}\n  fleetctl   {lab.fleetctl} --driver=etcd --endpoint={lab.fleet_endpoint}")
    print("take it down with: wpcluster lab down")
    return 0


def lab_status(args: argparse.Namespace) -> int:
    from wpcluster.providers.lab.provider import Lab

    rows = Lab(load_shape(args.shape)).status()
    if not rows:
        print("no lab is up")
        return 1
    print(f"{'container':22} {'role':12} {'state':10} {'address':15} run")
    for row in rows:
        print(f"{row['name']:22} {row['role']:12} {row['state']:10} {row['address']:15} {row['run']}")
    return 0


def lab_down(args: argparse.Namespace) -> int:
    from wpcluster.providers.lab.provider import Lab

    lab = Lab(load_shape(args.shape))
    had = lab.status()
    lab.remove_leftovers()
    print(f"removed {len(had)} lab containers and their networks and volumes" if had else "no lab was up")
    return 0


def deploy(args: argparse.Namespace) -> int:
    from wpcluster.clients.fleet import Fleetctl
    from wpcluster.deployment.deploy import Deployment

    shape = load_shape(args.shape)
    if args.provider == "vagrant":
        from wpcluster.core.labels import new_run_id
        from wpcluster.providers.vagrant.provider import VagrantCluster

        # The machines that are up (`wpcluster vagrant up`), reached again.
        cluster = VagrantCluster(shape, new_run_id(), Path(vagrant_dir(args)))
        states = cluster.states()
        if set(states.get(name) for name in shape.nodes) != {"running"}:
            raise WpclusterError(f"the vagrant cluster in {cluster.root} is not up: {states}",
                                 f"bring it up first: `wpcluster vagrant up --vagrant-dir {cluster.root}`")
        cluster.up()
    else:
        from wpcluster.providers.lab.provider import Lab

        cluster = Lab.require(shape)
    deployment = Deployment(cluster, Fleetctl(cluster), cluster.secrets())
    if args.undeploy:
        deployment.undeploy()
        cluster.close()
        return 0
    deployment.deploy(keep_on_failure=args.keep)
    cluster.close()
    print(f"\nsite deployed in {deployment.seconds:.1f}s: {shape.site_url} "
          f"(add `127.0.0.1 {shape.site_host}` to /etc/hosts)")
    print(f"admin: {shape.site.admin_user}, password in {cluster.secrets_path}")
    return 0


def vagrant_dir(args: argparse.Namespace) -> str:
    if not args.vagrant_dir:
        raise WpclusterError("no coreos-vagrant checkout given",
                             "pass --vagrant-dir DIR (or set WPCLUSTER_VAGRANT_DIR)")
    return args.vagrant_dir


def vagrant_command(args: argparse.Namespace) -> int:
    from wpcluster.core.labels import new_run_id
    from wpcluster.providers.vagrant.provider import VagrantCluster

    cluster = VagrantCluster(load_shape(args.shape), new_run_id(), Path(vagrant_dir(args)))
    if args.action == "up":
        cluster.up()
        cluster.close()
        print(f"\nvagrant cluster up in {cluster.root}" + (f" (discovery {cluster.discovery_url})"
                                                           if cluster.discovery_url else ""))
        for node in cluster.nodes:
            print(f"  {node.name:10} {node.address:15} etcd {cluster.shape.etcd_client_url(node.address)}")
        print(f"  fleetctl   FLEETCTL_TUNNEL={cluster.fleet_tunnel} {cluster.fleetctl} "
              f"--endpoint={cluster.fleet_endpoint}")
    elif args.action == "status":
        for name, state in cluster.states().items():
            print(f"{name:10} {state}")
    elif args.action == "halt":
        cluster.halt()
    elif args.action == "destroy":
        cluster.down()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wpcluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", help="cluster shape file (default: $WPCLUSTER_SHAPE or cluster.toml)")
    parser.add_argument("--profile", choices=list(PROFILES),
                        help="the timers (and, for certify, the faults): release (the shape's own, the default) or "
                             "quick (shortened); a lab is brought up, deployed and certified under one profile")
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="the local Docker lab").add_subparsers(dest="action", required=True)
    up = lab.add_parser("up", help="bring the lab up (removing what an earlier run left)")
    up.add_argument("--reuse", action="store_true", help="keep a healthy lab that is already up")
    up.set_defaults(func=lab_up)
    lab.add_parser("status", help="list the lab's containers").set_defaults(func=lab_status)
    lab.add_parser("down", help="remove the lab").set_defaults(func=lab_down)
    vag = sub.add_parser("vagrant", help="the seed's coreos-vagrant cluster")
    vag.add_argument("action", choices=("up", "status", "halt", "destroy"))
    vag.add_argument("--vagrant-dir", default=os.environ.get("WPCLUSTER_VAGRANT_DIR"),
                     help="the coreos-vagrant checkout (default: $WPCLUSTER_VAGRANT_DIR)")
    vag.set_defaults(func=vagrant_command)
    dep = sub.add_parser("deploy", help="deploy the site on the lab (or the vagrant cluster) that is up, through fleet")
    dep.add_argument("--provider", choices=("lab", "vagrant"), default="lab", help="where the cluster runs")
    dep.add_argument("--vagrant-dir", default=os.environ.get("WPCLUSTER_VAGRANT_DIR"),
                     help="the coreos-vagrant checkout (--provider vagrant; default: $WPCLUSTER_VAGRANT_DIR)")
    dep.add_argument("--keep", action="store_true", help="leave what was started when the deploy fails")
    dep.add_argument("--undeploy", action="store_true", help="destroy the site's units instead")
    dep.set_defaults(func=deploy)
    sub.add_parser("certify", help="the deployment's certification as one run (tox -e cluster): every suite on "
                                   "the default lab; arguments after it go to the suites' pytest")
    sub.add_parser("selfcheck", help="the harness's own checks as one run (tox -e selfcheck): bring-up error tests, "
                                     "then the seeded-defect self-checks; arguments after it go to the latter's pytest")
    rep = sub.add_parser("report", help="print a run's summary and write its report.html again")
    rep.add_argument("run", nargs="?", help="the run's folder or id (default: results/latest)")
    rep.set_defaults(func=report)
    again = sub.add_parser("rejudge", help="judge a run's faults again from their saved histories, with today's "
                                           "bounds, and write the report again")
    again.add_argument("run", nargs="?", help="the run's folder or id (default: results/latest)")
    again.set_defaults(func=rejudge)
    times = sub.add_parser("times", help="the newest release, quick and self-check runs' wall times against their "
                                         "goals (and a whole .ci/run's, given its seconds)")
    times.add_argument("--since", default="", help="only runs whose id sorts at or after this one (a .ci/run's start)")
    times.add_argument("--ci-seconds", type=float, default=None, help="the whole .ci/run's wall time, to set beside "
                                                                       "its own goal")
    times.add_argument("--record", action="store_true", help="append the figures to bench/results/job_times.json")
    times.set_defaults(func=job_times)
    return parser


def job_times(args: argparse.Namespace) -> int:
    from wpcluster.jobs.time_goals import figures, record, report

    found = figures(args.since, args.ci_seconds)
    print(report(found, args.since))
    if args.record:
        print(f"recorded in {record(found, 'a .ci/run' if args.ci_seconds is not None else 'wpcluster times')}")
    return 0


def run_folder(name: str | None) -> Path:
    """A run's folder from its id, its path or nothing (results/latest)."""
    from wpcluster.core.results import results_root
    from wpcluster.jobs.certify import latest_run

    run = Path(name) if name and Path(name).is_dir() else (results_root() / name if name else latest_run())
    if not run.is_dir():
        raise WpclusterError(f"no run {name or 'latest'} under {results_root()}",
                             "name a folder under results/ (or its id) that a certification or a suite wrote")
    return run.resolve()


def rejudge(args: argparse.Namespace) -> int:
    from wpcluster.checks.verdict import PASS
    from wpcluster.report.bundle import write_report
    from wpcluster.report.rejudge import rejudge_run, table

    run = run_folder(args.run)
    try:
        results = rejudge_run(run, load_shape(args.shape))
    except FileNotFoundError as exc:
        raise WpclusterError(str(exc), "rejudge a run whose failover suite ran (its failover/ folder holds "
                                       "<test>.json and <test>.samples.csv)") from None
    print(table(results))
    if (run / "junit.xml").exists():
        print(f"\nreport: {write_report(run)}")
    return 0 if all(r.now.status == PASS for r in results) else 1


def report(args: argparse.Namespace) -> int:
    from wpcluster.report.bundle import read_bundle, summary_text, write_report

    run = run_folder(args.run)
    if not (run / "junit.xml").exists():
        raise WpclusterError(f"{run} is not a certification or self-check run (no junit.xml)",
                             "name a folder under results/ that `wpcluster certify` (tox -e cluster) or "
                             "`wpcluster selfcheck` (tox -e selfcheck) wrote")
    print(summary_text(read_bundle(run)))
    print(f"\nreport: {write_report(run)}")
    return 0 if read_bundle(run).outcome == "passed" else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:  # --profile anywhere: every process of the run inherits it from the environment
        argv = take_profile_option(argv)
    except WpclusterError as exc:
        print(f"wpcluster: error: {exc}", file=sys.stderr)
        return 2
    if argv[:1] in (["certify"], ["selfcheck"]):  # everything after it is pytest's, options included
        from wpcluster.jobs.certify import certify, selfcheck

        return (certify if argv[0] == "certify" else selfcheck)(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except WpclusterError as exc:
        print(f"wpcluster: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wpcluster: interrupted; the next `wpcluster lab up` removes what was left", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
