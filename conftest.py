"""Registers the harness's fixtures and command-line options (see fixtures/)."""

pytest_plugins = [
    "fixtures.options",
    "fixtures.gates",
    "fixtures.cluster",
    "fixtures.etcd",
    "fixtures.fleet",
    "fixtures.hosts",
    "fixtures.site",
]
