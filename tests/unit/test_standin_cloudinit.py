"""The vagrant stand-in's cloud-config applier (tests/standins/vagrant-box), run on a scratch root.

A machine of the stand-in must end up configured as the lab configures a node: the round trip
render -> apply gives etcd2, fleet and the fleet watchdog the lab's settings for that node.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from wpcluster.core.shape import PROJECT_ROOT, load_shape
from wpcluster.providers import bootstrap
from wpcluster.providers.vagrant.render import render_user_data

APPLIER = PROJECT_ROOT / "tests" / "standins" / "vagrant-box" / "coreos_cloudinit.py"
DISCOVERY = "http://172.17.8.1:2379/v2/keys/_etcd/registry/t"


def load_applier():
    """Import the applier from the box's folder without leaving bytecode there (the box image's digest
    covers every file in it)."""
    spec = importlib.util.spec_from_file_location("coreos_cloudinit", APPLIER)
    module = importlib.util.module_from_spec(spec)
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


cloudinit = load_applier()


class Machine:
    """A scratch root with the systemctl calls the applier made."""

    def __init__(self, root: Path, address: str) -> None:
        self.root = root
        self.calls: list[list[str]] = []
        self.applier = cloudinit.Applier(root, address, self.calls.append)

    def read(self, path: str) -> str:
        return (self.root / path.lstrip("/")).read_text()

    def environment_of(self, unit: str, hostname: str) -> dict[str, str]:
        """The Environment= a unit's drop-ins give it, %H expanded as systemd would."""
        env = {}
        for folder in ("etc", "run"):
            for drop_in in sorted((self.root / folder / "systemd" / "system" / f"{unit}.d").glob("*.conf")):
                for line in drop_in.read_text().splitlines():
                    if line.startswith("Environment="):
                        name, _, value = line.removeprefix("Environment=").strip('"').partition("=")
                        env[name] = value.replace("%H", hostname)
        return env


@pytest.fixture
def core02(tmp_path: Path) -> Machine:
    machine = Machine(tmp_path, "172.17.8.102")
    machine.applier.apply(render_user_data(load_shape(), DISCOVERY))
    return machine


def test_etcd2_gets_the_settings_the_lab_gives_the_same_node(core02: Machine):
    expected = bootstrap.etcd2_environment(load_shape(), "core-02", DISCOVERY, "", address="172.17.8.102")
    assert core02.environment_of("etcd2.service", "core-02") == expected


def test_fleet_gets_every_member_its_public_ip_and_the_shapes_timers(core02: Machine):
    shape = load_shape()
    env = core02.environment_of("fleet.service", "core-02")
    members = [f"http://172.17.8.10{i}:2379" for i in (1, 2, 3)]
    expected = bootstrap.fleet_settings(shape, "172.17.8.102", members)
    assert env == {
        "FLEET_ETCD_SERVERS": ",".join(expected["etcd_servers"]),
        "FLEET_PUBLIC_IP": "172.17.8.102",
        "FLEET_AGENT_TTL": shape.fleet_agent_ttl,
        "FLEET_ENGINE_RECONCILE_INTERVAL": str(shape.fleet_engine_reconcile),
    }


def test_the_fleet_watchdog_is_installed_with_its_node_named(core02: Machine):
    script = core02.root / "opt" / "bin" / "fleet-watchdog"
    assert script.stat().st_mode & 0o777 == 0o755
    settings = dict(line.split("=", 1) for line in core02.read(bootstrap.FLEET_WATCHDOG_ENV).splitlines())
    assert settings["ETCD_SELF_URL"] == "http://172.17.8.102:2379"
    assert "ExecStart=/opt/bin/fleet-watchdog" in core02.read("/etc/systemd/system/fleet-watchdog.service")


def test_units_start_in_list_order_after_a_reload_without_waiting(core02: Machine):
    assert core02.calls == [["daemon-reload"], ["--no-block", "start", "etcd2.service"],
                            ["--no-block", "start", "fleet.service"],
                            ["--no-block", "start", "fleet-watchdog.service"]]


def test_environment_keeps_other_lines_and_gets_the_machines_address(tmp_path: Path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "environment").write_text("WPCLUSTER_REGISTRY=r:5000\nCOREOS_PUBLIC_IPV4=old\n")
    Machine(tmp_path, "10.1.2.3").applier.apply("#cloud-config\nhostname: core-07\n")
    assert (tmp_path / "etc" / "environment").read_text() == (
        "WPCLUSTER_REGISTRY=r:5000\nCOREOS_PUBLIC_IPV4=10.1.2.3\nCOREOS_PRIVATE_IPV4=10.1.2.3\n")
    assert (tmp_path / "etc" / "hostname").read_text() == "core-07\n"


def test_masks_runtime_units_and_what_it_does_not_know(tmp_path: Path, capsys):
    machine = Machine(tmp_path, "10.1.2.3")
    machine.applier.apply("""#cloud-config
manage_etc_hosts: localhost
write_files:
- path: /etc/secret
  encoding: b64
  content: aGk=
coreos:
  flannel: {interface: $public_ipv4}
  units:
  - {name: etcd.service, mask: true}
  - {name: x.service, runtime: true, enable: true, content: "[Service]\\nExecStart=/bin/true\\n"}
""")
    assert (tmp_path / "etc/systemd/system/etcd.service").readlink() == Path("/dev/null")
    assert (tmp_path / "run/systemd/system/x.service").exists()
    assert not (tmp_path / "etc/secret").exists()
    assert machine.calls == [["daemon-reload"], ["enable", "x.service"]]
    out = capsys.readouterr().out
    assert "ignored: manage_etc_hosts" in out and "ignored: coreos.flannel" in out and "encoding 'b64'" in out


def test_broken_user_data_applies_nothing_and_says_why(tmp_path: Path, capsys):
    machine = Machine(tmp_path, "10.1.2.3")
    machine.applier.apply("coreos: [unclosed")
    assert machine.calls == [] and "not valid YAML" in capsys.readouterr().out


def test_the_units_and_dockerd_are_told_the_harness_registry(tmp_path: Path):
    shape = load_shape()
    machine = Machine(tmp_path, "172.17.8.103")
    machine.applier.apply(render_user_data(shape, DISCOVERY, registry="172.30.201.5:5000"))
    environment = bootstrap.coreos_environment(shape, "core-03", "172.30.201.5:5000", address="172.17.8.103")
    assert machine.read("/etc/environment") == bootstrap.env_file(environment)
    assert machine.read("/etc/docker/daemon.json") == bootstrap.docker_daemon_config("172.30.201.5:5000")


def test_unquoted_permissions_and_settings_cloudinit_does_not_know(tmp_path: Path, capsys):
    machine = Machine(tmp_path, "10.1.2.3")
    machine.applier.apply("""#cloud-config
write_files:
- {path: /opt/bin/x, permissions: 0755, content: "#!/bin/sh\\n"}
coreos:
  etcd2: {name: "%H", enable-v2: "true"}
""")
    assert (tmp_path / "opt/bin/x").stat().st_mode & 0o777 == 0o755
    assert machine.environment_of("etcd2.service", "core-09") == {"ETCD_NAME": "core-09"}
    assert "ignored: coreos.etcd2.enable-v2" in capsys.readouterr().out
