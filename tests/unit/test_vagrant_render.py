"""coreos-vagrant's config.rb and user-data, rendered from the shape, field by field."""

import pytest
import yaml

from wpcluster.core.errors import WpclusterError
from wpcluster.core.shape import load_shape
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
        "discovery": DISCOVERY,
        "advertise-client-urls": "http://$public_ipv4:2379",
        "initial-advertise-peer-urls": "http://$private_ipv4:2380",
        "listen-client-urls": "http://0.0.0.0:2379",
        "listen-peer-urls": "http://$private_ipv4:2380",
    }
    assert coreos["fleet"] == {"public-ip": "$public_ipv4", "agent-ttl": "30s", "engine-reconcile-interval": 2.0}
    assert coreos["update"] == {"reboot-strategy": "etcd-lock"}
    names = [u["name"] for u in coreos["units"]]
    assert names == ["etcd2.service", "fleet.service", "docker-tcp.socket"]
    assert coreos["flannel"] == {"interface": "$public_ipv4"}
    assert yaml.safe_load(rendered)["users"] == [{"name": "me"}]
    assert render_user_data(load_shape(), DISCOVERY, rendered) == rendered


def test_broken_user_data_is_refused_with_the_reason():
    with pytest.raises(WpclusterError, match="not valid YAML"):
        render_user_data(load_shape(), DISCOVERY, "coreos: [unclosed")
