"""coreos-vagrant's config.rb and user-data, rendered from the shape, field by field."""

import pytest
import yaml

from wpcluster.core.errors import WpclusterError
from wpcluster.core.shape import NODE_IMAGE_DIR, load_shape
from wpcluster.providers import bootstrap
from wpcluster.providers.vagrant.render import render_config_rb, render_user_data

SAMPLE_CONFIG = """\
# Size of the CoreOS cluster created by Vagrant
$num_instances=1
# Official CoreOS channel from which updates should be downloaded
#$update_channel='alpha'
$vm_memory = 1024
"""

SAMPLE_USER_DATA = """\
#cloud-config

coreos:
  etcd:
    addr: $public_ipv4:4001
    peer-addr: $public_ipv4:7001
  fleet:
    public-ip: $public_ipv4
  flannel:
    interface: $public_ipv4
  units:
  - name: etcd.service
    command: start
  - name: docker-tcp.socket
    command: start
users:
- name: me
write_files:
- path: /etc/motd
  content: hello
"""

DISCOVERY = "https://discovery.etcd.io/0123abcd"


def test_config_rb_gets_the_seeds_settings_and_keeps_the_rest():
    rendered = render_config_rb(load_shape(), SAMPLE_CONFIG)
    lines = rendered.splitlines()
    assert "$num_instances=3" in lines and "$num_instances=1" not in lines
    assert "$update_channel='beta'" in lines and "$instance_name_prefix='core'" in lines
    assert "$box_os='coreos'" in lines
    assert "$forwarded_ports={8000 => 8888}" in lines
    assert "$vm_memory = 1024" in lines and "#$update_channel='alpha'" in lines


def test_config_rb_rendering_is_deterministic_and_idempotent():
    once = render_config_rb(load_shape(), SAMPLE_CONFIG)
    assert render_config_rb(load_shape(), once) == once
    assert render_config_rb(load_shape(), "") == render_config_rb(load_shape(), "")


def test_user_data_switches_to_etcd2_with_discovery_and_keeps_the_rest():
    rendered = render_user_data(load_shape(), DISCOVERY, SAMPLE_USER_DATA)
    assert rendered.startswith("#cloud-config\n")
    coreos = yaml.safe_load(rendered)["coreos"]
    assert "etcd" not in coreos
    assert coreos["etcd2"] == {
        "name": "%H",
        "data-dir": "/var/lib/etcd2",
        "discovery": DISCOVERY,
        "advertise-client-urls": "http://$public_ipv4:2379",
        "initial-advertise-peer-urls": "http://$private_ipv4:2380",
        "listen-client-urls": "http://0.0.0.0:2379",
        "listen-peer-urls": "http://$private_ipv4:2380",
    }
    assert coreos["update"] == {"reboot-strategy": "etcd-lock"}
    names = [u["name"] for u in coreos["units"]]
    assert names == ["etcd2.service", "fleet.service", "fleet-watchdog.service", "docker-tcp.socket"]
    assert coreos["flannel"] == {"interface": "$public_ipv4"}
    doc = yaml.safe_load(rendered)
    assert doc["users"] == [{"name": "me"}]
    assert {"path": "/etc/motd", "content": "hello"} in doc["write_files"]
    assert render_user_data(load_shape(), DISCOVERY, rendered) == rendered


def test_user_data_gives_fleet_every_member_and_the_shapes_timers():
    coreos = yaml.safe_load(render_user_data(load_shape(), DISCOVERY))["coreos"]
    assert coreos["fleet"] == {
        "public-ip": "$public_ipv4", "agent-ttl": "30s", "engine-reconcile-interval": 2.0,
        "etcd-servers": "http://127.0.0.1:2379,http://172.17.8.101:2379,http://172.17.8.102:2379,"
                        "http://172.17.8.103:2379",
    }


def test_user_data_installs_the_fleet_watchdog_of_the_node_image():
    doc = yaml.safe_load(render_user_data(load_shape(), DISCOVERY))
    files = {f["path"]: f for f in doc["write_files"]}
    script = files["/opt/bin/fleet-watchdog"]
    assert script["content"] == (NODE_IMAGE_DIR / "fleet-watchdog").read_text() and script["permissions"] == "0755"
    settings = dict(line.split("=", 1) for line in files[bootstrap.FLEET_WATCHDOG_ENV]["content"].splitlines())
    assert settings["ETCD_SELF_URL"] == "http://$private_ipv4:2379"
    assert settings["ETCD_PEER_URLS"].split() == [f"http://172.17.8.10{i}:2379" for i in (1, 2, 3)]
    (unit,) = [u for u in doc["coreos"]["units"] if u["name"] == "fleet-watchdog.service"]
    assert "ExecStart=/opt/bin/fleet-watchdog\n" in unit["content"] and unit["command"] == "start"


def test_broken_user_data_is_refused_with_the_reason():
    with pytest.raises(WpclusterError, match="not valid YAML"):
        render_user_data(load_shape(), DISCOVERY, "coreos: [unclosed")
