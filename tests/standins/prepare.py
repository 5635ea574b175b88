"""The stand-in's world for `--provider vagrant` on a machine without VMs or internet.

    python tests/standins/prepare.py run <folder> [pytest arguments]   # up, pytest --provider vagrant, down
    python tests/standins/prepare.py up|down|env <folder>

`up` makes, under <folder>:
  boxes/            the box its `vagrant` boots (tests/standins/boxes.py)
  standin/          the stand-in's state and Vagrant's insecure key
  coreos-vagrant/   a coreos-vagrant checkout (the stand-in Vagrantfile) for --vagrant-dir
  cluster.toml      the project's shape with [vagrant] pointed at the stand-in: the box's provider, the
                    machines' network at STANDIN_PREFIX, and the harness's own discovery service ("host")
`down` removes the machines and their network, whatever a run left; `env` prints the environment the
stand-in and the harness read. `run` does all three around one pytest session.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import boxes  # noqa: E402
import machines  # noqa: E402

from wpcluster.core.shape import DEFAULT_SHAPE_FILE, VAGRANT_HOST_DISCOVERY, load_shape  # noqa: E402
from wpcluster.providers.vagrant.hosts import VagrantHosts  # noqa: E402

# Clear of the lab's 172.30.8.0/24 (and its workers' /24s after it) and of Docker's default bridge, which
# holds coreos-vagrant's own 172.17.8.0/24.
STANDIN_PREFIX = "172.30.200"
BOX_PROVIDER = "libvirt"  # a provider that needs only a plugin, which the stand-in says it has


def paths(folder: Path) -> dict[str, Path]:
    return {"boxes": folder / "boxes", "state": folder / "standin", "checkout": folder / "coreos-vagrant",
            "shape": folder / "cluster.toml"}


def environment(folder: Path) -> dict[str, str]:
    """What the stand-in `vagrant` and the harness read to use this world."""
    where = paths(folder)
    return {"PATH": f"{HERE / 'bin'}:{os.environ.get('PATH', '')}", "VAGRANT_STANDIN_DIR": str(where["state"]),
            "VAGRANT_STANDIN_BOXES_DIR": str(where["boxes"]), "VAGRANT_STANDIN_PLUGINS": f"vagrant-{BOX_PROVIDER}",
            "WPCLUSTER_VAGRANT_DIR": str(where["checkout"]), "WPCLUSTER_SHAPE": str(where["shape"])}


def with_vagrant_table(text: str, settings: dict[str, str]) -> str:
    """The shape's text with these [vagrant] keys set (comments and every other table kept)."""
    lines, table, seen = text.splitlines(), "", set()
    for i, line in enumerate(lines):
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            table = header.group(1)
        key = re.match(r"^(\w+)\s*=", line)
        if table == "vagrant" and key and key.group(1) in settings:
            lines[i] = f'{key.group(1)} = "{settings[key.group(1)]}"'
            seen.add(key.group(1))
    missing = set(settings) - seen
    if missing:
        raise SystemExit(f"{DEFAULT_SHAPE_FILE} has no [vagrant] {', '.join(sorted(missing))}")
    return "\n".join(lines) + "\n"


def up(folder: Path) -> None:
    where = paths(folder)
    for name in ("state", "checkout"):
        where[name].mkdir(parents=True, exist_ok=True)
    key = where["state"] / "insecure_private_key"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vagrant insecure key",
                        "-f", str(key)], check=True)
    shutil.copy(HERE / "coreos-vagrant" / "Vagrantfile", where["checkout"] / "Vagrantfile")
    where["shape"].write_text(with_vagrant_table(DEFAULT_SHAPE_FILE.read_text(), {
        "provider": BOX_PROVIDER, "subnet_prefix": STANDIN_PREFIX, "discovery_service": VAGRANT_HOST_DISCOVERY}))
    print("box:", boxes.add_box(load_shape(where["shape"]), where["boxes"], BOX_PROVIDER), flush=True)


def down(folder: Path) -> None:
    where = paths(folder)
    if not where["checkout"].exists():
        return
    world = machines.Machines(where["checkout"], where["boxes"], where["state"] / "insecure_private_key")
    label = f"label={machines.LABEL}={world.tag}"
    for kind in ("container", "volume"):
        listed = machines.docker(kind, "ls", "-aq" if kind == "container" else "-q", "--filter", label).stdout.split()
        if listed:
            machines.docker(kind, "rm", "-f", *[item.decode() for item in listed], check=False)
    machines.docker("network", "rm", world.network, check=False)
    if where["shape"].exists():  # the hosts beside the machines, had the session no time to take them down
        VagrantHosts(load_shape(where["shape"]), "prepare-down").down()


def run(folder: Path, pytest_args: list[str]) -> int:
    """One pytest session against the stand-in's machines; whatever it leaves is taken down after."""
    up(folder)
    try:
        return subprocess.run([sys.executable, "-m", "pytest", "--provider", "vagrant", *pytest_args],
                              env={**os.environ, **environment(folder)}, check=False).returncode
    finally:
        down(folder)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("up", "down", "env", "run"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    folder = args.folder.resolve()
    if args.action == "run":
        return run(folder, args.pytest_args)
    if args.action == "up":
        up(folder)
    elif args.action == "down":
        down(folder)
    else:
        for key, value in environment(folder).items():
            print(f"export {key}={value!s}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
