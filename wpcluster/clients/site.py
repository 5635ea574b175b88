"""HTTP to the site, through the top LB, one vulcand or one container, reporting who answered.

The site's name (wordpress.local:8888) need not resolve: every request goes to
the address chosen (``via``) with the site's Host header, as a browser with the
seed's /etc/hosts line would send it. Redirects that point at the site's own
URL are followed through the same ``via``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from PIL import Image

SERVED_BY = "X-Served-By"


@dataclass
class Answer:
    """One response and the container (``wordpress-3@core-02``) that served it."""

    response: requests.Response

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def served_by(self) -> str:
        return self.response.headers.get(SERVED_BY, "")

    @property
    def container(self) -> str:
        """The container's name without its node: ``wordpress-3``."""
        return self.served_by.split("@", 1)[0]


class SiteClient:
    """Requests to the site; ``via`` is a base URL such as ``http://127.0.0.1:8888``."""

    def __init__(self, site_url: str, default_via: str, timeout: float = 10) -> None:
        self.site_url = site_url.rstrip("/")
        self.authority = urlsplit(site_url).netloc
        self.default_via = default_via.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def request(self, method: str, path: str, via: str | None = None, follow: bool = False,
                session: requests.Session | None = None, **kwargs: object) -> Answer:
        base = (via or self.default_via).rstrip("/")
        session = session or self.session
        headers = {"Host": self.authority, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        timeout = kwargs.pop("timeout", None) or self.timeout
        # Cookies are the site's, whichever address we reach it through: send them all by hand
        # (the jar would file them under the address, not the site's name).
        if session.cookies:
            headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        reply = session.request(method, f"{base}{path}", headers=headers, timeout=timeout,
                                allow_redirects=False, **kwargs)
        hops = 0
        while follow and reply.is_redirect and hops < 5:
            target = urljoin(f"{self.site_url}{path}", reply.headers["Location"])
            if not target.startswith(self.site_url):
                break
            path, method, hops = target[len(self.site_url):] or "/", "GET", hops + 1
            if session.cookies:
                headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
            reply = session.get(f"{base}{path}", headers=headers, timeout=self.timeout, allow_redirects=False)
        return Answer(reply)

    def get(self, path: str, via: str | None = None, **kwargs: object) -> Answer:
        return self.request("GET", path, via=via, **kwargs)

    def login(self, user: str, password: str, via: str | None = None,
              timeout: float | None = None) -> requests.Session:
        """Log in through wp-login.php; return a session holding the auth cookies."""
        session = requests.Session()
        session.cookies.set("wordpress_test_cookie", "WP Cookie check")
        answer = self.request(
            "POST", "/wp-login.php", via=via, session=session, timeout=timeout,
            data={"log": user, "pwd": password, "wp-submit": "Log In", "testcookie": "1",
                  "redirect_to": f"{self.site_url}/wp-admin/"},
        )
        if not any(c.name.startswith("wordpress_logged_in") for c in session.cookies):
            raise AssertionError(f"login as {user} failed: {answer.status} served by {answer.served_by}: "
                                 f"{answer.response.text[:300]}")
        return session

    def rest_nonce(self, session: requests.Session, via: str | None = None) -> str:
        """A REST API nonce for a logged-in session (WordPress's admin-ajax `rest-nonce` action)."""
        answer = self.get("/wp-admin/admin-ajax.php?action=rest-nonce", via=via, session=session)
        nonce = answer.response.text.strip()
        if answer.status != 200 or not nonce.isalnum():
            raise AssertionError(f"no REST nonce: {answer.status} from {answer.served_by}: {nonce[:200]}")
        return nonce

    def create_post(self, session: requests.Session, nonce: str, title: str, via: str | None = None) -> int:
        """Publish a post through the REST API; return its id (raises unless WordPress acknowledged it)."""
        answer = self.request("POST", "/wp-json/wp/v2/posts", via=via, session=session,
                              headers={"X-WP-Nonce": nonce}, json={"title": title, "status": "publish"})
        if answer.status != 201:
            raise AssertionError(f"post not created: {answer.status} from {answer.served_by}: "
                                 f"{answer.response.text[:200]}")
        return int(answer.response.json()["id"])

    def upload_media(self, session: requests.Session, nonce: str, filename: str, data: bytes,
                     via: str | None = None, timeout: float | None = None) -> Answer:
        """Upload a JPEG to the media library through the REST API (wp-admin's own way); the answer as it is."""
        return self.request("POST", "/wp-json/wp/v2/media", via=via, session=session, timeout=timeout,
                            headers={"X-WP-Nonce": nonce, "Content-Disposition": f'attachment; filename="{filename}"',
                                     "Content-Type": "image/jpeg"}, data=data)


def sample_jpeg(width: int = 1400, height: int = 900) -> bytes:
    """A real photograph-sized JPEG, large enough for WordPress to make several sizes of it."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()
