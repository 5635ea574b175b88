"""Find the local Docker engine, or install and start Debian's docker.io when we are root."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import docker
import docker.errors

from wpcluster.core.errors import EngineError
from wpcluster.core.progress import step

DOCKERD_LOG = Path("/var/log/wpcluster-dockerd.log")
INSTALL_HINT = (
    "as root: `apt-get update && apt-get install -y docker.io && dockerd &` "
    "(or `systemctl start docker`); or run wpcluster as root and it does this itself"
)


# How long one engine call may take once the engine has answered: removing a node container's volume
# deletes the images its own dockerd pulled, which took longer than the 5 s of the first ping (`lab
# down` failed half-way on it).
CALL_TIMEOUT = 300


def connect(timeout: float = 5) -> docker.DockerClient | None:
    """A client for the engine at DOCKER_HOST or the default socket, or None if none answers within
    ``timeout``; its later calls may take up to CALL_TIMEOUT."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
        client.api.timeout = CALL_TIMEOUT
        return client
    except (docker.errors.DockerException, OSError):
        return None


def ensure_engine(install: bool = True) -> docker.DockerClient:
    """Return a client for a running engine, starting (and installing) dockerd if allowed."""
    client = connect()
    if client is not None:
        return client
    if os.geteuid() != 0 or not install:
        raise EngineError(
            "no Docker engine answers (DOCKER_HOST="
            f"{os.environ.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}) and wpcluster is not root",
            INSTALL_HINT,
        )
    if shutil.which("dockerd") is None:
        apt_install(["docker.io"], why="the lab runs on a local Docker engine")
    with step("starting dockerd"):
        start_dockerd()
    client = connect()
    if client is None:
        raise EngineError(
            f"dockerd was started but does not answer; its log is {DOCKERD_LOG}",
            f"read {DOCKERD_LOG}; a common cause is a kernel without overlayfs or iptables",
        )
    return client


def start_dockerd(timeout: float = 60) -> None:
    """Start dockerd in the background (systemd is not PID 1 on CI machines) and wait for it."""
    log = DOCKERD_LOG.open("ab")
    subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if connect(timeout=2) is not None:
            return
        time.sleep(0.5)
    tail = DOCKERD_LOG.read_text(errors="replace")[-2000:]
    raise EngineError(f"dockerd did not answer within {timeout:g}s; its log ends:\n{tail}", INSTALL_HINT)


_apt_updated = False


def apt_install(packages: list[str], why: str) -> None:
    """Install Debian packages (root only), saying why; fail with the exact command otherwise."""
    global _apt_updated
    command = f"apt-get install -y {' '.join(packages)}"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise EngineError(f"{', '.join(packages)} missing ({why})", f"install it: `sudo {command}`")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with step(f"installing {' '.join(packages)} ({why})"):
        if not _apt_updated:
            subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
            _apt_updated = True
        done = subprocess.run(
            ["apt-get", "install", "-y", "-qq", *packages], env=env, capture_output=True, text=True
        )
    if done.returncode != 0:
        raise EngineError(
            f"`{command}` failed: {done.stderr.strip()[-1000:]}", "install the packages by hand and retry"
        )
