"""Every pass/fail bound of the failover and registration suites, in one place, each with why it is what it is."""

from __future__ import annotations

from dataclasses import dataclass, replace

from wpcluster.core.shape import Shape


@dataclass(frozen=True)
class FailoverThresholds:
    """The failover suites' waits and the bounds that belong to one test; every fault's own bounds
    (error rate, brownout, hangs, recovery) are ``fault_bounds``'s."""

    # How long the suites wait for a whole site before giving up: past the recovery goal, for faults
    # that are held past fleet's agent TTL before they heal. Only a ceiling: the verdict times
    # recovery from the fault's start against ``FaultBounds``.
    recovery_seconds: float
    # Full recovery after losing a node: fleet notices when the machine's agent TTL runs out, then
    # reschedules, pulls nothing new and boots WordPress (fleet's agent TTL + RESTART_SECONDS).
    recovery_goal_seconds: float
    # The longest stretch with no successful request through the top LB during a node kill: its
    # health checks take a dead vulcand out in 2 s, but the live vulcands keep the dead node's
    # servers until their TTL runs out.
    longest_gap_seconds: float
    # A new etcd leader after the old one is killed: election timeout 1 s, plus pre-vote.
    new_leader_seconds: float
    # An upload while the S3 store's link stalls (connections open, no byte moves): the plugin gives
    # up on a request that moved nothing for 5 s (s3-client.php's stall_timeout) and WordPress
    # answers the editor with an error; this allows one such wait and the request around it. An
    # editor left waiting a minute (curl's whole-request timeout) has met an outage, not an error.
    stalled_upload_seconds: float


# Registration, judged by requests through every vulcand and timed from the container's end as
# Docker reports it. The sidekick acts on Docker's die event at once; this allows for etcd's watch
# and vulcand's reload (measured 0.5 to 2.4 s).
DEREGISTERED_WITHIN = 5.0

# Throughput through the top LB against one WordPress container read directly (loadtests/throughput.py,
# the same pages and users): the two proxies in front of the site, HAProxy and vulcand, may cost at most
# 15 % of what one container serves. On the lab every hop shares the same 2 cores, so the LB's spread
# over five containers buys no capacity and what the ratio measures is the proxies' own cost.
LB_TO_DIRECT_GOAL = 0.85


def expired_within(shape: Shape) -> float:
    """With its sidekick (or its whole node) gone nothing deletes a server's key: it expires by its
    TTL, etcd sweeps expired keys every 0.5 s, and vulcand's watch follows (measured 11.5 to 13.5 s
    for a 15 s TTL)."""
    return shape.site.server_ttl + 2.0


# fleet's engine leader holds its lease for this many engine reconcile intervals (fleet v1.0.0's
# engine.New: leaseTTL = 5 * interval); a dead leader's successor schedules nothing until it runs out.
ENGINE_LEASE_INTERVALS = 5


def fleet_notices_seconds(shape: Shape) -> float:
    """How long fleet takes to move a lost machine's units: its agent TTL, or, when the machine led
    fleet's engine, the engine's lease (whichever is longer)."""
    return max(shape.fleet_agent_ttl_seconds, ENGINE_LEASE_INTERVALS * shape.fleet_engine_reconcile)


def fleet_notices_why(shape: Shape) -> str:
    return (f"fleet notices a lost machine at its agent TTL ({shape.fleet_agent_ttl}), or a lost engine leader "
            f"when its lease runs out ({ENGINE_LEASE_INTERVALS} x {shape.fleet_engine_reconcile:g}s), whichever is "
            f"later: {fleet_notices_seconds(shape):g}s")


def failover_thresholds(shape: Shape) -> FailoverThresholds:
    ttl = fleet_notices_seconds(shape)
    return FailoverThresholds(
        recovery_seconds=ttl + 30,
        recovery_goal_seconds=ttl + RESTART_SECONDS,
        longest_gap_seconds=shape.site.server_ttl + 5,
        new_leader_seconds=5,
        stalled_upload_seconds=10.0,
    )


# ---- each fault's bounds, judged on the readers' history (wpcluster.checks.verdict) -----------------------
# A unit's start on a node, once nothing holds it back any more: no image to pull, WordPress boots,
# the sidekick registers it after its warm-up page, every vulcand's watch follows. The node-kill goal
# is fleet's agent TTL (when fleet notices) plus this; a fault that is healed needs no TTL to run out,
# so after its heal the site is whole within this alone.
RESTART_SECONDS = 15.0
# The error rate a steady site shows: more than this before a fault and there is no baseline to judge by.
STEADY_ERROR_RATE = 0.01
# A read a visitor waited longer than this for is slow, answered or not. The lab's top LB tries such
# a read again on another vulcand (its first try, providers/hosts/top_lb.py), so a vulcand that
# holds reads without failing them costs visitors waits of this long, not errors.
SLOW_READ_SECONDS = 3.0
# A top LB takes a vulcand that answers nothing out within two missed checks (the lab's: checks 1 s
# apart, the second 0.25 s after a first miss, each given 1.5 s: 4.25 s at worst): reads are slow
# through it at most this long, wherever its node hangs.
LB_TAKES_OUT_SECONDS = 5.0
# ... and puts it back within this of its serving again: two passing checks (rise 2), the first of which
# may start just after a check that was still waiting out its 1.5 s.
LB_BRINGS_BACK_SECONDS = 5.0


@dataclass(frozen=True)
class FaultBounds:
    """What one fault may cost the site, each bound with why it is what it is.

    ``error_rate`` holds in the during and in the after window each, through the top LB (or, with
    ``error_rate_everywhere``, through every entry point: each vulcand read directly, without the
    LB's retries, too). ``brownout_seconds`` is the longest continuous stretch under the brownout line
    anywhere from the fault's start to the end, through every entry point. ``back_within_seconds``:
    goodput above the line again within this of the heal. Recovery (the site whole) is timed from
    the fault's start: within ``recovery_seconds`` for a node fault however long it is held (the
    node-kill goal: fleet's agent TTL + RESTART_SECONDS) and for any fault nothing heals while it is
    observed; within the time it was held plus ``RESTART_SECONDS`` for any other fault healed.
    """

    family: str
    error_rate: float | None
    why_error_rate: str
    brownout_seconds: float | None
    why_brownout: str
    recovery_seconds: float
    why_recovery: str
    error_rate_everywhere: bool = False
    hung_allowed: bool = True
    why_hung: str = ""
    back_within_seconds: float | None = None
    why_back_within: str = ""
    steady_error_rate: float = STEADY_ERROR_RATE
    # How long after its heal a fault held for a while may take to be whole (not for node faults).
    after_heal_seconds: float = RESTART_SECONDS
    # The longest stretch of slow reads (over ``slow_read_seconds``) through the top LB, if bounded.
    slow_stretch_seconds: float | None = None
    why_slow_stretch: str = ""
    slow_read_seconds: float = SLOW_READ_SECONDS

    def recovery_limit(self, started: float, ended: float | None) -> float:
        """The recovery bound from the fault's start: ``recovery_seconds`` for a node fault or a fault not
        healed (a dead node stays dead), else the time it was held plus ``after_heal_seconds``."""
        if ended is None or self.family == "node":
            return self.recovery_seconds
        return round(ended - started + self.after_heal_seconds, 1)


# The families of faults, each judged by bounds of its own (fault_bounds); the quick profile runs one
# fault of each (the failover test marked ``represents(family)``).
FAMILIES = ("node", "daemon", "gray", "absorbed", "slow path", "database lost")
# Every fault kind the nemesis records (faults.Nemesis), by family. A kind is a record's first word.
NODE_FAULTS = ("node-kill", "node-stop", "node-pause", "partition", "etcd-member-kill")
DAEMON_FAULTS = ("dockerd-restart", "fleetd-freeze", "etcd-member-replace", "etcd-member-stop", "container-kill")
# A node that stays up behind a lossy or narrow link: the top LB's retries absorb what a vulcand
# read directly (no retries) loses where its requests cross that link.
GRAY_FAULTS = ("packet-loss", "bandwidth-cap")
ABSORBED_FAULTS = ("etcd-majority-lost", "s3-stop", "s3-pause", "s3-latency", "s3-stall")
SLOW_FAULTS = ("db-latency",)
DB_LOST_FAULTS = ("db-stop", "db-pause", "db-stall")


def fault_bounds(shape: Shape, kind: str) -> FaultBounds:
    """The bounds of the fault ``kind`` (a FaultRecord's kind, e.g. "packet-loss 20%") on ``shape``."""
    family = kind.split()[0] if kind else ""
    ttl = shape.fleet_agent_ttl_seconds
    site = shape.site
    node_goal = fleet_notices_seconds(shape) + RESTART_SECONDS
    recovery_why = (f"{fleet_notices_why(shape)}; the site is whole {RESTART_SECONDS:g}s later, however long a "
                    f"node fault is held; any other fault needs no TTL: whole {RESTART_SECONDS:g}s after its heal")
    lb_error_why = ("what a visitor uses: the top LB's checks and the peers' quarantine take a dead, frozen or "
                    "cut-off node's vulcand and servers out within seconds, and the LB tries a read that failed or "
                    "hung there again elsewhere (the node-kill goal, 1 %)")
    node_brownout_why = (f"the live vulcands keep a lost node's servers until their TTL ({site.server_ttl}s) runs "
                         "out; a hung request completes nothing and counts (server TTL + 5 s)")
    slow_why = (f"the top LB takes a vulcand that answers nothing out within two missed checks "
                f"({LB_TAKES_OUT_SECONDS:g}s), and the peers' quarantine sooner; a read it sent there before waits "
                f"one first try ({SLOW_READ_SECONDS:g}s) and is tried elsewhere: reads asked over no more than that "
                "are slow")
    fleet_after_etcd_outage = (
        f"fleet is whole at most its agent TTL ({shape.fleet_agent_ttl}) after etcd is back (fleet v1.0.0's fleetd "
        "can hang in its own restart after losing etcd, coreos/fleet#1716: the node's watchdog replaces it and the "
        f"fresh one registers), and its units {RESTART_SECONDS:g}s later")
    if family in NODE_FAULTS or family in DAEMON_FAULTS or family in GRAY_FAULTS:
        return FaultBounds(
            family="node" if family in NODE_FAULTS else ("daemon" if family in DAEMON_FAULTS else "gray"),
            error_rate=0.01, why_error_rate=lb_error_why,
            brownout_seconds=site.server_ttl + 5.0, why_brownout=node_brownout_why,
            recovery_seconds=node_goal, why_recovery=recovery_why,
            # A frozen, cut-off or lossy node holds what is sent to it; a vulcand read directly has no retries.
            hung_allowed=True, why_hung="a vulcand read directly has no retries: the brownout bounds what it holds",
            slow_stretch_seconds=LB_TAKES_OUT_SECONDS, why_slow_stretch=slow_why)
    if family == "etcd-majority-lost":
        return replace(fault_bounds(shape, "s3-stop"), after_heal_seconds=ttl + RESTART_SECONDS,
                       why_recovery=f"the site serves throughout; {fleet_after_etcd_outage}")
    if family in ABSORBED_FAULTS:
        return FaultBounds(
            family="absorbed", error_rate=0.01, error_rate_everywhere=True,
            why_error_rate=("nothing on a reader's path needs it: pages render from MariaDB and vulcand routes by "
                            "what it last read from etcd (1 %, every entry point)"),
            brownout_seconds=0.0, why_brownout="a fault the deployment absorbs must not brown the site out at all",
            hung_allowed=False, why_hung="no page waits on it",
            recovery_seconds=node_goal, why_recovery=recovery_why)
    if family in SLOW_FAULTS:
        return FaultBounds(
            family="slow path", error_rate=0.01, error_rate_everywhere=True,
            why_error_rate="pages are slower, and the site's capacity is far above the readers' rate: none fails",
            brownout_seconds=0.0,
            why_brownout=("pages are slower, and each is still answered long before a visitor gives up: a stretch "
                          "of them lost, held or later than that is a brownout"),
            hung_allowed=False, why_hung="a page's queries are late, not lost",
            recovery_seconds=node_goal, why_recovery=recovery_why)
    if family in DB_LOST_FAULTS:
        return FaultBounds(
            family="database lost", error_rate=None,
            why_error_rate="by design every page needs MariaDB: while it is gone pages fail, fast",
            brownout_seconds=None, why_brownout="the outage lasts as long as the fault, by design",
            hung_allowed=False,
            why_hung=("pages must fail fast (PHP's 1 s read bound): a hung request holds an Apache worker and a "
                      "visitor's browser alike"),
            back_within_seconds=5.0,
            why_back_within=("WordPress connects anew for every request and caches no failure: goodput is back "
                             "within seconds of MariaDB answering, allowing the workers that held requests to "
                             "finish them"),
            recovery_seconds=node_goal, why_recovery=recovery_why)
    known = NODE_FAULTS + DAEMON_FAULTS + GRAY_FAULTS + ABSORBED_FAULTS + SLOW_FAULTS + DB_LOST_FAULTS
    raise ValueError(f"no bounds for the fault {kind!r}: wpcluster.checks.thresholds knows {', '.join(known)}")
