"""The job domain's rules: every transition, check and error code. The API, the pages, the CLI and
the worker all call these functions; none of them re-implements a rule."""
from __future__ import annotations

import functools
import logging
import re
import time
from datetime import timedelta
from pathlib import Path

import redis
from sqlalchemy import or_, text, update
from sqlalchemy.exc import OperationalError

from ..extensions import db
from ..models import Job, User, new_id, utcnow
from ..queue import QueueUnavailable
from ..storage import (Storage, StorageFullError, StorageKeyError, StorageUnavailable, escapes_job, scratch_file,
                       validate_key, video_key)
from .errors import JobError
from .payloads import PlayerPick, TargetSelection, parse_pick, parse_target
from .states import (BUSY, ENQUEUEABLE, FINISHED, REQUEUEABLE, SELECTABLE, WITH_RESULT, JobStatus, Step,
                     can_transition)

log = logging.getLogger(__name__)
S = JobStatus

IOU_MIN = 0.2  # seed 001: the confirmed box must overlap the picked track at least this much


def retry_if_locked(fn):
    """Re-run a read-modify-commit unit when SQLite says the database is locked.

    busy_timeout covers most waits; a WAL read snapshot that turns into a write can still be
    refused at once, and the only safe answer is to roll back and do the unit again.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        delay = 0.02
        for attempt in range(12):
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                db.session.rollback()
                if "locked" not in str(exc).lower() and "busy" not in str(exc).lower() or attempt == 11:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    return wrapper


# ---------------------------------------------------------------- reading

def visible_jobs(user: User | None):
    query = db.select(Job).order_by(Job.created_at.desc(), Job.id)
    if user is None or not user.is_admin:
        query = query.where(Job.user_id == (user.id if user is not None else -1))
    return query


def list_jobs(user: User | None, limit: int = 200) -> list[Job]:
    return list(db.session.scalars(visible_jobs(user).limit(limit)))


def get_job(user: User | None, job_id: str, for_update: bool = False) -> Job:
    """The job, if this user may see it; another coach's job does not exist for them.

    ``for_update`` locks the row until commit, so a read-modify-write of the selections cannot undo
    a concurrent enqueue's state change: SELECT ... FOR UPDATE on PostgreSQL; on SQLite, which has no
    row locks, a no-op write first takes the database's write lock, and the read after it is current.
    """
    job = None
    if isinstance(job_id, str) and len(job_id) <= 64:
        if for_update:
            if db.session.get_bind().dialect.name == "sqlite":
                db.session.execute(text("UPDATE jobs SET id = id WHERE id = :id"), {"id": job_id})
            job = db.session.get(Job, job_id, with_for_update=True, populate_existing=True)
        else:
            job = db.session.get(Job, job_id)
    if job is None or (user is not None and not user.is_admin and job.user_id != user.id):
        raise JobError("JOB_NOT_FOUND", "Job not found", 404, job_id=str(job_id)[:64])
    if user is None:  # anonymous callers never reach a job; the routes require sign-in first
        raise JobError("JOB_NOT_FOUND", "Job not found", 404, job_id=str(job_id)[:64])
    return job


def find_frame(job: Job, frame_key: str) -> dict:
    """The preview frame with this key. A key that tries to leave the job's folder (traversal, an
    absolute path, another job) is 400 INVALID_FRAME_KEY; any other unknown key is 404 FRAME_NOT_FOUND."""
    try:
        validate_key(frame_key, job.id)
    except StorageKeyError as exc:
        if escapes_job(frame_key, job.id):
            raise JobError("INVALID_FRAME_KEY", f"frame_key is not a frame of this job: {exc}", 400,
                           frame_key=frame_key[:200]) from None
    for frame in job.preview_frames or []:
        if frame["frame_key"] == frame_key:
            return frame
    raise JobError("FRAME_NOT_FOUND", "No preview frame with this frame_key", 404, frame_key=frame_key)


def _frame_near(job: Job, time_sec: float) -> dict | None:
    fps = (job.video_info or {}).get("fps") or 25.0
    for frame in job.preview_frames or []:
        if abs(frame["time_sec"] - time_sec) <= 0.5 / fps:
            return frame
    return None


def readiness(job: Job) -> list[str]:
    """What is still missing before the analysis can start (seed 001/002)."""
    missing = []
    ref = job.player_ref or {}
    if not (isinstance(ref, dict) and ref.get("frame_key") and isinstance(ref.get("track_id"), int)):
        missing.append("player_ref")
    target = job.target or {}
    if not (target.get("confirmed") is True and target.get("selections")):
        missing.append("target")
    return missing


# ---------------------------------------------------------------- creating

def create_job(user: User, upload, storage: Storage, enqueue_prepare) -> Job:
    """Save the upload, prove it decodes, then create the job and queue its preparation.

    Nothing is left behind when any step fails: not the file, not the row.
    """
    from ..vision.types import VisionError
    from ..vision.video import probe

    if upload is None or not getattr(upload, "filename", None):
        raise JobError("INVALID_PAYLOAD", "video: a file is required (multipart field 'video')", 400, field="video")
    original_name = Path(upload.filename).name[:255]
    suffix = Path(original_name).suffix
    tmp = scratch_file(storage, suffix=".upload")
    try:
        try:
            upload.save(tmp)
        except OSError as exc:
            _raise_storage_full(exc)
            raise
        try:
            info = probe(tmp)
        except VisionError as exc:
            reason = exc.message.replace(str(tmp), original_name)  # never show the server's scratch path
            raise JobError("INVALID_VIDEO", f"The file is not a video footy can decode: {reason}", 400) from None
        job = Job(id=new_id(), user_id=user.id, video_name=original_name, status=S.WAITING_FOR_SELECTION,
                  step=Step.UPLOADED,
                  progress_message="Uploaded; waiting to extract preview frames",
                  video_info={"fps": info.fps, "frame_count": info.frame_count, "width": info.width,
                              "height": info.height, "duration_sec": info.duration_sec, "codec": info.codec})
        job.video_key = video_key(job.id, suffix)
        try:
            storage.save_file(job.video_key, tmp)
        except StorageUnavailable:  # the store refused the whole object: nothing of it exists
            raise JobError("STORAGE_UNAVAILABLE", "The media store cannot be reached; nothing was saved, "
                           "try the upload again later", 503) from None
        except (OSError, StorageFullError) as exc:
            _raise_storage_full(exc)
            raise
        try:
            _commit_new(job)
        except Exception:
            storage.delete_prefix(f"jobs/{job.id}/")
            raise
    finally:
        tmp.unlink(missing_ok=True)
    start_preparation(job, enqueue_prepare)
    return job


def _raise_storage_full(exc: OSError) -> None:
    import errno

    if isinstance(exc, StorageFullError) or getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        raise JobError("STORAGE_FULL", "No space left to store the upload; nothing was saved", 507) from None


@retry_if_locked
def _commit_new(job: Job) -> None:
    db.session.add(job)
    db.session.commit()


def start_preparation(job: Job, enqueue_prepare) -> bool:
    """Queue preview extraction; if Redis is down the job waits and this is tried again later."""
    try:
        rq_id = enqueue_prepare(job.id)
    except (redis.RedisError, OSError, QueueUnavailable) as exc:
        log.warning("could not queue preparation of %s: %s", job.id, exc)
        _set(job.id, progress_message="Waiting for the queue to extract preview frames")
        return False
    _set(job.id, rq_job_id=rq_id, progress_message="Queued for preview extraction")
    return True


def ensure_preparation(job: Job, enqueue_prepare) -> None:
    """Called when a job is read: a job whose preparation could not be queued gets another try."""
    if job.step == Step.UPLOADED and job.rq_job_id is None and job.status == S.WAITING_FOR_SELECTION:
        start_preparation(job, enqueue_prepare)
        db.session.refresh(job)


# ---------------------------------------------------------------- the coach's selections

def _require_selectable(job: Job) -> None:
    if job.status in BUSY:
        raise JobError("ALREADY_QUEUED", "The analysis is queued or running; the selection cannot change now", 409,
                       state=job.status.value)
    if job.status in WITH_RESULT:
        raise JobError("ALREADY_ANALYSED", "This job is already analysed; upload the video again to study another "
                       "player", 409, state=job.status.value)
    if job.status not in SELECTABLE:
        raise JobError("INVALID_STATE", f"Cannot change the selection in state {job.status.value}", 409)


def _track_on_frame(frame: dict, track_id: int) -> dict | None:
    for track in frame.get("tracks") or []:
        if track["track_id"] == track_id:
            return track
    return None


@retry_if_locked
def pick_player(user: User, job_id: str, payload, draft_target: bool = True) -> Job:
    """Seed 001 pick-player (draft target from the track) or seed 002 select-track (target reset)."""
    pick: PlayerPick = parse_pick(payload)
    job = get_job(user, job_id, for_update=True)
    _require_selectable(job)
    frame = find_frame(job, pick.frame_key)
    track = _track_on_frame(frame, pick.track_id)
    if track is None:
        raise JobError("TRACK_NOT_FOUND", f"No track {pick.track_id} on this frame", 404,
                       frame_key=pick.frame_key, track_id=pick.track_id,
                       available=[t["track_id"] for t in frame.get("tracks") or []])
    job.player_ref = {"frame_key": frame["frame_key"], "track_id": pick.track_id, "time_sec": frame["time_sec"],
                      "frame_index": frame["frame_index"], "bbox": track["bbox"],
                      "confidence": track.get("confidence"), "picked_at": utcnow().isoformat() + "Z"}
    if draft_target:
        job.target = {"confirmed": False, "frame_key": frame["frame_key"], "time_sec": frame["time_sec"],
                      "bbox": track["bbox"], "source": "track",
                      "selections": [_selection(frame["frame_key"], frame["time_sec"], track["bbox"])]}
        step = Step.WAITING_FOR_TARGET_CONFIRMATION
    else:
        job.target = None
        step = Step.WAITING_FOR_TARGET
    _move(job, S.WAITING_FOR_TARGET, step, "Player picked: confirm the target box")
    db.session.commit()
    return job


def _selection(frame_key: str | None, time_sec: float, bbox: dict) -> dict:
    """One entry of ``target.selections`` as seed 002 stores it."""
    return {"frame_time_sec": time_sec, "frame_key": frame_key, "bbox": bbox}


def iou(a: dict, b: dict) -> float:
    ax2, ay2, bx2, by2 = a["x"] + a["w"], a["y"] + a["h"], b["x"] + b["w"], b["y"] + b["h"]
    iw = max(0.0, min(ax2, bx2) - max(a["x"], b["x"]))
    ih = max(0.0, min(ay2, by2) - max(a["y"], b["y"]))
    inter = iw * ih
    union = a["w"] * a["h"] + b["w"] * b["h"] - inter
    return inter / union if union > 0 else 0.0


@retry_if_locked
def confirm_target(user: User, job_id: str, payload) -> Job:
    """Seed 001 target confirmation with IoU coherence; seed 002's legacy selections form too."""
    sel: TargetSelection = parse_target(payload)
    job = get_job(user, job_id, for_update=True)
    _require_selectable(job)
    frame = find_frame(job, sel.frame_key) if sel.frame_key is not None else _frame_near(job, sel.time_sec)
    time_sec = frame["time_sec"] if frame else sel.time_sec
    duration = (job.video_info or {}).get("duration_sec")
    if duration is not None and time_sec > duration + 1.0:
        raise JobError("INVALID_PAYLOAD", f"time_sec: {time_sec} is past the end of the video ({duration:.1f} s)",
                       400, field="time_sec")
    ref = job.player_ref or {}
    if ref.get("track_id") is not None and frame and frame.get("tracks") and not sel.force:
        track = _track_on_frame(frame, ref["track_id"])
        overlap = iou(sel.bbox, track["bbox"]) if track else 0.0
        if overlap < IOU_MIN:
            raise JobError(
                "TARGET_MISMATCH",
                (f"The box overlaps the picked player {ref['track_id']} with IoU {overlap:.2f} (at least {IOU_MIN} "
                 "needed). Adjust the box, or send force=true to use it anyway.") if track else
                (f"The picked player {ref['track_id']} is not on this frame. Pick the player here, or send "
                 "force=true to use the box anyway."),
                409, iou=round(overlap, 4), min_iou=IOU_MIN, track_id=ref["track_id"],
                expected_bbox=track["bbox"] if track else None, frame_key=frame["frame_key"])
    frame_key = frame["frame_key"] if frame else None
    job.target = {"confirmed": True, "frame_key": frame_key, "time_sec": time_sec, "bbox": sel.bbox,
                  "forced": sel.force, "source": "coach", "confirmed_at": utcnow().isoformat() + "Z",
                  "selections": [*(sel.selections or [])[:-1], _selection(frame_key, time_sec, sel.bbox)]}
    if sel.role is not None:
        job.role = sel.role
    if "player_ref" in readiness(job):
        _move(job, S.WAITING_FOR_PLAYER, Step.WAITING_FOR_PLAYER, "Target saved: pick the player too")
    else:
        _move(job, S.READY_TO_ENQUEUE, Step.READY_TO_ENQUEUE, "Ready: start the analysis")
    db.session.commit()
    return job


def _move(job: Job, status: JobStatus, step: Step, message: str) -> None:
    if status != job.status and not can_transition(job.status, status):
        raise JobError("INVALID_STATE", f"Cannot go from {job.status.value} to {status.value}", 409)
    if job.status == S.FAILED:
        job.error = None  # the coach is fixing the selection for a new attempt
    job.status, job.step = status, step
    job.progress_percent, job.progress_message = 0, message


# ---------------------------------------------------------------- enqueue

def enqueue(user: User, job_id: str, enqueue_analysis) -> Job:
    """Strict readiness, then exactly one RQ job even when two clicks race (seed 001/002)."""
    job, previous = _claim_for_queue(user, job_id)
    return _hand_to_queue(job, enqueue_analysis, previous)


@retry_if_locked
def _claim_for_queue(user: User | None, job_id: str, admin_requeue: bool = False) -> tuple[Job, JobStatus]:
    job = get_job(user, job_id) if user is not None else db.session.get(Job, job_id)
    if job is None:
        raise JobError("JOB_NOT_FOUND", "Job not found", 404, job_id=job_id)
    allowed = REQUEUEABLE if admin_requeue else ENQUEUEABLE
    if job.status in BUSY and not admin_requeue:
        raise JobError("ALREADY_QUEUED", "The analysis is already queued or running", 409, state=job.status.value)
    if job.status in WITH_RESULT and not admin_requeue:
        raise JobError("ALREADY_ANALYSED", "This job is already analysed", 409, state=job.status.value)
    missing = readiness(job)
    if missing:
        raise JobError("NOT_READY", "Missing required selections for enqueue", 400, missing=missing)
    if job.status not in allowed:
        raise JobError("INVALID_STATE", f"Cannot start the analysis in state {job.status.value}", 409)
    previous = job.status
    attempt = job.attempts + 1
    rq_id = f"footy-analysis-{job.id}-{attempt}"
    # The conditional UPDATE is the lock: of two racing clicks only one matches the old status.
    claimed = db.session.execute(
        update(Job).where(Job.id == job.id, Job.status == previous, Job.attempts == job.attempts).values(
            status=S.QUEUED, step=Step.QUEUED, progress_percent=0, progress_message="Queued for analysis",
            attempts=attempt, rq_job_id=rq_id, error=None, started_at=None, finished_at=None, updated_at=utcnow())
    ).rowcount
    db.session.commit()
    if claimed != 1:
        raise JobError("ALREADY_QUEUED", "The analysis is already queued", 409)
    db.session.refresh(job)
    return job, previous


def _hand_to_queue(job: Job, enqueue_analysis, previous: JobStatus) -> Job:
    try:
        enqueue_analysis(job.id, job.rq_job_id)
    except (redis.RedisError, OSError, QueueUnavailable) as exc:
        log.warning("queue unavailable for %s: %s", job.id, exc)
        _undo_claim(job, previous)
        raise JobError("QUEUE_UNAVAILABLE", "The job queue is unavailable; your selections are kept, try again "
                       "in a moment", 503) from None
    return job


@retry_if_locked
def _undo_claim(job: Job, previous: JobStatus) -> None:
    back = S.READY_TO_ENQUEUE if previous in (S.READY_TO_ENQUEUE, S.FAILED) else previous
    step = Step.READY_TO_ENQUEUE if back == S.READY_TO_ENQUEUE else Step.DONE
    db.session.execute(update(Job).where(Job.id == job.id, Job.status == S.QUEUED, Job.rq_job_id == job.rq_job_id)
                       .values(status=back, step=step, attempts=Job.attempts - 1,
                               progress_message="The queue was unavailable; start the analysis again",
                               updated_at=utcnow()))
    db.session.commit()
    db.session.refresh(job)


def requeue(job_id: str, enqueue_analysis) -> Job:
    """Admin: start the analysis again whatever happened to the last attempt."""
    job, previous = _claim_for_queue(None, job_id, admin_requeue=True)
    return _hand_to_queue(job, enqueue_analysis, previous)


# ---------------------------------------------------------------- the worker's writes

@retry_if_locked
def _set(job_id: str, only_if_status=None, **values) -> bool:
    stmt = update(Job).where(Job.id == job_id)
    if only_if_status is not None:
        stmt = stmt.where(Job.status.in_(list(only_if_status)))
    done = db.session.execute(stmt.values(updated_at=utcnow(), **values)).rowcount
    db.session.commit()
    return done == 1


def report_preparation(job_id: str, step: Step, percent: int, message: str, **values) -> bool:
    """Preparation only writes its own columns, and the step only while the coach has not moved on."""
    return _set(job_id, only_if_status={S.WAITING_FOR_SELECTION}, step=step,
                progress_percent=_clamp(percent), progress_message=message[:200], **values) or \
        (_set(job_id, **values) if values else False)


_SERVER_PATH = re.compile(r"(?<![\w.:/])(?:/[\w.@+-]+){2,}")


def public_message(message: str) -> str:
    """A worker's error as a coach may read it: server paths (media, scratch, libraries) cut to their file name."""
    return _SERVER_PATH.sub(lambda m: m.group(0).rsplit("/", 1)[-1], str(message))


def fail_preparation(job_id: str, code: str, message: str, **details) -> None:
    message = public_message(message)
    _set(job_id, only_if_status={S.WAITING_FOR_SELECTION}, status=S.FAILED, step=Step.FAILED,
         candidates_status="failed", progress_message=message[:200], finished_at=utcnow(),
         error={"code": code, "message": message, **details})


def start_running(job_id: str, rq_job_id: str | None) -> bool:
    """QUEUED -> RUNNING for this attempt only; a stale or duplicate RQ job finds nothing to do."""
    cond = [Job.status == S.QUEUED]
    if rq_job_id:
        cond.append(or_(Job.rq_job_id == rq_job_id, Job.rq_job_id.is_(None)))
    return _set_where(job_id, cond, status=S.RUNNING, step=Step.TRACKING, progress_percent=0,
                      progress_message="Following the player", started_at=utcnow())


@retry_if_locked
def _set_where(job_id: str, conditions, **values) -> bool:
    done = db.session.execute(update(Job).where(Job.id == job_id, *conditions)
                              .values(updated_at=utcnow(), **values)).rowcount
    db.session.commit()
    return done == 1


def report_progress(job_id: str, step: Step, percent: float, message: str) -> bool:
    return _set(job_id, only_if_status={S.RUNNING}, step=step, progress_percent=_clamp(percent),
                progress_message=message[:200])


def finish(job_id: str, status: JobStatus, result: dict, artefacts: dict) -> bool:
    assert status in WITH_RESULT
    return _set(job_id, only_if_status={S.RUNNING}, status=status, step=Step.DONE, progress_percent=100,
                progress_message="Analysis complete" if status == S.COMPLETED else
                "Analysis finished with a partial result", result=result, artefacts=artefacts,
                error=None, finished_at=utcnow())


def fail(job_id: str, code: str, message: str, only_if_status=frozenset({S.QUEUED, S.RUNNING}), **details) -> bool:
    message = public_message(message)
    return _set(job_id, only_if_status=only_if_status, status=S.FAILED, step=Step.FAILED,
                progress_message=message[:200], finished_at=utcnow(),
                error={"code": code, "message": message, **details})


def _clamp(percent) -> int:
    try:
        return max(0, min(100, int(percent)))
    except (TypeError, ValueError):
        return 0


# ---------------------------------------------------------------- admin

def fail_stuck(older_than: timedelta) -> list[str]:
    """Jobs QUEUED or RUNNING with no news for too long are marked FAILED (WORKER_LOST)."""
    cutoff = utcnow() - older_than
    stuck = list(db.session.scalars(db.select(Job.id).where(Job.status.in_([S.QUEUED, S.RUNNING]),
                                                            Job.updated_at < cutoff)))
    failed = [jid for jid in stuck if fail(jid, "WORKER_LOST", "No progress from the worker; the analysis was "
                                           "stopped. Start it again.")]
    return failed


def cleanup(older_than: timedelta, storage: Storage) -> list[str]:
    """Remove finished jobs (and their media) last updated before the cutoff."""
    cutoff = utcnow() - older_than
    old = list(db.session.scalars(db.select(Job).where(Job.status.in_(list(FINISHED)), Job.updated_at < cutoff)))
    removed = []
    for job in old:
        storage.delete_prefix(f"jobs/{job.id}/")
        db.session.delete(job)
        removed.append(job.id)
    db.session.commit()
    return removed
