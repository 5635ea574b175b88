"""Checkers that tell "fine" from "could not tell"."""

from __future__ import annotations

import pytest

from wpcluster.checks import state
from wpcluster.clients.fleet import FleetctlError

BEFORE = {"wordpress@1.service": "172.30.8.101", "wordpress@2.service": "172.30.8.102"}


def test_nothing_moved_passes_on_the_same_targets_and_on_a_unit_unscheduled_for_the_moment():
    assert state.check_nothing_moved(lambda: {"wordpress@1.service": "172.30.8.101"}, BEFORE)


def test_a_unit_scheduled_elsewhere_has_moved():
    with pytest.raises(AssertionError, match=r"units moved \(from, to\): \{'wordpress@2.service': "
                                             r"\('172.30.8.102', '172.30.8.103'\)\}"):
        state.check_nothing_moved(lambda: {**BEFORE, "wordpress@2.service": "172.30.8.103"}, BEFORE)


def test_a_listing_that_keeps_failing_is_no_answer(monkeypatch):
    monkeypatch.setattr(state, "LISTING_WITHIN", 0.3)

    def fails() -> dict[str, str]:
        raise FleetctlError("`fleetctl list-unit-files` exited 1: context deadline exceeded")

    with pytest.raises(AssertionError, match="could not tell whether fleet moved anything: .*context deadline"):
        state.check_nothing_moved(fails, BEFORE)


def test_a_listing_that_fails_once_is_asked_again():
    answers = iter([FleetctlError("timeout"), BEFORE])

    def flaky() -> dict[str, str]:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert state.check_nothing_moved(flaky, BEFORE)
