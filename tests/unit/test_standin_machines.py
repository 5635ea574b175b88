"""The vagrant stand-in reads a coreos-vagrant checkout as the Vagrantfile would (no Docker needed here)."""

from __future__ import annotations

import sys
from pathlib import Path

from wpcluster.core.shape import PROJECT_ROOT, load_shape
from wpcluster.providers.vagrant.render import node_addresses, render_config_rb

STANDINS = PROJECT_ROOT / "tests" / "standins"
if str(STANDINS) not in sys.path:
    sys.path.insert(0, str(STANDINS))

import machines  # noqa: E402


def test_an_untouched_checkout_has_the_vagrantfiles_defaults(tmp_path: Path):
    found = machines.Machines(tmp_path, tmp_path / "boxes", tmp_path / "key")
    assert found.names == ["core-01"]
    assert found.address("core-01") == "172.17.8.101"
    assert found.settings["forwarded_ports"] == {}


def test_a_rendered_checkout_has_the_shapes_machines_at_the_providers_addresses(tmp_path: Path):
    shape = load_shape()
    (tmp_path / "config.rb").write_text(render_config_rb(shape, "$vm_memory = 2048 # more\n"))
    found = machines.Machines(tmp_path, tmp_path / "boxes", tmp_path / "key")
    assert found.names == list(shape.nodes)
    assert {name: found.address(name) for name in found.names} == node_addresses(shape)
    assert found.settings["forwarded_ports"] == {shape.site.vulcand_port: shape.site_port}
    assert found.settings["vm_memory"] == 2048


def test_ruby_literals_of_config_rb():
    assert machines.ruby_value("3  # three") == 3
    assert machines.ruby_value("'beta'") == "beta" and machines.ruby_value('"a # b"') == "a # b"
    assert machines.ruby_value("{8000 => 8888, 22 => 2222}") == {8000: 8888, 22: 2222}


def test_checkouts_do_not_share_machines(tmp_path: Path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    first = machines.Machines(one, tmp_path, tmp_path / "key")
    second = machines.Machines(two, tmp_path, tmp_path / "key")
    assert first.container("core-01") != second.container("core-01") and first.network != second.network
