"""The Procfile for real: `honcho start` (the Python Procfile runner) starts `release`, `web` (gunicorn
with gunicorn.conf.py) and `worker` at once; release migrates and stays up, web and worker wait for its
schema; the web answers with footy's envelope and the worker registers on footy's queues; SIGTERM stops
everything."""
from __future__ import annotations

import json
import runpy
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest
from redis import Redis
from rq import Queue, Worker

from footy import create_app
from footy.extensions import db

from ..conftest import make_token, make_user
from .conftest import BIN, ROOT, free_port, process_env, stop, wait_for

pytestmark = pytest.mark.slow


def get(url: str, token: str | None = None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return None, b""


def post_video(url: str, token: str, path) -> tuple[int, dict]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"match.mp4\"\r\n"
            f"Content-Type: video/mp4\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def coach_token(database_url: str, tmp_path) -> str:
    """A coach and an API token, written straight to the deployment's database."""
    app = create_app({"INSTANCE_PATH": str(tmp_path / "admin"), "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": database_url, "FOOTY_MEDIA_DIR": str(tmp_path / "admin-media")})
    with app.app_context():
        token = make_token(make_user("coach@honcho.example"))
        db.engine.dispose()
    return token


def test_honcho_starts_web_and_worker_from_the_procfile(tmp_path, redis_server, clip):
    port = free_port()
    prefix = f"honcho-{uuid.uuid4().hex[:8]}"
    env = process_env(DATABASE_URL=f"sqlite:///{tmp_path / 'footy.db'}", REDIS_URL=redis_server,
                      SECRET_KEY="honcho-test", FOOTY_MEDIA_DIR=tmp_path / "media", FOOTY_QUEUE_PREFIX=prefix,
                      WEB_CONCURRENCY=2, GUNICORN_THREADS=2)
    log = open(tmp_path / "honcho.log", "w")
    # `honcho start` as a newcomer types it: every Procfile process at once on an empty database.
    # -e: no .env from the checkout; -p: the port honcho hands to `web` as PORT
    honcho = subprocess.Popen([str(BIN / "honcho"), "-e", str(tmp_path / "none.env"), "start", "-p", str(port)],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: "release: started by honcho" in (tmp_path / "honcho.log").read_text(), 60,
                 "release to migrate and stay up")
        token = coach_token(env["DATABASE_URL"], tmp_path)

        def web_up():
            assert honcho.poll() is None, "honcho stopped: " + (tmp_path / "honcho.log").read_text()[-3000:]
            return get(f"http://127.0.0.1:{port}/api/jobs")[0] is not None

        wait_for(web_up, 60, "gunicorn on PORT")
        status, body = get(f"http://127.0.0.1:{port}/api/jobs")
        envelope = json.loads(body)
        assert status == 401 and envelope["ok"] is False and envelope["data"] is None
        assert envelope["error"]["code"] and envelope["error"]["message"]
        assert get(f"http://127.0.0.1:{port}/login")[0] == 200

        redis = Redis.from_url(redis_server)
        workers = wait_for(lambda: Worker.all(queue=Queue(f"{prefix}-analysis", connection=redis)), 60,
                           "the worker on footy's queues")
        assert len(workers) == 1
        assert sorted(workers[0].queue_names()) == [f"{prefix}-analysis", f"{prefix}-previews"]
        text = (tmp_path / "honcho.log").read_text()
        assert "Booting worker with pid" in text and "Using worker: gthread" in text
        assert text.count("Booting worker with pid") >= 2, "WEB_CONCURRENCY=2 gunicorn workers"
        assert "Control socket listening" not in text, "no per-user control socket shared between instances"

        # the two processes work together: an upload through gunicorn is prepared by the worker
        status, created = post_video(f"http://127.0.0.1:{port}/api/jobs", token, clip)
        assert status == 201, created
        job_url = f"http://127.0.0.1:{port}/api/jobs/{created['data']['job_id']}"
        job = wait_for(lambda: (lambda j: j if j["progress"]["step"] in ("CANDIDATES_READY", "FAILED") else None)(
            json.loads(get(job_url, token)[1])["data"]), 90, "the worker to prepare the upload", interval=0.3)
        assert job["progress"]["step"] == "CANDIDATES_READY" and job["preview_frames"], job
        status, jpeg = get(f"http://127.0.0.1:{port}{job['preview_frames'][0]['url']}", token)
        assert status == 200 and jpeg[:2] == b"\xff\xd8"
    finally:
        honcho.terminate()  # as `kill` or Ctrl-C would: honcho passes SIGTERM on to every process
        try:
            honcho.wait(timeout=40)
        finally:
            stop(honcho)
            log.close()
    text = (tmp_path / "honcho.log").read_text()
    assert "sending SIGTERM to web.1" in text and "sending SIGTERM to worker.1" in text
    assert "Running upgrade  -> " in text and "sending SIGTERM to release.1" in text, "release ran, then idled"
    assert "warm shut down requested" in text and "Shutting down: Master" in text
    assert get(f"http://127.0.0.1:{port}/api/jobs")[0] is None, "the web process is gone"
    redis = Redis.from_url(redis_server)
    wait_for(lambda: not Worker.all(queue=Queue(f"{prefix}-analysis", connection=redis)), 15,
             "the worker to unregister")


def test_gunicorn_conf_reads_the_platform_environment(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    monkeypatch.delenv("GUNICORN_TIMEOUT", raising=False)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["bind"] == "0.0.0.0:8123" and conf["workers"] == 5
    assert conf["worker_class"] == "gthread" and conf["timeout"] >= 300, "long uploads must not be cut"
    assert conf["max_requests"] == 0, "recycling a process would cut the uploads in flight"
    monkeypatch.delenv("PORT")
    monkeypatch.delenv("WEB_CONCURRENCY")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["bind"] == "0.0.0.0:5000" and conf["workers"] == 2
