"""A worker killed mid-analysis (SIGKILL) leaves no job RUNNING: it is retried once, then FAILED
with WORKER_LOST, and `flask footy requeue` starts it again. Real worker processes throughout."""
from __future__ import annotations

import os
import signal
import time

from rq.job import Job as RQJob

from footy.extensions import db as _db
from footy.models import Job
from footy.queue import get_redis

from ..conftest import run_worker, upload
from ..test_api import confirmed
from .conftest import wait_for


def _status(api, job_id):
    return api.get(f"/api/jobs/{job_id}/status").json["data"]


def _job(api, job_id):
    return api.get(f"/api/jobs/{job_id}").json["data"]


def _queued_analysis(env_app, env_api, long_clip, before_enqueue=None) -> str:
    res = upload(env_api, long_clip)
    assert res.status_code == 201, res.json
    job_id = res.json["data"]["job_id"]
    run_worker(env_app, ["previews"])
    job = confirmed(env_api, _job(env_api, job_id))
    if before_enqueue:
        before_enqueue()
    res = env_api.post(f"/api/jobs/{job_id}/enqueue", json={})
    assert res.status_code == 202, res.json
    assert job["status"] == "READY_TO_ENQUEUE"
    return job_id


def _running(api, job_id):
    return _status(api, job_id)["state"] == "RUNNING"


def test_whole_worker_killed_mid_analysis_is_retried_by_the_next_worker(env_app, env_api, long_clip, workers):
    job_id = _queued_analysis(env_app, env_api, long_clip)
    first = workers()
    wait_for(lambda: _running(env_api, job_id), 60, "the analysis to start")
    first.kill_all()  # the worker and its work-horse vanish: no Python code runs to tidy up
    assert _status(env_api, job_id)["state"] == "RUNNING"  # nothing has noticed yet

    killed_at = time.monotonic()
    second = workers()  # its first sweep sees the dead worker; RQ's cleanup retries the job once
    state = wait_for(lambda: _status(env_api, job_id)["state"] in ("COMPLETED", "PARTIAL") and
                     _status(env_api, job_id), 120, "the retried analysis to finish")
    # RQ alone would only notice after the heartbeat expires (60 s + the monitoring interval)
    assert time.monotonic() - killed_at < 55, second.output()
    assert state["progress"] == 100 and state["error"] is None
    job = _job(env_api, job_id)
    assert job["result"]["overallScore"] is not None
    assert "retrying once" in second.output()
    rq_job = RQJob.fetch(f"footy-analysis-{job_id}-1", connection=get_redis())
    assert rq_job.retries_left == 0  # RQ's own Retry(max=1) ran it the second time


def test_killed_work_horse_is_retried_once_then_failed_worker_lost_then_requeued(env_app, env_api, long_clip,
                                                                                 workers):
    job_id = _queued_analysis(env_app, env_api, long_clip)
    worker = workers()
    wait_for(lambda: _running(env_api, job_id), 60, "the analysis to start")
    first_horse = worker.horse_pid()
    os.kill(first_horse, signal.SIGKILL)  # the OOM killer's way: only the horse dies

    # RQ's monitor sees the dead horse at once; footy puts the job back to QUEUED and RQ retries it
    second_horse = wait_for(lambda: (pid := worker.horse_pid()) != first_horse and pid, 30, "the retry's horse")
    wait_for(lambda: _running(env_api, job_id), 30, "the retry to start")
    assert RQJob.fetch(f"footy-analysis-{job_id}-1", connection=get_redis()).retries_left == 0
    os.kill(second_horse, signal.SIGKILL)  # the retry dies too: no retry is left

    failed = wait_for(lambda: _status(env_api, job_id)["state"] == "FAILED" and _status(env_api, job_id),
                      30, "the job to fail")
    assert failed["error"]["code"] == "WORKER_LOST", failed
    assert "signal 9" in failed["error"]["message"]
    job = _job(env_api, job_id)
    assert job["target"]["confirmed"] is True and job["player_ref"]["track_id"] is not None  # selections kept

    out = env_app.test_cli_runner().invoke(args=["footy", "requeue", job_id])
    assert out.exit_code == 0, out.output
    done = wait_for(lambda: _status(env_api, job_id)["state"] in ("COMPLETED", "PARTIAL") and
                    _status(env_api, job_id), 120, "the requeued analysis to finish")
    assert done["error"] is None and done["progress"] == 100
    assert _db.session.get(Job, job_id, populate_existing=True).attempts == 2  # the admin's new attempt


def test_sweep_fails_a_running_job_whose_queue_entry_vanished(env_app, env_api, long_clip):
    """Redis lost the RQ job (a flushed or replaced server): the sweep does not wait forever."""
    import time

    from footy.faults import sweep
    from footy.queue import get_redis

    job_id = _queued_analysis(env_app, env_api, long_clip)
    rq_id = _job(env_api, job_id).get("rq_job_id") or f"footy-analysis-{job_id}-1"
    get_redis().delete(f"rq:job:{rq_id}")
    assert sweep(force=True)["failed"] == []  # within the grace period an enqueue may be in flight
    time.sleep(2.2)
    assert sweep(force=True)["failed"] == [job_id]
    status = _status(env_api, job_id)
    assert status["state"] == "FAILED" and status["error"]["code"] == "WORKER_LOST"


def test_preparation_whose_horse_dies_twice_is_failed_not_left_extracting(env_app, env_api, long_clip, workers):
    res = upload(env_api, long_clip)
    job_id = res.json["data"]["job_id"]
    worker = workers("previews")
    first = worker.horse_pid()
    os.kill(first, signal.SIGKILL)  # the first preparation dies; RQ runs it again
    second = wait_for(lambda: (pid := worker.horse_pid()) != first and pid, 30, "the retried preparation")
    os.kill(second, signal.SIGKILL)
    failed = wait_for(lambda: _job(env_api, job_id)["status"] == "FAILED" and _job(env_api, job_id), 30,
                      "the preparation to fail")
    assert failed["error"]["code"] == "WORKER_LOST", failed
    assert failed["candidates"]["status"] == "failed"


def test_worker_killed_but_its_horse_alive_finishes_the_job_without_a_retry(env_app, env_api, long_clip, workers):
    """Only the worker process dies; its work-horse carries on. The sweep must not start a second
    analysis of the same job beside it."""
    started = []
    # the worker is older than its horse by a few seconds, as in real life
    job_id = _queued_analysis(env_app, env_api, long_clip,
                              before_enqueue=lambda: (started.append(workers()), _registered(started[0]),
                                                      time.sleep(3)))
    first = started[0]
    wait_for(lambda: _running(env_api, job_id), 60, "the analysis to start")
    horse = first.horse_pid()
    os.kill(first.proc.pid, signal.SIGKILL)  # the worker only, not its horse (own process group)
    first.proc.wait(timeout=10)
    from footy.faults import sweep

    assert job_id not in sweep(force=True)["abandoned"]  # the horse is alive: the job is not lost
    second = workers()
    done = wait_for(lambda: _status(env_api, job_id)["state"] in ("COMPLETED", "PARTIAL") and
                    _status(env_api, job_id), 120, "the horse to finish")
    assert done["error"] is None
    rq_job = RQJob.fetch(f"footy-analysis-{job_id}-1", connection=get_redis())
    assert rq_job.retries_left == 1, second.output()  # never retried
    assert "retrying once" not in second.output()
    wait_for(lambda: not _alive_pid(horse), 30, "the horse to exit")


def _registered(worker):
    pid = str(worker.proc.pid).encode()
    wait_for(lambda: any(get_redis().hget(k, "pid") == pid for k in get_redis().smembers("rq:workers")),
             30, "the worker to register")


def _alive_pid(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False
