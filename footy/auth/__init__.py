"""Sign-in and sign-out, API tokens, and who the current caller is."""
from __future__ import annotations

import functools

from flask import Blueprint, g, request
from flask_login import current_user

from ..extensions import csrf, db, login_manager
from ..jobs.errors import JobError
from ..models import ApiToken, User, utcnow

bp = Blueprint("auth", __name__)

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


@login_manager.user_loader
def load_user(user_id: str):
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@login_manager.request_loader
def load_user_from_bearer(req):
    token = bearer_token()
    if token is None:
        return None
    row = db.session.scalar(db.select(ApiToken).where(ApiToken.token_hash == ApiToken.hash(token),
                                                      ApiToken.revoked_at.is_(None)))
    if row is None:
        g.bad_bearer = True
        return None
    g.via_bearer = True
    return row.user


def authenticate() -> None:
    """Before every request: a Bearer token is checked, and only cookie sessions need a CSRF token."""
    token = bearer_token()
    if token is not None:
        # force the request_loader so g.via_bearer is set before CSRF is considered
        _ = current_user.is_authenticated
        if g.get("via_bearer"):
            return
    if request.method in STATE_CHANGING:
        csrf.protect()


def api_login_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            if g.get("bad_bearer"):
                raise JobError("INVALID_TOKEN", "The API token is invalid or revoked", 401)
            raise JobError("UNAUTHORIZED", "Sign in or send an API token (Authorization: Bearer ...)", 401)
        return view(*args, **kwargs)

    return wrapper


from . import routes  # noqa: E402,F401
