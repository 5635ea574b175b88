"""Run ids and the labels that tie every lab resource to the run that made it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping

RUN_LABEL = "wpcluster.run"
ROLE_LABEL = "wpcluster.role"
# Which lab (the shape's [lab] name) a resource belongs to; resources made before labs had names
# carry none and belong to the default lab.
LAB_LABEL = "wpcluster.lab"
DEFAULT_LAB = "wpcluster"
# The timers a lab was brought up with (Shape.timers_text): fleet's agent TTL is fleetd's at boot,
# so a run under another profile cannot use that lab.
TIMERS_LABEL = "wpcluster.timers"
# A run's id, inherited by nested pytest sessions (a self-check runs inside its parent's run).
RUN_ID_ENV = "WPCLUSTER_RUN_ID"


def new_run_id() -> str:
    """A sortable, unique run id such as ``20261125-130501-3fa2``."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def run_labels(run_id: str, role: str, lab: str = DEFAULT_LAB) -> dict[str, str]:
    return {RUN_LABEL: run_id, ROLE_LABEL: role, LAB_LABEL: lab}


def lab_of(labels: Mapping[str, str]) -> str:
    return labels.get(LAB_LABEL, DEFAULT_LAB)


def leftovers(resources: Iterable[Mapping[str, str]], keep_run: str | None,
              lab: str = DEFAULT_LAB) -> list[Mapping[str, str]]:
    """The labelled resources of lab ``lab`` to remove: every one made by wpcluster for that lab, except
    ``keep_run``'s. Other labs' resources are never selected (parallel workers run labs of their own
    on one engine), nor are resources without a run label (not ours).

    ``resources`` are label maps. Whether a selected run is still alive is the lease's to say.
    """
    return [
        labels for labels in resources
        if RUN_LABEL in labels and labels[RUN_LABEL] != keep_run and lab_of(labels) == lab
    ]
