"""An ssh-agent holding the cluster's identity, for fleetctl's journal and ssh (the seed's `ssh-add`)."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from pathlib import Path

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
