"""The one JSON envelope of every API response: {"ok", "data", "error", "message"}."""
from __future__ import annotations

import json

from flask import jsonify, request

from ..jobs.errors import JobError


def ok(data=None, message: str = "OK", status: int = 200):
    return jsonify({"ok": True, "data": data, "error": None, "message": message}), status


def fail(code: str, message: str, http_status: int, **details):
    return jsonify({"ok": False, "data": None, "error": {"code": code, "message": message, **details},
                    "message": message}), http_status


def from_job_error(exc: JobError):
    return fail(exc.code, exc.message, exc.http_status, **exc.details)


HTTP_CODES = {
    400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
    413: "UPLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 429: "TOO_MANY_REQUESTS", 500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


def json_body(required: bool = False) -> dict:
    """The request's JSON object; an empty body is ``{}`` unless required. Malformed: INVALID_PAYLOAD."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise JobError("INVALID_PAYLOAD", "body: a JSON object is required", 400, field="body")
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise JobError("INVALID_PAYLOAD", f"body: malformed JSON ({exc.__class__.__name__})", 400,
                       field="body") from None
    if not isinstance(data, dict):
        raise JobError("INVALID_PAYLOAD", "body: must be a JSON object", 400, field="body")
    return data
