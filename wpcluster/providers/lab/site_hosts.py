"""The site's lab hosts outside the fleet cluster: MariaDB, the S3 store and the top load balancer."""

from __future__ import annotations

from wpcluster.shape import Shape


def haproxy_config(shape: Shape) -> str:
    """HAProxy on the site port, round-robin over every node's vulcand.

    A vulcand is in rotation only while all three hold, checked every second (out after two
    misses, back after two passes):

    * its API answers (``/v2/status``): the process is up;
    * its proxy routes a request to a container (a static file through the site's Host): it can
      serve, not only answer;
    * its node's etcd member is healthy (``/health``: a leader in sight). A node cut off from the
      others keeps its vulcand up and routing by what it last saw, to servers it may no longer
      reach; only this check takes it out (the API-only check left it in for a whole partition).

    When no vulcand passes (etcd has lost its majority everywhere), the vulcands that still serve
    are used as they are: they route by their last routes, which is better than no site at all.

    A vulcand that refuses a visitor's connection is out at once (``observe layer4``), not at its
    second missed check: a vulcand stopped by its node's dockerd restart was picked again for the
    retries of the requests it had refused.

    A request that fails on one vulcand (refused, empty, 502, 503, 504, timed out) is retried on
    another, up to three times: vulcand answers 504 when its 1 s connect to a server times out (a dead node's container
    until its TTL runs out), 502 when it is refused.
    That hides from visitors a server a vulcand still sends to after its container is gone; the
    verdicts judge each vulcand directly as well, without retries.
    """
    site = shape.site

    def servers() -> str:
        return "\n".join(f"    server {name} {shape.node_address(name)}:{site.vulcand_port} "
                         "check inter 1s fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down"
                         for name in shape.nodes)

    serves = f"""\
    option httpchk
    http-check connect port {site.vulcand_api_port}
    http-check send meth GET uri /v2/status
    http-check expect status 200
    http-check connect port {site.vulcand_port}
    http-check send meth GET uri {HEALTH_ASSET} hdr Host {shape.site_authority}
    http-check expect status 200"""
    return f"""\
global
    log stdout format raw local0 info
    maxconn 4096

defaults
    mode http
    log global
    option httplog
    # Every retry goes to another vulcand (plain `redispatch` moves only the last one: a request
    # whose first vulcand was a dead node's spent its retries waiting on the same dead address).
    option redispatch 1
    retries 3
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 2s

frontend site
    bind *:{shape.site_port}
    use_backend vulcands if {{ nbsrv(vulcands) gt 0 }}
    default_backend vulcands_on_last_routes

backend vulcands
    balance roundrobin
{serves}
    http-check connect port {shape.etcd_client_port}
    http-check send meth GET uri /health
    http-check expect string true
    retry-on conn-failure empty-response response-timeout 502 503 504
{servers()}

# Only while no vulcand's etcd member is healthy (the majority lost): whatever still serves.
backend vulcands_on_last_routes
    balance roundrobin
{serves}
    retry-on conn-failure empty-response response-timeout 502 503 504
{servers()}
"""


# Where the LB image's HAProxy reads its config (images/lb/Dockerfile's entrypoint).
HAPROXY_CFG = "/etc/haproxy/haproxy.cfg"
# A static file of WordPress core, cheap for Apache to serve: the health check's request through the proxy.
HEALTH_ASSET = "/wp-includes/images/blank.gif"
