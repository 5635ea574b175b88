"""The lab's fault proxy: one Toxiproxy proxy per host, and the site reaching its hosts through it."""

from __future__ import annotations

import json

from wpcluster.core.shape import load_shape
from wpcluster.providers.hosts.fault_proxy import ROLES, proxied_endpoint, proxy_config


def test_every_host_the_site_needs_has_a_proxy_to_its_real_address():
    shape = load_shape()
    proxies = {p["name"]: p for p in json.loads(proxy_config(shape))}
    assert sorted(proxies) == sorted(ROLES) == ["db", "s3"]
    for role, proxy in proxies.items():
        # The proxy listens on the host's own port, so a site pointed at it needs no other change.
        assert proxy["listen"] == f"0.0.0.0:{shape.lab_ports[role]}"
        assert proxy["upstream"] == shape.host_endpoint(role)
        assert proxy["enabled"] is True


def test_the_site_reaches_each_host_at_the_proxys_address_not_the_hosts():
    shape = load_shape()
    for role in ROLES:
        endpoint = proxied_endpoint(shape, role)
        assert endpoint == f"{shape.host_address('faultproxy')}:{shape.lab_ports[role]}"
        assert endpoint != shape.host_endpoint(role)
