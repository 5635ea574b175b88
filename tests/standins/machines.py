"""The vagrant stand-in's machines: node containers where coreos-vagrant boots CoreOS VMs.

This machine has no virtualisation, so the stand-in's `vagrant up` boots one
container per machine from a box image (tests/standins/vagrant-box: the lab's
node image with a small coreos-cloudinit), on a network of its own whose
gateway is the host's address on it, as on coreos-vagrant's private network.
Each machine gets the checkout's rendered `user-data` where coreos-vagrant
provisions it, Vagrant's insecure key for the core user, and its SSH port (and
the Vagrantfile's forwarded ports) published on loopback, moved to a free port
on a collision as vagrant's auto_correct does. Halt, suspend, resume and
destroy act on the containers.

It is driven through the docker CLI and imports nothing of wpcluster: vagrant
(and so this stand-in) may run under any python3 on PATH. What a box is made
of (image and the container flags a systemd node needs) comes from the box's
box.json, written when the box is added (tests/standins/boxes.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import socket
import subprocess
import tarfile
import time
from pathlib import Path

VAGRANTFILE = Path(__file__).resolve().parent / "coreos-vagrant" / "Vagrantfile"
USER_DATA_PATH = "var/lib/coreos-vagrant/vagrantfile-user-data"
SSH_PORT = 2222
USABLE_PORTS = range(2200, 2251)  # vagrant's usable_port_range, where auto_correct moves a forward
LABEL = "wpcluster.vagrant-standin"
BOOT_TIMEOUT = 120.0


class MachineError(Exception):
    """What vagrant would print on stderr before exiting 1."""


def ruby_value(text: str) -> object:
    """The handful of Ruby literals config.rb uses: integers, quoted strings, {int => int} hashes."""
    text = text.split("#", 1)[0].strip() if not text.strip().startswith(("'", '"')) else text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    quoted = re.fullmatch(r"""(['"])(.*)\1""", text)
    if quoted:
        return quoted.group(2)
    if text.startswith("{"):
        return {int(a): int(b) for a, b in re.findall(r"(\d+)\s*=>\s*(\d+)", text)}
    return text


def globals_of(text: str) -> dict[str, object]:
    """``$name = value`` assignments at the start of a line, later ones winning."""
    found = {}
    for line in text.splitlines():
        match = re.match(r"^\$(\w+)\s*=\s*(.+)$", line)
        if match:
            found[match.group(1)] = ruby_value(match.group(2))
    return found


def settings(checkout: Path) -> dict[str, object]:
    """The Vagrantfile's globals overridden by the checkout's config.rb, as Ruby would leave them."""
    values = globals_of(VAGRANTFILE.read_text().split("require CONFIG", 1)[0])
    config = checkout / "config.rb"
    if config.exists():
        values.update(globals_of(config.read_text()))
    return values


def docker(*args: str, check: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(["docker", *args], capture_output=True, input=stdin, check=False)
    if check and done.returncode:
        raise MachineError(f"docker {' '.join(args[:2])} failed: {done.stderr.decode().strip()}")
    return done


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def tarball(files: dict[str, tuple[str, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        folders = sorted({"/".join(path.split("/")[:i]) for path in files for i in range(1, path.count("/") + 1)})
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o700 if folder.endswith(".ssh") else 0o755
            tar.addfile(info)
        for path, (content, mode) in files.items():
            data = content.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Machines:
    """The machines of one coreos-vagrant checkout (the working directory vagrant runs in)."""

    def __init__(self, checkout: Path, boxes: Path, key: Path) -> None:
        self.checkout = checkout
        self.boxes = boxes
        self.key = key
        self.settings = settings(checkout)
        self.tag = hashlib.sha256(str(checkout.resolve()).encode()).hexdigest()[:8]
        self.network = f"vagrant-{self.tag}"
        self.prefix = str(self.settings["subnet_prefix"])

    @property
    def names(self) -> list[str]:
        prefix, count = self.settings["instance_name_prefix"], int(self.settings["num_instances"])
        return [f"{prefix}-{i:02d}" for i in range(1, count + 1)]

    def container(self, name: str) -> str:
        return f"vagrant-{self.tag}-{name}"

    def address(self, name: str) -> str:
        return f"{self.prefix}.{self.names.index(name) + 101}"

    def box(self) -> dict:
        name = f"{self.settings['box_os']}-{self.settings['update_channel']}"
        path = self.boxes / name / "box.json"
        if not path.exists():
            raise MachineError(f"The box '{name}' could not be found.")
        return json.loads(path.read_text())

    def state(self, name: str) -> str:
        """vagrant's names for a machine's state."""
        done = docker("inspect", "--format", "{{.State.Status}}", self.container(name), check=False)
        status = done.stdout.decode().strip()
        if done.returncode or not status:
            return "not_created"
        # "created": a create that failed half-way (up removes it); vagrant has no such state.
        return {"running": "running", "paused": "saved", "created": "not_created"}.get(status, "poweroff")

    def ssh_port(self, name: str) -> int:
        out = docker("port", self.container(name), "22/tcp").stdout.decode().split()
        if not out:
            raise MachineError(f"The machine {name} publishes no SSH port.")
        return int(out[0].rsplit(":", 1)[1])

    def up(self, name: str, say) -> None:
        state = self.state(name)
        if state == "running":
            say(f"==> {name}: Machine already provisioned.")
            return
        if state == "saved":
            say(f"==> {name}: Resuming suspended VM...")
            docker("unpause", self.container(name))
            return
        if state == "not_created":
            docker("rm", "-f", "-v", self.container(name), check=False)  # what a failed create left
            try:
                self.create(name, say)
            except MachineError:
                docker("rm", "-f", "-v", self.container(name), check=False)
                raise
        say(f"==> {name}: Booting VM...")
        docker("start", self.container(name))
        docker("exec", self.container(name), "chown", "-R", "core:core", "/home/core")
        self.wait_for_ssh(name, say)

    def create(self, name: str, say) -> None:
        box = self.box()
        say(f"==> {name}: Importing base box '{box['image']}'...")
        self.ensure_network()
        # Every machine forwards the Vagrantfile's ports; the first to come up gets them, as with vagrant.
        ports: list[tuple[str, int]] = []
        for guest, host in [(22, SSH_PORT), *dict(self.settings.get("forwarded_ports") or {}).items()]:
            ports.append((str(guest), self.free_port(host, name, say, {p for _, p in ports})))
        volume = f"{self.container(name)}-docker"
        docker("volume", "create", "--label", f"{LABEL}={self.tag}", volume)
        publish = [flag for guest, host in ports for flag in ("-p", f"127.0.0.1:{host}:{guest}")]
        docker("create", "--name", self.container(name), "--hostname", name, "--network", self.network,
               "--ip", self.address(name), "--label", f"{LABEL}={self.tag}", "-v", f"{volume}:/var/lib/docker",
               *publish, *box["flags"], box["image"])
        files = {
            "etc/machine-id": (secrets.token_hex(16) + "\n", 0o444),
            "home/core/.ssh/authorized_keys": (self.key.with_suffix(".pub").read_text(), 0o600),
        }
        user_data = self.checkout / "user-data"
        if user_data.exists():
            files[USER_DATA_PATH] = (user_data.read_text(), 0o644)
        docker("cp", "-", f"{self.container(name)}:/", stdin=tarball(files))

    def ensure_network(self) -> None:
        if docker("network", "inspect", self.network, check=False).returncode == 0:
            return
        docker("network", "create", "--label", f"{LABEL}={self.tag}", "--subnet", f"{self.prefix}.0/24",
               "--gateway", f"{self.prefix}.1", self.network)

    def free_port(self, wanted: int, name: str, say, chosen: set[int]) -> int:
        """``wanted`` if nothing listens there, else the first free port of vagrant's usable range."""
        taken = self.published_ports() | chosen
        if wanted not in taken and port_free(wanted):
            return wanted
        for port in USABLE_PORTS:
            if port not in taken and port_free(port):
                say(f"==> {name}: Fixed port collision for {wanted} => {port}.")
                return port
        raise MachineError(f"Vagrant found a port collision for {wanted} and no free port in 2200..2250.")

    def published_ports(self) -> set[int]:
        """Ports this checkout's machines publish, running or not (a stopped one keeps its port)."""
        out = docker("ps", "-aq", "--filter", f"label={LABEL}={self.tag}").stdout.decode().split()
        ports = set()
        for container_id in out:
            bindings = json.loads(docker("inspect", "--format", "{{json .HostConfig.PortBindings}}",
                                         container_id).stdout or b"{}") or {}
            ports |= {int(b["HostPort"]) for binding in bindings.values() for b in binding or [] if b["HostPort"]}
        return ports

    def wait_for_ssh(self, name: str, say) -> None:
        port = self.ssh_port(name)
        say(f"==> {name}: Waiting for machine to boot. SSH address: 127.0.0.1:{port}")
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            done = subprocess.run(["ssh", *self.ssh_options(port), "core@127.0.0.1", "true"], capture_output=True)
            if done.returncode == 0:
                say(f"==> {name}: Machine booted and ready!")
                return
            time.sleep(0.5)
        raise MachineError(f"Timed out while waiting for the machine {name} to boot.")

    def ssh_options(self, port: int) -> list[str]:
        return ["-p", str(port), "-i", str(self.key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=2"]

    def halt(self, name: str, force: bool) -> None:
        if self.state(name) == "not_created":
            return  # vagrant: "VM not created. Moving on..."
        if self.state(name) == "saved":
            docker("unpause", self.container(name))
        if force:
            docker("kill", self.container(name), check=False)
        else:
            docker("stop", "-t", "30", self.container(name))

    def suspend(self, name: str) -> None:
        if self.state(name) == "running":
            docker("pause", self.container(name))

    def resume(self, name: str) -> None:
        if self.state(name) == "saved":
            docker("unpause", self.container(name))

    def destroy(self, name: str) -> None:
        docker("rm", "-f", "-v", self.container(name), check=False)
        docker("volume", "rm", "-f", f"{self.container(name)}-docker", check=False)
        if not docker("ps", "-aq", "--filter", f"label={LABEL}={self.tag}").stdout.strip():
            docker("network", "rm", self.network, check=False)

    def ssh_config(self, name: str) -> str:
        return (f"Host {name}\n  HostName 127.0.0.1\n  User core\n  Port {self.ssh_port(name)}\n"
                f"  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  PasswordAuthentication no\n"
                f"  IdentityFile {self.key}\n  IdentitiesOnly yes\n  LogLevel FATAL\n")
