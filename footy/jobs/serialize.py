"""Jobs as the JSON the API returns (and the pages read). URLs are footy's own routes."""
from __future__ import annotations

from datetime import datetime

from ..models import Job, utcnow
from .states import WITH_RESULT, JobStatus

PREPARATION_STEPS = ("UPLOADED", "EXTRACTING_PREVIEWS", "PREVIEWS_READY", "TRACKING_CANDIDATES")


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def frame_url(job_id: str, frame_key: str) -> str:
    return f"/api/jobs/{job_id}/frames/{frame_key.rsplit('/', 1)[-1]}"


def artefact_url(job_id: str, name: str) -> str:
    return f"/api/jobs/{job_id}/artefacts/{name}"


def result_url(job: Job) -> str | None:
    """The player's annotated clip, whenever a result exists (seed 003 bug #1 designed out)."""
    if job.status in WITH_RESULT and job.result is not None and "spotlight" in (job.artefacts or {}):
        return artefact_url(job.id, "spotlight.mp4")
    return None


def eta_seconds(job: Job, now: datetime) -> int | None:
    """Time left, from the pace so far of the running analysis; None until it can be judged."""
    if job.status != JobStatus.RUNNING or not job.started_at or job.progress_percent < 3:
        return None
    elapsed = (now - job.started_at).total_seconds()
    return max(0, int(elapsed * (100 - job.progress_percent) / job.progress_percent))


def progress(job: Job, now: datetime | None = None) -> dict:
    return {"step": job.step.value, "percent": max(0, min(100, int(job.progress_percent or 0))),
            "message": job.progress_message or "", "eta_sec": eta_seconds(job, now or utcnow())}


def error(job: Job) -> dict | None:
    """Meaningful exactly when the job FAILED (seed 003 bug #5): otherwise null."""
    if job.status != JobStatus.FAILED:
        return None
    return job.error or {"code": "UNKNOWN_ERROR", "message": "The job failed without a recorded reason"}


def job_payload(job: Job) -> dict:
    frames = [{**frame, "url": frame_url(job.id, frame["frame_key"])} for frame in job.preview_frames or []]
    # stored as {kind: media key}; shown as {kind: URL}
    artefacts = ({kind: artefact_url(job.id, key.rsplit("/", 1)[-1]) for kind, key in (job.artefacts or {}).items()}
                 if job.status in WITH_RESULT else {})
    return {
        "job_id": job.id,
        "status": job.status.value,
        "progress": progress(job),
        "video": {"name": job.video_name, **(job.video_info or {})},
        "preview_frames": frames,
        "candidates": {"status": job.candidates_status,
                       "count": sum(len(f.get("tracks") or []) for f in frames)},
        "player_ref": job.player_ref,
        "target": job.target,
        "role": job.role,
        "result": job.result if job.status in WITH_RESULT else None,
        "result_url": result_url(job),
        "artefacts": artefacts,
        "error": error(job),
        "attempts": job.attempts,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
    }


def candidates_payload(job: Job) -> dict:
    return {
        "job_id": job.id,
        "status": job.candidates_status,
        "step": job.step.value,
        "frames": [{"frame_key": f["frame_key"], "url": frame_url(job.id, f["frame_key"]),
                    "time_sec": f["time_sec"], "frame_index": f["frame_index"], "tracks": f.get("tracks") or []}
                   for f in job.preview_frames or []],
    }


def status_payload(job: Job) -> dict:
    """Seed 003's status contract with its five bugs designed out."""
    data = {
        "job_id": job.id,
        "state": JobStatus(job.status).value,  # validated enum, never a free string
        "progress": max(0, min(100, int(job.progress_percent or 0))),
        "step": job.step.value,
        "message": job.progress_message or "",
        "eta_sec": eta_seconds(job, utcnow()),
        "error": error(job),
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "result_url": result_url(job),
    }
    return data
