"""The linearizability checker (tools/linearizability, porcupine) on hand-made histories.

These build and run the real Go program; no etcd and no Docker are needed.
"""

import json
import shutil

import pytest

from wpcluster.checks import linearizability as lin
from wpcluster.checks.linearizability import LinearizabilityError, Operation

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="the checker is built with Go")


def read(client, call, ret, key, seen):
    return Operation(client, "read", key, call, ret, result=seen)


def write(client, call, ret, key, value, unknown=False, failed=False):
    return Operation(client, "write", key, call, None if unknown else ret, value=value,
                     ok=not (unknown or failed), unknown=unknown, failed=failed)


def cas(client, call, ret, key, expected, value, ok=True, unknown=False):
    return Operation(client, "cas", key, call, None if unknown else ret, value=value, expected=expected,
                     ok=ok and not unknown, unknown=unknown)


def test_a_linearizable_history_is_ok():
    history = [
        read(0, 0, 5, "a", None),               # the key starts absent
        write(0, 10, 40, "a", "1"),
        read(1, 20, 30, "a", "1"),              # concurrent with the write: may see it
        read(2, 25, 35, "a", None),             # ... or not
        cas(1, 50, 60, "a", "1", "2"),          # swaps
        cas(2, 55, 70, "a", "1", "3", ok=False),  # loses: the value is already 2
        read(0, 80, 90, "a", "2"),
        write(2, 80, 95, "b", "x"),             # another key, checked on its own
        read(1, 100, 110, "b", "x"),
    ]
    verdict = lin.check(history, timeout_s=10)
    assert verdict.result == "ok", verdict.raw
    assert verdict.ok
    assert (verdict.operations, verdict.keys) == (9, 2)
    assert verdict.seconds >= 0
    assert json.loads(verdict.raw)["porcupine"].startswith("v1.")


def test_a_stale_read_after_a_completed_write_is_illegal():
    history = [
        write(0, 0, 10, "a", "1"),
        write(0, 20, 30, "a", "2"),             # completed before the read began
        read(1, 40, 50, "a", "1"),              # ... yet the read sees the overwritten value
    ]
    verdict = lin.check(history, timeout_s=10)
    assert verdict.result == "illegal", verdict.raw
    assert not verdict.ok


def test_values_going_back_in_time_are_illegal_even_among_legal_keys():
    history = [
        write(0, 0, 10, "a", "1"),
        write(1, 5, 15, "a", "2"),              # concurrent writes: either order is fine ...
        read(2, 20, 25, "a", "2"),
        read(2, 30, 35, "a", "1"),              # ... but not both orders
        write(3, 0, 10, "b", "x"),
        read(3, 20, 30, "b", "x"),
    ]
    assert lin.check(history, timeout_s=10).result == "illegal"


def test_a_failed_cas_on_a_matching_value_is_illegal():
    history = [write(0, 0, 10, "a", "1"), cas(1, 20, 30, "a", "1", "2", ok=False)]
    assert lin.check(history, timeout_s=10).result == "illegal"


def test_an_indeterminate_write_whose_effect_is_observed_later_is_ok():
    history = [
        write(0, 0, 10, "a", "1"),
        write(1, 20, None, "a", "2", unknown=True),  # timed out: may or may not have happened
        read(2, 30, 40, "a", "1"),                   # not yet
        write(0, 50, 60, "a", "3"),
        read(2, 70, 80, "a", "3"),
        read(0, 1000, 1010, "a", "2"),               # it happened, long after its client gave up
    ]
    verdict = lin.check(history, timeout_s=10)
    assert verdict.result == "ok", verdict.raw
    assert verdict.indeterminate == 1


def test_an_indeterminate_write_that_never_shows_is_ok_but_a_refused_one_must_not_show():
    never = [write(0, 0, 10, "a", "1"), write(1, 20, None, "a", "2", unknown=True), read(2, 30, 40, "a", "1")]
    assert lin.check(never, timeout_s=10).result == "ok"
    refused = [write(0, 0, 10, "a", "1"), write(1, 20, 25, "a", "2", failed=True), read(2, 30, 40, "a", "2")]
    verdict = lin.check(refused, timeout_s=10)
    assert verdict.result == "illegal", verdict.raw
    assert verdict.dropped == 1


def test_an_indeterminate_cas_may_have_swapped():
    history = [
        write(0, 0, 10, "a", "1"),
        cas(1, 20, None, "a", "1", "2", unknown=True),
        read(2, 30, 40, "a", "2"),
        cas(2, 50, 60, "a", "2", "3"),
    ]
    assert lin.check(history, timeout_s=10).result == "ok"


def test_the_visualization_is_written(tmp_path):
    page = tmp_path / "lin" / "history.html"
    verdict = lin.check([write(0, 0, 10, "a", "1"), read(1, 20, 30, "a", "2")], timeout_s=10, visualization=page)
    assert verdict.result == "illegal"
    assert verdict.visualization == page
    assert page.read_text().lstrip().lower().startswith("<!doctype html>")


def test_a_check_that_runs_out_of_time_says_unknown():
    # 40 writes that may each land at any time, then a value nobody wrote: proving it illegal means
    # trying every order of the writes, which takes far longer than the time given.
    history = [write(i, 0, None, "a", str(i), unknown=True) for i in range(40)]
    history += [read(100 + i, 10 + 20 * i, 20 + 20 * i, "a", str(i % 40)) for i in range(60)]
    history.append(read(99, 5000, 5001, "a", "nobody wrote this"))
    verdict = lin.check(history, timeout_s=0.5)
    assert verdict.result == "unknown", verdict.raw
    assert not verdict.ok


@pytest.mark.parametrize("bad, message", [
    ({"client": 0, "call": 0, "return": 1, "input": {"op": "cas", "key": "a", "value": "2"},
      "output": {"ok": True}}, "operation 0: a cas needs input.value and input.expected"),
    ({"client": 0, "call": 0, "return": 1, "input": {"op": "delete", "key": "a"}, "output": {"ok": True}},
     'input.op is "delete", not read, write or cas'),
    ({"client": 0, "call": 5, "return": 1, "input": {"op": "read", "key": "a"}, "output": {"ok": True}},
     "returns (1) before its call (5)"),
    ({"client": 0, "call": 0, "input": {"op": "write", "key": "a", "value": "1"}, "output": {"ok": True}},
     '"return" (ns) is missing'),
])
def test_bad_input_is_a_clear_error(bad, message):
    with pytest.raises(LinearizabilityError) as err:
        lin.check([bad], timeout_s=5)
    assert "refused the history" in str(err.value)
    assert message in str(err.value)


def test_the_wire_format_round_trips_through_json():
    op = cas(3, 1, 2, "k0", "0.1", "3.4", unknown=True)
    assert json.loads(lin.history_json([op])) == [{
        "client": 3, "call": 1, "return": None,
        "input": {"op": "cas", "key": "k0", "value": "3.4", "expected": "0.1"},
        "output": {"ok": False, "value": None, "unknown": True, "failed": False},
        "endpoint": "", "error": "", "at": 0.0,
    }]


def test_no_go_toolchain_says_what_to_install(monkeypatch):
    monkeypatch.setattr(lin.shutil, "which", lambda name: None)
    with pytest.raises(LinearizabilityError, match="the Go toolchain is missing.*\n  fix: install Go"):
        lin.check([], timeout_s=1)


def test_the_binary_is_cached_by_its_sources(tmp_path):
    first = lin.checker_binary(tmp_path)
    assert first.exists() and first.parent.parent == tmp_path / "linearizability"
    assert lin.checker_binary(tmp_path) == first


def test_recording_against_a_dead_endpoint_stops_by_itself_and_records_only_failures():
    history = lin.record_history(["http://127.0.0.1:9"], keys=2, clients=2, seconds=0.5, max_ops=40,
                                 request_timeout=0.5, cleanup=False)
    assert 0 < len(history) <= 40
    assert all(o.failed and not o.unknown for o in history)
    assert lin.summary(history)["failed"] == len(history)
    verdict = lin.check(history, timeout_s=5)
    assert (verdict.result, verdict.operations, verdict.dropped) == ("ok", 0, len(history))
