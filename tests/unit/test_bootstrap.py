"""What a node is told at boot, derived from the shape."""

import dataclasses
import json

from wpcluster.core.shape import load_shape
from wpcluster.providers import bootstrap


def test_etcd2_discovery_settings_follow_the_seed():
    shape = load_shape()
    env = bootstrap.etcd2_environment(shape, "core-02", "http://d/v2/keys/_etcd/registry/t", "tok")
    assert env["ETCD_DISCOVERY"] == "http://d/v2/keys/_etcd/registry/t"
    assert env["ETCD_ADVERTISE_CLIENT_URLS"] == "http://172.30.8.102:2379"
    assert env["ETCD_INITIAL_ADVERTISE_PEER_URLS"] == "http://172.30.8.102:2380"
    assert env["ETCD_LISTEN_CLIENT_URLS"] == "http://0.0.0.0:2379"
    assert env["ETCD_LISTEN_PEER_URLS"] == "http://172.30.8.102:2380"
    assert env["ETCD_ENABLE_V2"] == "true"
    assert "ETCD_INITIAL_CLUSTER" not in env


def test_etcd2_static_settings_list_every_member():
    shape = load_shape()
    env = bootstrap.etcd2_environment(shape, "core-01", None, "tok")
    assert env["ETCD_INITIAL_CLUSTER"] == (
        "core-01=http://172.30.8.101:2380,core-02=http://172.30.8.102:2380,core-03=http://172.30.8.103:2380"
    )
    assert env["ETCD_INITIAL_CLUSTER_TOKEN"] == "tok" and "ETCD_DISCOVERY" not in env


def test_environment_and_fleet_config():
    shape = load_shape()
    assert bootstrap.env_file(bootstrap.coreos_environment(shape, "core-03", "10.0.0.1:5000")) == (
        "COREOS_PUBLIC_IPV4=172.30.8.103\nCOREOS_PRIVATE_IPV4=172.30.8.103\nWPCLUSTER_REGISTRY=10.0.0.1:5000\n"
    )
    conf = bootstrap.fleet_config(shape, "core-03")
    assert conf["public_ip"] == '"172.30.8.103"' and json.loads(conf["etcd_servers"]) == [
        "http://127.0.0.1:2379", "http://172.30.8.101:2379", "http://172.30.8.102:2379"]


def test_the_fleet_watchdog_is_told_its_members_and_the_agent_ttl_in_whole_seconds():
    shape = load_shape()
    assert bootstrap.fleet_watchdog_environment(shape, "core-02") == {
        "ETCD_LOCAL_URL": "http://127.0.0.1:2379",
        "ETCD_SELF_URL": "http://172.30.8.102:2379",
        "ETCD_PEER_URLS": "http://172.30.8.101:2379 http://172.30.8.103:2379",
        "FLEET_AGENT_TTL_SECONDS": "30",
    }
    half_a_second = dataclasses.replace(shape, fleet_agent_ttl="500ms", fleet_agent_ttl_seconds=0.5)
    assert bootstrap.fleet_watchdog_environment(half_a_second, "core-02")["FLEET_AGENT_TTL_SECONDS"] == "1"


def test_one_watchdog_text_for_every_node_names_the_node_itself_for_the_watchdog_to_leave_out():
    shape = load_shape()
    members = ["http://10.0.0.1:2379", "http://10.0.0.2:2379"]
    settings = bootstrap.fleet_watchdog_settings(shape, "http://$private_ipv4:2379", members)
    assert settings["ETCD_SELF_URL"] == "http://$private_ipv4:2379"
    assert settings["ETCD_PEER_URLS"] == "http://10.0.0.1:2379 http://10.0.0.2:2379"


def test_etcd2_settings_for_a_cloud_config_use_its_substitutions():
    env = bootstrap.etcd2_environment(load_shape(), "%H", "http://d/t", "", address="$private_ipv4",
                                      public_address="$public_ipv4")
    assert env["ETCD_NAME"] == "%H"
    assert env["ETCD_ADVERTISE_CLIENT_URLS"] == "http://$public_ipv4:2379"
    assert env["ETCD_LISTEN_PEER_URLS"] == env["ETCD_INITIAL_ADVERTISE_PEER_URLS"] == "http://$private_ipv4:2380"


def test_a_discovery_service_is_a_discovery_etcd_io_or_an_etcd(monkeypatch):
    asked: list[tuple[str, str]] = []

    class Reply:
        def __init__(self, status: int, text: str) -> None:
            self.status_code, self.text = status, text

    def get(url: str, timeout: float) -> Reply:
        asked.append(("GET", url))
        return Reply(200, "https://discovery.etcd.io/abc\n")

    def put(url: str, data: dict, timeout: float) -> Reply:
        asked.append(("PUT", f"{url} {data['value']}"))
        return Reply(201, "")

    monkeypatch.setattr(bootstrap.requests, "get", get)
    monkeypatch.setattr(bootstrap.requests, "put", put)
    assert bootstrap.new_discovery_url("https://discovery.etcd.io/new?size={size}", 3) == "https://discovery.etcd.io/abc"
    made = bootstrap.new_discovery_url("http://10.0.0.1:2379", 3)
    assert made.startswith("http://10.0.0.1:2379/v2/keys/_etcd/registry/")
    assert asked == [("GET", "https://discovery.etcd.io/new?size=3"), ("PUT", f"{made}/_config/size 3")]
