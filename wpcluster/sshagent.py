"""An ssh-agent holding the cluster's identity, for fleetctl's journal and ssh (the seed's `ssh-add`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from wpcluster.waits import eventually


class SSHAgent:
    """Started on first use with ``keys`` loaded; ``close`` stops it.

    Its socket lives in ``folder`` (the run's) under this process's id: a nested session of the same
    run (a harness test) has an agent of its own and cannot take the outer one's socket away.
    """

    def __init__(self, folder: Path, keys: list[Path]) -> None:
        self.socket = folder / f"ssh-agent-{os.getpid()}.sock"
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
