"""Workers on one machine send the load and failover suites to one worker; other hosts keep xdist's spread."""

from __future__ import annotations

import pytest

from wpcluster.fixtures.spread import PACED, PacedOnOneWorker, local_workers


class Options:
    def __init__(self, tx: list[str]) -> None:
        self.tx = tx

    def getoption(self, name: str, default: object = None) -> object:
        return self.tx if name == "tx" else default


@pytest.mark.parametrize("nodeid", ["tests/failover/test_node_loss.py::test_x", "tests/load/test_locust.py::test_y",
                                    "tests/failover/test_gray_network.py::test_z[20%]"])
def test_the_paced_suites_are_one_unit_of_work(nodeid):
    scheduler = object.__new__(PacedOnOneWorker)  # _split_scope reads nothing of the scheduler's state
    assert scheduler._split_scope(nodeid) == PACED


def test_every_other_file_is_a_unit_of_its_own():
    scheduler = object.__new__(PacedOnOneWorker)
    assert scheduler._split_scope("tests/routing/test_routing.py::test_a[top-lb]") == "tests/routing/test_routing.py"
    assert scheduler._split_scope("tests/loadtests_like/test_a.py::test_b") == "tests/loadtests_like/test_a.py"


@pytest.mark.parametrize(("tx", "local"), [
    (["popen", "popen"], True),
    (["2*popen"], True),
    (["popen//env:WPCLUSTER_RESULTS=/tmp/w1"], True),
    (["ssh=root@host-a//python=python3", "popen"], False),
    ([], False),
])
def test_only_workers_all_on_this_machine_count_as_local(tx, local):
    assert local_workers(Options(tx)) is local
