"""S3 cache behaviour: static assets and uploads live in the bucket and pages link the bucket copies."""

from __future__ import annotations

import re
import secrets as random

import pytest

from tests.cache.conftest import anonymous_get, asset_urls, expected_type, jpeg, upload
from wpcluster.checks.state import site_containers
from wpcluster.core.errors import WpclusterError
from wpcluster.core.results import append_figures
from wpcluster.core.waits import eventually
from wpcluster.fixtures.options import RUN_KEY


def test_bucket_holds_the_theme_and_wp_includes_assets(request, bucket, deployment):
    client, name = bucket
    # The figure the admin container logged for its push on this deployment (a benchmark, not a bound).
    journal = deployment.unit_journal("wordpress-admin.service", lines=2000)
    push = re.search(r"S3 cache: static files in \S+: (\d+) pushed \(([\d.]+) MB\).* in ([\d.]+) s", journal)
    if push:
        append_figures(request.config.stash[RUN_KEY], "cache", {
            "first_push_files": int(push.group(1)), "first_push_megabytes": float(push.group(2)),
            "first_push_seconds": float(push.group(3))})
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=name)
            for o in page.get("Contents", [])]
    includes = [k for k in keys if k.startswith("wp-includes/")]
    theme = [k for k in keys if k.startswith("wp-content/themes/")]
    assert len(includes) > 100, f"only {len(includes)} wp-includes objects in {name}"
    assert theme, f"no theme object in {name}; keys start {keys[:5]}"


def test_home_page_assets_point_at_the_cache_home_and_answer(site, public_url):
    urls = asset_urls(site.get("/").response.text)
    assert urls, "the home page names no wp-includes or theme asset"
    local = sorted(u for u in urls if not u.startswith(public_url))
    assert not local, f"assets not rewritten to {public_url}: {local}"
    for url in sorted(urls):
        reply = anonymous_get(url)
        assert reply.status_code == 200, f"{url} answered {reply.status_code}"
        assert reply.headers.get("Content-Type", "").split(";")[0] == expected_type(url), (
            f"{url} has Content-Type {reply.headers.get('Content-Type')}, expected {expected_type(url)}"
        )
        assert "max-age=" in reply.headers.get("Cache-Control", ""), f"{url} has no long Cache-Control"


def test_every_public_container_serves_the_same_asset_urls(cluster, site):
    pages = {sid: asset_urls(site.get("/", via=url).response.text)
             for (backend, sid), url in site_containers(cluster).items() if backend == "wordpress"}
    assert len(pages) == cluster.shape.site.wordpress_instances
    first = next(iter(pages.values()))
    differ = {sid: sorted(urls ^ first) for sid, urls in pages.items() if urls != first}
    assert first and not differ, f"containers disagree on asset URLs: {differ}"


def test_the_bucket_does_not_list_its_contents_to_the_public(public_url):
    for url in (public_url, f"{public_url}/", f"{public_url}?list-type=2"):
        reply = anonymous_get(url)
        assert reply.status_code == 403, f"anonymous listing {url} answered {reply.status_code}"


@pytest.mark.changes
def test_an_upload_lands_in_the_bucket_in_every_size_and_posts_link_it(cluster, site, admin, bucket, public_url):
    client, name = bucket
    data = jpeg()
    answer = upload(site, admin, f"cache-{random.token_hex(3)}.jpg", data)
    assert answer.status == 201, f"upload answered {answer.status}: {error_message(answer)}"
    media = answer.response.json()
    # The API names the site's URLs; the bucket holds each under the same path (its key).
    site_urls = {media["source_url"]} | {s["source_url"] for s in media["media_details"]["sizes"].values()}
    assert len(site_urls) >= 4, f"WordPress made only {len(site_urls)} sizes: {site_urls}"
    keys = sorted(u[len(cluster.shape.site_url) + 1:] for u in site_urls)
    missing = [k for k in keys if not client.list_objects_v2(Bucket=name, Prefix=k).get("KeyCount")]
    assert not missing, f"sizes of the upload missing from the bucket: {missing}"
    urls = [f"{public_url}/{k}" for k in keys]
    original = f"{public_url}/{media['source_url'][len(cluster.shape.site_url) + 1:]}"
    assert anonymous_get(original).content == data, "the bucket's original differs from the upload"

    session, nonce = admin
    image_id, src = media["id"], media["source_url"]
    content = (f'<!-- wp:image {{"id":{image_id}}} --><figure class="wp-block-image">'
               f'<img src="{src}" class="wp-image-{image_id}"/></figure><!-- /wp:image -->')
    post = site.request("POST", "/wp-json/wp/v2/posts", session=session, headers={"X-WP-Nonce": nonce},
                        json={"title": "embeds an upload", "status": "publish", "content": content}).response.json()
    for (backend, sid), url in site_containers(cluster).items():
        if backend != "wordpress":
            continue
        html = site.get(f"/?p={post['id']}", via=url, follow=True).response.text
        assert original in html, f"{sid} does not link the bucket copy {original} of the upload"
        assert media["source_url"] not in html, f"{sid} still links the local copy of the upload"

    deleted = site.request("DELETE", f"/wp-json/wp/v2/media/{media['id']}?force=true", session=session,
                           headers={"X-WP-Nonce": nonce})
    assert deleted.status == 200, f"delete answered {deleted.status}: {deleted.response.text[:200]}"
    left = [u for u in urls if anonymous_get(u).status_code != 404]
    assert not left, f"objects left in the bucket after deleting the attachment: {left}"


def error_message(answer) -> str:
    """The REST API's error message (the S3 plugin's, for an upload it could not store), else the body's start."""
    try:
        return str(answer.response.json().get("message", ""))[:600] or answer.response.text[:300]
    except ValueError:
        return answer.response.text[:300]


def where_the_plugin_stores(deployment) -> str:
    """How the S3 plugin names where it stores (its client's where()): every upload error must say it."""
    return f"bucket '{deployment.services.bucket}' at {deployment.services.s3_endpoint.rstrip('/')}"


@pytest.mark.destructive
def test_with_the_store_down_pages_render_and_uploads_fail_cleanly(cluster, site, admin, bucket, public_url,
                                                                   deployment):
    try:
        store = cluster.service_host("s3")
    except WpclusterError as exc:
        pytest.skip(f"stopping the store is not this cluster's to do: {exc.problem}")
    client, name = bucket
    filename = f"down-{random.token_hex(3)}.jpg"
    store.stop()
    try:
        for _ in range(5):
            assert site.get("/").status == 200, "a page failed with the store down"
        failed = upload(site, admin, filename, jpeg())
        assert failed.status >= 400, f"an upload with the store down answered {failed.status}"
        message = failed.response.json().get("message", "")
        assert "cannot store" in message and where_the_plugin_stores(deployment) in message, (
            f"the upload's error does not say it could not store in {where_the_plugin_stores(deployment)}: "
            f"{message!r}")
    finally:
        store.start()
    eventually(lambda: client.head_bucket(Bucket=name) or True, 60, 1, what="the store back")
    stem = filename.removesuffix(".jpg")
    half = [o["Key"] for o in client.list_objects_v2(Bucket=name, Prefix="wp-content/uploads/").get("Contents", [])
            if stem in o["Key"]]
    assert not half, f"the failed upload left objects behind: {half}"
    again = upload(site, admin, f"back-{random.token_hex(3)}.jpg", jpeg())
    assert again.status == 201, f"uploads did not work again after the store came back: {again.status}"


@pytest.mark.destructive
@pytest.mark.slow
def test_wrong_credentials_pages_render_uploads_fail_and_no_secret_leaks(cluster, site, admin, bucket, secrets,
                                                                         public_url, deployment):
    start_store = getattr(cluster, "start_store", None)
    if start_store is None:
        pytest.skip(f"the {cluster.provider} cluster's S3 store is not the harness's to restart")
    client, name = bucket
    key, secret = secrets["WORDPRESS_CACHE_S3_KEY"], secrets["WORDPRESS_CACHE_S3_SECRET"]
    rotated = "rotated" + random.token_hex(12)
    image = cluster.service_host("s3").container.image.tags[0]
    start_store(image, key, rotated)  # the site still signs with the old secret
    seen = []
    probe = f"{public_url}/wp-includes/wlwmanifest.xml"
    try:
        eventually(lambda: anonymous_get(probe).status_code == 200, 60, 0.5, what="the store answering again")
        for _ in range(5):
            page = site.get("/")
            assert page.status == 200, "a page failed with the store refusing the site's credential"
            seen.append(page.response.text)
        failed = upload(site, admin, f"creds-{random.token_hex(3)}.jpg", jpeg())
        assert failed.status >= 400, f"an upload with a wrong credential answered {failed.status}"
        message = failed.response.json().get("message", "")
        assert where_the_plugin_stores(deployment) in message and (
            "SignatureDoesNotMatch" in message or "403" in message), (
            f"the upload's error does not name {where_the_plugin_stores(deployment)} and the store's refusal "
            f"(SignatureDoesNotMatch, 403): {message!r}")
        seen.append(failed.response.text)
    finally:
        start_store(image, key, secret)
    eventually(lambda: client.head_bucket(Bucket=name) or True, 60, 1, what="the store back with its credential")
    for node in cluster.nodes:
        names = node.exec("docker ps --format '{{.Names}}' --filter name=wordpress").stdout.split()
        for container in names:
            seen.append(node.exec(f"docker logs {container} 2>&1").stdout)
    leaked = [what for what, value in (("key", key), ("secret", secret), ("rotated secret", rotated))
              if any(value in text for text in seen)]
    assert not leaked, f"the S3 {', '.join(leaked)} appeared in a response or a container log"
