"""Build fleetd and fleetctl (fleet v1.0.0) from the Go module proxy, pinned by our go.mod.

fleet predates Go modules; ``images/node/fleet/go.mod`` pins each of its
dependencies to the commit its glide.lock named. The binaries are static and
cached by the hash of that module and the Go version, so a warm run reuses them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from wpcluster.errors import LabError
from wpcluster.progress import step
from wpcluster.shape import FLEET_GO_MOD, fleet_version

MODULE_DIR = FLEET_GO_MOD.parent
PACKAGES = {"fleetd": "github.com/coreos/fleet", "fleetctl": "github.com/coreos/fleet/fleetctl"}


def go_version() -> str:
    if shutil.which("go") is None:
        raise LabError(
            "the Go toolchain is missing: fleetd and fleetctl are built from the Go module proxy",
            "install Go 1.21 or newer (https://go.dev/doc/install, or Debian's golang-go) and put it on PATH",
        )
    return subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()


def build(cache: Path) -> Path:
    """Return a folder holding static ``fleetd`` and ``fleetctl``, building them if not cached."""
    from wpcluster.providers.lab.images import digest  # local: images imports this module

    # fleet's own build stamped the version from `git describe`; a module build must say it.
    ldflags = f"-s -w -X github.com/coreos/fleet/version.Version={fleet_version().removeprefix('v')}"
    key = digest([go_version(), ldflags] + [(MODULE_DIR / f).read_bytes() for f in ("go.mod", "go.sum", "tools.go")])
    out = cache / "fleet" / key
    if all((out / name).exists() for name in PACKAGES):
        return out
    partial = out.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    env = dict(os.environ, CGO_ENABLED="0")
    with step(f"building fleetd and fleetctl from the Go module proxy ({key})"):
        for name, package in PACKAGES.items():
            run = subprocess.run(
                ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(partial / name), package],
                cwd=MODULE_DIR, env=env, capture_output=True, text=True,
            )
            if run.returncode != 0:
                raise LabError(
                    f"`go build {package}` failed:\n{run.stderr[-2000:]}",
                    f"check the pins in {FLEET_GO_MOD} and that the Go module proxy (GOPROXY) answers",
                )
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out
