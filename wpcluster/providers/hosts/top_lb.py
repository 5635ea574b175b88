"""The lab's top load balancer: its HAProxy configuration, rendered from the shape, and its statistics page.

The hosts themselves (MariaDB, the S3 store, the fault proxy, the top LB) are started in site_hosts.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from wpcluster.checks.thresholds import SLOW_READ_SECONDS
from wpcluster.core.shape import Shape


def haproxy_config(shape: Shape, node_addresses: Mapping[str, str] | None = None) -> str:
    """HAProxy on the site port, round-robin over every node's vulcand (at ``node_addresses``, by
    default the lab's).

    A vulcand is in rotation only while all three hold, checked every second (out after two
    misses of 1.5 s each, the second a quarter second after the first: 4.25 s from a freeze at worst,
    within thresholds.LB_TAKES_OUT_SECONDS, the verdicts' bound on slow reads; back after two
    passes). At 2 s a miss, the worst case was 5.25 s, past that bound (4.66 s measured on the lab):
    a static file and etcd's /health answer in milliseconds even under the readers' load.

    * its API answers (``/v2/status``): the process is up;
    * its proxy routes a request to a container (a static file through the site's Host): it can
      serve, not only answer;
    * its node's etcd member is healthy (``/health``: a leader in sight). A node cut off from the
      others keeps its vulcand up and routing by what it last saw, to servers it may no longer
      reach; only this check takes it out (the API-only check left it in for a whole partition).

    A vulcand whose node its peers have quarantined (frozen, or too slow to answer them: the
    sidekicks' outlier detection, images/sidekick/outliers.py) is out too, within half a second: the
    agent check asks the next node's sidekick about it and hears ``down``. A peer, not the node's
    own: a frozen node's answers nothing, and the checks above need two misses of 2 s to take it out.
    (An agent that does not answer changes nothing: the checks above judge.)

    When no vulcand passes (etcd has lost its majority everywhere), the vulcands that still serve
    are used as they are: they route by their last routes, which is better than no site at all.
    New requests go to the backend of last routes; the requests already in ``vulcands`` (a retry
    after a first try timed out) go to its backup servers, which follow the last-routes checks
    (``track``). Without them a retry found no server and HAProxy answered 503: a frozen node that
    led etcd takes the others' /health with it until the election, and every etcd check timed out.

    A vulcand that refuses a visitor's connection is out at once (``observe layer4``), not at its
    second missed check: a vulcand stopped by its node's dockerd restart was picked again for the
    retries of the requests it had refused.

    A request that fails on one vulcand (refused, empty, 502, 503, 504, timed out) is retried on
    another, up to three times: vulcand answers 504 when its 1 s connect to a server times out (a dead node's container
    until its TTL runs out), 502 when it is refused.
    That hides from visitors a server a vulcand still sends to after its container is gone; the
    verdicts judge each vulcand directly as well, without retries.

    A read that has had no answer for ``FIRST_TRY_SECONDS`` is tried again on another vulcand as well: what
    reached a frozen node (its vulcand, or a server of its that a vulcand still sends to) before the
    checks and the quarantine took it out would hang there for good. Reads only: a write or an
    upload is never sent twice and waits ``timeout server``. And only while fewer requests are in
    flight through the LB than arrive in a first try (its rate of the last second times
    ``FIRST_TRY_SECONDS``): were every read held a first try, that many would be; fewer, and the held ones
    are somewhere (a frozen node holds its third of the reads, and the reads other vulcands send to
    its servers), not everywhere. Past it the site is slow everywhere and a second try is one more
    page for a site that cannot serve the first (a resumed node's backlog once set pages at 3-5 s,
    every read was tried twice, and the site browned out for 49 s). A fixed 16 closed the gate on a
    plain freeze at the readers' rates (13-16 in flight), and reads waited on the frozen node.
    """
    site = shape.site
    address = dict(node_addresses) if node_addresses else {name: shape.node_address(name) for name in shape.nodes}

    def servers() -> str:
        # Each node's agent check asks the next node's sidekick (a peer answers for a frozen node).
        peers = dict(zip(shape.nodes, [*shape.nodes[1:], shape.nodes[0]], strict=True))
        return "\n".join(f"    server {name} {address[name]}:{site.vulcand_port} "
                         "check inter 1s fastinter 250ms fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down "
                         f"agent-check agent-addr {address[peers[name]]} agent-port "
                         f"{site.sidekick_agent_port} agent-send \"{name}\\n\" agent-inter 500ms"
                         for name in shape.nodes)

    def last_routes() -> str:
        return "\n".join(f"    server {name}{LAST_ROUTES_SUFFIX} {address[name]}:{site.vulcand_port} "
                         f"backup track vulcands_on_last_routes/{name}" for name in shape.nodes)

    under_first_try_arrivals = "var(txn.in_flight),sub(txn.first_try_arrivals) lt 0"
    retries = f"""\
    retry-on conn-failure empty-response response-timeout 502 503 504
    http-request set-var(txn.first_try_arrivals) be_sess_rate(vulcands),mul({FIRST_TRY_SECONDS:g})
    http-request set-var(txn.in_flight) be_conn(vulcands)
    http-request set-timeout server {FIRST_TRY_SECONDS:g}s if METH_GET {{ {under_first_try_arrivals} }}"""
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
    timeout check 1500ms

# What the LB thinks of each vulcand, as CSV (``/stats;csv``), on the lab's network only.
frontend stats
    bind *:{shape.lab_ports['lb_stats']}
    stats enable
    stats uri {LB_STATS_PATH}

frontend site
    bind *:{shape.site_port}
    use_backend vulcands if {{ nbsrv(vulcands) gt 0 }}
    default_backend vulcands_on_last_routes

backend vulcands
    balance roundrobin
    option allbackups
{serves}
    http-check connect port {shape.etcd_client_port}
    http-check send meth GET uri /health
    http-check expect string true
{retries}
{servers()}
{last_routes()}

# Only while no vulcand's etcd member is healthy (the majority lost): whatever still serves.
backend vulcands_on_last_routes
    balance roundrobin
{serves}
{retries}
{servers()}
"""


# How long a read waits on one vulcand before it is tried on another: as long as a visitor waits
# before a read is slow (the verdicts' line). A visitor (the readers, at 5 s) still gets the page
# from the second, and a page the site is merely slow with (p95 under 0.4 s at the readers' rates on
# the lab) is seldom asked for twice; a site slow everywhere is what the in-flight gate guards against.
FIRST_TRY_SECONDS = SLOW_READ_SECONDS
# The backup servers of ``vulcands`` are the same vulcands on their last routes, named with this suffix.
LAST_ROUTES_SUFFIX = "-last"
# The LB's statistics page (not published on the host, its port is [lab.ports] lb_stats): its view of
# every vulcand, for the tests.
LB_STATS_PATH = "/stats"


def lb_stats_url(shape: Shape) -> str:
    """The top LB's statistics as CSV, from the host (the lab's network)."""
    return f"http://{shape.host_address('lb')}:{shape.lab_ports['lb_stats']}{LB_STATS_PATH};csv"


# Where the LB image's HAProxy reads its config (images/lb/Dockerfile's entrypoint).
HAPROXY_CFG = "/etc/haproxy/haproxy.cfg"
# A static file of WordPress core, cheap for Apache to serve: the health check's request through the proxy.
HEALTH_ASSET = "/wp-includes/images/blank.gif"
