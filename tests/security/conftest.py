"""One footy for the whole module: coach A with an analysed job, coach B with a prepared one, an
admin, live and revoked API tokens, and clients signed in through the real sign-in page."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from footy.extensions import db as _db
from footy.models import ApiToken, utcnow

from ..conftest import ApiClient, make_token, make_user, own_app, run_worker, upload

PASSWORD = "correct horse battery"
CSRF_RE = re.compile(r'(?:name="csrf_token"[^>]*value="([^"]+)"|name="csrf-token" content="([^"]+)")')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def sign_in(app, email: str, password: str = PASSWORD, address: str = "127.0.0.1"):
    """A browser-like client signed in through the real /login form; returns (client, csrf token)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_from(client.get("/login").get_data(as_text=True))
    res = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert res.status_code == 302, res.get_data(as_text=True)[:500]
    page = client.get("/jobs")
    return client, csrf_from(page.get_data(as_text=True))


@dataclass
class World:
    app: object
    job_a: str
    job_b: str
    tokens: dict = field(default_factory=dict)
    sessions: dict = field(default_factory=dict)


def _analysed_job(app, api, clip) -> str:
    res = upload(api, clip)
    assert res.status_code == 201, res.json
    job_id = res.json["data"]["job_id"]
    run_worker(app, ["previews"])
    job = api.get(f"/api/jobs/{job_id}").json["data"]
    frame = next(f for f in job["preview_frames"] if f["tracks"])
    track = frame["tracks"][0]
    api.post(f"/api/jobs/{job_id}/pick-player", json={"frame_key": frame["frame_key"], "track_id": track["track_id"]})
    api.post(f"/api/jobs/{job_id}/target", json={"frame_key": frame["frame_key"], "bbox": track["bbox"]})
    assert api.post(f"/api/jobs/{job_id}/enqueue", json={}).status_code == 202
    run_worker(app, ["analysis"])
    assert api.get(f"/api/jobs/{job_id}/status").json["data"]["state"] in ("COMPLETED", "PARTIAL")
    return job_id


@pytest.fixture(scope="module")
def world(tmp_path_factory, redis_server, clip):
    tmp = tmp_path_factory.mktemp("security")
    app = own_app(tmp, redis_server)
    with app.app_context():
        _db.create_all()
        a, b = make_user("a@example.com"), make_user("b@example.com")
        admin = make_user("admin@example.com", admin=True)
        tokens = {"A": make_token(a), "B": make_token(b), "admin": make_token(admin)}
        revoked = make_token(a, "old")
        row = _db.session.scalar(_db.select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(revoked)))
        row.revoked_at = utcnow()
        _db.session.commit()
        tokens["revoked"] = revoked
        tokens["bogus"] = "footy_" + "x" * 43
        job_a = _analysed_job(app, ApiClient(app.test_client(), tokens["A"]), clip)
        job_b = upload(ApiClient(app.test_client(), tokens["B"]), clip).json["data"]["job_id"]
        run_worker(app, ["previews"])
        _db.session.remove()
    # each request below pushes its own app context and database session, as in production
    w = World(app=app, job_a=job_a, job_b=job_b, tokens=tokens)
    for who, email in (("A", "a@example.com"), ("B", "b@example.com"), ("admin", "admin@example.com")):
        w.sessions[who] = sign_in(app, email)
    yield w
    with app.app_context():
        _db.engine.dispose()
