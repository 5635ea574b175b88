"""vulcand v0.9.2's route table as the harness reads it: grammar, order, what a path matcher sees."""

from __future__ import annotations

import json

import pytest

from wpcluster.checks.admin_surface import corpus, static_leaks, variants
from wpcluster.checks.routes import Request, RouteError, build_table, parse_route

ADMIN = "PathRegexp(`^/(wp-admin(/.*)?|wp-login[.]php)$`)"


def table(routes: dict[str, tuple[str, str]], servers: dict[str, list[str]] | None = None):
    values = {fid: json.dumps({"Type": "http", "BackendId": backend, "Route": route})
              for fid, (backend, route) in routes.items()}
    return build_table(values, servers or {"wordpress": ["a"], "wordpressadmin": ["b"]})


def test_routes_are_tried_in_reverse_byte_order_of_their_text():
    t = table({"public": ("wordpress", "PathRegexp(`/.*`)"), "admin": ("wordpressadmin", ADMIN),
               "exact": ("wordpress", 'Path("/wp-login.php")')})
    assert [f.id for f in t.frontends] == ["admin", "public", "exact"]
    # Path("/wp-login.php") sorts after the catch-all PathRegexp: it never wins.
    assert t.route("GET", "/wp-login.php").id == "admin"
    assert t.route("GET", "/hello/").id == "public"


def test_a_method_route_sorts_after_every_path_regexp_route():
    t = table({"public": ("wordpress", "PathRegexp(`/.*`)"),
               "writes": ("wordpressadmin", 'Method("POST") && PathRegexp(`/.*`)')})
    assert t.route("POST", "/").id == "public"


def test_path_matchers_see_the_raw_path_without_the_query():
    t = table({"admin": ("wordpressadmin", ADMIN), "public": ("wordpress", "PathRegexp(`/.*`)")})
    assert t.route("GET", "/wp-login.php?action=lostpassword").id == "admin"
    for raw in ("//wp-admin/", "/wp-%61dmin/", "/./wp-admin/"):  # not decoded, not cleaned
        assert t.route("GET", raw).id == "public", raw


def test_regexps_search_and_paths_match_whole():
    assert parse_route("PathRegexp(`/wp-admin`)")(Request("GET", "/x/wp-admin/y", "h", {}))
    assert not parse_route('Path("/foo")')(Request("GET", "/foo/", "h", {}))
    assert parse_route('Path("/a/<id>")')(Request("GET", "/a/7", "h", {}))
    assert parse_route('Host("Example.com") && Method("GET")')(Request("GET", "/", "example.com:8888", {}))
    assert parse_route('Host("<sub>.example.com")')(Request("GET", "/", "www.example.com", {}))
    assert not parse_route('Host("<sub>.example.com")')(Request("GET", "/", "a.b.example.com", {}))
    # || inside a string literal is part of a regexp, not an operator
    assert parse_route("PathRegexp(`^/(a||b)$`)")(Request("GET", "/b", "h", {}))


@pytest.mark.parametrize("route, says", [
    ("PathRegexp(`/a`) || Path(`/b`)", "|| is not supported"),
    ("Foo(`/a`)", "unsupported function: Foo"),
    ("PathRegexp(`(`)", "bad regular expression"),
    ("PathRegexp(`/a`", "not a matcher call"),
    ("Path(``)", "empty URL expression"),
    ("PathRegexp(/a)", "string literals"),
    ("Header(`X`)", "takes 2 arguments"),
])
def test_routes_vulcand_refuses_are_named(route, says):
    with pytest.raises(RouteError, match=says):
        parse_route(route)


def test_bad_frontends_are_named_and_left_out():
    values = {"json": "{nope", "route": json.dumps({"BackendId": "wordpress", "Route": "Foo("}),
              "ghost": json.dumps({"BackendId": "nowhere", "Route": "PathRegexp(`^/g$`)"}),
              "empty": json.dumps({"BackendId": "idle", "Route": "PathRegexp(`^/e$`)"}),
              "public": json.dumps({"BackendId": "wordpress", "Route": "PathRegexp(`/.*`)"})}
    t = build_table(values, {"wordpress": ["a"], "idle": []})
    assert [f.id for f in t.frontends] == ["empty", "public"]
    text = "\n".join(t.problems)
    for named in ("frontend json: its value is not JSON", "frontend route: vulcand cannot parse",
                  "frontend ghost: its backend 'nowhere' does not exist", "frontend empty: its backend 'idle' has no"):
        assert named in text, text


def test_variants_of_an_admin_path():
    found = {p.why.split(" of ")[0]: p for p in variants("/wp-admin/")}
    assert found["variant: repeated slash"].path == "//wp-admin/"
    assert found["variant: dot-dot segment"].path == "/wp-includes/../wp-admin/"
    assert found["variant: percent-encoded letter (lower-case hex)"].path == "/wp-%61dmin/"
    assert found["variant: percent-encoded letter (upper-case hex)"].path == "/wp-ad%6Din/"
    assert found["variant: trailing slash"].path == "/wp-admin"
    assert found["variant: letter case"].path == "/WP-ADMIN/" and not found["variant: letter case"].admin_only


def test_the_2015_admin_route_leaks_the_variants_and_every_write():
    probes = corpus(["wp-admin/index.php", "wp-admin/css/about.css"])
    t = table({"admin": ("wordpressadmin", ADMIN), "public": ("wordpress", "PathRegexp(`/.*`)")})
    leaked = static_leaks(t, probes, "wordpress.local")
    paths = next(iter(leaked.values()))
    assert "GET //wp-admin/" in paths and "POST /wp-json/wp/v2/posts" in paths and "GET /xmlrpc.php" in paths
    assert "GET /wp-admin/index.php" not in paths and "GET /WP-ADMIN/" not in paths


def test_every_host_a_frontend_is_scoped_to_is_tried():
    t = table({"admin": ("wordpressadmin", ADMIN), "public": ("wordpress", "PathRegexp(`/.*`)"),
               "other": ("wordpress", "PathRegexp(`^/wp-login`) && Host(`shop.<tenant>.example`)"),
               "rx": ("wordpress", "HostRegexp(`^(api|cdn)\\.example\\.com$`) && PathRegexp(`/`)")})
    hosts = t.hosts_to_try("wordpress.local")
    assert hosts[:3] == ["wordpress.local", "www.wordpress.local", "unknown.invalid"]
    assert "shop.x.example" in hosts and "api.example.com" in hosts


def test_a_frontend_scoped_to_another_host_that_takes_the_login_page_is_named():
    from tests.unit.sidekick_modules import sidekick
    from wpcluster.checks.state import check_admin_routes

    probes = corpus(["wp-admin/index.php"])
    deployed = {fid: (spec["BackendId"], spec["Route"]) for fid, spec in sidekick.FRONTENDS.items()}
    scoped = ("wordpress", "PathRegexp(`^/wp-login[.]php`) && Host(`other.example`)")
    check_admin_routes(table(deployed), probes, "wordpress.local")  # the deployment's routes: no leak
    # For the site's Host the scoped frontend never matches: one Host alone sees nothing wrong.
    assert static_leaks(table({**deployed, "scoped": scoped}), probes, "wordpress.local") == {}
    with pytest.raises(AssertionError, match=r"frontend scoped \(backend wordpress.*with Host other.example: "
                                             r"GET /wp-login.php"):
        check_admin_routes(table({**deployed, "scoped": scoped}), probes, "wordpress.local")
