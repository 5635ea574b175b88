"""The S3 cache suite: assets and uploads in the bucket, served from the cache home."""

from __future__ import annotations

import mimetypes
import re

import pytest
import requests

from wpcluster.clients.s3 import s3_client
from wpcluster.clients.site import sample_jpeg

ASSET_PATH = re.compile(r"/(wp-includes|wp-content/themes)/")


def asset_urls(html: str) -> set[str]:
    """Every src/href in a page that names a wp-includes or theme file (query strings dropped)."""
    found = set()
    for url in re.findall(r'(?:src|href)=["\']([^"\']+)["\']', html):
        url = url.replace("&#038;", "&").split("?", 1)[0]
        if ASSET_PATH.search(url):
            found.add(url)
    return found


def expected_type(url: str) -> str:
    guessed = mimetypes.guess_type(url.split("?", 1)[0])[0] or ""
    return {"application/javascript": "text/javascript"}.get(guessed, guessed)


@pytest.fixture(scope="session")
def bucket(deployment, secrets):
    """The harness's own S3 client on the site's bucket, and the bucket's name."""
    return s3_client(deployment.services, secrets), deployment.services.bucket


@pytest.fixture(scope="session")
def public_url(deployment) -> str:
    return deployment.services.public_url


@pytest.fixture
def admin(cluster, site, secrets):
    """A logged-in admin session and its REST nonce."""
    session = site.login(cluster.shape.site.admin_user, secrets["WORDPRESS_ADMIN_PASSWORD"])
    return session, site.rest_nonce(session)


def jpeg() -> bytes:
    return sample_jpeg()


def upload(site, admin, name: str, data: bytes):
    session, nonce = admin
    return site.upload_media(session, nonce, name, data)


def anonymous_get(url: str) -> requests.Response:
    return requests.get(url, timeout=10)
