"""versions.json keeps what was read while the site ran (wpcluster/report/versions.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wpcluster.report import versions


def test_a_later_write_keeps_components_only_the_running_site_could_tell(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    seen = iter([{"provider": "lab", "components": {"etcd": "3.4.23", "WordPress": "6.1.9", "PHP": "8.2.29"}},
                 {"provider": "lab", "components": {"etcd": "3.4.23", "HAProxy (top LB)": "2.6.12"}}])
    monkeypatch.setattr(versions, "collect", lambda cluster: next(seen))
    versions.write(None, tmp_path)  # with the site deployed
    versions.write(None, tmp_path)  # at the cluster's teardown, the site's units destroyed
    components = json.loads((tmp_path / "versions.json").read_text())["components"]
    assert components == {"etcd": "3.4.23", "WordPress": "6.1.9", "PHP": "8.2.29", "HAProxy (top LB)": "2.6.12"}
