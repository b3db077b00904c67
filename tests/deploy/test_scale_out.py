"""Scale-out: two real worker processes (the Procfile's worker line), one PostgreSQL, one Redis, media
in S3-compatible storage and no shared disk (each process has its own scratch folder). Two jobs
are analysed at the same time, each exactly once."""
from __future__ import annotations

import signal
import subprocess
import uuid

import pytest
from rq import Queue, Worker
from rq.job import Job as RQJob
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

from footy import create_app
from footy.config import normalise_database_url
from footy.extensions import db
from footy.models import Job
from footy.queue import get_redis

from ..conftest import ApiClient, make_token, make_user, upload
from .conftest import ROOT, procfile_command, process_env, run_process, stop, wait_for

pytestmark = pytest.mark.slow


def settings_env(settings: dict) -> dict:
    """footy's S3 settings as the environment variables that set them (footy.config.s3_settings)."""
    names = {"FOOTY_S3_REGION": "AWS_REGION"}
    return {names.get(k, k): str(v) for k, v in settings.items() if v not in ("", None)}


@pytest.fixture
def deployment(tmp_path, postgres_url, redis_server, s3_settings):
    """The shared services and the environment every process gets (as a platform would set it)."""
    prefix = f"scale-{uuid.uuid4().hex[:8]}"
    shared = {"DATABASE_URL": postgres_url, "REDIS_URL": redis_server, "SECRET_KEY": "scale-out-secret",
              "FOOTY_QUEUE_PREFIX": prefix, "FOOTY_PREVIEW_FRAMES": "3", **settings_env(s3_settings)}
    run_process("release", process_env(**shared, FOOTY_MEDIA_DIR=tmp_path / "release-scratch"))
    return shared


@pytest.fixture
def web(deployment, s3_settings, tmp_path):
    """The web process: footy's app on its own scratch folder, talking to the same services."""
    app = create_app({"INSTANCE_PATH": str(tmp_path / "web-instance"), "TESTING": True,
                      "SQLALCHEMY_DATABASE_URI": normalise_database_url(deployment["DATABASE_URL"]),
                      "REDIS_URL": deployment["REDIS_URL"], "SECRET_KEY": deployment["SECRET_KEY"],
                      "FOOTY_QUEUE_PREFIX": deployment["FOOTY_QUEUE_PREFIX"], "FOOTY_PREVIEW_FRAMES": 3,
                      **s3_settings, "FOOTY_S3_SERVE": "",
                      "FOOTY_MEDIA_DIR": str(tmp_path / "web-scratch")})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def workers(deployment, tmp_path):
    """Two `worker:` processes from the Procfile, each as if on its own machine (own scratch folder)."""
    procs, logs = [], []
    for n in (1, 2):
        log = open(tmp_path / f"worker{n}.log", "w")
        env = process_env(**deployment, FOOTY_MEDIA_DIR=tmp_path / f"worker{n}-scratch")
        procs.append(subprocess.Popen(procfile_command("worker"), cwd=ROOT, env=env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True))
        logs.append(log)
    yield procs
    for proc in procs:  # both warm shutdowns at once
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        stop(proc)
    for log in logs:
        log.close()
    for n in (1, 2):
        print(f"---- worker{n}.log\n" + (tmp_path / f"worker{n}.log").read_text()[-4000:])


def poll(api, job_id: str, done, timeout: float, what: str) -> dict:
    return wait_for(lambda: (lambda j: j if done(j) else None)(api.get(f"/api/jobs/{job_id}").json["data"]),
                    timeout, what, interval=0.25)


def test_two_workers_analyse_two_jobs_at_once_each_exactly_once(web, workers, clip, tmp_path):
    redis = get_redis()
    prefix = web.config["FOOTY_QUEUE_PREFIX"]
    analysis = Queue(f"{prefix}-analysis", connection=redis)

    def registered():
        for proc in workers:
            assert proc.poll() is None, "a worker process exited"
        return len(Worker.all(queue=analysis)) == 2

    wait_for(registered, 60, "two workers registered in Redis")

    api = ApiClient(web.test_client(), make_token(make_user("coach@club.example")))
    job_ids = []
    for _ in range(2):
        res = upload(api, clip)
        assert res.status_code == 201, res.json
        job_ids.append(res.json["data"]["job_id"])
    # the workers prepare both (previews queue); the web process kept nothing on its disk
    jobs = [poll(api, jid, lambda j: j["progress"]["step"] == "CANDIDATES_READY" or j["status"] == "FAILED",
                 120, "previews") for jid in job_ids]
    assert all(j["status"] == "WAITING_FOR_SELECTION" for j in jobs), jobs
    assert not [p for p in (tmp_path / "web-scratch").rglob("*") if p.is_file()], "the web kept no media"

    for job in jobs:
        frame = job["preview_frames"][1]
        img = api.get(frame["url"])  # written to the bucket by a worker, read back through footy's route
        assert img.status_code == 200 and img.mimetype == "image/jpeg" and img.data[:2] == b"\xff\xd8"
        track = max(frame["tracks"], key=lambda t: t["bbox"]["h"])
        assert api.post(f"/api/jobs/{job['job_id']}/pick-player",
                        json={"frame_key": frame["frame_key"], "track_id": track["track_id"]}).status_code == 200
        res = api.post(f"/api/jobs/{job['job_id']}/target", json={"frame_key": frame["frame_key"],
                                                                  "time_sec": frame["time_sec"],
                                                                  "bbox": track["bbox"]})
        assert res.json["data"]["status"] == "READY_TO_ENQUEUE", res.json

    # both workers are idle and blocked on the queues: the two jobs go out back to back
    wait_for(lambda: all(w.get_state() == "idle" for w in Worker.all(queue=analysis)), 30, "idle workers")
    for jid in job_ids:
        res = api.post(f"/api/jobs/{jid}/enqueue", json={})
        assert res.status_code == 202, res.json

    finished = [poll(api, jid, lambda j: j["status"] in ("COMPLETED", "PARTIAL", "FAILED"), 180, "the analyses")
                for jid in job_ids]
    assert [j["status"] for j in finished] != ["FAILED", "FAILED"], finished
    assert all(j["status"] in ("COMPLETED", "PARTIAL") for j in finished), [j["error"] for j in finished]

    rows = [db.session.get(Job, jid) for jid in job_ids]
    for row in rows:
        db.session.refresh(row)
    a, b = rows
    print(f"analyses: {a.started_at:%T.%f}..{a.finished_at:%T.%f} and {b.started_at:%T.%f}..{b.finished_at:%T.%f}")
    assert a.started_at < b.finished_at and b.started_at < a.finished_at, (
        f"not concurrent: {a.started_at}..{a.finished_at} and {b.started_at}..{b.finished_at}")
    assert [r.attempts for r in rows] == [1, 1]

    rq_jobs = [RQJob.fetch(r.rq_job_id, connection=redis) for r in rows]
    assert [j.get_status() for j in rq_jobs] == ["finished", "finished"]
    assert [len(j.results()) for j in rq_jobs] == [1, 1], "each RQ job ran exactly once"
    assert {j.return_value() for j in rq_jobs} <= {"COMPLETED", "PARTIAL"}
    assert rq_jobs[0].worker_name != rq_jobs[1].worker_name, "one job on each worker"
    assert {j.worker_name for j in rq_jobs} == {w.name for w in Worker.all(queue=analysis)}
    assert sorted(FinishedJobRegistry(queue=analysis).get_job_ids()) == sorted(r.rq_job_id for r in rows)
    assert FailedJobRegistry(queue=analysis).count == 0 and StartedJobRegistry(queue=analysis).count == 0
    assert analysis.count == 0

    # the artefacts are in the bucket, streamed through footy's route with Range (the default, proxy);
    # no worker kept a copy
    for row in rows:
        head = web.extensions["footy.storage"].client.head_object(
            Bucket=web.extensions["footy.storage"].bucket,
            Key=web.extensions["footy.storage"].object_key(row.artefacts["spotlight"]))
        res = api.get(f"/api/jobs/{row.id}/artefacts/spotlight.mp4", headers={"Range": "bytes=0-99"})
        assert res.status_code == 206 and len(res.data) == 100 and res.data[4:8] == b"ftyp"
        assert res.headers["Content-Range"] == f"bytes 0-99/{head['ContentLength']}"
    for n in (1, 2):
        left = [p for p in (tmp_path / f"worker{n}-scratch").rglob("*") if p.is_file()]
        assert not left, f"worker{n} left files behind: {left}"
