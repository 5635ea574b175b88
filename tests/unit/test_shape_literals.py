"""The shape (cluster.toml) is the one place a port is spelled: the units, the images and the package take
every port from it (through site.env, a node's boot files, a container's environment or command line).
A port the shape owns written again anywhere there is a second truth that a changed shape would leave
behind, so this test greps for each of them."""

from __future__ import annotations

import re

from wpcluster.core.shape import PROJECT_ROOT, load_shape

SEARCHED = ("units", "images", "wpcluster")
SKIPPED_SUFFIXES = (".mod", ".sum", ".png", ".jpg", ".pyc")
# Files where such a number is not the shape's: examples in documentation and messages (each says what
# a value looks like), and MySQL's own default port where a DB_HOST names none.
NOT_THE_SHAPES = {
    "wpcluster/providers/inventory/schema.py": "the inventory's documented example",
    "wpcluster/checks/linearizability.py": "a history line shown in the docstring",
    "wpcluster/clients/site.py": "the site's name in the module's docstring",
    "images/wordpress/Dockerfile": "the settings' documented examples",
    "images/wordpress/entrypoint": "an example in a refusal message",
    "images/wordpress/config-default.php": "the seed's address in a comment",
    "images/wordpress/mu-plugins/wpcluster-s3-cache.php": "the settings' documented examples",
    "images/wordpress/mu-plugins/wpcluster-cron-loopback.php": "the site's address in a comment",
    "images/wordpress/mu-plugins/wpcluster-s3-cache/s3-client.php": "an example in a comment",
    "images/wordpress/setup.php": "MySQL's default port, for a DB_HOST without one",
}


def owned_ports() -> dict[int, str]:
    shape = load_shape()
    owned = {shape.site_port: "[cluster] site_port", shape.etcd_client_port: "[etcd] client_port",
             shape.etcd_peer_port: "[etcd] peer_port", shape.site.vulcand_port: "[site] vulcand_port",
             shape.site.vulcand_api_port: "[site] vulcand_api_port",
             shape.site.sidekick_agent_port: "[site] sidekick_agent_port"}
    owned.update({port: f"[lab.ports] {role}" for role, port in shape.lab_ports.items()})
    return owned


def port_spelled(line: str, port: int) -> bool:
    """Whether ``line`` spells ``port`` as a port: after a colon or slash, before /tcp, as a quoted
    string, after ``port =`` or ``EXPOSE``, or as a fallback (``or 2379``)."""
    p = str(port)
    return bool(re.search(rf"[:/]{p}\b|\b{p}/tcp|[\"']{p}[\"']|port\s*=\s*{p}\b|EXPOSE\b.*\b{p}\b|\bor {p}\b", line))


def searched_files() -> list[str]:
    """Every file under the searched folders, as the checkout has them (a tree need not be a git clone)."""
    found = []
    for folder in SEARCHED:
        for path in sorted((PROJECT_ROOT / folder).rglob("*")):
            name = path.relative_to(PROJECT_ROOT).as_posix()
            if path.is_file() and "__pycache__" not in path.parts and not name.endswith(SKIPPED_SUFFIXES) \
                    and name != "wpcluster/core/shape.py":
                found.append(name)
    return found


def test_no_port_the_shape_owns_is_spelled_again():
    owned = owned_ports()
    found = []
    for name in searched_files():
        if name in NOT_THE_SHAPES:
            continue
        try:
            text = (PROJECT_ROOT / name).read_text()
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for port, key in owned.items():
                if port_spelled(line, port):
                    found.append(f"{name}:{number}: {port} is the shape's {key}: {line.strip()[:120]}")
    assert not found, ("ports the shape owns, spelled again (take them from the shape: site.env, the node's boot "
                       "files, the container's environment or command line):\n" + "\n".join(found))


def test_the_grep_finds_a_port_spelled_again():
    assert port_spelled("ExecStart=/usr/bin/etcdctl --endpoints http://127.0.0.1:2379 get /x", 2379)
    assert port_spelled('EXPOSE 8181 8182', 8182)
    assert port_spelled('    hosts = tuple((u.hostname, u.port or 2379) for u in endpoints)', 2379)
    assert not port_spelled("max_ops: int = 5000, *, prefix: str | None = None", 5000)
