"""Sign-in and sign-out, API tokens, and who the current caller is.

Two ways in:

* a session cookie (the sign-in page). Every state-changing request made with it must carry the
  CSRF token: the forms post it as ``csrf_token``, the pages' JSON calls send ``X-CSRFToken``;
* ``Authorization: Bearer <token>`` on the /api routes, for scripts. Such a request is
  authenticated by the token alone (a cookie sent beside it is ignored) and needs no CSRF token,
  since a browser never adds that header to a forged cross-site request by itself.
"""
from __future__ import annotations

import functools
import threading
import time
from datetime import timedelta

from flask import Blueprint, g, request
from flask_login import current_user

from ..extensions import csrf, db, login_manager
from ..jobs.errors import JobError
from ..models import ApiToken, User, utcnow

bp = Blueprint("auth", __name__)

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
LAST_USED_EVERY = timedelta(minutes=5)  # a polling script must not write the database on every call


@login_manager.user_loader
def load_user(user_id: str):
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def user_for_token(token: str) -> User | None:
    """The owner of a live token, or None. Only the token's SHA-256 is ever compared or stored."""
    if len(token) > 200:
        return None
    found = db.session.execute(db.select(ApiToken, User).join(User, ApiToken.user_id == User.id).where(
        ApiToken.token_hash == ApiToken.hash(token), ApiToken.revoked_at.is_(None))).first()
    if found is None:
        return None
    row, user = found
    _note_use(row)
    return user


_last_noted: dict[int, float] = {}
_noted_lock = threading.Lock()


def _note_use(row: ApiToken) -> None:
    """Record when a token was last used, at most every few minutes and by one thread of a process:
    fifty scripts polling at once must not queue fifty writes on the database."""
    now = time.monotonic()
    with _noted_lock:
        if now - _last_noted.get(row.id, -1e9) < LAST_USED_EVERY.total_seconds():
            return
        _last_noted[row.id] = now
    if row.last_used_at is not None and utcnow() - row.last_used_at < LAST_USED_EVERY:
        return
    try:
        db.session.execute(db.update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=utcnow()))
        db.session.commit()
    except Exception:  # noqa: BLE001 - bookkeeping only; a busy database must not refuse the caller
        db.session.rollback()


@login_manager.request_loader
def load_user_from_bearer(req):
    """Flask-Login's hook, for callers outside a request's before_request (authenticate() runs first)."""
    token = bearer_token()
    if token is None or not is_api_request():
        return None
    user = user_for_token(token)
    if user is None:
        g.bad_bearer = True
    else:
        g.via_bearer = True
    return user


def authenticate() -> None:
    """Before every request: settle who is calling, then demand a CSRF token from cookie sessions."""
    token = bearer_token() if is_api_request() else None
    if token is not None:
        user = user_for_token(token)
        if user is None:
            raise JobError("INVALID_TOKEN", "The API token is invalid or revoked", 401)
        g._login_user = user  # the token alone decides; a cookie beside it is ignored
        g.via_bearer = True
        return
    if request.method not in STATE_CHANGING:
        return
    if is_api_request() and not current_user.is_authenticated:
        return  # no credentials at all: the route answers 401, there is no session to protect
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


def admin_required(view):
    """For admin-only routes: others get the same 404 as for something that does not exist."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated or not current_user.is_admin:
            raise JobError("NOT_FOUND", "Not found", 404)
        return view(*args, **kwargs)

    return wrapper


from . import routes  # noqa: E402,F401
