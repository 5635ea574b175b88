"""Errors name the problem and the fix; waits report what they last saw."""

import ipaddress
import itertools

import pytest

from wpcluster.core.errors import WpclusterError
from wpcluster.core.waits import GiveUp, NotReached, eventually
from wpcluster.providers.hosts.subnet import clashes


def test_error_message_has_problem_and_fix():
    assert str(WpclusterError("no engine", "start dockerd")) == "no engine\n  fix: start dockerd"


def test_eventually_returns_the_first_truthy_value():
    counter = itertools.count()
    assert eventually(lambda: next(counter) >= 3 and "ready", 5, 0.001) == "ready"


def test_eventually_reports_the_last_failure():
    def never():
        raise AssertionError("member core-03 unhealthy")

    with pytest.raises(NotReached, match="quorum not reached within 0.05s; last seen: AssertionError: member core-03"):
        eventually(never, 0.05, 0.01, what="quorum")


def test_subnet_clash_names_the_owner():
    subnet = ipaddress.IPv4Network("172.30.8.0/24")
    found = clashes(subnet, {"docker network bridge": "172.17.0.0/16", "docker network x": "172.30.0.0/16",
                             "host route via eth0": "10.0.0.0/8"})
    assert found == ["docker network x (172.30.0.0/16)"]


def test_eventually_stops_at_once_on_give_up():
    calls = []

    def doomed():
        calls.append(1)
        raise GiveUp("unit failed")

    with pytest.raises(GiveUp, match="unit failed"):
        eventually(doomed, 5, 0.001)
    assert len(calls) == 1


def test_holds_for_checks_through_the_window_and_names_the_first_break():
    from wpcluster.core.waits import holds_for

    assert holds_for(lambda: True, 0.3, 0.1) >= 3
    calls = iter([True, True, False])
    with pytest.raises(AssertionError, match=r"listed stopped holding after .*: False"):
        holds_for(lambda: next(calls), 5, 0.01, what="listed")
    with pytest.raises(AssertionError, match="RuntimeError: gone"):
        holds_for(lambda: (_ for _ in ()).throw(RuntimeError("gone")), 5, 0.01)
