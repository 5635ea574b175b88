"""Who may answer an admin-surface request, and how (``Reply.acceptable``)."""

from wpcluster.checks.admin_surface import Probe, Reply

SITE = "http://wordpress.local:8888"
UPPER = Probe("GET", "/WP-LOGIN.PHP", "variant: letter case of /wp-login.php", admin_only=False)
LOGIN = Probe("GET", "/wp-login.php", "entry point")


def test_a_public_refusal_or_redirect_of_a_letter_case_variant_is_acceptable():
    assert Reply(UPPER, 404, "wordpress-2@core-01").acceptable
    # Asked under another Host, Apache sends the same path back with the site's port: no content served.
    assert Reply(UPPER, 301, "wordpress-2@core-01", "http://unknown.invalid:8888/WP-LOGIN.PHP").acceptable
    assert Reply(UPPER, 301, "wordpress-2@core-01", f"{SITE}/WP-LOGIN.PHP").acceptable


def test_anything_a_public_container_serves_of_the_admin_surface_is_not():
    assert not Reply(UPPER, 200, "wordpress-2@core-01").acceptable
    assert not Reply(UPPER, 301, "wordpress-2@core-01", "http://evil.example/elsewhere").acceptable
    assert not Reply(LOGIN, 301, "wordpress-2@core-01", f"{SITE}/wp-login.php").acceptable
    assert not Reply(LOGIN, 403, "wordpress-2@core-01").acceptable
    assert Reply(LOGIN, 200, "wordpress-admin@core-02").acceptable
