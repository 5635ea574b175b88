"""`vagrant box add` for the stand-in: the box its machines boot, built on the local Docker engine.

A box is the node image with a small coreos-cloudinit (tests/standins/vagrant-box), built through
the lab's image builder (cached like the lab's images), and a box.json that tells the stand-in's
`vagrant` which image to boot and the container flags a systemd node needs (the lab's, as CLI flags).

    python tests/standins/boxes.py <boxes folder> [--provider libvirt]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wpcluster.core.shape import Shape, load_shape
from wpcluster.providers.hosts.engine import ensure_engine
from wpcluster.providers.hosts.images import ImageBuilder
from wpcluster.providers.lab.node import node_container_flags
from wpcluster.providers.vagrant.provider import box_name

BOX_CONTEXT = Path(__file__).resolve().parent / "vagrant-box"


def add_box(shape: Shape, boxes: Path, provider: str) -> Path:
    """Build (or find cached) the box for the shape's [vagrant] box and channel; return its box.json."""
    builder = ImageBuilder(ensure_engine(), shape)
    image = builder.image("vagrant-box", context=BOX_CONTEXT, parent=builder.image("node"))
    folder = boxes / box_name(shape)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "box.json"
    path.write_text(json.dumps({"image": image, "provider": provider, "flags": node_container_flags()}, indent=1))
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("boxes", type=Path)
    parser.add_argument("--provider", default="libvirt")
    args = parser.parse_args(argv)
    print(add_box(load_shape(), args.boxes, args.provider))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
