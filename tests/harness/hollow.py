"""A pytest plugin for nested self-check sessions: beside every selected test, a hollow copy.

The copy has the same fixtures (so the same setup, and the same setup errors) and a body that
does nothing. A self-check that accepts the copy's outcome would accept a test that checks
nothing; ``tests/harness/nested.py`` requires that it does not.
"""

from __future__ import annotations

import pytest

from tests.harness.nested import hollow_id


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--hollow-copies", action="store_true",
                     help="run, before each selected test, a copy of it whose body does nothing")


def _does_nothing(**fixtures: object) -> None:
    """The hollow body: takes the test's fixtures, checks nothing."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--hollow-copies"):
        return
    # Each copy runs before its test: both find the defect in place, and a test that fails on purpose
    # may leave the cluster broken in a way only the self-check's own clean-up repairs (an etcd member
    # that cannot rejoin), which would make a copy after it wait out every gate of its fixtures.
    with_copies: list[pytest.Item] = []
    for item in items:
        if isinstance(item, pytest.Function):
            copy = pytest.Function.from_parent(
                item.parent, name=hollow_id(item.name), callspec=getattr(item, "callspec", None),
                callobj=_does_nothing, fixtureinfo=item._fixtureinfo, originalname=hollow_id(item.originalname),
            )
            copy.own_markers = list(item.own_markers)  # the module's and class's come with the parent
            with_copies.append(copy)
        with_copies.append(item)
    items[:] = with_copies
