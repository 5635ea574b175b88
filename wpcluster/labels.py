"""Run ids and the labels that tie every lab resource to the run that made it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping

RUN_LABEL = "wpcluster.run"
ROLE_LABEL = "wpcluster.role"


def new_run_id() -> str:
    """A sortable, unique run id such as ``20261125-130501-3fa2``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def run_labels(run_id: str, role: str) -> dict[str, str]:
    return {RUN_LABEL: run_id, ROLE_LABEL: role}


def leftovers(resources: Iterable[Mapping[str, str]], keep_run: str | None) -> list[Mapping[str, str]]:
    """The labelled resources to remove: every one made by wpcluster, except ``keep_run``'s.

    ``resources`` are label maps; resources without a run label are not ours
    and are never selected.
    """
    return [
        labels for labels in resources
        if RUN_LABEL in labels and labels[RUN_LABEL] != keep_run
    ]
