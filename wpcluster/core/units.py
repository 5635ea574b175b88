"""The deployment's names: its units in the seed's order, the container each runs, where its settings go.

The checks, the faults and the deployment all speak of units and containers; they take the names
from here, so none needs the deployment's code to know what it deployed.
"""

from __future__ import annotations

from wpcluster.core.shape import PROJECT_ROOT, Shape

UNITS_DIR = PROJECT_ROOT / "units"
SITE_ENV_PATH = "/etc/wpcluster/site.env"
ADMIN_ENV_PATH = "/etc/wpcluster/admin.env"
VULCAND_UNIT = "vulcan.service"  # global: one on every machine
SIDEKICK_UNIT = "discovery.service"  # global: one on every machine
ADMIN_UNIT = "wordpress-admin.service"  # the one container that serves wp-admin and every write


def unit_plan(shape: Shape) -> list[tuple[str, str]]:
    """(template file, unit name) in the seed's wordpress-up.sh order. vulcand and the sidekick are
    global units where the seed had one numbered instance per node (units/vulcan.service says why)."""
    plan = [(VULCAND_UNIT, VULCAND_UNIT), (SIDEKICK_UNIT, SIDEKICK_UNIT)]
    plan += [(ADMIN_UNIT, ADMIN_UNIT)]
    plan += [("wordpress@.service", f"wordpress@{i}.service") for i in range(1, shape.site.wordpress_instances + 1)]
    return plan


def is_global(unit: str) -> bool:
    """Whether fleet runs ``unit`` on every machine (``Global=true`` in its unit file's [X-Fleet]):
    `list-units` then shows it once per machine, and `list-unit-files` targets no machine."""
    path = UNITS_DIR / unit
    return path.is_file() and "Global=true" in path.read_text().splitlines()


def wordpress_units(shape: Shape) -> list[str]:
    """The units that serve the site itself (what must survive a node)."""
    return [name for _, name in unit_plan(shape) if name.startswith("wordpress")]


def container_of(unit: str) -> str:
    """The container a site unit runs (its unit file's ``docker run --name``): wordpress@3.service runs
    wordpress-3, wordpress-admin.service runs wordpress-admin."""
    return unit.removesuffix(".service").replace("@", "-")


def unit_of(container: str) -> str:
    """The site unit that runs ``container``, ``container_of`` read backwards: wordpress-3 is
    wordpress@3.service's, wordpress-admin is wordpress-admin.service's."""
    head, _, instance = container.rpartition("-")
    return f"{head}@{instance}.service" if instance.isdigit() else f"{container}.service"
