"""The harness's one error type: every failure the user can fix says what and how."""

from __future__ import annotations


class WpclusterError(Exception):
    """A problem the user can act on.

    ``problem`` says what is wrong, ``fix`` says what to do about it; both are
    shown by the CLI and by pytest, so neither may hold a secret.
    """

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.problem}\n  fix: {self.fix}" if self.fix else self.problem


class ShapeError(WpclusterError):
    """The cluster shape file is malformed."""


class EngineError(WpclusterError):
    """No usable Docker engine."""


class LabError(WpclusterError):
    """The lab could not be brought up, reached or torn down."""
