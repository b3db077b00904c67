"""The pages without JavaScript: the Flask test client signs in through the login form and posts
the same forms a browser with scripts turned off would post."""
from __future__ import annotations

import re

import pytest

from footy.extensions import db

from ..conftest import make_user

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|<meta name="csrf-token" content="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1) or match.group(2)


class Browserless:
    """A signed-in coach's cookie session; form posts carry the page's CSRF token."""

    def __init__(self, client):
        self.client = client
        self.token = None

    @staticmethod
    def _fresh():
        # the test client reuses the test's app context, so its database session too: end its read
        # transaction so the page sees what the worker wrote, as a real request would
        db.session.rollback()

    def get(self, url, **kw):
        self._fresh()
        res = self.client.get(url, **kw)
        if res.mimetype == "text/html":
            self.token = csrf_from(res.get_data(as_text=True)) if "csrf" in res.get_data(as_text=True) else self.token
        return res

    def post(self, url, data=None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        self._fresh()
        return self.client.post(url, data=data, **kw)


def sign_in(client, email: str, password: str = PASSWORD) -> Browserless:
    b = Browserless(client)
    b.get("/login")
    res = b.post("/login", {"email": email, "password": password})
    assert res.status_code == 302, res.get_data(as_text=True)[:500]
    b.get("/jobs")
    return b


@pytest.fixture
def coach_user(app):
    return make_user("coach@example.com", password=PASSWORD)


@pytest.fixture
def web(app, coach_user) -> Browserless:
    return sign_in(app.test_client(), "coach@example.com")
