"""Settings from the environment, each with an embedded default so `make run` needs nothing else."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def database_url(instance_path: Path) -> str:
    return normalise_database_url(os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'footy.db'}")


def normalise_database_url(url: str) -> str:
    """Platform-style PostgreSQL URLs to SQLAlchemy's psycopg 3 dialect; anything else unchanged."""
    if url.startswith("postgres://"):  # Heroku-style URLs; SQLAlchemy only knows postgresql://
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one generated on first start and kept in instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def s3_settings() -> dict:
    """Object storage (only read when FOOTY_STORAGE_URL=s3://...). Unset keys and region fall back to
    boto3's own chain (~/.aws, an instance role), as for any AWS program."""
    return {
        "FOOTY_S3_ENDPOINT_URL": os.environ.get("FOOTY_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL") or "",
        "FOOTY_S3_PUBLIC_ENDPOINT_URL": os.environ.get("FOOTY_S3_PUBLIC_ENDPOINT_URL", ""),
        "FOOTY_S3_REGION": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", ""),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
        "FOOTY_S3_URL_EXPIRY": _int("FOOTY_S3_URL_EXPIRY", 300),
        "FOOTY_S3_SERVE": os.environ.get("FOOTY_S3_SERVE", "proxy"),
        "FOOTY_S3_ADDRESSING_STYLE": os.environ.get("FOOTY_S3_ADDRESSING_STYLE", ""),
    }


def load(instance_path: Path) -> dict:
    """Every setting footy reads, in one place. The README's settings table mirrors this."""
    max_upload_mb = _int("MAX_UPLOAD_MB", 2048)
    production = os.environ.get("FOOTY_ENV", "development") == "production"
    return {
        "SECRET_KEY": secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "FOOTY_MEDIA_DIR": os.environ.get("FOOTY_MEDIA_DIR") or str(instance_path / "media"),
        "FOOTY_STORAGE_URL": os.environ.get("FOOTY_STORAGE_URL", ""),
        "FOOTY_DETECTOR": os.environ.get("FOOTY_DETECTOR", "pitch"),
        "FOOTY_PREVIEW_FRAMES": _int("FOOTY_PREVIEW_FRAMES", 8),
        "FOOTY_ANALYSIS_TIMEOUT": _int("FOOTY_ANALYSIS_TIMEOUT", 6 * 3600),
        "FOOTY_QUEUE_PREFIX": os.environ.get("FOOTY_QUEUE_PREFIX", "footy"),
        "MAX_UPLOAD_MB": max_upload_mb,
        "MAX_CONTENT_LENGTH": max_upload_mb * 1024 * 1024,
        "FOOTY_ENV": "production" if production else "development",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        # CSRF is checked by footy's own before_request so that Bearer-token requests can skip it
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REMEMBER_COOKIE_DURATION": 30 * 86400,  # "keep me signed in": 30 days
        # fault handling (footy/faults.py): how fast a lost worker's job is noticed
        "FOOTY_WORKER_TTL": _int("FOOTY_WORKER_TTL", 60),
        "FOOTY_JOB_MONITORING_INTERVAL": _int("FOOTY_JOB_MONITORING_INTERVAL", 30),
        "FOOTY_SWEEP_INTERVAL": _int("FOOTY_SWEEP_INTERVAL", 60),
        "FOOTY_SWEEP_GRACE": _int("FOOTY_SWEEP_GRACE", 60),
        **s3_settings(),
    }
