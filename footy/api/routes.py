from __future__ import annotations

from flask import request
from flask_login import current_user

from .. import tasks
from ..auth import api_login_required
from ..jobs import service
from ..jobs.errors import JobError
from ..jobs.serialize import candidates_payload, job_payload, status_payload
from ..storage import ARTEFACT_NAMES, StorageKeyError, artefact_key, frame_key_from_name, get_storage
from . import bp
from .envelope import json_body, ok


def _user():
    return current_user._get_current_object()


@bp.post("/jobs")
@api_login_required
def create_job():
    job = service.create_job(_user(), request.files.get("video"), get_storage(), tasks.enqueue_prepare)
    return ok(job_payload(job), "Job created; preview frames are being extracted", 201)


@bp.get("/jobs")
@api_login_required
def list_jobs():
    return ok([job_payload(j) for j in service.list_jobs(_user())], "Jobs retrieved")


@bp.get("/jobs/<job_id>")
@api_login_required
def get_job(job_id):
    job = service.get_job(_user(), job_id)
    service.ensure_preparation(job, tasks.enqueue_prepare)
    return ok(job_payload(job), "Job retrieved")


@bp.get("/jobs/<job_id>/status")
@api_login_required
def job_status(job_id):
    return ok(status_payload(service.get_job(_user(), job_id)), "Job status retrieved")


@bp.get("/jobs/<job_id>/candidates")
@api_login_required
def candidates(job_id):
    return ok(candidates_payload(service.get_job(_user(), job_id)), "Candidates retrieved")


@bp.post("/jobs/<job_id>/pick-player")
@api_login_required
def pick_player(job_id):
    job = service.pick_player(_user(), job_id, json_body(required=True), draft_target=True)
    return ok(job_payload(job), "Player picked; confirm the target")


@bp.post("/jobs/<job_id>/select-track")
@api_login_required
def select_track(job_id):
    job = service.pick_player(_user(), job_id, json_body(required=True), draft_target=False)
    return ok(job_payload(job), "Track selected; now select the target")


@bp.post("/jobs/<job_id>/target")
@bp.post("/jobs/<job_id>/select-target")
@bp.post("/jobs/<job_id>/selection")
@api_login_required
def confirm_target(job_id):
    job = service.confirm_target(_user(), job_id, json_body(required=True))
    return ok(job_payload(job), "Target confirmed")


@bp.post("/jobs/<job_id>/enqueue")
@bp.post("/jobs/<job_id>/confirm-selection")
@api_login_required
def enqueue(job_id):
    json_body(required=False)  # {} or nothing; anything else must at least be valid JSON
    job = service.enqueue(_user(), job_id, tasks.enqueue_analysis)
    return ok(job_payload(job), "Analysis queued", 202)


@bp.get("/jobs/<job_id>/frames/<path:name>")  # path: a name with a folder in it is refused below, not 404
@api_login_required
def frame(job_id, name):
    job = service.get_job(_user(), job_id)
    try:
        key = frame_key_from_name(job.id, name)
    except StorageKeyError:
        raise JobError("INVALID_FRAME_KEY", "Malformed frame name", 400, name=name[:100]) from None
    return _send(key, "image/jpeg")


@bp.get("/jobs/<job_id>/artefacts/<path:name>")
@api_login_required
def artefact(job_id, name):
    job = service.get_job(_user(), job_id)
    try:
        key = artefact_key(job.id, name)
    except StorageKeyError:
        raise JobError("INVALID_FRAME_KEY", "Unknown artefact name", 400, name=name[:100]) from None
    if key not in (job.artefacts or {}).values():
        raise JobError("ARTEFACT_NOT_FOUND", "This job has no such artefact (yet)", 404, name=name)
    download = name if request.args.get("download") else None
    return _send(key, ARTEFACT_NAMES[name], download)


def _send(key: str, mimetype: str, download_name: str | None = None):
    try:
        return get_storage().send(key, mimetype=mimetype, download_name=download_name)
    except FileNotFoundError:
        raise JobError("MEDIA_NOT_FOUND", "The file is not stored", 404) from None
