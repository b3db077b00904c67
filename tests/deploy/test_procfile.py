"""The Procfile for real: honcho (the Python Procfile runner) starts `web` (gunicorn with
gunicorn.conf.py) and `worker` as a platform would, after `release`; the web answers with footy's
envelope and the worker registers on footy's queues; SIGTERM stops everything."""
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

from .conftest import BIN, ROOT, free_port, process_env, run_process, stop, wait_for

pytestmark = pytest.mark.slow


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return None, b""


def test_honcho_starts_web_and_worker_from_the_procfile(tmp_path, redis_server):
    port = free_port()
    prefix = f"honcho-{uuid.uuid4().hex[:8]}"
    env = process_env(DATABASE_URL=f"sqlite:///{tmp_path / 'footy.db'}", REDIS_URL=redis_server,
                      SECRET_KEY="honcho-test", FOOTY_MEDIA_DIR=tmp_path / "media", FOOTY_QUEUE_PREFIX=prefix,
                      WEB_CONCURRENCY=2, GUNICORN_THREADS=2)
    run_process("release", env)
    log = open(tmp_path / "honcho.log", "w")
    # -e: no .env from the checkout; -p: the port honcho hands to `web` as PORT
    honcho = subprocess.Popen([str(BIN / "honcho"), "-e", str(tmp_path / "none.env"), "start", "-p", str(port),
                               "web", "worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
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
    finally:
        honcho.terminate()  # as `kill` or Ctrl-C would: honcho passes SIGTERM on to every process
        try:
            honcho.wait(timeout=40)
        finally:
            stop(honcho)
            log.close()
    text = (tmp_path / "honcho.log").read_text()
    assert "sending SIGTERM to web.1" in text and "sending SIGTERM to worker.1" in text
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
    monkeypatch.delenv("PORT")
    monkeypatch.delenv("WEB_CONCURRENCY")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["bind"] == "0.0.0.0:5000" and conf["workers"] == 2
