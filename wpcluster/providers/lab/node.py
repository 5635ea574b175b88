"""One node of the lab: a container running systemd as PID 1 with its own dockerd, etcd2, fleetd and sshd."""

from __future__ import annotations

import subprocess
from pathlib import Path

import docker
import docker.errors

from wpcluster.core.build_cache import cache_dir
from wpcluster.core.cluster import ExecResult, Node
from wpcluster.core.errors import LabError
from wpcluster.core.progress import say
from wpcluster.core.waits import NotReached, eventually
from wpcluster.providers.hosts.containers import HostEngine, tarball

# Host settings a systemd node container needs where --privileged is refused (engines
# that forbid it, as some CI hosts do; docs/ci.md lists them for a runner). `--security-opt
# systempaths=unconfined` is a CLI spelling: over the API it is empty MaskedPaths and ReadonlyPaths.
NODE_HOST_CONFIG = dict(
    cgroupns="private",
    cap_add=["ALL"],
    cap_drop=["SYS_RESOURCE"],
    security_opt=["seccomp=unconfined", "apparmor=unconfined"],
    device_cgroup_rules=["a *:* rwm"],
    tmpfs={"/run": "", "/run/lock": "", "/tmp": ""},
)


def node_container_flags() -> list[str]:
    """NODE_HOST_CONFIG as `docker create` flags (the vagrant stand-in's machines use the CLI)."""
    config = NODE_HOST_CONFIG
    return [
        f"--cgroupns={config['cgroupns']}",
        *(f"--cap-add={cap}" for cap in config["cap_add"]),
        *(f"--cap-drop={cap}" for cap in config["cap_drop"]),
        *(f"--security-opt={opt}" for opt in [*config["security_opt"], "systempaths=unconfined"]),
        *(f"--device-cgroup-rule={rule}" for rule in config["device_cgroup_rules"]),
        *(f"--tmpfs={path}" for path in config["tmpfs"]),
    ]


# What makes a node a node: a boot with any of these failed is a failed boot.
NODE_SERVICES = ("etcd2.service", "fleet.service", "docker.service", "ssh.service")
BOOT_TIMEOUT = 60.0


class LabNode(Node):
    """One node container. Faults act on the container (power) or inside it (network)."""

    def __init__(self, lab: HostEngine, name: str, address: str) -> None:
        self.lab = lab
        self.name = name
        self.address = address

    @property
    def container(self) -> docker.models.containers.Container:
        return self.lab.client.containers.get(self.lab.container_name(self.name))

    def exec(self, command: str, timeout: float = 60) -> ExecResult:
        # The docker CLI gives us a real timeout; docker-py's exec has none.
        try:
            done = subprocess.run(
                ["docker", "exec", self.lab.container_name(self.name), "sh", "-c", command],
                capture_output=True, text=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return ExecResult(command, 124, "", f"timed out after {timeout:g}s on {self.name}")
        return ExecResult(command, done.returncode, done.stdout, done.stderr)

    def put_file(self, path: str, content: str, mode: int = 0o644) -> None:
        # Through the Docker API as a tar stream: the content never appears on a command line.
        self.container.put_archive("/", tarball({path.lstrip("/"): (content, mode)}))

    def stop(self) -> None:
        self.container.stop(timeout=30)

    def start(self) -> None:
        self.container.start()
        self.wait_booted()

    def kill(self) -> None:
        self.container.kill("SIGKILL")

    def pause(self) -> None:
        self.container.pause()

    def unpause(self) -> None:
        self.container.unpause()

    @property
    def testinfra_spec(self) -> str:
        return f"docker://{self.lab.container_name(self.name)}"

    def is_running(self) -> bool:
        try:
            state = self.lab.client.api.inspect_container(self.lab.container_name(self.name))["State"]
        except docker.errors.NotFound:
            return False
        return bool(state["Running"]) and not state["Paused"]

    def wait_booted(self, timeout: float | None = None) -> None:
        """Wait until systemd in the node reports running; say which units hold it up if it does not."""
        timeout = timeout or self.lab.boot_timeout

        def booted() -> str:
            state = self.exec("systemctl is-system-running", timeout=10).stdout.strip()
            if state in ("running", "degraded"):
                return state
            raise AssertionError(f"systemd state {state!r}")

        def failed_units() -> list[str]:
            listing = self.exec("systemctl --failed --no-legend --plain", timeout=10).stdout
            return [line.split()[0] for line in listing.splitlines() if line.strip()]

        try:
            state = eventually(booted, timeout, 0.2, what=f"node {self.name} running")
        except NotReached as exc:
            # list-jobs rows: JOB UNIT TYPE STATE
            waiting = [" ".join(line.split()[1:3]) for line in
                       self.exec("systemctl list-jobs --no-legend", timeout=10).stdout.splitlines()
                       if ".service" in line and "systemd-" not in line]
            raise LabError(f"{exc}; failed units: {failed_units() or 'none'}; jobs still waiting: {waiting or 'none'}",
                           f"read {self.name}'s journal under {self.lab.diagnostics_dir}") from None
        # Booted means the boot's jobs are done, not that they succeeded: a node service that is
        # not active now has failed (or is restarting after failures) and the node is not a node.
        states = self.exec(f"systemctl is-active {' '.join(NODE_SERVICES)}", timeout=10).stdout.split()
        broken = [f"{unit} {st}" for unit, st in zip(NODE_SERVICES, states, strict=False) if st != "active"]
        if broken:
            raise LabError(f"node {self.name} booted ({state}) but not every node service is active: "
                           f"{', '.join(broken)}; failed units: {failed_units() or 'none'}",
                           f"read {self.name}'s journal under {self.lab.diagnostics_dir}")
        if state == "degraded":
            say(f"{self.name}: systemd degraded; failed units: {failed_units()}")


def lab_ssh_key() -> Path:
    """The lab's SSH identity (kept in the cache), made on first use."""
    key = cache_dir() / "ssh" / "id_ed25519"
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "wpcluster-lab", "-f", str(key)],
                       check=True)
    return key
