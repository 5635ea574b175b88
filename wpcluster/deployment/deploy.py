"""Deploy the site through fleet exactly as the seed's wordpress-up.sh does, and take it down.

For each unit in the seed's order (vulcand and the sidekick on every machine,
wordpress-admin, wordpress@1..5): destroy, submit the template, start. Then
wait until fleet reports every unit active (a global unit on every machine)
and the site answers through the top load balancer. A unit that fails stops the deploy with its name, node and
journal; what was started is destroyed again unless the caller keeps it.

A deploy over a site that is already there first takes the old one down and
waits until every machine has let go of its units. fleet's destroy returns
before the agents act, and a unit destroyed and submitted again at once races
its own old instance: the agent may keep the old state and never report the
new one (`list-units` then never shows it), or stop the new container.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass

import requests

from wpcluster.checks.state import check_routes_answer
from wpcluster.clients.fleet import Fleetctl, FleetctlError, Unit
from wpcluster.clients.site import SiteClient
from wpcluster.core.cluster import Cluster, SiteServices, node_at
from wpcluster.core.errors import WpclusterError
from wpcluster.core.progress import say, step
from wpcluster.core.secrets import SALT_NAMES, Secrets
from wpcluster.core.shape import Shape
from wpcluster.core.units import ADMIN_ENV_PATH, SITE_ENV_PATH, UNITS_DIR, is_global, unit_plan
from wpcluster.core.waits import GiveUp, NotReached, eventually

UNITS_ACTIVE_WITHIN = 240.0  # the first pull of the WordPress image on every node dominates
SITE_ANSWERS_WITHIN = 120.0


class DeployError(WpclusterError):
    """A unit did not come up, or the site did not answer."""


def check_bucket(services: SiteServices, secrets: Secrets) -> None:
    """The bucket the site pushes to must exist before any container needs it."""
    from wpcluster.clients.s3 import s3_client

    try:
        s3_client(services, secrets).head_bucket(Bucket=services.bucket)
    except Exception as exc:  # noqa: BLE001 - botocore's errors have no common useful base
        raise DeployError(
            f"the site's bucket {services.bucket!r} at {services.s3_harness_endpoint} cannot be used: "
            f"{secrets.redact(str(exc))}",
            "create the bucket (and check the S3 key and secret) before deploying",
        ) from None


def site_env(shape: Shape, services: SiteServices, secrets: Secrets, etcd_endpoints: list[str]) -> dict[str, str]:
    """/etc/wpcluster/site.env: what every unit and every WordPress container is configured with.

    Public containers serve reads only (vulcand sends every write and the admin surface to the
    admin container), so this holds only what a read needs: the database, the bucket's public
    URL (to rewrite asset URLs) and the shared salts (a login made on the admin is valid on every
    container). The admin's password and the S3 credential are in ``admin_env`` alone.
    """
    site = shape.site
    return {
        "ETCD_CLIENT_PORT": str(shape.etcd_client_port),
        "VULCAND_PORT": str(site.vulcand_port),
        "VULCAND_API_PORT": str(site.vulcand_api_port),
        "VULCAND_PREFIX": site.vulcand_prefix,
        "SIDEKICK_SERVER_TTL": str(site.server_ttl),
        "SIDEKICK_HEARTBEAT": str(site.heartbeat),
        "SIDEKICK_RECONCILE": str(site.reconcile),
        "SIDEKICK_AGENT_PORT": str(site.sidekick_agent_port),
        "WPCLUSTER_ETCD_ENDPOINTS": ",".join(etcd_endpoints),
        "WORDPRESS_DB_NAME": site.database,
        "WORDPRESS_DB_HOST": services.db_host,
        "WORDPRESS_DB_USER": site.db_user,
        "WORDPRESS_DB_PASSWORD": secrets["WORDPRESS_DB_PASSWORD"],
        "WORDPRESS_CACHE_S3_BUCKET": services.bucket,
        "WORDPRESS_CACHE_S3_ENDPOINT": services.s3_endpoint,
        "WORDPRESS_CACHE_PUBLIC_URL": services.public_url,
        "WORDPRESS_CACHE_HOME": shape.site_url,
        **{name: secrets[name] for name in SALT_NAMES},
    }


# What only the admin container may hold: it installs the blog and pushes assets and uploads.
ADMIN_SECRET_NAMES = ("WORDPRESS_ADMIN_PASSWORD", "WORDPRESS_CACHE_S3_KEY", "WORDPRESS_CACHE_S3_SECRET")


def admin_env(shape: Shape, secrets: Secrets) -> dict[str, str]:
    """/etc/wpcluster/admin.env: added to site.env for the admin container only."""
    site = shape.site
    return {"WORDPRESS_ADMIN_USER": site.admin_user, "WORDPRESS_ADMIN_EMAIL": site.admin_email,
            **{name: secrets[name] for name in ADMIN_SECRET_NAMES}}


@dataclass
class Deployment:
    """The site on one cluster: deploy it, wait for it, take it down."""

    cluster: Cluster
    fleet: Fleetctl
    secrets: Secrets
    services: SiteServices | None = None
    seconds: float | None = None  # units submitted -> site answering through the LB

    @property
    def units(self) -> list[str]:
        return [name for _, name in unit_plan(self.cluster.shape)]

    def is_up(self, settle: float = 60) -> bool:
        """Whether every unit runs and the site answers (a kept cluster). A site that is there is given
        ``settle`` seconds to be whole (a unit restarted a moment ago), so a blip is not taken for absence."""
        try:
            if not self.present():
                return False
            self.wait_units_active(timeout=settle)
            self.wait_site_answers(timeout=settle)
        except (DeployError, FleetctlError, requests.RequestException):
            return False
        return True

    def adopt(self) -> Deployment:
        """Take the site that is deployed as it is, whole or broken, without touching a unit.

        A self-check breaks the site on purpose and then certifies it in a nested session: that
        session must see the breakage, not repair it by deploying again.
        """
        if not self.present():
            raise DeployError("no site is deployed to certify as it is", "deploy it first: `wpcluster deploy`")
        self.services = self.cluster.prepare_site(self.secrets)
        return self

    def deploy(self, keep_on_failure: bool = False, reuse: bool = False) -> Deployment:
        """Deploy (or, with ``reuse``, adopt a site that is already up and whole)."""
        shape = self.cluster.shape
        if (reuse or not self.cluster.deploys) and self.is_up():
            say("the site is already deployed and answering: reusing it")
            self.services = self.cluster.prepare_site(self.secrets)
            return self
        if not self.cluster.deploys:
            raise DeployError(f"the {self.cluster.provider} cluster's site is not whole, and wpcluster deploys "
                              "nothing there", "fix the site, then certify it again")
        with step("deploying the site through fleet"):
            with step("images and services outside fleet (DB, S3, top LB)"):
                self.services = self.cluster.prepare_site(self.secrets)
                check_bucket(self.services, self.secrets)
            files = {SITE_ENV_PATH: site_env(shape, self.services, self.secrets, self.cluster.etcd_endpoints),
                     ADMIN_ENV_PATH: admin_env(shape, self.secrets)}
            for node in self.cluster.nodes:
                for path, values in files.items():
                    node.put_file(path, "".join(f"{k}={v}\n" for k, v in values.items()), mode=0o600)
            if self.present():
                self.undeploy()
            started = time.monotonic()
            try:
                with step(f"submitting and starting {len(self.units)} units in the seed's order"):
                    for template, name in unit_plan(shape):
                        self._destroy_quietly(name)
                        self.fleet.submit(UNITS_DIR / template)
                        self.fleet.start(name)
                with step("waiting for every unit active"):
                    self.wait_units_active()
                with step(f"waiting for the site to answer at {shape.site_url}"):
                    self.wait_site_answers()
            except BaseException:
                if not keep_on_failure:
                    self.undeploy()
                raise
            self.seconds = time.monotonic() - started
        return self

    def undeploy(self, timeout: float = 90) -> None:
        """Destroy every unit of the site and its templates; wait until fleet lists none of them
        and no node still runs one (the agents act after fleetctl returns)."""
        if not self.cluster.deploys:
            return
        with step("destroying the site's units"):
            templates = sorted({template for template, _ in unit_plan(self.cluster.shape) if "@" in template})
            for name in [*reversed(self.units), *templates]:
                self._destroy_quietly(name)

            self.wait_released(timeout=timeout)

    def wait_released(self, names: list[str] | None = None, timeout: float = 90) -> None:
        """Wait until fleet lists none of ``names`` (default: every site unit) and no node still runs one.

        Submitting a unit again before its destroyed instance is released races that instance.
        """
        names = names or self.units

        def none_left() -> bool:
            listed = [n for n in self.present() if n in names]
            assert not listed, f"fleet still lists {listed}"
            held = self.held_by_nodes(names)
            assert not held, f"still running on the nodes: {held}"
            return True

        what = "every site unit" if names == self.units else ", ".join(names)
        eventually(none_left, timeout, 1, what=f"{what} gone from fleet and the nodes")

    def present(self) -> list[str]:
        """The site's units fleet still lists, placed or not."""
        listed = {u.name for u in self.fleet.list_units()} | set(self.fleet.list_unit_files())
        return [name for name in self.units if name in listed]

    def held_by_nodes(self, names: list[str]) -> dict[str, list[str]]:
        """Node -> those of ``names`` that systemd there still has loaded, running or changing.

        A unit that failed and whose file fleet has since removed stays listed as ``not-found failed``
        until someone resets it; it runs nothing and holds nothing, so it is let go of here (a deploy
        that failed on a unit left one so, and waited on it for good)."""
        held: dict[str, list[str]] = {}
        for node in self.cluster.nodes:
            if not node.is_running():
                continue
            listing = node.exec(f"systemctl list-units --no-legend --plain {' '.join(names)}", timeout=20)
            rows = [line.split() for line in listing.stdout.splitlines() if line.strip()]
            if mine := [row[0] for row in rows if not (row[1] == "not-found" and row[2] in ("failed", "inactive"))]:
                held[node.name] = mine
        return held

    def _destroy_quietly(self, name: str) -> None:
        try:
            self.fleet.destroy(name)
        except FleetctlError as exc:
            if "could not find" not in str(exc).lower() and "not found" not in str(exc).lower():
                say(f"destroy {name}: {exc}")

    def node_of(self, address: str) -> str:
        """The name of the node at ``address`` (fleet speaks in addresses), else the address itself."""
        node = node_at(self.cluster.nodes, address)
        return node.name if node else address or "no machine"

    def unit_journal(self, name: str, lines: int = 50, address: str | None = None) -> str:
        """``name``'s journal, newest ``lines`` lines, read on the node at ``address``, by default the
        node fleet scheduled the unit to (a global unit has none: give its listing's address).

        Not `fleetctl journal`: it refuses a unit whose state the registry lacks for the moment ("does
        not appear to be running"), and after a redeploy fleet can lack a running unit's state for up
        to 24 s (see `Fleetctl.targets`). The project's CI failed the redeploy test so."""
        address = address or self.fleet.targets().get(name)
        node = node_at(self.cluster.nodes, address or "")
        if node is None:
            raise DeployError(f"fleet schedules {name} to {address or 'no machine'}, not to a node of this cluster",
                              "check `fleetctl list-unit-files` and `fleetctl list-machines`")
        return node.journal(name, lines)

    def unit_failure(self, unit: Unit) -> str:
        try:
            journal = self.unit_journal(unit.name, lines=15, address=unit.ip or None)
        except WpclusterError as exc:
            journal = f"(journal unavailable: {exc})"
        return self.secrets.redact(f"{unit.name} is {unit.active}/{unit.sub} on {self.node_of(unit.ip)}; "
                                   f"its journal ends:\n{journal}")

    def revive_failed_units(self) -> list[str]:
        """Start again, through fleet, every site unit that failed (its container was killed behind
        fleet's back, by a test or a seeded defect that a nested session left behind); returns them.

        fleet does not restart a failed unit by itself, so a heal that only waits would wait forever.
        """
        failed = [u.name for u in self.fleet.list_units() if u.name in self.units and u.active == "failed"]
        if failed:
            say(f"starting failed units again: {', '.join(failed)}")
            self.fleet.restart(*failed)
        return failed

    def spread_public_units(self) -> list[str]:
        """Move public WordPress units off any machine holding more than its share (the instances over
        the machines, rounded up), one at a time, as deployed; returns the units moved.

        fleet never moves a unit back: after a node failure its units stay where they were
        rescheduled, and one node can end with 3 of 5 public containers (so 60 % of the traffic on a
        third of the CPU). A fault injected then measures that placement, not the fault: a dockerd
        restart on such a node starves its fresh containers for 20 s on 2 cores. A fault test starts
        from the placement a deploy makes."""
        machines = len(self.fleet.list_machines())
        moved: list[str] = []
        while machines:
            # The engine's schedule, not list-units: a unit missing from that listing would skew the count.
            public = {name: ip for name, ip in sorted(self.fleet.targets().items()) if name.startswith("wordpress@")}
            per_machine = Counter(public.values())
            share = -(-len(public) // machines)
            name = next((n for n in reversed(public) if per_machine[public[n]] > share), None)
            if name is None:
                return moved
            if len(moved) == len(public):
                raise DeployError(f"fleet keeps placing public units together after moving {moved}",
                                  "check `fleetctl list-machines` for a machine missing its agent")
            say(f"spreading the site as deployed: {name} off {self.node_of(public[name])} "
                f"({per_machine[public[name]]} of {len(public)} public containers there)")
            self.fleet.restart(name)
            moved.append(name)
            self.wait_units_active()
        return moved

    def _give_up_on_failed(self, listed: list[Unit]) -> None:
        """Raise GiveUp naming each failed unit of ``listed`` with its node and journal: waiting on cannot
        help, as fleet does not restart a failed unit."""
        if failed := [u for u in listed if u.active == "failed"]:
            raise GiveUp("\n".join(self.unit_failure(u) for u in failed))

    def wait_units_active(self, timeout: float = UNITS_ACTIVE_WITHIN) -> list[Unit]:
        """Wait until every site unit runs: a global one on every machine fleet lists. Returns the listing."""
        everywhere = {name for name in self.units if is_global(name)}

        def all_active() -> list[Unit]:
            listed = [u for u in self.fleet.list_units() if u.name in self.units]
            self._give_up_on_failed(listed)
            machines = {m.ip for m in self.fleet.list_machines()}
            missing = []
            for name in self.units:
                on = {u.ip for u in listed if u.name == name}
                if name in everywhere and (lacking := machines - on):
                    missing.append(f"{name} on {', '.join(sorted(map(self.node_of, lacking)))}")
                elif not on:
                    missing.append(name)
            waiting = [f"{u.name} {u.active}/{u.sub} on {self.node_of(u.ip)}" for u in listed
                       if (u.active, u.sub) != ("active", "running")]
            assert not missing and not waiting, f"not listed: {missing}; not running: {waiting}"
            return listed

        try:
            return eventually(all_active, timeout, 2, what=f"all {len(self.units)} units active")
        except GiveUp as exc:
            raise DeployError(f"a unit failed to start:\n{exc}",
                              "read the unit's journal above; `fleetctl journal <unit>` shows more") from None
        except NotReached as exc:
            raise DeployError(str(exc), "check the units above with `fleetctl status <unit>`") from None

    def wait_site_answers(self, timeout: float = SITE_ANSWERS_WITHIN) -> None:
        shape = self.cluster.shape

        # Through every vulcand as well as the top LB: the top LB's checks hide a vulcand that does not
        # route, and a deployment with one is not done (each vulcand keeps its own copy of the routes).
        entry_points = {"the top LB": f"http://{self.cluster.site_address}"} | {
            f"vulcand on {node.name}": self.cluster.vulcand_url(node) for node in self.cluster.nodes}

        site = SiteClient(shape.site_url, entry_points["the top LB"], timeout=5)

        def answers() -> bool:
            # The routes the suites judge: / from public containers, /wp-login.php from the admin. A deploy
            # whose admin is not registered yet is not done (a login right after it was answered 503).
            try:
                check_routes_answer(self.cluster, site, entry_points)
            except AssertionError:
                # A unit can fail after every unit was seen running (a container that exits on its
                # database's refusal runs for a second or two first): name it, not the symptom.
                with contextlib.suppress(FleetctlError):  # a listing that fails says nothing either way
                    self._give_up_on_failed([u for u in self.fleet.list_units() if u.name in self.units])
                raise
            return True

        try:
            eventually(answers, timeout, 1,
                       what=f"the site answering 200 at {shape.site_url} through every entry point")
        except GiveUp as exc:
            raise DeployError(f"a unit failed to start:\n{exc}",
                              "read the unit's journal above; `fleetctl journal <unit>` shows more") from None
        except NotReached as exc:
            raise DeployError(self.secrets.redact(str(exc)),
                              "check the wordpress and vulcan units' journals and the top LB's log") from None
