"""What happens when a worker dies: no job stays QUEUED or RUNNING forever.

RQ's own mechanisms do most of it. Every footy RQ job is enqueued with ``Retry(max=1)`` and
``on_failure=on_job_failure``:

* the work-horse alone is killed (the OOM killer, a segfault): the worker sees it at once, calls
  ``horse_killed`` (below) and retries the job once, then fails it;
* the whole worker is killed (SIGKILL, a lost machine): RQ's ``StartedJobRegistry.cleanup`` finds
  the abandoned job when its heartbeat expires and calls ``on_job_failure`` with
  ``AbandonedJobError``, then retries once or fails it.

RQ only declares a job abandoned a minute or more after the last heartbeat. ``sweep()``, run by
every footy worker periodically (between jobs and while it watches a running one), is quicker
when it can be sure: a worker on this machine whose processes are gone is dead now, so its jobs
are handed to RQ's cleanup at once. The sweep also settles footy jobs whose RQ job vanished or
ended without telling footy (Redis lost its data, a callback could not write).

On the footy side an analysis being retried goes back to QUEUED (same attempt, same RQ job); one
that will not be retried becomes FAILED with ``WORKER_LOST``, and ``flask footy requeue`` or the
coach's start button runs it again.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from datetime import timedelta

import redis
from flask import current_app, has_app_context
from rq.exceptions import AbandonedJobError, NoSuchJobError
from rq.job import Job as RQJob, JobStatus as RQStatus
from rq.registry import StartedJobRegistry
from rq.timeouts import JobTimeoutException
from sqlalchemy import update

from .extensions import db
from .jobs.service import retry_if_locked
from .jobs.states import JobStatus, Step
from .models import Job, utcnow

log = logging.getLogger(__name__)
S = JobStatus

RETRIES = 1  # a lost analysis is tried once more before it is FAILED
PREPARE_FUNC = "footy.tasks.prepare_job"
ANALYSIS_FUNC = "footy.tasks.run_analysis"
PREPARING_STEPS = (Step.UPLOADED, Step.EXTRACTING_PREVIEWS, Step.PREVIEWS_READY, Step.TRACKING_CANDIDATES)

DEFAULTS = {
    "FOOTY_WORKER_TTL": 60,                # seconds; an idle worker wakes this often (minus 15)
    "FOOTY_JOB_MONITORING_INTERVAL": 30,   # seconds between heartbeats of a running job
    "FOOTY_SWEEP_INTERVAL": 60,            # seconds between two sweeps (across all workers)
    "FOOTY_SWEEP_GRACE": 60,               # seconds a QUEUED job may lack its RQ job (enqueue in flight)
}


def setting(name: str) -> int:
    """A fault-handling setting: the app's config, else the environment, else the default."""
    if has_app_context() and current_app.config.get(name) not in (None, ""):
        return int(current_app.config[name])
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else DEFAULTS[name]


def _footy_job_id(rq_job: RQJob) -> str | None:
    try:
        args = rq_job.args
    except Exception:  # noqa: BLE001 - an unreadable payload names no footy job
        return None
    return args[0] if args and isinstance(args[0], str) else None


def _with_app(fn, *args):
    if has_app_context():
        return fn(*args)
    from . import create_app

    with create_app().app_context():
        try:
            return fn(*args)
        finally:
            db.session.remove()


# ---------------------------------------------------------------- RQ's hooks

def on_job_failure(rq_job: RQJob, connection, exc_type=None, exc_value=None, tb=None) -> None:
    """RQ's on_failure callback: the job raised, timed out, or was abandoned by a dead worker."""
    if exc_type is not None and issubclass(exc_type, AbandonedJobError):
        code, message = "WORKER_LOST", "The worker running this job stopped (killed or lost)"
    elif exc_type is not None and issubclass(exc_type, JobTimeoutException):
        code, message = "ANALYSIS_TIMEOUT", "The job took longer than its time limit"
    else:
        code, message = "ANALYSIS_ERROR", f"The job failed: {exc_type.__name__ if exc_type else 'unknown'}: {exc_value}"
    _with_app(record_lost_attempt, rq_job, code, message)


def horse_killed(rq_job: RQJob, retpid, ret_val, rusage) -> None:
    """The worker's work_horse_killed_handler: the process running the job died under it."""
    signal_note = ""
    if ret_val is not None and os.WIFSIGNALED(ret_val):
        signal_note = f" (signal {os.WTERMSIG(ret_val)})"
    _with_app(record_lost_attempt, rq_job, "WORKER_LOST", f"The process running this job died{signal_note}")


def record_lost_attempt(rq_job: RQJob, code: str, message: str) -> None:
    """Tell the footy job: retrying (back to QUEUED) or FAILED with ``code``. Called before RQ retries."""
    job_id = _footy_job_id(rq_job)
    if job_id is None:
        return
    retrying = rq_job.should_retry
    if rq_job.func_name == ANALYSIS_FUNC:
        if retrying:
            _lost_analysis_retried(job_id, rq_job.id, message)
        else:
            _lost_analysis_failed(job_id, rq_job.id, code, message)
    elif rq_job.func_name == PREPARE_FUNC and not retrying:
        _lost_preparation_failed(job_id, code, message)
    log.warning("job %s (%s): %s; %s", job_id, rq_job.id, message, "retrying once" if retrying else code)


@retry_if_locked
def _lost_analysis_retried(job_id: str, rq_job_id: str, message: str) -> bool:
    done = db.session.execute(
        update(Job).where(Job.id == job_id, Job.rq_job_id == rq_job_id, Job.status.in_([S.QUEUED, S.RUNNING]))
        .values(status=S.QUEUED, step=Step.QUEUED, progress_percent=0, started_at=None, updated_at=utcnow(),
                progress_message=f"{message[:120]}; trying again")).rowcount
    db.session.commit()
    return done == 1


@retry_if_locked
def _lost_analysis_failed(job_id: str, rq_job_id: str | None, code: str, message: str) -> bool:
    cond = [Job.id == job_id, Job.status.in_([S.QUEUED, S.RUNNING])]
    if rq_job_id is not None:
        cond.append(Job.rq_job_id == rq_job_id)  # a stale attempt never fails a newer one
    full = f"{message}. The analysis was stopped; start it again."
    done = db.session.execute(
        update(Job).where(*cond).values(
            status=S.FAILED, step=Step.FAILED, progress_message=full[:200], finished_at=utcnow(),
            updated_at=utcnow(), error={"code": code, "message": full, "rq_job_id": rq_job_id})).rowcount
    db.session.commit()
    return done == 1


@retry_if_locked
def _lost_preparation_failed(job_id: str, code: str, message: str) -> bool:
    full = f"{message}. Preparing the preview frames was stopped; upload the video again."
    done = db.session.execute(
        update(Job).where(Job.id == job_id, Job.status == S.WAITING_FOR_SELECTION,
                          Job.step.in_(PREPARING_STEPS)).values(
            status=S.FAILED, step=Step.FAILED, candidates_status="failed", progress_message=full[:200],
            finished_at=utcnow(), updated_at=utcnow(), error={"code": code, "message": full})).rowcount
    db.session.commit()
    return done == 1


# ---------------------------------------------------------------- the sweep

def worker_is_dead(connection: redis.Redis, worker_name: str | None) -> bool:
    """True when the RQ worker is certainly gone: its key expired or says it died, or it ran on
    this machine and neither its process nor its work-horse exists any more."""
    import psutil

    if not worker_name:
        return False
    data = {k.decode(): v.decode() for k, v in connection.hgetall(f"rq:worker:{worker_name}").items()}
    if not data:
        return True  # heartbeats stopped long enough for the key to expire
    if data.get("hostname") != socket.gethostname():
        return False  # another machine: only its expiring heartbeat can tell
    birth = _timestamp(data.get("birth"))
    checks = []
    if (data.get("pid") or "").isdigit():
        checks.append((int(data["pid"]), "worker"))
    if (data.get("footy_horse_pid") or "").isdigit():
        checks.append((int(data["footy_horse_pid"]), "horse"))
    for pid, role in checks:
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            started = proc.create_time()
        except psutil.NoSuchProcess:
            continue
        # the same process (not a later one that got its pid): the worker was born with its process,
        # a work-horse (which may outlive a killed worker and finish the job) is forked after it
        if birth is None or (started <= birth + 2 if role == "worker" else started >= birth - 2):
            return False
    return bool(checks)


def _timestamp(value: str | None) -> float | None:
    if not value:
        return None
    from rq.utils import utcparse

    try:
        from datetime import timezone

        return utcparse(value).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def _expire_now(connection: redis.Redis, rq_job: RQJob) -> None:
    """Let RQ's own cleanup treat the job as abandoned now (it would after the heartbeat expires)."""
    registry = StartedJobRegistry(rq_job.origin, connection=connection)
    for entry in connection.zrange(registry.key, 0, -1):
        if entry.decode().split(":", 1)[0] == rq_job.id:
            connection.zadd(registry.key, {entry: 1}, xx=True)
    registry.cleanup()


def sweep(force: bool = False) -> dict:
    """One pass over the footy jobs a worker should be busy with. Returns what was done.

    Only one sweep runs at a time across all workers (a Redis lock), at most once per
    FOOTY_SWEEP_INTERVAL unless ``force``.
    """
    from .queue import get_redis

    connection = get_redis()
    prefix = current_app.config["FOOTY_QUEUE_PREFIX"]
    interval = max(1, setting("FOOTY_SWEEP_INTERVAL"))
    if not connection.set(f"{prefix}:sweep-lock", str(os.getpid()), nx=True, ex=interval if not force else 5):
        if not force:
            return {"skipped": True}
        time.sleep(0.5)
    report = {"abandoned": [], "failed": [], "requeued_prep": []}
    try:
        _sweep_analyses(connection, report)
        _sweep_preparations(connection, report)
    finally:
        db.session.remove()
        if force:
            connection.delete(f"{prefix}:sweep-lock")
    if any(report.values()):
        log.warning("sweep: %s", report)
    return report


def _sweep_analyses(connection, report: dict) -> None:
    grace = utcnow() - timedelta(seconds=setting("FOOTY_SWEEP_GRACE"))
    rows = db.session.execute(db.select(Job.id, Job.status, Job.rq_job_id, Job.updated_at)
                              .where(Job.status.in_([S.QUEUED, S.RUNNING]))).all()
    for job_id, status, rq_job_id, updated_at in rows:
        try:
            rq_job = RQJob.fetch(rq_job_id, connection=connection) if rq_job_id else None
        except NoSuchJobError:
            rq_job = None
        if rq_job is None:
            if updated_at < grace and _lost_analysis_failed(
                    job_id, rq_job_id, "WORKER_LOST", "The queued analysis was lost by the queue"):
                report["failed"].append(job_id)
            continue
        rq_status = rq_job.get_status(refresh=False)
        if rq_status == RQStatus.STARTED:
            if worker_is_dead(connection, rq_job.worker_name):
                _expire_now(connection, rq_job)  # RQ calls on_job_failure, then retries or fails
                report["abandoned"].append(job_id)
        elif rq_status in (RQStatus.FAILED, RQStatus.STOPPED, RQStatus.CANCELED) or (
                rq_status == RQStatus.FINISHED and updated_at < grace):
            if _lost_analysis_failed(job_id, rq_job_id, "WORKER_LOST",
                                     f"The analysis ended in the queue as {rq_status.value} without a result"):
                report["failed"].append(job_id)
        elif status == S.RUNNING and rq_status in (RQStatus.QUEUED, RQStatus.SCHEDULED):
            _lost_analysis_retried(job_id, rq_job.id, "The worker was lost")  # RQ retries it


def _sweep_preparations(connection, report: dict) -> None:
    from . import tasks
    from .jobs import service

    grace = utcnow() - timedelta(seconds=setting("FOOTY_SWEEP_GRACE"))
    rows = db.session.execute(db.select(Job.id, Job.rq_job_id, Job.updated_at).where(
        Job.status == S.WAITING_FOR_SELECTION, Job.step.in_(PREPARING_STEPS))).all()
    for job_id, rq_job_id, updated_at in rows:
        if rq_job_id is None:  # Redis was down at upload: queue the preparation now that it answers
            job = db.session.get(Job, job_id)
            if updated_at < grace and job is not None and service.start_preparation(job, tasks.enqueue_prepare):
                report["requeued_prep"].append(job_id)
            continue
        try:
            rq_job = RQJob.fetch(rq_job_id, connection=connection)
        except NoSuchJobError:
            if updated_at < grace:  # the queue lost it: preparing is idempotent, queue it again
                job = db.session.get(Job, job_id)
                if job is not None and service.start_preparation(job, tasks.enqueue_prepare):
                    report["requeued_prep"].append(job_id)
            continue
        rq_status = rq_job.get_status(refresh=False)
        if rq_status == RQStatus.STARTED and worker_is_dead(connection, rq_job.worker_name):
            _expire_now(connection, rq_job)
            report["abandoned"].append(job_id)
        elif rq_status in (RQStatus.FAILED, RQStatus.STOPPED, RQStatus.CANCELED):
            if _lost_preparation_failed(job_id, "WORKER_LOST", "Preparing the previews ended without a result"):
                report["failed"].append(job_id)


# ---------------------------------------------------------------- footy's worker

def make_worker(queue_names: list[str], connection: redis.Redis):
    """An RQ worker that records its work-horse's pid, tells footy about killed horses and sweeps."""
    from rq import Worker

    class FootyWorker(Worker):
        def fork_work_horse(self, job, queue):
            super().fork_work_horse(job, queue)
            if self._horse_pid:  # in the parent: let a sweep elsewhere see the horse is alive
                self.connection.hset(self.key, "footy_horse_pid", str(self._horse_pid))

        def run_maintenance_tasks(self):
            super().run_maintenance_tasks()
            self._footy_sweep()

        def maintain_heartbeats(self, job, execution):
            super().maintain_heartbeats(job, execution)
            self._footy_sweep()  # a long analysis must not stop this worker from sweeping

        def _footy_sweep(self):
            try:
                sweep()
            except Exception:  # noqa: BLE001 - a sweep problem must never stop the worker
                self.log.exception("footy sweep failed")

    return FootyWorker(queue_names, connection=connection,
                       worker_ttl=setting("FOOTY_WORKER_TTL"),
                       job_monitoring_interval=setting("FOOTY_JOB_MONITORING_INTERVAL"),
                       maintenance_interval=setting("FOOTY_SWEEP_INTERVAL"),
                       work_horse_killed_handler=horse_killed)
