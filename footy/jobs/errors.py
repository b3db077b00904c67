"""The one error type of the job domain: a stable code, an HTTP status, and details for the caller."""
from __future__ import annotations


class JobError(Exception):
    def __init__(self, code: str, message: str, http_status: int = 400, **details):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.details = details

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, **self.details}


def invalid_payload(field: str, message: str) -> JobError:
    return JobError("INVALID_PAYLOAD", f"{field}: {message}", 400, field=field)
