"""Sign-in and sign-out, the throttle, cookies, tokens and the account commands, uploads."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from footy import create_app
from footy.extensions import db as _db
from footy.models import ApiToken, Job, User

from ..conftest import ApiClient, make_token, make_user, own_app, upload
from .conftest import PASSWORD, csrf_from, sign_in


@pytest.fixture
def fresh(tmp_path, redis_server):
    """A footy of this test's own (its own throttle counters, its own database)."""
    app = own_app(tmp_path, redis_server, MAX_UPLOAD_MB=1)
    with app.app_context():
        _db.create_all()
        make_user("a@example.com")
        _db.session.remove()
    yield app
    with app.app_context():
        _db.engine.dispose()


def _try(app, email, password, address="10.0.0.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def test_sign_in_sign_out_and_the_session_cookie(fresh):
    client, csrf = sign_in(fresh, "a@example.com")
    assert client.get("/jobs").status_code == 200
    assert client.get("/api/jobs").status_code == 200  # the pages' JSON calls ride on the session
    assert client.get("/logout").status_code == 405  # sign-out is a POST with the CSRF token
    assert client.post("/logout", data={}).status_code == 400
    res = client.post("/logout", data={"csrf_token": csrf})
    assert res.status_code == 302 and res.location.startswith("/login")
    assert client.get("/jobs").status_code == 302
    assert client.get("/api/jobs").status_code == 401


def test_passwords_are_hashed_and_a_wrong_one_is_refused(fresh):
    with fresh.app_context():
        user = _db.session.scalar(_db.select(User))
        assert PASSWORD not in user.password_hash and user.password_hash.startswith(("scrypt:", "pbkdf2:"))
    assert _try(fresh, "a@example.com", "wrong password").status_code == 401
    assert _try(fresh, "nobody@example.com", "wrong password").status_code == 401  # same answer
    assert _try(fresh, "A@Example.com ", PASSWORD).status_code == 302


def test_no_open_redirect_after_sign_in(fresh):
    client = fresh.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        res = client.post(f"/login?next={target}", data={"email": "a@example.com", "password": PASSWORD,
                                                         "csrf_token": token})
        assert res.status_code == 302 and res.location == "/jobs", res.location
        client.post("/logout", data={"csrf_token": csrf_from(client.get("/jobs").get_data(as_text=True))})
        token = csrf_from(client.get("/login").get_data(as_text=True))


def test_sign_in_without_the_csrf_token_is_refused(fresh):
    client = fresh.test_client()
    client.get("/login")
    res = client.post("/login", data={"email": "a@example.com", "password": PASSWORD})
    assert res.status_code == 400 and "/jobs" not in (res.location or "")


def test_failed_sign_ins_are_slowed_per_account(fresh):
    for i in range(5):
        assert _try(fresh, "a@example.com", f"guess {i}", address=f"10.1.0.{i}").status_code == 401
    res = _try(fresh, "a@example.com", PASSWORD, address="10.1.1.1")  # even the right password waits
    assert res.status_code == 429 and "Too many failed sign-ins" in res.get_data(as_text=True)
    with fresh.app_context():
        make_user("b@example.com")
    assert _try(fresh, "b@example.com", PASSWORD, address="10.1.1.1").status_code == 302  # others unaffected


def test_failed_sign_ins_are_slowed_per_address(fresh):
    for i in range(20):
        assert _try(fresh, f"x{i}@example.com", "guess", address="10.2.0.1").status_code == 401
    assert _try(fresh, "a@example.com", PASSWORD, address="10.2.0.1").status_code == 429
    assert _try(fresh, "a@example.com", PASSWORD, address="10.2.0.2").status_code == 302


def test_session_cookie_flags(fresh):
    client = fresh.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    res = client.post("/login", data={"email": "a@example.com", "password": PASSWORD, "csrf_token": token,
                                      "remember": "y"})
    cookies = res.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session and "SameSite=Lax" in session and "Secure" not in session
    remember = next(c for c in cookies if c.startswith("remember_token="))
    assert "HttpOnly" in remember and "SameSite=Lax" in remember


def test_cookies_are_secure_in_production(tmp_path, monkeypatch, redis_server):
    monkeypatch.setenv("FOOTY_ENV", "production")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "SECRET_KEY": "s", "REDIS_URL": redis_server,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}",
                      "FOOTY_MEDIA_DIR": str(tmp_path / "m"), "FOOTY_QUEUE_PREFIX": f"p-{uuid.uuid4().hex[:6]}"})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    with app.app_context():
        _db.create_all()
        make_user("a@example.com")
    client = app.test_client()
    res = client.get("/login", base_url="https://footy.example")
    assert "Secure" in res.headers["Set-Cookie"] and "HttpOnly" in res.headers["Set-Cookie"]
    assert res.headers["Strict-Transport-Security"].startswith("max-age=")
    with app.app_context():
        _db.engine.dispose()


def test_security_headers_on_pages_errors_static_and_media(fresh):
    client = fresh.test_client()
    for url in ("/login", "/nope", "/api/nope", "/static/footy.css", "/api/jobs"):
        res = client.get(url)
        csp = res.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert "script-src 'self'" in csp and "*" not in csp
        assert res.headers["X-Content-Type-Options"] == "nosniff"
        assert res.headers["Referrer-Policy"] == "same-origin"
        assert res.headers["X-Frame-Options"] == "DENY"


def test_pages_need_no_inline_script_or_style(fresh):
    """What makes the strict CSP livable: every script and style comes from /static."""
    client, _ = sign_in(fresh, "a@example.com")
    for url in ("/jobs",):
        html = client.get(url).get_data(as_text=True)
        # data blocks (type="application/json") are never executed, so the CSP has nothing to allow
        assert not re.search(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", html), url
        assert "<style" not in html and not re.search(r"\son[a-z]+=", html), url
    html = fresh.test_client().get("/login").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) and "<style" not in html


# ------------------------------------------------------------------ tokens and the account commands

def cli(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["footy", *args], input=input)


def test_account_commands_and_tokens(fresh):
    out = cli(fresh, "create-user", "Coach@Example.com", "--password-stdin", input="s3cret-pass\n")
    assert out.exit_code == 0 and "created coach coach@example.com" in out.output
    out = cli(fresh, "create-user", "boss@example.com", "--admin", input="adm1n-pass\nadm1n-pass\n")
    assert out.exit_code == 0 and "created admin" in out.output  # prompted twice, hidden
    assert cli(fresh, "create-user", "coach@example.com", "--password-stdin", input="another-pass\n").exit_code != 0
    assert cli(fresh, "create-user", "short@example.com", "--password-stdin", input="short\n").exit_code != 0
    users = cli(fresh, "users").output
    assert "coach@example.com" in users and "boss@example.com" in users and "admin" in users

    assert _try(fresh, "coach@example.com", "s3cret-pass").status_code == 302
    assert cli(fresh, "set-password", "coach@example.com", "--password-stdin", input="n3w-password\n").exit_code == 0
    assert _try(fresh, "coach@example.com", "s3cret-pass", address="10.9.0.1").status_code == 401
    assert _try(fresh, "coach@example.com", "n3w-password", address="10.9.0.2").status_code == 302

    out = cli(fresh, "create-token", "coach@example.com", "--name", "laptop")
    token = out.output.strip().splitlines()[-1]
    assert out.exit_code == 0 and token.startswith("footy_") and len(token) > 40
    with fresh.app_context():
        rows = _db.session.scalars(_db.select(ApiToken)).all()
        assert [r.token_hash for r in rows] == [ApiToken.hash(token)]  # only the hash is stored
        assert all(token not in (r.token_hash or "") for r in rows)
    client = fresh.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/jobs", headers=headers).status_code == 200
    assert client.post("/api/jobs/" + "0" * 32 + "/enqueue", headers=headers, json={}).status_code == 404

    assert "revoked 1 token" in cli(fresh, "revoke-token", "coach@example.com", "--name", "laptop").output
    res = client.get("/api/jobs", headers=headers)
    assert res.status_code == 401 and res.json["error"]["code"] == "INVALID_TOKEN"


# ------------------------------------------------------------------ uploads

def test_upload_names_are_never_paths_and_media_is_outside_static(fresh, clip):
    with fresh.app_context():
        user = _db.session.scalar(_db.select(User).where(User.email == "a@example.com"))
        api = ApiClient(fresh.test_client(), make_token(user))
    res = upload(api, clip, name="../../../../tmp/evil\u202e4pm.mp4")
    assert res.status_code == 201, res.json
    job = res.json["data"]
    media = Path(fresh.config["FOOTY_MEDIA_DIR"]).resolve()
    stored = [p for p in media.rglob("*") if p.is_file() and p.relative_to(media).parts[0] != "tmp"]
    assert stored == [media / "jobs" / job["job_id"] / "video.mp4"]
    assert not Path("/tmp/evil\u202e4pm.mp4").exists()
    static = Path(fresh.static_folder).resolve()
    assert static not in media.parents and media != static
    assert fresh.test_client().get(f"/static/../media/jobs/{job['job_id']}/video.mp4").status_code == 404
    assert "video_key" not in job and "media" not in str(job.get("video", {}))


def test_upload_size_limit_and_content_checked_before_any_job(fresh, tmp_path):
    with fresh.app_context():
        user = _db.session.scalar(_db.select(User).where(User.email == "a@example.com"))
        api = ApiClient(fresh.test_client(), make_token(user))
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (1024 * 1024 + 1))
    res = upload(api, big)
    assert res.status_code == 413 and res.json["error"]["code"] == "UPLOAD_TOO_LARGE"
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not really a video" * 100)
    res = upload(api, fake)
    assert res.status_code == 400 and res.json["error"]["code"] == "INVALID_VIDEO"
    with fresh.app_context():
        assert _db.session.scalar(_db.select(_db.func.count(Job.id))) == 0
    media = Path(fresh.config["FOOTY_MEDIA_DIR"])
    assert [p for p in media.rglob("*") if p.is_file()] == []
