"""The inventory provider certifies an existing cluster: here, the lab, described in an inventory file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.harness.listing import collected
from tests.harness.nested import run_nested
from wpcluster.checks.state import check_site_whole
from wpcluster.core.waits import eventually
from wpcluster.providers.lab.node import lab_ssh_key

READ_ONLY_SUITES = ["tests/cluster/test_etcd_quorum.py", "tests/cluster/test_nodes.py",
                    "tests/routing/test_registration.py", "tests/routing/test_routing.py"]


def collected_markers(suites: list[str], folder: Path) -> dict[str, set[str]]:
    """Node id -> marker names of every test in ``suites``, from pytest's own collected items."""
    return {nodeid: set(marks) for nodeid, marks in collected(suites, folder).items()}


@pytest.fixture
def inventory(cluster, deployment, fleet, etcd, site, tmp_path):
    if cluster.provider != "lab":
        pytest.skip("this check describes the lab in an inventory")
    # The nested session certifies the site as it is: it must be whole first (an earlier test may
    # have moved units that are still booting).
    eventually(lambda: check_site_whole(cluster, etcd, site), 180, 1, what="the site whole")
    path = tmp_path / "lab-inventory.yaml"
    path.write_text(yaml.safe_dump({
        "site_url": cluster.shape.site_url,
        "site_address": cluster.site_address,
        "nodes": [{"name": n.name, "address": n.address, "user": "core", "key": str(lab_ssh_key())}
                  for n in cluster.nodes],
        "etcd_endpoints": cluster.etcd_endpoints,
        "fleet": {"endpoint": cluster.fleet_endpoint},
        "s3": {"endpoint": deployment.services.s3_harness_endpoint, "bucket": deployment.services.bucket},
        "secrets": str(cluster.secrets_path),
    }))
    return path


def test_inventory_of_the_lab_passes_the_read_only_suites_and_refuses_what_changes_it(inventory, tmp_path):
    nested = run_nested("inventory-of-the-lab", "--provider", "inventory", f"--inventory={inventory}", "-rs",
                        *READ_ONLY_SUITES, timeout=600)
    outcomes = {case.outcome for case in nested.cases.values()}
    bad = {c.nodeid: c.e_lines or c.message for c in nested.cases.values() if c.outcome in ("failed", "error")}
    assert not bad, f"the read-only suites failed on the lab's inventory: {bad}\n{nested.output[-2000:]}"
    assert "passed" in outcomes, f"nothing passed on the lab's inventory: {outcomes}"
    markers = collected_markers(READ_ONLY_SUITES, tmp_path)
    refusals = {"destructive": (lambda m: "destructive" in m,
                                f"destructive tests are refused on the inventory {inventory}"),
                "changes and not destructive": (lambda m: "changes" in m and "destructive" not in m,
                                                f"tests that write to the cluster are refused on the inventory "
                                                f"{inventory}")}
    for marks, (selects, refusal) in refusals.items():
        refused = {nodeid for nodeid, names in markers.items() if selects(names)}
        assert refused, f"the suites hold no test marked {marks!r} to refuse"
        for test in sorted(refused):
            case = nested.cases.get(test)
            assert case is not None and case.outcome == "skipped" and refusal in case.message, (
                f"{test} ({marks}) was not refused on the inventory: {case}")
