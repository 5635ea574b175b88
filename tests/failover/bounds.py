"""Reading one entry point's figures in one window of a verdict, for a test's own fault-specific checks.

Every bound of wpcluster.thresholds.fault_bounds is judged by the verdict itself when a test leaves
its ``observe`` block; what stays here serves the checks that belong to one fault alone (a slow
link's median page, say).
"""

from __future__ import annotations


def window(verdict, name: str, target: str) -> dict:
    """One entry point's figures in one window (``before``, ``during``, ``after``)."""
    return verdict.windows[name]["by_target"][target]


def during(verdict, target: str) -> dict:
    return window(verdict, "during", target)
