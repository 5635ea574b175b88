"""The failover suites' shared assertions: each bound of wpcluster.thresholds, judged on a verdict.

Every message names the entry point, the figure, its bound and the fault, and carries the verdict's
window table, so a failing run says what broke without opening the results folder.
"""

from __future__ import annotations


def window(verdict, name: str, target: str) -> dict:
    """One entry point's figures in one window (``before``, ``during``, ``after``)."""
    return verdict.windows[name]["by_target"][target]


def during(verdict, target: str) -> dict:
    return window(verdict, "during", target)


def assert_lb_error_rate_within(verdict, thresholds, what: str) -> None:
    """Through the top LB (what a visitor uses), at most the node-kill error rate while the fault lasts."""
    lb = during(verdict, "top LB")
    assert lb["error_rate"] <= thresholds.error_rate, (
        f"through the top LB, {lb['error_rate']:.2%} of requests failed with {what} "
        f"(bound {thresholds.error_rate:.0%})\n{verdict.summary()}")


def assert_brownout_within(verdict, thresholds, what: str = "the fault") -> None:
    """Through every entry point (the top LB, and each surviving vulcand read directly, without the
    LB's retries), goodput never stays under half its baseline for longer than the node-fault bound."""
    assert verdict.brownout_seconds is not None, f"no baseline to judge the brownout by:\n{verdict.summary()}"
    for target in verdict.windows["during"]["by_target"]:
        seconds = max(verdict.windows[w]["by_target"][target]["brownout_seconds"] for w in ("during", "after"))
        assert seconds <= thresholds.brownout_seconds, (
            f"through {target}, goodput browned out for {seconds}s with {what}, bound "
            f"{thresholds.brownout_seconds}s (server TTL + 5 s)\n{verdict.summary()}")


def assert_node_fault_bounds(verdict, thresholds, what: str) -> None:
    assert_lb_error_rate_within(verdict, thresholds, what)
    assert_brownout_within(verdict, thresholds, what)
