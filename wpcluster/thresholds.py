"""Every pass/fail bound of the failover and registration suites, in one place, each with why it is what it is."""

from __future__ import annotations

from dataclasses import dataclass

from wpcluster.shape import Shape


def seconds(duration: str) -> float:
    """fleet's duration syntax ("30s", "500ms", "2m") in seconds."""
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if duration.endswith(suffix):
            return float(duration[: -len(suffix)]) * scale
    raise ValueError(f"not a duration: {duration!r}")


@dataclass(frozen=True)
class FailoverThresholds:
    # Full recovery after losing a node: fleet notices only when the machine's agent TTL runs
    # out, then reschedules, pulls nothing new and boots WordPress. The goal, TTL + 15 s, is what the
    # node kill asserts (measured 39.1 s since the top LB and vulcand fail fast); recovery_seconds
    # (TTL + 30 s) is only how long the suites wait for a whole site before giving up, for faults
    # that are held past the TTL before they heal.
    recovery_seconds: float
    recovery_goal_seconds: float
    # The longest stretch with no successful request through the top LB: its health checks take
    # a dead vulcand out in 2 s, but the live vulcands keep the dead node's servers until their
    # TTL runs out. Asserted: it is the user-visible outage.
    longest_gap_seconds: float
    # Error rate of the readers through the top LB during a node kill, and through every entry
    # point during a fault that touches nothing on a reader's path: the goal, 1 %.
    error_rate: float
    # A new etcd leader after the old one is killed: election timeout 1 s, plus pre-vote.
    new_leader_seconds: float
    # The longest stretch in which goodput through the top LB stays under half the baseline
    # (verdict.BROWNOUT_FRACTION), for every node and member fault: the live vulcands keep a dead
    # node's servers until their TTL runs out, and the top LB's checks take a dead or cut-off
    # vulcand out within 2 s. A hung request is an outage too: it completes nothing.
    brownout_seconds: float
    # A fault that touches nothing on a reader's path (the S3 store down: pages render from
    # MariaDB) must not brown the site out at all.
    untouched_brownout_seconds: float
    # After MariaDB answers again (started, or thawed): WordPress connects anew for every request and
    # caches no failure, so goodput is back above the brownout line within a few seconds; this
    # allows the Apache workers that held requests during a freeze to finish them.
    service_recovery_seconds: float
    # A slow path to MariaDB (every answer late; nothing lost): pages take longer, so the pages in
    # flight when it turns slow complete later, and their completions move out of the bin they would
    # have filled. That step, at most one bin at the readers' rates (verdict.py: 1 s through the top
    # LB, 2 s for a vulcand read directly), is all the brownout a slow path may cost; anything
    # longer is pages lost or held.
    slow_path_brownout_seconds: float
    # An upload while the S3 store's link stalls (connections open, no byte moves): the plugin gives
    # up on a request that moved nothing for 5 s (s3-client.php's stall_timeout) and WordPress
    # answers the editor with an error; this allows one such wait and the request around it. An
    # editor left waiting a minute (curl's whole-request timeout) has met an outage, not an error.
    stalled_upload_seconds: float


# Registration, judged by requests through every vulcand and timed from the container's end as
# Docker reports it. The sidekick acts on Docker's die event at once; this allows for etcd's watch
# and vulcand's reload (measured 0.5 to 2.4 s).
DEREGISTERED_WITHIN = 5.0


def expired_within(shape: Shape) -> float:
    """With its sidekick (or its whole node) gone nothing deletes a server's key: it expires by its
    TTL, etcd sweeps expired keys every 0.5 s, and vulcand's watch follows (measured 11.5 to 13.5 s
    for a 15 s TTL)."""
    return shape.site.server_ttl + 2.0


def failover_thresholds(shape: Shape) -> FailoverThresholds:
    ttl = seconds(shape.fleet_agent_ttl)
    return FailoverThresholds(
        recovery_seconds=ttl + 30,
        recovery_goal_seconds=ttl + 15,
        longest_gap_seconds=shape.site.server_ttl + 5,
        error_rate=0.01,
        new_leader_seconds=5,
        brownout_seconds=shape.site.server_ttl + 5,
        untouched_brownout_seconds=0.0,
        service_recovery_seconds=5.0,
        stalled_upload_seconds=10.0,
        slow_path_brownout_seconds=2.0,
    )
