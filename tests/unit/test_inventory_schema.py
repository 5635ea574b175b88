"""The inventory file: a good one parses; a bad one names the file, the line and the field."""

import pytest

from wpcluster.providers.inventory.schema import InventoryError, parse_inventory

GOOD = """\
site_url: http://wordpress.example.com:8888
nodes:
  - {name: core-01, address: 10.0.0.11, user: core, key: ~/.ssh/cluster}
  - {name: core-02, address: 10.0.0.12}
etcd_endpoints: [http://10.0.0.11:2379, http://10.0.0.12:2379]
fleet: {endpoint: http://10.0.0.11:2379}
s3: {endpoint: https://s3.amazonaws.com, bucket: wordpress-static}
secrets: /etc/wpcluster/site.env
"""


def test_a_good_inventory_parses():
    inventory = parse_inventory(GOOD, "prod.yaml")
    assert [n.name for n in inventory.nodes] == ["core-01", "core-02"]
    assert inventory.nodes[1].user == "core" and inventory.nodes[0].key == "~/.ssh/cluster"
    assert inventory.fleet_endpoint == "http://10.0.0.11:2379" and inventory.s3_bucket == "wordpress-static"


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (("address: 10.0.0.12", "address: core-two"), "prod.yaml:4: nodes[1].address 'core-two' is not an IP"),
        (("site_url: http://wordpress.example.com:8888", "site_url: wordpress"), "prod.yaml:1: site_url 'wordpress'"),
        (("fleet: {endpoint: http://10.0.0.11:2379}", "fleet: {}"), "prod.yaml:6: fleet needs an endpoint"),
        (("  - {name: core-02, address: 10.0.0.12}", "  - {name: core-01, address: 10.0.0.12}"), "name a node twice"),
        (("s3: {endpoint: https://s3.amazonaws.com, bucket: wordpress-static}", "s3: {endpoint: https://s3.x}"),
         "prod.yaml:7: s3.bucket is missing"),
        # YAML names the line where it noticed the problem: the one after the unclosed bracket.
        (("etcd_endpoints: [", "etcd_endpoints: [["), "prod.yaml:6: not valid YAML"),
    ],
)
def test_a_bad_inventory_names_the_line(edit, says):
    with pytest.raises(InventoryError) as err:
        parse_inventory(GOOD.replace(*edit), "prod.yaml")
    assert says in str(err.value), str(err.value)


def test_a_fleet_tunnel_reaches_fleetctl_as_the_seed_sets_it(tmp_path, monkeypatch):
    """`fleet: {tunnel: host:port}` becomes FLEETCTL_TUNNEL, and fleetctl then talks to etcd at the far end."""
    from wpcluster.clients.fleet import Fleetctl
    from wpcluster.core.shape import load_shape
    from wpcluster.providers.inventory.provider import InventoryCluster

    monkeypatch.setenv("WPCLUSTER_RESULTS", str(tmp_path))
    monkeypatch.setattr(InventoryCluster, "fleetctl", "fleetctl")  # the binary is not what is checked here
    keyless = GOOD.replace(", key: ~/.ssh/cluster", "")
    tunnelled = keyless.replace("fleet: {endpoint: http://10.0.0.11:2379}", "fleet: {tunnel: '10.0.0.11:22'}")
    for text, tunnel, endpoint in [(tunnelled, "10.0.0.11:22", "http://127.0.0.1:2379"),
                                   (keyless, None, "http://10.0.0.11:2379")]:
        cluster = InventoryCluster(parse_inventory(text, "prod.yaml"), load_shape(), "run-fleet")
        try:
            assert cluster.fleetctl_env.get("FLEETCTL_TUNNEL") == tunnel
            assert "SSH_AUTH_SOCK" in cluster.fleetctl_env
            assert f"--endpoint={endpoint}" in Fleetctl(cluster).command("list-units")
        finally:
            cluster.close()
