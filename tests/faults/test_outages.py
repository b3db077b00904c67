"""Redis down, the database locked, a video that breaks mid-analysis, a full disk: each answered
clearly, nothing lost, nothing half-written. Real Redis servers, real SQLite, a real tmpfs."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import event, text

from footy.extensions import db as _db
from footy.jobs import service
from footy.jobs.states import JobStatus, Step
from footy.models import Job
from footy.queue import embedded_redis_server, stop_embedded_redis

from ..conftest import ApiClient, make_token, make_user, own_app, run_worker, upload
from ..test_api import confirmed


def _job(api, job_id):
    return api.get(f"/api/jobs/{job_id}").json["data"]


# ------------------------------------------------------------------ Redis down

@pytest.fixture
def own_redis():
    """A Redis server of this test's own, so stopping it disturbs no other test."""
    folder = Path(f"/tmp/footy-rd-{uuid.uuid4().hex[:8]}")
    socket_path = embedded_redis_server(folder)
    yield folder, f"unix://{socket_path}"
    stop_embedded_redis(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def redis_app(tmp_path, own_redis):
    app = own_app(tmp_path, own_redis[1], FOOTY_QUEUE_PREFIX="rd")
    with app.app_context():
        _db.create_all()
        yield app
        _db.session.remove()
        _db.engine.dispose()


def test_redis_down_at_enqueue_answers_503_keeps_the_selections_and_a_later_start_works(redis_app, own_redis, clip):
    folder, _url = own_redis
    api = ApiClient(redis_app.test_client(), make_token(make_user("coach@example.com")))
    job_id = upload(api, clip).json["data"]["job_id"]
    run_worker(redis_app, ["previews"])
    ready = confirmed(api, _job(api, job_id))
    assert ready["status"] == "READY_TO_ENQUEUE"

    assert stop_embedded_redis(folder)
    res = api.post(f"/api/jobs/{job_id}/enqueue", json={})
    assert res.status_code == 503, res.json
    assert res.json["ok"] is False and res.json["error"]["code"] == "QUEUE_UNAVAILABLE"
    after = _job(api, job_id)
    assert after["status"] == "READY_TO_ENQUEUE"
    assert after["target"] == ready["target"] and after["player_ref"] == ready["player_ref"]
    assert _db.session.get(Job, job_id, populate_existing=True).attempts == 0  # the claim was undone
    _db.session.remove()  # the test's own session must not serve the pages a stale row later

    embedded_redis_server(folder)  # Redis is back
    res = api.post(f"/api/jobs/{job_id}/enqueue", json={})
    assert res.status_code == 202, res.json
    run_worker(redis_app, ["analysis"])
    status = api.get(f"/api/jobs/{job_id}/status").json["data"]
    assert status["state"] in ("COMPLETED", "PARTIAL") and status["error"] is None


def test_redis_down_at_upload_keeps_the_job_and_prepares_it_when_redis_is_back(redis_app, own_redis, clip):
    folder, _url = own_redis
    api = ApiClient(redis_app.test_client(), make_token(make_user("coach@example.com")))
    stop_embedded_redis(folder)
    res = upload(api, clip)
    assert res.status_code == 201, res.json
    job_id = res.json["data"]["job_id"]
    assert "Waiting for the queue" in res.json["data"]["progress"]["message"]

    embedded_redis_server(folder)
    _job(api, job_id)  # reading the job queues its preparation again
    _db.session.remove()
    run_worker(redis_app, ["previews"])
    assert _job(api, job_id)["progress"]["step"] == "CANDIDATES_READY"


def test_redis_down_at_upload_then_the_sweep_queues_the_preparation(redis_app, own_redis, clip):
    """Nobody opens the job again: the workers' sweep queues its preparation once Redis is back."""
    from footy.faults import sweep

    folder, _url = own_redis
    api = ApiClient(redis_app.test_client(), make_token(make_user("coach@example.com")))
    stop_embedded_redis(folder)
    job_id = upload(api, clip).json["data"]["job_id"]
    embedded_redis_server(folder)
    redis_app.config["FOOTY_SWEEP_GRACE"] = 0
    _db.session.remove()
    assert sweep(force=True)["requeued_prep"] == [job_id]
    run_worker(redis_app, ["previews"])
    assert _job(api, job_id)["progress"]["step"] == "CANDIDATES_READY"


# ------------------------------------------------------------------ the database locked

HOLD_LOCK = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
con.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("COMMIT")
"""


def _short_busy_timeout(engine, ms: int) -> None:
    """SQLite gives up after ``ms`` instead of 30 s, so 'database is locked' really reaches footy."""
    @event.listens_for(engine, "checkout")
    def _pragma(dbapi_connection, _record, _proxy):
        dbapi_connection.execute(f"PRAGMA busy_timeout={ms}")

    engine.dispose()


def _hold_lock(db_path: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db_path), str(seconds)], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"locked"
    return proc


def _running_job(user) -> str:
    job = Job(user_id=user.id, status=JobStatus.RUNNING, step=Step.TRACKING, rq_job_id="rq-1",
              target={"confirmed": True}, preview_frames=[], artefacts={})
    _db.session.add(job)
    _db.session.commit()
    return job.id


def test_progress_and_result_written_while_another_process_locks_the_database(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's locking")
    db_path = Path(_db.engine.url.database)
    job_id = _running_job(make_user("coach@example.com"))
    _db.session.remove()  # give back the connection opened with the usual 30 s timeout
    _short_busy_timeout(_db.engine, 50)
    assert _db.session.execute(text("PRAGMA busy_timeout")).scalar() == 50
    _db.session.remove()

    holder = _hold_lock(db_path, 1.0)
    started = time.monotonic()
    assert service.report_progress(job_id, Step.TRACKING, 42, "Following the player")  # retried, not lost
    assert time.monotonic() - started > 0.5  # it really waited for the other process
    holder.wait(timeout=10)

    holder = _hold_lock(db_path, 1.0)
    assert service.finish(job_id, JobStatus.COMPLETED, {"overallScore": 71, "radar": {}}, {})
    holder.wait(timeout=10)
    _db.session.remove()
    job = _db.session.get(Job, job_id)
    assert job.status == JobStatus.COMPLETED and job.result["overallScore"] == 71 and job.progress_percent == 100


WRITER = """
import sys
from footy import create_app
from footy.jobs import service
from footy.jobs.states import Step
from sqlalchemy import event
app = create_app({"INSTANCE_PATH": sys.argv[1], "SQLALCHEMY_DATABASE_URI": sys.argv[2], "SECRET_KEY": "t",
                  "REDIS_URL": "redis://127.0.0.1:1"})
with app.app_context():
    from footy.extensions import db
    @event.listens_for(db.engine, "checkout")
    def _p(con, rec, proxy):
        con.execute("PRAGMA busy_timeout=5")
    for pct in range(1, 100):
        assert service.report_progress(sys.argv[3], Step.TRACKING, pct, f"at {pct}"), pct
    assert service.finish(sys.argv[3], __import__("footy.jobs.states").jobs.states.JobStatus.COMPLETED,
                          {"overallScore": int(sys.argv[4]), "radar": {}}, {})
print("done", flush=True)
"""


def test_concurrent_worker_processes_lose_no_progress_or_result(app, tmp_path):
    """Three worker processes write progress and results at once on one SQLite file, each with a
    5 ms busy timeout so the database is locked for them again and again: every write lands."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's locking")
    user = make_user("coach@example.com")
    jobs = [_running_job(user) for _ in range(3)]
    _db.session.remove()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / f"inst{i}"), url, job_id, str(50 + i)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i, job_id in enumerate(jobs)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and b"done" in out, err.decode()[-3000:]
    for i, job_id in enumerate(jobs):
        job = _db.session.get(Job, job_id)
        assert job.status == JobStatus.COMPLETED and job.result["overallScore"] == 50 + i
        assert job.progress_percent == 100


# ------------------------------------------------------------------ a video that breaks mid-analysis

def _cut_stored_video(app, job_id: str, share: float) -> None:
    path = Path(app.config["FOOTY_MEDIA_DIR"]) / "jobs" / job_id / "video.mp4"
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * share)])  # the disk copy is damaged after the upload


@pytest.mark.parametrize("share, outcome", [(0.85, "PARTIAL"), (0.3, "FAILED")])
def test_video_breaking_mid_analysis_through_the_worker(app, api, prepared_job, share, outcome):
    job_id = prepared_job["job_id"]
    frame = prepared_job["preview_frames"][0]
    track = max(frame["tracks"], key=lambda t: t["bbox"]["h"])
    api.post(f"/api/jobs/{job_id}/pick-player", json={"frame_key": frame["frame_key"], "track_id": track["track_id"]})
    assert api.post(f"/api/jobs/{job_id}/target", json={"frame_key": frame["frame_key"], "bbox": track["bbox"],
                                                        "force": True}).status_code == 200
    _cut_stored_video(app, job_id, share)
    assert api.post(f"/api/jobs/{job_id}/enqueue", json={}).status_code == 202
    run_worker(app, ["analysis"])
    job = _job(api, job_id)
    assert job["status"] == outcome, job
    if outcome == "PARTIAL":
        assert "VIDEO_DECODE_ERROR" in job["result"]["partial_reasons"]
        assert job["result"]["error"]["code"] == "VIDEO_DECODE_ERROR"
        assert 0 < job["result"]["error"]["frame_index"] < 100
        assert job["result_url"] and api.get(job["result_url"]).status_code == 200
    else:
        status = api.get(f"/api/jobs/{job_id}/status").json["data"]
        assert status["error"]["code"] == "VIDEO_DECODE_ERROR"
        assert 0 < status["error"]["frame_index"] < 100, status["error"]


# ------------------------------------------------------------------ the disk full

@pytest.fixture
def tiny_disk(tmp_path):
    """A real 1 MiB tmpfs as the media folder (needs root; skipped elsewhere)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_while_saving_an_upload_leaves_no_file_and_no_job(tmp_path, redis_server, tiny_disk, clip):
    app = own_app(tmp_path, redis_server, FOOTY_MEDIA_DIR=str(tiny_disk), FOOTY_PREVIEW_FRAMES=8)
    with app.app_context():
        _db.create_all()
        api = ApiClient(app.test_client(), make_token(make_user("coach@example.com")))
        filler = tiny_disk / "filler.bin"
        free = shutil.disk_usage(tiny_disk).free
        filler.write_bytes(b"\0" * (free - clip.stat().st_size // 2))  # room for half the upload
        before = sorted(p.relative_to(tiny_disk) for p in tiny_disk.rglob("*") if p.is_file())

        res = upload(api, clip)
        assert res.status_code == 507, res.json
        assert res.json["ok"] is False and res.json["error"]["code"] == "STORAGE_FULL"
        assert "nothing was saved" in res.json["error"]["message"]
        after = sorted(p.relative_to(tiny_disk) for p in tiny_disk.rglob("*") if p.is_file())
        assert after == before  # no half-written upload, no job folder
        assert _db.session.scalar(_db.select(_db.func.count(Job.id))) == 0  # no orphan job
        assert api.get("/api/jobs").json["data"] == []

        filler.unlink()  # space again: the same upload works
        res = upload(api, clip)
        assert res.status_code == 201, res.json
        _db.session.remove()
        _db.engine.dispose()
