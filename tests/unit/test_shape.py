"""The cluster shape: defaults from the seed, and errors that name the key to fix."""

from __future__ import annotations

import pytest

from wpcluster.core.errors import ShapeError
from wpcluster.core.shape import DEFAULT_SHAPE_FILE, duration_seconds, fleet_version, load_shape, parse_shape

BASE = DEFAULT_SHAPE_FILE.read_text()


def test_default_shape_is_the_seeds_cluster():
    shape = load_shape()
    assert shape.nodes == ("core-01", "core-02", "core-03")
    assert [shape.node_address(n) for n in shape.nodes] == ["172.30.8.101", "172.30.8.102", "172.30.8.103"]
    assert shape.site_url == "http://wordpress.local:8888"
    assert shape.quorum == 2
    assert shape.etcd_bootstrap == "discovery"


def test_fleet_version_comes_from_the_go_mod_pin():
    assert fleet_version() == "v1.0.0"


def test_shape_file_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "five.toml"
    path.write_text(BASE.replace('nodes = ["core-01", "core-02", "core-03"]',
                                 'nodes = ["n1", "n2", "n3", "n4", "n5"]'))
    monkeypatch.setenv("WPCLUSTER_SHAPE", str(path))
    shape = load_shape()
    assert shape.size == 5 and shape.quorum == 3 and shape.node_address("n5") == "172.30.8.105"


@pytest.mark.parametrize(
    ("edit", "key", "says"),
    [
        (('subnet = "172.30.8.0/24"', 'subnet = "172.30.8.0/33"'), "lab.subnet", "not an IPv4 network"),
        (('bootstrap = "discovery"', 'bootstrap = "dns"'), "etcd.bootstrap", '"discovery" or "static"'),
        (('agent_ttl = "30s"', 'agent_ttl = "thirty"'), "fleet.agent_ttl", "duration"),
        (("client_port = 2379", 'client_port = "2379"'), "etcd.client_port", "must be a int"),
        (("registry = 11", "registry = 101"), "lab.hosts.registry", "address of core-01"),
        (("first_node_host = 101", "first_node_host = 254"), "lab.first_node_host", "outside"),
        (('nodes = ["core-01", "core-02", "core-03"]', 'nodes = ["core-01", "core-01"]'), "cluster.nodes", "twice"),
        (('nodes = ["core-01", "core-02", "core-03"]', 'nodes = ["Core 1"]'), "cluster.nodes", "valid host name"),
        (("site_port = 8888\n", ""), "cluster.site_port", "missing"),
    ],
)
def test_malformed_shape_names_the_key(edit, key, says):
    with pytest.raises(ShapeError) as err:
        parse_shape(BASE.replace(*edit), source="cluster.toml")
    message = str(err.value)
    assert f"[{key}]" in message and says in message and "fix:" in message


def test_not_toml_points_at_the_line():
    with pytest.raises(ShapeError, match="line 2"):
        parse_shape("[cluster]\nnodes = = 3\n[etcd]\n", source="x.toml")


def test_missing_shape_file_says_how_to_fix(tmp_path):
    with pytest.raises(ShapeError, match="cannot read the cluster shape"):
        load_shape(tmp_path / "absent.toml")


@pytest.mark.parametrize(("ttl", "seconds"), [("30s", 30.0), ("500ms", 0.5), ("1m", 60.0)])
def test_the_agent_ttl_is_parsed_once_into_seconds(ttl, seconds):
    text = DEFAULT_SHAPE_FILE.read_text().replace('agent_ttl = "30s"', f'agent_ttl = "{ttl}"')
    shape = parse_shape(text)
    assert (shape.fleet_agent_ttl, shape.fleet_agent_ttl_seconds) == (ttl, seconds)
    assert duration_seconds(ttl) == seconds
