from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from .. import tasks
from ..jobs import service
from ..jobs.serialize import job_payload
from . import bp


@bp.get("/")
def index():
    return redirect(url_for("web.jobs"))


@bp.get("/jobs")
@login_required
def jobs():
    return render_template("jobs/index.html", jobs=[job_payload(j) for j in service.list_jobs(current_user)])


@bp.get("/jobs/<job_id>")
@login_required
def job(job_id):
    job = service.get_job(current_user, job_id)
    service.ensure_preparation(job, tasks.enqueue_prepare)
    return render_template("jobs/show.html", job=job_payload(job))
