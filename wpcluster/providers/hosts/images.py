"""Build the lab's images locally and cache them by the hash of their inputs.

Nothing can be pulled from a registry here, so every image starts from a
debootstrap'd Debian rootfs imported as ``wpcluster/base``. Each image is
tagged ``wpcluster/<name>:<hash>`` where the hash covers its build context,
its parent's tag and any extra inputs (the fleet binaries for the node), so
an image is rebuilt exactly when something it is made from changed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docker
import docker.errors

from wpcluster.core import gobuild
from wpcluster.core.build_cache import cache_dir, digest, locked, tree_digest
from wpcluster.core.errors import LabError
from wpcluster.core.progress import say, step
from wpcluster.core.shape import IMAGES_DIR, Shape
from wpcluster.providers.hosts.engine import apt_install

IMAGE_LABEL = "wpcluster.image"
# Build-only Go modules inside a build context: their output, not their files, goes in the image.
GO_MODULE_DIRS = ("fleet", "go")
# Images that carry Go programs built on the host (their build contexts hold only the go.mod).
GO_PROGRAMS = {"node": gobuild.FLEET, "vulcand": gobuild.VULCAND, "s3": gobuild.MINIO,
               "faultproxy": gobuild.TOXIPROXY}
# Bump when the way the base rootfs is made changes (not its inputs, which are hashed).
BASE_RECIPE = "debootstrap-minbase-v1"


class ImageBuilder:
    """Builds and caches the lab's images on one Docker engine."""

    def __init__(self, client: docker.DockerClient, shape: Shape) -> None:
        self.client = client
        self.shape = shape
        self.built: list[str] = []  # images built (not found in cache) by this builder

    def exists(self, tag: str) -> bool:
        try:
            self.client.images.get(tag)
            return True
        except docker.errors.ImageNotFound:
            return False

    def base(self) -> str:
        """The Debian base image, debootstrapped once per suite and mirror (under ``image``'s lock)."""
        tag = "wpcluster/base:" + digest(
            [BASE_RECIPE, self.shape.lab_debian_suite, self.shape.lab_debian_mirror]
        )
        if self.exists(tag):
            return tag
        if shutil.which("debootstrap") is None:
            apt_install(["debootstrap"], why="the lab's base image is a debootstrap'd Debian")
        with step(f"debootstrapping Debian {self.shape.lab_debian_suite} for {tag}"), \
                tempfile.TemporaryDirectory(prefix="wpcluster-rootfs-") as tmp:
            rootfs = Path(tmp) / "rootfs"
            run = subprocess.run(
                ["debootstrap", "--variant=minbase", self.shape.lab_debian_suite, str(rootfs),
                 self.shape.lab_debian_mirror],
                capture_output=True, text=True,
            )
            if run.returncode != 0:
                raise LabError(
                    f"debootstrap of {self.shape.lab_debian_suite} from {self.shape.lab_debian_mirror} "
                    f"failed: {run.stdout[-800:]}{run.stderr[-800:]}",
                    "check that the Debian mirror in cluster.toml [lab] debian_mirror answers",
                )
            for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for entry in (rootfs / junk).glob("*"):
                    if entry.is_file():
                        entry.unlink()
            tarball = Path(tmp) / "rootfs.tar"
            subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
            repo, version = tag.split(":")
            self.client.api.import_image_from_file(
                str(tarball), repository=repo, tag=version, changes=[f"LABEL {IMAGE_LABEL}=base"]
            )
        self.built.append(tag)
        self._prune("base", keep=tag)
        return tag

    def image(self, name: str, context: Path | None = None, parent: str | None = None) -> str:
        """Build (or find cached) ``images/<name>`` (or ``context``) on top of the base image (or the image
        tagged ``parent``); return its tag. Runs that share the engine and the cache build one image at a
        time: the second waits, then finds it cached."""
        with locked(cache_dir() / "images.lock", "waiting for another run to finish building images"):
            return self._image(name, context or IMAGES_DIR / name, parent)

    def _image(self, name: str, context_dir: Path, parent: str | None) -> str:
        base = parent or self.base()
        extra = self._extra_files(name, context_dir)
        tag = f"wpcluster/{name}:" + digest(
            [base, tree_digest(context_dir, exclude=GO_MODULE_DIRS)]
            + [f"{dest}={digest([src.read_bytes()])}" for dest, src in sorted(extra.items())]
        )
        if self.exists(tag):
            return tag
        with step(f"building image {tag}"), tempfile.TemporaryDirectory(prefix="wpcluster-ctx-") as tmp:
            ctx = Path(tmp)
            shutil.copytree(context_dir, ctx, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*GO_MODULE_DIRS))
            for dest, src in extra.items():
                (ctx / dest).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, ctx / dest)
            self._docker_build(ctx, tag, name, base)
        self.built.append(tag)
        self._prune(name, keep=tag)
        return tag

    def _extra_files(self, name: str, context_dir: Path) -> dict[str, Path]:
        """Inputs made outside Docker that an image's context needs: Go binaries, Python wheels."""
        extra: dict[str, Path] = {}
        program = GO_PROGRAMS.get(name)
        if program is not None:
            binaries = gobuild.build(program, cache_dir())
            extra.update({binary: binaries / binary for binary in program.packages})
        requirements = context_dir / "requirements.txt"
        if requirements.exists():
            wheels = wheelhouse(requirements)
            extra.update({f"wheels/{wheel.name}": wheel for wheel in sorted(wheels.iterdir())})
        return extra

    def _docker_build(self, ctx: Path, tag: str, name: str, base: str) -> None:
        """Build through the engine's streaming API: each step is shown as it starts, not after the build."""
        log: list[str] = []
        error = ""
        try:
            for chunk in self.client.api.build(path=str(ctx), tag=tag, rm=True, forcerm=True, decode=True,
                                               buildargs={"BASE": base}, labels={IMAGE_LABEL: name}):
                line = chunk.get("stream", "")
                log.append(line)
                if line.startswith("Step "):
                    say(line.strip())
                error = chunk.get("error", error)
        except docker.errors.APIError as exc:
            error = str(exc.explanation or exc)
        if error:
            raise LabError(f"building image {tag} failed: {error}\n{''.join(log)[-2000:]}",
                           f"fix images/{name}/Dockerfile; the build log is above")

    def _prune(self, name: str, keep: str) -> None:
        """Drop older builds of the same image so the cache does not grow run after run."""
        for image in self.client.images.list(filters={"label": f"{IMAGE_LABEL}={name}"}):
            if keep not in image.tags:
                try:
                    self.client.images.remove(image.id, force=False)
                except docker.errors.APIError:
                    pass  # still used by a container or a child image; a later run retries


def wheelhouse(requirements: Path) -> Path:
    """Wheels for ``requirements``, downloaded on the host with its pip and cached.

    Builds inside Docker cannot verify PyPI's certificate on machines whose
    egress re-signs TLS, and the host's pip is set up for it; images install
    from these wheels with --no-index. The images run Debian bookworm's
    CPython 3.11, so wheels are fetched for exactly that.
    """
    key = digest([requirements.read_bytes(), "cp311-manylinux2014_x86_64"])
    out = cache_dir() / "wheels" / key
    if out.is_dir() and any(out.iterdir()):
        return out
    partial = out.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with step(f"downloading wheels for {requirements.parent.name} ({key})"):
        run = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--implementation", "cp",
             "--python-version", "3.11", "--platform", "manylinux2014_x86_64", "--platform", "any",
             "-r", str(requirements), "-d", str(partial)],
            capture_output=True, text=True,
        )
    if run.returncode != 0:
        raise LabError(f"pip download for images/{requirements.parent.name} failed: {run.stderr[-1500:]}",
                       "check that PyPI answers (pip config) and the pins in " + str(requirements))
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return out
