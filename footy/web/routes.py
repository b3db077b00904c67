"""The coach's pages. Every form posts to a route here that calls the same jobs.service function as
the JSON API; a JobError re-renders the page with the real code and message next to the form."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from .. import tasks
from ..extensions import db
from ..jobs import service
from ..jobs.errors import JobError
from ..jobs.serialize import job_payload
from ..jobs.states import WITH_RESULT, JobStatus
from ..storage import get_storage
from . import bp, present
from .forms import PickForm, StartForm, TargetForm, UploadForm


def _user():
    return current_user._get_current_object()


@bp.app_template_global()
def error_details(error):
    return present.error_details(error)


@bp.get("/")
def index():
    return redirect(url_for("web.jobs"))


# ---------------------------------------------------------------- the jobs list and the upload

def _render_jobs(form: UploadForm | None = None, error: dict | None = None, status: int = 200):
    jobs = [job_payload(j) for j in service.list_jobs(_user())]
    return render_template("jobs/index.html", jobs=jobs, form=form or UploadForm(formdata=None), error=error,
                           max_upload_mb=current_app.config["MAX_UPLOAD_MB"], present=present), status


@bp.get("/jobs")
@login_required
def jobs():
    return _render_jobs()


@bp.post("/jobs")
@login_required
def upload():
    form = UploadForm()
    try:
        job = service.create_job(_user(), request.files.get("video"), get_storage(), tasks.enqueue_prepare)
    except JobError as exc:
        return _render_jobs(form, exc.as_dict(), exc.http_status)
    flash(f"Uploaded “{job.video_name}”: footy is extracting the preview frames.", "info")
    return redirect(url_for("web.job", job_id=job.id), 303)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc):
    """The upload form re-rendered with the limit, rather than a bare error page."""
    limit = current_app.config["MAX_UPLOAD_MB"]
    error = {"code": "UPLOAD_TOO_LARGE", "message": f"The upload is larger than the {limit} MB limit"}
    if request.endpoint == "web.upload" and current_user.is_authenticated:
        return _render_jobs(error=error, status=413)
    return render_template("error.html", code=error["code"], message=error["message"], status=413), 413


# ---------------------------------------------------------------- one job

def _confirm_source(job: dict) -> dict | None:
    """The box the confirm dialog starts from: the draft target, else the picked player's box."""
    target, ref = job.get("target") or {}, job.get("player_ref") or {}
    if target and not target.get("confirmed"):
        return {"frame_key": target.get("frame_key"), "bbox": target["bbox"]}
    if not target and ref.get("frame_key"):
        return {"frame_key": ref["frame_key"], "bbox": ref["bbox"]}
    return None


def _frame(job: dict, frame_key: str | None) -> dict | None:
    """Frames are found by their frame_key, never by comparing float times."""
    return next((f for f in job["preview_frames"] if f["frame_key"] == frame_key), None) if frame_key else None


def _render_job(job_row, error: dict | None = None, status: int = 200, target_values: dict | None = None,
                error_at: str | None = None):
    job = job_payload(job_row)
    phase = present.phase(job)
    source = _confirm_source(job)
    if target_values is not None:  # the coach's own box, kept after an error
        source = {"frame_key": target_values["frame_key"], "bbox": target_values["bbox"]}
    confirm_frame = _frame(job, source["frame_key"]) if source else None
    target_form = TargetForm(formdata=None)
    if source:
        target_form.frame_key.data = source["frame_key"]
        for k in ("x", "y", "w", "h"):
            target_form[k].data = _fmt(source["bbox"].get(k))
    target_form.role.data = (target_values or {}).get("role") or job.get("role") or ""
    target = job.get("target") or {}
    result = job.get("result")
    result_error = None
    if job["status"] in {s.value for s in WITH_RESULT} and not (result and "overallScore" in result):
        result_error = {"code": "RESULT_MISSING",
                        "message": "The analysis finished but no result was saved. Ask an admin to run it again."}
    context = dict(
        job=job, phase=phase, present=present, error=error, error_at=error_at,
        missing=present.missing_words(service.readiness(job_row)),
        ready=job["status"] == JobStatus.READY_TO_ENQUEUE.value,
        pick_form=PickForm(formdata=None), target_form=target_form, start_form=StartForm(formdata=None),
        confirm_frame=confirm_frame, confirm_bbox=source["bbox"] if source else None,
        confirm_open=bool(source and confirm_frame) and job["status"] not in ("QUEUED", "RUNNING"),
        confirmed_frame=_frame(job, target.get("frame_key")) if target.get("confirmed") else None,
        result=result, result_error=result_error,
        radar=present.radar(result["radar"]) if result and result.get("radar") else None,
        explanations=present.axis_explanations(result) if result and result.get("radar") else [],
        timeline=present.timeline(result, job["video"]) if result else None,
    )
    return render_template("jobs/show.html", **context), status


def _fmt(value) -> str:
    return "" if value is None else f"{float(value):.4f}"


@bp.get("/jobs/<job_id>")
@login_required
def job(job_id):
    job_row = service.get_job(_user(), job_id)
    service.ensure_preparation(job_row, tasks.enqueue_prepare)
    return _render_job(job_row)


@bp.post("/jobs/<job_id>/pick")
@login_required
def pick(job_id):
    form = PickForm()
    payload = {"frame_key": form.frame_key.data or "", "track_id": request.form.get("track_id", "")}
    if not payload["frame_key"]:
        payload.pop("frame_key")
    if not payload["track_id"]:
        payload.pop("track_id")
    try:
        service.pick_player(_user(), job_id, payload, draft_target=True)
    except JobError as exc:
        return _error_page(job_id, exc, "pick")
    return redirect(url_for("web.job", job_id=job_id, _anchor="confirm-dialog"), 303)


@bp.post("/jobs/<job_id>/target")
@login_required
def confirm_target(job_id):
    form = TargetForm()
    bbox = {k: (form[k].data or "").strip() for k in ("x", "y", "w", "h")}
    payload = {"frame_key": form.frame_key.data or None, "bbox": bbox, "role": form.role.data or None,
               "force": form.force.data or False}
    try:
        service.confirm_target(_user(), job_id, payload)
    except JobError as exc:
        kept = {"frame_key": payload["frame_key"], "bbox": _numbers(bbox), "role": payload["role"]}
        return _error_page(job_id, exc, "confirm", kept)
    flash("Target confirmed.", "info")
    return redirect(url_for("web.job", job_id=job_id, _anchor="start"), 303)


def _numbers(bbox: dict) -> dict:
    out = {}
    for k, v in bbox.items():
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = None
    return out


@bp.post("/jobs/<job_id>/start")
@login_required
def start(job_id):
    StartForm()
    try:
        service.enqueue(_user(), job_id, tasks.enqueue_analysis)
    except JobError as exc:
        if exc.code == "ALREADY_QUEUED":  # a second click of the same coach: the first one started it
            flash("The analysis is already queued.", "info")
            return redirect(url_for("web.job", job_id=job_id), 303)
        return _error_page(job_id, exc, "start")
    flash("Analysis started.", "info")
    return redirect(url_for("web.job", job_id=job_id), 303)


def _error_page(job_id: str, exc: JobError, where: str, target_values: dict | None = None):
    """The job page again, the error shown next to the form that caused it."""
    if exc.code == "JOB_NOT_FOUND":
        raise exc
    db.session.rollback()  # nothing half-done is shown
    job_row = service.get_job(_user(), job_id)
    if target_values and not target_values.get("frame_key"):
        target_values = None
    return _render_job(job_row, exc.as_dict(), exc.http_status, target_values, where)
