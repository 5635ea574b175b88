"""vulcand v0.9.2's route table, read from etcd and applied as vulcand applies it.

vulcand's API reads etcd, and requests show only what one proxy did with one path; to name the
frontend that takes a path, the harness reads every frontend under vulcand's prefix and routes
the path itself, the way vulcand v0.9.2 (github.com/vulcand/route v0.1.0) does:

* a route is a Go expression of matcher calls joined by ``&&`` (no ``||``, no ``!``), each
  argument a Go string literal (a backquoted raw string or a double-quoted one with escapes);
  the matchers are Path, PathRegexp, Host, HostRegexp, Method, MethodRegexp, Header and
  HeaderRegexp;
* routes are tried in reverse byte order of their text, and the first that matches wins: there
  is no priority, so ``PathRegexp(`^...`)`` is tried before ``PathRegexp(`/...`)``, and either
  before any ``Method(...)`` route;
* path matchers see the path as sent, before ``?``, never percent-decoded nor cleaned (no
  merging of slashes, no dot segments resolved); the query string takes no part;
* the regexp matchers search (``PathRegexp(`/wp-admin`)`` takes ``/x/wp-admin/y``): anchor them;
* Host is compared lower-cased without its port; Method is exact and case-sensitive;
* a frontend whose route does not parse, or whose backend does not exist, is not added (vulcand
  logs it and keeps routing the others); a backend with no servers answers 503.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import etcd as python_etcd


class RouteError(ValueError):
    """A route vulcand would refuse: says what and where."""


class Request(NamedTuple):
    method: str
    path: str  # as sent, before any query
    host: str  # as sent: matchers drop the port
    headers: dict[str, str]  # lower-cased names


Matcher = Callable[[Request], bool]

_STRING = re.compile(r'`[^`]*`|"(?:[^"\\]|\\.)*"')
_CALL = re.compile(r"\s*([A-Za-z]+)\s*\(")


def _go_string(literal: str) -> str:
    if literal.startswith("`"):
        return literal[1:-1]
    try:
        return ast.literal_eval(literal)  # Go's double-quoted escapes are, for routes, Python's
    except (ValueError, SyntaxError) as exc:
        raise RouteError(f"bad string literal {literal}: {exc}") from None


def _regexp(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern.replace(r"\z", r"\Z"))
    except re.error as exc:
        raise RouteError(f"bad regular expression {pattern!r}: {exc}") from None


def _path_trie(pattern: str, segment: str = r"[^/]+") -> re.Pattern[str]:
    """A Path("/a/<b>/<int:c>/<path:d>") pattern as a full-match regexp (Host's ``<x>`` takes one
    ``segment`` of a name: ``[^.]+``)."""
    if not pattern:
        raise RouteError("empty URL expression")
    out = []
    for piece in re.split(r"(<[^>]*>)", pattern):
        if piece.startswith("<"):
            kind = piece[1:-1].split(":", 1)[0] if ":" in piece else "string"
            out.append({"int": r"\d+", "path": r".*"}.get(kind, segment))
        else:
            out.append(re.escape(piece))
    return re.compile("".join(out) + r"\Z")


def _host(value: str) -> str:
    return value.lower().split(":")[0]


def _matcher(name: str, args: list[str]) -> Matcher:
    arity = {"Header": 2, "HeaderRegexp": 2}.get(name, 1)
    if name not in {"Path", "PathRegexp", "Host", "HostRegexp", "Method", "MethodRegexp", "Header", "HeaderRegexp"}:
        raise RouteError(f"unsupported function: {name}")
    if len(args) != arity:
        raise RouteError(f"{name} takes {arity} argument{'s' if arity > 1 else ''}, got {len(args)}")
    if name == "Path":
        trie = _path_trie(args[0])
        return lambda r: trie.match(r.path) is not None
    if name == "PathRegexp":
        rx = _regexp(args[0])
        return lambda r: rx.search(r.path) is not None
    if name == "Host":
        host = _path_trie(args[0].lower(), segment=r"[^.]+")
        return lambda r: host.match(_host(r.host)) is not None
    if name == "HostRegexp":
        rx = _regexp(args[0].lower())
        return lambda r: rx.search(_host(r.host)) is not None
    if name == "Method":
        return lambda r: r.method == args[0]
    if name == "MethodRegexp":
        rx = _regexp(args[0])
        return lambda r: rx.search(r.method) is not None
    header = args[0].lower()
    if name == "Header":
        return lambda r: r.headers.get(header) == args[1]
    rx = _regexp(args[1])
    return lambda r: rx.search(r.headers.get(header, "")) is not None


def parse_route(route: str) -> Matcher:
    """Compile a vulcand route expression; raise RouteError saying why vulcand would refuse it."""
    text = route.strip()
    if not text:
        raise RouteError("empty route")
    matchers: list[Matcher] = []
    for term in _split_and(text):
        term = term.strip()
        while term.startswith("(") and term.endswith(")"):
            term = term[1:-1].strip()
        if term.startswith("!"):
            raise RouteError("! is not supported")
        call = _CALL.match(term)
        if not call or not term.endswith(")"):
            raise RouteError(f"not a matcher call: {term!r}")
        inner = term[call.end():-1].strip()
        args, rest = [], inner
        while rest:
            literal = _STRING.match(rest)
            if not literal:
                raise RouteError(f"{call.group(1)}: arguments must be string literals, got {rest!r}")
            args.append(_go_string(literal.group(0)))
            rest = rest[literal.end():].strip()
            if rest.startswith(","):
                rest = rest[1:].strip()
            elif rest:
                raise RouteError(f"{call.group(1)}: unexpected {rest!r}")
        matchers.append(_matcher(call.group(1), args))
    return lambda r: all(m(r) for m in matchers)


def _split_and(text: str) -> list[str]:
    """Split on && outside string literals."""
    terms, start, i = [], 0, 0
    while i < len(text):
        literal = _STRING.match(text, i) if text[i] in '`"' else None
        if literal:
            i = literal.end()
        elif text.startswith("||", i):
            raise RouteError("|| is not supported")
        elif text.startswith("&&", i):
            terms.append(text[start:i])
            i += 2
            start = i
        else:
            i += 1
    terms.append(text[start:])
    if any(not t.strip() for t in terms):
        raise RouteError("&& needs a matcher on both sides")
    return terms


@dataclass(frozen=True)
class Frontend:
    id: str
    backend: str
    route: str
    matcher: Matcher = field(compare=False, repr=False)


@dataclass
class RouteTable:
    """The frontends vulcand routes by, in the order it tries them, and what it would refuse."""

    frontends: list[Frontend]
    servers: dict[str, list[str]]  # backend -> server ids
    problems: list[str] = field(default_factory=list)

    def route(self, method: str, path: str, host: str = "", headers: dict[str, str] | None = None
              ) -> Frontend | None:
        """The frontend vulcand would hand this request to, or None (vulcand answers 404)."""
        raw = path.split("?", 1)[0] or "/"
        request = Request(method, raw, host, {k.lower(): v for k, v in (headers or {}).items()})
        return next((f for f in self.frontends if f.matcher(request)), None)

    def describe(self) -> str:
        return "; ".join(f"{f.id} -> {f.backend}: {f.route}" for f in self.frontends) or "no frontends"

    def hosts_to_try(self, site_host: str) -> list[str]:
        """Every Host that can route differently: the site's, its ``www.`` form, one no frontend names, and
        one that each Host or HostRegexp matcher of a frontend takes (the top LB passes any Host on, so a
        frontend scoped to another Host is a route a visitor can choose)."""
        hosts = [site_host, f"www.{site_host}", "unknown.invalid"]
        for frontend in self.frontends:
            for name, literal in _HOST_MATCHERS.findall(frontend.route):
                pattern = _go_string(literal).lower()
                sample = (re.sub(r"<[^>]*>", "x", pattern) if name == "Host" else _regexp_sample(pattern))
                if sample is not None and sample not in hosts:
                    hosts.append(sample)
        return hosts


_HOST_MATCHERS = re.compile(r"\b(Host|HostRegexp)\s*\(\s*(`[^`]*`|\"(?:[^\"\\]|\\.)*\")\s*\)")


def _regexp_sample(pattern: str) -> str | None:
    """A host that the HostRegexp ``pattern`` takes, for the simple patterns routes use (anchors, escaped
    dots, ``.*``, ``.+``, ``[^.]+``, ``\\w+``, alternatives in a group), or None."""
    sample = pattern.strip("^$").replace(r"\z", "").replace(r"\Z", "")
    sample = re.sub(r"\((?:\?:)?([^|()]*)(?:\|[^()]*)?\)", r"\1", sample)  # a group: its first alternative
    for wide in (r".*", r".+", r"[^.]+", r"[^.]*", r"\w+", r"\w*", r"[a-z0-9-]+", r"[a-z0-9]+"):
        sample = sample.replace(wide, "x")
    sample = sample.replace(r"\.", ".").replace("?", "")
    try:
        return sample if re.search(pattern, sample) else None
    except re.error:
        return None


def build_table(frontend_values: dict[str, str], backends: dict[str, list[str]]) -> RouteTable:
    """A route table from frontend id -> raw etcd value and backend id -> its server ids."""
    problems: list[str] = []
    by_route: dict[str, Frontend] = {}
    for fid, value in sorted(frontend_values.items()):
        try:
            spec = json.loads(value)
        except json.JSONDecodeError:
            problems.append(f"frontend {fid}: its value is not JSON ({value[:60]!r}); vulcand ignores it")
            continue
        if not isinstance(spec, dict) or not spec.get("Route") or not spec.get("BackendId"):
            problems.append(f"frontend {fid}: no Route or BackendId in {value[:100]!r}; vulcand ignores it")
            continue
        route, backend = str(spec["Route"]), str(spec["BackendId"])
        try:
            matcher = parse_route(route)
        except RouteError as exc:
            problems.append(f"frontend {fid}: vulcand cannot parse its route {route!r} ({exc}); it ignores it")
            continue
        if backend not in backends:
            problems.append(f"frontend {fid}: its backend {backend!r} does not exist; vulcand ignores it")
            continue
        if not backends[backend]:
            problems.append(f"frontend {fid}: its backend {backend!r} has no servers (vulcand answers 503)")
        if route in by_route:
            problems.append(f"frontends {by_route[route].id} and {fid} have the same route {route!r}: "
                            "vulcand keeps only one of them")
        by_route[route] = Frontend(fid, backend, route, matcher)
    ordered = [by_route[r] for r in sorted(by_route, reverse=True)]
    return RouteTable(ordered, backends, problems)


def read_table(client: python_etcd.Client, prefix: str) -> RouteTable:
    """Every frontend and backend under vulcand's prefix in etcd, as one route table."""
    def leaves(folder: str) -> list[python_etcd.EtcdResult]:
        try:
            return list(client.read(f"/{prefix}/{folder}", recursive=True).leaves)
        except python_etcd.EtcdKeyNotFound:
            return []

    frontends: dict[str, str] = {}
    for leaf in leaves("frontends"):
        parts = leaf.key.strip("/").split("/")
        if len(parts) == 4 and parts[3] == "frontend":
            frontends[parts[2]] = leaf.value or ""
    declared: set[str] = set()
    servers: dict[str, list[str]] = {}
    for leaf in leaves("backends"):
        parts = leaf.key.strip("/").split("/")
        if len(parts) == 4 and parts[3] == "backend":
            declared.add(parts[2])
        elif len(parts) == 5 and parts[3] == "servers":
            servers.setdefault(parts[2], []).append(parts[4])
    # Servers under a backend folder without its backend key belong to no backend vulcand knows.
    return build_table(frontends, {b: sorted(servers.get(b, [])) for b in declared})
