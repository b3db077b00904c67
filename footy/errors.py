"""One error type, two faces: the JSON envelope under /api, a clear page everywhere else."""
from __future__ import annotations

import logging

from flask import render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .api.envelope import HTTP_CODES, fail, from_job_error
from .jobs.errors import JobError
from .storage import StorageUnavailable

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def _page(code: str, message: str, status: int):
    return render_template("error.html", code=code, message=message, status=status), status


def register(app) -> None:
    @app.errorhandler(JobError)
    def job_error(exc: JobError):
        if _wants_json():
            return from_job_error(exc)
        return _page(exc.code, exc.message, exc.http_status)

    @app.errorhandler(StorageUnavailable)
    def storage_unavailable(exc: StorageUnavailable):
        # the object store is down: a frame or an artefact cannot be read now, nothing is lost
        log.warning("media store unavailable on %s %s: %s", request.method, request.path, exc)
        message = "The media store cannot be reached right now; try again in a moment"
        if _wants_json():
            return fail("STORAGE_UNAVAILABLE", message, 503)
        return _page("STORAGE_UNAVAILABLE", message, 503)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        message = f"CSRF check failed: {exc.description} Reload the page and try again."
        if _wants_json():
            return fail("CSRF_FAILED", message, 400)
        return _page("CSRF_FAILED", message, 400)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        code = HTTP_CODES.get(status, "HTTP_ERROR")
        message = exc.description or exc.name
        if status == 413:
            limit = app.config["MAX_UPLOAD_MB"]
            message = f"The upload is larger than the {limit} MB limit"
        if _wants_json():
            return fail(code, message, status)
        return _page(code, message, status)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return fail("INTERNAL_ERROR", "Something went wrong on footy's side; it has been logged", 500)
        return _page("INTERNAL_ERROR", "Something went wrong on footy's side; it has been logged", 500)
