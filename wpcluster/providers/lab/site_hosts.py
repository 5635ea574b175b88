"""The site's lab hosts outside the fleet cluster: MariaDB, the S3 store and the top load balancer."""

from __future__ import annotations

from wpcluster.shape import Shape


def haproxy_config(shape: Shape) -> str:
    """HAProxy on the site port, round-robin over every node's vulcand.

    Each vulcand is health-checked through its API (``/v2/status``), so a node
    whose vulcand is gone leaves rotation within a few seconds, and requests
    that fail on one are retried on another.
    """
    site = shape.site
    servers = "\n".join(
        f"    server {name} {shape.node_address(name)}:{site.vulcand_port} "
        f"check port {site.vulcand_api_port} inter 1s fall 2 rise 2"
        for name in shape.nodes
    )
    return f"""\
global
    log stdout format raw local0 info
    maxconn 4096

defaults
    mode http
    log global
    option httplog
    option redispatch
    retries 2
    timeout connect 2s
    timeout client 30s
    timeout server 30s

frontend site
    bind *:{shape.site_port}
    default_backend vulcands

backend vulcands
    balance roundrobin
    option httpchk GET /v2/status
    http-check expect status 200
    retry-on conn-failure empty-response response-timeout 502 503
{servers}
"""
