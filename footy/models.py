"""The database rows shared by web processes and workers."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timezone

from flask_login import UserMixin
from sqlalchemy import JSON, Enum as SAEnum
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db
from .jobs.states import JobStatus, Step


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_id() -> str:
    return uuid.uuid4().hex


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), unique=True, nullable=False, index=True)
    password_hash = db.Column(db.String(256), nullable=False)
    is_admin = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class ApiToken(db.Model):
    """A script's credential. Only the SHA-256 of the token is stored; the token is shown once."""

    __tablename__ = "api_tokens"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    name = db.Column(db.String(80), nullable=False, default="default")
    token_hash = db.Column(db.String(64), unique=True, nullable=False, index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    revoked_at = db.Column(db.DateTime)
    last_used_at = db.Column(db.DateTime)
    user = db.relationship(User)

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user: User, name: str = "default") -> tuple["ApiToken", str]:
        token = "footy_" + secrets.token_urlsafe(32)
        return cls(user=user, name=name, token_hash=cls.hash(token)), token


class Job(db.Model):
    __tablename__ = "jobs"
    id = db.Column(db.String(32), primary_key=True, default=new_id)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True)
    status = db.Column(SAEnum(JobStatus, native_enum=False, length=32, validate_strings=True),
                       nullable=False, default=JobStatus.WAITING_FOR_SELECTION, index=True)
    step = db.Column(SAEnum(Step, native_enum=False, length=40, validate_strings=True),
                     nullable=False, default=Step.UPLOADED)
    progress_percent = db.Column(db.Integer, nullable=False, default=0)
    progress_message = db.Column(db.String(200), nullable=False, default="")
    video_key = db.Column(db.String(200))
    video_name = db.Column(db.String(255), nullable=False, default="")  # shown to the coach, never a path
    video_info = db.Column(JSON)
    preview_frames = db.Column(JSON, nullable=False, default=list)
    candidates_status = db.Column(db.String(20), nullable=False, default="pending")
    player_ref = db.Column(JSON)
    target = db.Column(JSON)
    role = db.Column(db.String(20))
    result = db.Column(JSON)
    artefacts = db.Column(JSON, nullable=False, default=dict)
    error = db.Column(JSON)
    rq_job_id = db.Column(db.String(80))
    attempts = db.Column(db.Integer, nullable=False, default=0)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    started_at = db.Column(db.DateTime)
    finished_at = db.Column(db.DateTime)

    user = db.relationship(User)
