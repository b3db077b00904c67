"""The one JSON envelope of every API response: {"ok", "data", "error", "message"}."""
from __future__ import annotations

import json

from flask import jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

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


# selections and boxes are a few hundred bytes: a larger body is hostile or a mistake, and must not
# be read into memory under the 2 GB limit meant for video uploads
JSON_BODY_MAX = 1024 * 1024


def json_body(required: bool = False) -> dict:
    """The request's JSON object; an empty body is ``{}`` unless required. Malformed: INVALID_PAYLOAD."""
    too_large = JobError("PAYLOAD_TOO_LARGE", f"body: a JSON body may be at most {JSON_BODY_MAX // 1024} KB", 413,
                         field="body")
    if (request.content_length or 0) > JSON_BODY_MAX:
        raise too_large
    request.max_content_length = JSON_BODY_MAX  # also for a chunked body, which has no Content-Length
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise too_large from None
    if not raw.strip():
        if required:
            raise JobError("INVALID_PAYLOAD", "body: a JSON object is required", 400, field="body")
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: hostile nesting
        raise JobError("INVALID_PAYLOAD", f"body: malformed JSON ({exc.__class__.__name__})", 400,
                       field="body") from None
    if not isinstance(data, dict):
        raise JobError("INVALID_PAYLOAD", "body: must be a JSON object", 400, field="body")
    return data
