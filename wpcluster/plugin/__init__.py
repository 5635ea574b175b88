"""wpcluster's pytest plugin: the options, fixtures and hooks a certification needs.

Installed with the package and loaded by pytest through the ``pytest11`` entry point (see
pyproject.toml), so ``pytest --provider inventory --inventory site.yaml <checkout>/tests/routing``
works from any directory once ``pip install wpcluster`` has run. One module per concern:

    options   command-line options, markers, the run id and its results folder
    profile   the run's profile: its timers' option, its faults, its name in the JUnit file
    progress  long steps shown as they happen, through pytest's terminal writer
    timings   where the session's time went: tests, steps, waits, faults (results/<run>/time/)
    spread    workers on one machine: the load and failover suites on one of them (xdist's scheduler)
    gather    the result files of workers on other hosts (xdist --tx ssh), merged into the run's folder
    gates     a suite's preconditions, checked once and failed fast after
    verdicts  a fault verdict that could not be established is reported as an error
    outcomes  each test's outcome in the session, by node id (the self-checks' controls)
    cluster   the session's cluster (brought up or reached), the nemesis, diagnostics
    etcd      a python-etcd client on every member
    fleet     fleetctl on the cluster
    hosts     a pytest-testinfra host per node
    site      the deployed site: secrets, the deployment, the site client, vulcand's API
"""

pytest_plugins = [
    "wpcluster.plugin.options",
    "wpcluster.plugin.profile",
    "wpcluster.plugin.progress",
    "wpcluster.plugin.timings",
    "wpcluster.plugin.spread",
    "wpcluster.plugin.gather",
    "wpcluster.plugin.gates",
    "wpcluster.plugin.verdicts",
    "wpcluster.plugin.outcomes",
    "wpcluster.plugin.cluster",
    "wpcluster.plugin.etcd",
    "wpcluster.plugin.fleet",
    "wpcluster.plugin.hosts",
    "wpcluster.plugin.site",
]
