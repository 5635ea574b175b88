"""Load gates: parsed with clear errors, and a missed gate says which and by how much."""

import sys

import pytest

from wpcluster.core.shape import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "loadtests"))
from gates import Gates, judge  # noqa: E402


def test_gates_parse_and_reject_nonsense():
    assert Gates.parse("0.02", "1500", "10") == Gates(0.02, 1500.0, 10.0)
    with pytest.raises(ValueError, match="--gate-p95-ms 'fast' is not a number"):
        Gates.parse("0.01", "fast", "5")
    with pytest.raises(ValueError, match="--gate-fail-ratio 2 must be between 0 and 1"):
        Gates.parse("2", "1000", "5")


def test_a_run_within_the_gates_passes():
    assert judge(Gates(0.01, 1000, 5), fail_ratio=0.0, total_rps=20, p95_by_route={"home": 300}) == []


def test_missed_gates_name_the_gate_and_the_margin():
    missed = judge(Gates(0.01, 1000, 50), fail_ratio=0.03, total_rps=20, p95_by_route={"home": 1500, "post": 900})
    assert missed == [
        "fail ratio 3.00% exceeds the gate 1.00% by 2.00%",
        "throughput 20.0 requests/s is below the gate 50 by 30.0",
        "p95 of home is 1500 ms, over the gate 1000 ms by 500 ms",
    ]
