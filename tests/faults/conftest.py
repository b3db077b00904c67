"""Fault tests run footy as it runs in production: a real Redis server, a SQLite file shared with
real `flask footy worker` processes, media on disk. Only the timings are short."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from footy import create_app
from footy.extensions import db as _db

from ..conftest import ApiClient, make_token, make_user, wait_for  # noqa: F401 (wait_for: for the tests)

ROOT = Path(__file__).resolve().parents[2]
FAST = {"FOOTY_WORKER_TTL": "20", "FOOTY_JOB_MONITORING_INTERVAL": "1", "FOOTY_SWEEP_INTERVAL": "1",
        "FOOTY_SWEEP_GRACE": "2"}


@pytest.fixture(scope="session")
def long_clip(tmp_path_factory) -> Path:
    """A minute of match: the analysis runs long enough (seconds) to be killed in the middle."""
    from footy.vision.synthetic import default_scene, render_scene

    path = tmp_path_factory.mktemp("faultclips") / "long.mp4"
    render_scene(default_scene(n_players=6, seconds=60.0, seed=3), path)
    return path


@pytest.fixture
def env_app(tmp_path, redis_server):
    """An app whose settings a worker subprocess can share through its environment."""
    instance = tmp_path / "instance"
    settings = {
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": f"sqlite:///{instance / 'footy.db'}",
        "REDIS_URL": redis_server,
        "FOOTY_MEDIA_DIR": str(tmp_path / "media"),
        "FOOTY_QUEUE_PREFIX": f"fault-{uuid.uuid4().hex[:8]}",
        "FOOTY_PREVIEW_FRAMES": "3",
        **FAST,
    }
    app = create_app({"INSTANCE_PATH": str(instance), "TESTING": True, "SECRET_KEY": settings["SECRET_KEY"],
                      "SQLALCHEMY_DATABASE_URI": settings["DATABASE_URL"], "REDIS_URL": redis_server,
                      "FOOTY_MEDIA_DIR": settings["FOOTY_MEDIA_DIR"],
                      "FOOTY_QUEUE_PREFIX": settings["FOOTY_QUEUE_PREFIX"], "FOOTY_PREVIEW_FRAMES": 3,
                      **{k: int(v) for k, v in FAST.items()}})
    app.config["FOOTY_TEST_ENV"] = {**settings, "FOOTY_INSTANCE": str(instance)}
    with app.app_context():
        _db.create_all()
        yield app
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def env_api(env_app):
    return ApiClient(env_app.test_client(), make_token(make_user("coach@example.com")))


class WorkerProcess:
    """`flask footy worker` in its own session, so a test can SIGKILL it like a lost machine."""

    def __init__(self, app, log_path: Path, queues: str = "previews,analysis"):
        env = {**os.environ, **app.config["FOOTY_TEST_ENV"], "FLASK_APP": "wsgi.py", "PYTHONUNBUFFERED": "1"}
        self.app, self.log_path = app, log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "flask", "footy", "worker", "--queues", queues,
                                      "--no-scheduler"], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def horse_pid(self, timeout: float = 30) -> int:
        """The pid of the work-horse running the current job (footy's worker records it in Redis)."""
        from footy.queue import get_redis

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for key in get_redis().smembers("rq:workers"):
                data = get_redis().hgetall(key)
                if data.get(b"pid") == str(self.proc.pid).encode() and data.get(b"footy_horse_pid"):
                    pid = int(data[b"footy_horse_pid"])
                    if _alive(pid):
                        return pid
            time.sleep(0.05)
        raise AssertionError(f"no work-horse seen; worker log:\n{self.output()}")

    def kill_all(self) -> None:
        """SIGKILL the worker and its work-horse at once, as when the machine goes away."""
        horse = self.horse_pid()
        os.killpg(self.proc.pid, signal.SIGKILL)
        os.kill(horse, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def workers(env_app, tmp_path):
    started: list[WorkerProcess] = []

    def start(queues: str = "previews,analysis") -> WorkerProcess:
        worker = WorkerProcess(env_app, tmp_path / f"worker-{len(started)}.log", queues)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
