"""The run's profile (wpcluster.profiles): its option, its selection of faults, and where it is named.

``--profile quick`` (or $WPCLUSTER_PROFILE) shortens the shape's timers for everything the session
starts and keeps, of the failover tests, the one marked ``represents`` for each family; a test
named by its node id on the command line runs whatever the profile. The profile and its timers go
into the JUnit file's properties and the terminal summary, so a quick run is never read as a
release certification.
"""

from __future__ import annotations

import os

import pytest

from wpcluster.profiles import PROFILE_ENV, PROFILES, current_profile

FAILOVER = "tests/failover/"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("wpcluster").addoption(
        "--profile", default=None, choices=list(PROFILES),
        help=f"the run's timers and faults: release (the shape's own, every fault; the default) or quick "
             f"(shortened timers, one fault of each family); default ${PROFILE_ENV} or release")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "represents(family): the failover test the quick profile runs for its "
                                       "family of faults (wpcluster.thresholds.FAMILIES)")
    if config.getoption("--profile"):
        os.environ[PROFILE_ENV] = config.getoption("--profile")


def named_on_the_command_line(nodeid: str, args: list[str]) -> bool:
    return any("::" in a and (nodeid == a or nodeid.startswith((f"{a}[", f"{a}::"))) for a in args)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not current_profile().one_fault_per_family:
        return
    kept, dropped = [], []
    for item in items:
        if (item.nodeid.startswith(FAILOVER) and item.get_closest_marker("represents") is None
                and not named_on_the_command_line(item.nodeid, config.args)):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_sessionstart(session: pytest.Session) -> None:
    """The profile and its timers, as global properties of the session's JUnit file (the process that
    writes it: a single session, or xdist's controller)."""
    from _pytest.junitxml import xml_key  # pytest's own JUnit writer; public fixtures cannot reach a controller's

    from wpcluster.shape import load_shape  # local: read after --profile set the environment

    xml = session.config.stash.get(xml_key, None)
    if xml is not None:
        xml.add_global_property("wpcluster.profile", current_profile().name)
        xml.add_global_property("wpcluster.timers", load_shape().timers_text)


def pytest_report_header(config: pytest.Config) -> str:
    profile = current_profile()
    return f"wpcluster profile: {profile.name} ({profile.purpose})"
