"""Build Go programs from the Go module proxy, pinned by a go.mod the project owns.

fleet v1.0.0 predates Go modules and vulcand v0.9.2's own go.mod carries
replace directives (so `go install pkg@version` refuses it); for each, a
folder under images/ holds a small build-only module (go.mod, go.sum,
tools.go) pinning every dependency. ``build`` compiles static binaries from
it and caches them by the hash of that module, the Go version and the flags,
so a warm run reuses them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from wpcluster.core.build_cache import digest
from wpcluster.core.errors import LabError
from wpcluster.core.progress import step
from wpcluster.core.shape import FLEET_GO_MOD, PROJECT_ROOT, fleet_version


@dataclass(frozen=True)
class GoProgram:
    """A set of binaries built from one build-only module."""

    name: str
    module_dir: Path
    packages: dict[str, str]  # binary name -> Go package path
    ldflags: str = "-s -w"
    env: dict[str, str] = field(default_factory=dict)


FLEET = GoProgram(
    name="fleet",
    module_dir=FLEET_GO_MOD.parent,
    packages={"fleetd": "github.com/coreos/fleet", "fleetctl": "github.com/coreos/fleet/fleetctl"},
    # fleet's own build stamped the version from `git describe`; a module build must say it.
    ldflags=f"-s -w -X github.com/coreos/fleet/version.Version={fleet_version().removeprefix('v')}",
)

VULCAND = GoProgram(
    name="vulcand",
    module_dir=PROJECT_ROOT / "images" / "vulcand" / "go",
    packages={"vulcand": "github.com/vulcand/vulcand", "vctl": "github.com/vulcand/vulcand/vctl"},
)

# The lab's fault proxy between WordPress and its hosts (latency, stalls).
TOXIPROXY = GoProgram(
    name="toxiproxy",
    module_dir=PROJECT_ROOT / "images" / "faultproxy" / "go",
    packages={"toxiproxy-server": "github.com/Shopify/toxiproxy/v2/cmd/server"},
)

# The lab's S3 store. MinIO stamps its version from ldflags (its own build script does the same).
MINIO_COMMIT = "7aac2a2c5b7c"  # = the pseudo-version pinned in images/s3/go/go.mod
MINIO = GoProgram(
    name="minio",
    module_dir=PROJECT_ROOT / "images" / "s3" / "go",
    packages={"minio": "github.com/minio/minio"},
    ldflags="-s -w " + " ".join(
        f"-X github.com/minio/minio/cmd.{var}={value}"
        for var, value in (("Version", "2026-02-12T20:18:48Z"), ("ReleaseTag", "DEVELOPMENT.2026-02-12T20-18-48Z"),
                           ("CommitID", MINIO_COMMIT), ("ShortCommitID", MINIO_COMMIT), ("CopyrightYear", "2026"))
    ),
)


def go_version() -> str:
    if shutil.which("go") is None:
        raise LabError(
            "the Go toolchain is missing: fleet and vulcand are built from the Go module proxy",
            "install Go 1.21 or newer (https://go.dev/doc/install, or Debian's golang-go) and put it on PATH",
        )
    return subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()


def build(program: GoProgram, cache: Path) -> Path:
    """Return a folder holding the program's static binaries, building them if not cached."""
    inputs = [program.module_dir / f for f in ("go.mod", "go.sum", "tools.go")]
    key = digest([go_version(), program.ldflags, *program.packages.values()]
                 + [p.read_bytes() for p in inputs if p.exists()])
    out = cache / program.name / key
    if all((out / name).exists() for name in program.packages):
        return out
    partial = out.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    env = dict(os.environ, CGO_ENABLED="0", **program.env)
    with step(f"building {', '.join(program.packages)} from the Go module proxy ({key})"):
        for name, package in program.packages.items():
            run = subprocess.run(
                ["go", "build", "-trimpath", "-ldflags", program.ldflags, "-o", str(partial / name), package],
                cwd=program.module_dir, env=env, capture_output=True, text=True,
            )
            if run.returncode != 0:
                raise LabError(
                    f"`go build {package}` failed:\n{run.stderr[-2000:]}",
                    f"check the pins in {program.module_dir / 'go.mod'} and that the Go module proxy "
                    "(GOPROXY) answers",
                )
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out
