"""A second deploy on the same database installs nothing again and keeps the site as it was."""

from __future__ import annotations

import pytest


def site_state(site):
    root = site.get("/wp-json/").response.json()
    posts = site.get("/wp-json/wp/v2/posts?per_page=100").response.json()
    return {"name": root["name"], "home": root["home"], "posts": sorted((p["id"], p["slug"]) for p in posts)}


@pytest.mark.slow
@pytest.mark.changes
@pytest.mark.redeploys
def test_second_deploy_is_idempotent(cluster, deployment, site, secrets):
    before = site_state(site)
    assert before["home"] == cluster.shape.site_url, f"the site's home is {before['home']}"
    deployment.deploy()
    assert site_state(site) == before, "the second deploy changed the site"
    journal = deployment.unit_journal("wordpress-admin.service", lines=200)
    assert "already installed" in journal, f"the admin container did not find the site installed:\n{journal[-1500:]}"
    session = site.login(cluster.shape.site.admin_user, secrets["WORDPRESS_ADMIN_PASSWORD"])
    assert site.get("/wp-admin/", session=session).status == 200
