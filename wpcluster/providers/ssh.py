"""Nodes reached over SSH, for the providers whose nodes are machines (vagrant, inventory): where a node
is and as whom (``SSHTarget``), the node itself (``SSHNode``) and an ssh-agent holding the cluster's
identity, for fleetctl's journal and ssh (the seed's `ssh-add`)."""

from __future__ import annotations

import contextlib
import dataclasses
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from wpcluster.core.cluster import ExecResult, Node
from wpcluster.core.errors import WpclusterError
from wpcluster.core.waits import eventually


class SSHAgent:
    """Started on first use with ``keys`` loaded; ``close`` stops it.

    Its socket lives in a private folder of its own under the system's temporary directory: a nested
    session of the same run (a harness test) has an agent of its own and cannot take the outer one's
    socket away, and the path stays under the 108 bytes a Unix socket's address may have (a run's
    results folder, nested, does not).
    """

    def __init__(self, keys: list[Path]) -> None:
        self.socket = Path(tempfile.mkdtemp(prefix="wpcluster-agent-")) / "agent.sock"
        self.keys = keys
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        if self._process is None:
            self.socket.parent.mkdir(parents=True, exist_ok=True)
            self.socket.unlink(missing_ok=True)
            self._process = subprocess.Popen(["ssh-agent", "-D", "-a", str(self.socket)], stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL, start_new_session=True)
            eventually(self.socket.exists, 5, 0.05, what="ssh-agent socket")
            for key in self.keys:
                subprocess.run(["ssh-add", "-q", str(key)], check=True, capture_output=True,
                               env={"SSH_AUTH_SOCK": str(self.socket)})
        return {"SSH_AUTH_SOCK": str(self.socket)}

    def close(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None
        self.socket.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.socket.parent.rmdir()


@dataclass(frozen=True)
class SSHTarget:
    """Where a node is and as whom: its name, address, user and private key file ("" for the agent's)."""

    name: str
    address: str
    user: str
    key: str


SSH_OPTIONS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"]


class SSHNode(Node):
    """A node reached over SSH; commands run as root through sudo."""

    def __init__(self, spec: SSHTarget, ssh_config: Path) -> None:
        self.spec = spec
        self.name = spec.name
        self.address = spec.address
        self.ssh_config = ssh_config

    def ssh_args(self) -> list[str]:
        """ssh's arguments up to the remote command: options, identity, user@host."""
        key = ["-i", str(Path(self.spec.key).expanduser())] if self.spec.key else []
        return ["ssh", *SSH_OPTIONS, *key, f"{self.spec.user}@{self.address}"]

    def _ssh(self, remote: str, timeout: float, stdin: str | None = None) -> ExecResult:
        command = [*self.ssh_args(), remote]
        try:
            done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return ExecResult(remote, 124, "", f"timed out after {timeout:g}s on {self.name}")
        return ExecResult(remote, done.returncode, done.stdout, done.stderr)

    def exec(self, command: str, timeout: float = 60) -> ExecResult:
        result = self._ssh(f"sudo sh -c {shlex.quote(command)}", timeout)
        return dataclasses.replace(result, command=command)

    def put_file(self, path: str, content: str, mode: int = 0o644) -> None:
        # The content travels on stdin, never on a command line.
        self._ssh(f"sudo install -D -m {mode:o} /dev/stdin {shlex.quote(path)}", 60, stdin=content).check()

    def _refused(self, what: str) -> None:
        raise WpclusterError(f"{what} {self.name} is refused on an inventory cluster",
                             "node power faults belong to the lab and vagrant providers")

    def stop(self) -> None:
        self._refused("stopping")

    def start(self) -> None:
        self._refused("starting")

    def kill(self) -> None:
        self._refused("killing")

    def pause(self) -> None:
        self._refused("pausing")

    def unpause(self) -> None:
        self._refused("unpausing")

    @property
    def testinfra_spec(self) -> str:
        return f"ssh://{self.name}?ssh_config={self.ssh_config}"

    def is_running(self) -> bool:
        return self._ssh("true", 10).ok
