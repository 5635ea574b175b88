"""The admin surface: every request that only the admin container may serve, and who served it.

The corpus comes from the deployed WordPress itself: every file under ``wp-admin/`` in the admin
container, the entry points that log in or change state outside it (wp-login.php, xmlrpc.php,
wp-cron.php, admin-ajax.php, admin-post.php), and the variants of those paths that clients and
scanners send and Apache serves as the same file:

* repeated slashes (``//wp-admin/``, ``/wp-admin//edit.php``): Apache merges them;
* dot segments (``/./wp-admin/``, ``/wp-includes/../wp-admin/``, ``/%2e/wp-admin/``): Apache
  resolves them, percent-encoded dots included;
* percent-encoded letters (``/wp-%61dmin/``, ``/wp-ad%6Din/``): Apache decodes them;
* a trailing slash added or taken away (``/wp-admin``, ``/wp-login.php/``: PHP takes path info);
* a query string (``/wp-login.php?action=lostpassword``): no router looks at it.

All of those must reach the admin container. Letter-case variants (``/WP-ADMIN/``) are not the
same file to Apache on Linux: a public container may answer them, but only to refuse (403/404).

Writes: every POST, PUT, PATCH and DELETE, wherever it is sent (the REST API, ``?rest_route=``,
comments), goes to the admin container; public containers serve reads only.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from wpcluster.checks.routes import RouteTable
from wpcluster.core.cluster import Cluster

ADMIN_CONTAINER = "wordpress-admin"
ADMIN_BACKEND = "wordpressadmin"
WORDPRESS_ROOT = "/usr/share/wordpress"
# Outside wp-admin/: the doors that take a password or act on the site.
ENTRY_POINTS = ["/wp-login.php", "/xmlrpc.php", "/wp-cron.php", "/wp-admin/", "/wp-admin/admin-ajax.php",
                "/wp-admin/admin-post.php"]
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
WRITES = [("POST", "/wp-json/wp/v2/posts"), ("PUT", "/wp-json/wp/v2/posts/1"), ("PATCH", "/wp-json/wp/v2/posts/1"),
          ("DELETE", "/wp-json/wp/v2/posts/1"), ("POST", "/?rest_route=/wp/v2/posts"), ("POST", "/"),
          ("POST", "/index.php"), ("POST", "/wp-comments-post.php"), ("POST", "/hello-world/"),
          *[("POST", p) for p in ENTRY_POINTS]]


@dataclass(frozen=True)
class Probe:
    """One request of the corpus and what may answer it."""

    method: str
    path: str  # as sent: not normalised, with any query string
    why: str  # "file", "entry point", "variant: dot segment of /wp-admin/", "write"
    admin_only: bool = True  # False: a public container may answer, but only to refuse (403/404)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _encode_one_letter(path: str, hex_upper: bool = False) -> str | None:
    """``path`` with one letter of its first ``wp-`` word (or first word) percent-encoded: the first
    letter after the ``-``, or with ``hex_upper`` the first whose code has a hex letter (``m`` is
    ``%6D``), so that both cases of hex digit are tried."""
    start = path.find("-") + 1
    for i in range(start, len(path)):
        code = f"{ord(path[i]):02x}"
        if path[i].isalpha() and (not hex_upper or code[1].isalpha()):
            return path[:i] + "%" + (code.upper() if hex_upper else code) + path[i + 1:]
    return None


def variants(path: str) -> list[Probe]:
    """The forms of ``path`` (an absolute admin path) that Apache serves as ``path``, and its case variants."""
    def probe(p: str, kind: str, admin_only: bool = True) -> Probe:
        return Probe("GET", p, f"variant: {kind} of {path}", admin_only)

    inner = path.replace("/", "//", 2) if path.count("/") > 1 else None
    found = [
        probe("/" + path, "repeated slash"),
        probe("/./" + path.lstrip("/"), "dot segment"),
        probe("/wp-includes/.." + path, "dot-dot segment"),
        probe("/%2e" + path, "encoded dot segment"),
        probe(path + "?x=1", "query string"),
        probe(path.rstrip("/") if path.endswith("/") else path + "/", "trailing slash"),
        probe(path.upper(), "letter case", admin_only=False),
    ]
    if inner and inner != "/" + path:
        found.append(probe(inner, "inner repeated slash"))
    for upper in (False, True):
        if (encoded := _encode_one_letter(path, upper)) is not None:
            found.append(probe(encoded, f"percent-encoded letter ({'upper' if upper else 'lower'}-case hex)"))
    return found


def corpus(admin_files: Iterable[str]) -> list[Probe]:
    """Every admin file, the entry points, each directory and entry point in every variant, and the writes."""
    files = sorted({f if f.startswith("/") else f"/{f}" for f in admin_files})
    probes = [Probe("GET", f, "file") for f in files]
    probes += [Probe("GET", e, "entry point") for e in ENTRY_POINTS if e not in files]
    roots = sorted({f.rsplit("/", 1)[0] + "/" for f in files} | set(ENTRY_POINTS))
    for root in roots:
        probes += variants(root)
    probes += [Probe(method, path, "write") for method, path in WRITES]
    return probes


def deployed_admin_files(cluster: Cluster) -> list[str]:
    """Every file under wp-admin/ in the running admin container, as URL paths."""
    for node in cluster.nodes:
        if not node.is_running():
            continue
        found = node.exec(f"docker exec {ADMIN_CONTAINER} sh -c 'cd {WORDPRESS_ROOT} && find -L wp-admin -type f'",
                          timeout=30)
        if found.ok and found.stdout.strip():
            return ["/" + line.strip() for line in found.stdout.splitlines() if line.strip()]
    raise AssertionError(f"no node runs {ADMIN_CONTAINER} to list its wp-admin files")


def static_leaks(table: RouteTable, probes: Iterable[Probe], host: str) -> dict[str, list[str]]:
    """Frontend id -> the admin-only probes it would send to a backend that is not the admin's."""
    leaks: dict[str, list[str]] = {}
    for probe in probes:
        if not probe.admin_only:
            continue
        frontend = table.route(probe.method, probe.path, host)
        if frontend is None:
            leaks.setdefault("(no frontend: vulcand answers 404)", []).append(str(probe))
        elif frontend.backend != ADMIN_BACKEND:
            leaks.setdefault(f"{frontend.id} (backend {frontend.backend}, route {frontend.route})", []).append(
                str(probe))
    return leaks


@dataclass(frozen=True)
class Reply:
    probe: Probe
    status: int  # 0: no answer
    served_by: str  # X-Served-By, or "" when vulcand (or nothing) answered
    location: str = ""  # where a redirect sends the client

    @property
    def container(self) -> str:
        return self.served_by.split("@", 1)[0]

    def refused_by(self, container: str) -> bool:
        """``container`` itself answered, refusing: 403, or 404 for a path Apache does not serve as admin."""
        return self.container == container and (self.status == 403 or (not self.probe.admin_only
                                                                         and self.status == 404))

    @property
    def acceptable(self) -> bool:
        """The admin container answered; or, for a path Apache does not serve as admin, a public container
        refused it (``refused_by``) or, asked under another Host, redirected it to the same path with the
        site's port added (no content), where it is refused in turn."""
        if self.container == ADMIN_CONTAINER:
            return True
        if not self.served_by or self.probe.admin_only:
            return False
        same_path = bool(self.location) and urlsplit(self.location).path == urlsplit(self.probe.path).path
        return self.refused_by(self.container) or (self.status in (301, 302) and same_path)


def send_all(probes: list[Probe], via: str, authority: str, workers: int = 6, timeout: float = 20
             ) -> list[Reply]:
    """Send every probe to ``via`` exactly as written (http.client: no path normalisation), in parallel."""
    target = urlsplit(via)
    local = threading.local()

    def send(probe: Probe) -> Reply:
        for attempt in (1, 2):  # a kept-alive connection the server closed is retried once, fresh
            conn = getattr(local, "conn", None) or http.client.HTTPConnection(target.hostname, target.port,
                                                                             timeout=timeout)
            local.conn = conn
            try:
                conn.request(probe.method, probe.path, headers={"Host": authority, "Content-Length": "0"})
                response = conn.getresponse()
                response.read()
                return Reply(probe, response.status, response.getheader("X-Served-By", ""),
                             response.getheader("Location", ""))
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                local.conn = None
                if attempt == 2:
                    return Reply(probe, 0, f"no answer: {type(exc).__name__}")
        raise AssertionError("unreachable")

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(send, probes))
