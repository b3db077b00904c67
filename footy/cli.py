"""`flask footy ...`: the admin's commands."""
from __future__ import annotations

import json
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from . import tasks
from .extensions import db
from .jobs import service
from .jobs.errors import JobError
from .jobs.serialize import job_payload
from .models import ApiToken, Job, User, utcnow
from .storage import get_storage

footy_cli = AppGroup("footy", help="footy's admin commands.")


def _fail(message: str) -> None:
    raise click.ClickException(message)


# ------------------------------------------------------------------ jobs

@footy_cli.command("jobs")
@click.option("--limit", default=50, show_default=True)
def jobs_command(limit: int):
    """List jobs, newest first, with their state."""
    rows = db.session.scalars(db.select(Job).order_by(Job.created_at.desc()).limit(limit)).all()
    if not rows:
        click.echo("no jobs")
    for job in rows:
        owner = job.user.email if job.user else "-"
        click.echo(f"{job.id}  {job.status.value:<22} {job.step.value:<32} {job.progress_percent:>3}%  "
                   f"{job.created_at:%Y-%m-%d %H:%M}  {owner}  {job.video_name}")


@footy_cli.command("show")
@click.argument("job_id")
def show_command(job_id: str):
    """Print one job as JSON."""
    job = db.session.get(Job, job_id)
    if job is None:
        _fail(f"no job {job_id}")
    click.echo(json.dumps(job_payload(job), indent=2, default=str))


@footy_cli.command("requeue")
@click.argument("job_id")
def requeue_command(job_id: str):
    """Start a job's analysis again (after a failure, a lost worker, or to re-run it)."""
    try:
        job = service.requeue(job_id, tasks.enqueue_analysis)
    except JobError as exc:
        _fail(f"{exc.code}: {exc.message} {exc.details or ''}")
    click.echo(f"{job.id} queued as {job.rq_job_id}")


@footy_cli.command("fail-stuck")
@click.option("--older-than", "minutes", type=click.IntRange(min=1), required=True, help="minutes without progress")
def fail_stuck_command(minutes: int):
    """Mark QUEUED/RUNNING jobs with no progress for MINUTES as FAILED (WORKER_LOST)."""
    failed = service.fail_stuck(timedelta(minutes=minutes))
    click.echo(f"marked {len(failed)} job(s) FAILED" + "".join(f"\n  {j}" for j in failed))


@footy_cli.command("cleanup")
@click.option("--older-than", "days", type=click.IntRange(min=0), required=True, help="days since last update")
def cleanup_command(days: int):
    """Delete finished jobs (COMPLETED, PARTIAL, FAILED) and their media."""
    removed = service.cleanup(timedelta(days=days), get_storage())
    click.echo(f"removed {len(removed)} job(s)" + "".join(f"\n  {j}" for j in removed))


@footy_cli.command("analyze")
@click.argument("video", type=click.Path(exists=True, dir_okay=False))
@click.option("--at", "at_sec", type=float, required=True, help="time of the frame the box is on, in seconds")
@click.option("--bbox", required=True, help="x,y,w,h normalized to 0..1, as in the API")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="folder for the artefacts (default: a temporary folder)")
@click.option("--role", type=click.Choice(["goalkeeper", "defender", "midfielder", "forward"]), default=None)
def analyze_command(video: str, at_sec: float, bbox: str, out_dir: str | None, role: str | None):
    """Run the whole pipeline on a file without the web and print the result JSON."""
    import tempfile

    from .jobs.payloads import parse_bbox
    from .vision.analysis import analyze_video
    from .vision.detect import make_detector
    from .vision.types import NormBox, VisionError

    try:
        x, y, w, h = (float(v) for v in bbox.split(","))
        box = parse_bbox({"x": x, "y": y, "w": w, "h": h})
    except (ValueError, JobError) as exc:
        _fail(f"--bbox must be x,y,w,h in 0..1: {getattr(exc, 'message', exc)}")
    out = Path(out_dir or tempfile.mkdtemp(prefix="footy-analyze-"))
    out.mkdir(parents=True, exist_ok=True)

    def progress(fraction: float, message: str = "") -> None:
        click.echo(f"\r{int(fraction * 100):3d}% {message:<40}", nl=False, err=True)

    try:
        output = analyze_video(video, at_sec, NormBox(**box), out,
                               detector=make_detector(current_app.config["FOOTY_DETECTOR"]), role=role,
                               progress=progress)
    except VisionError as exc:
        click.echo("", err=True)
        _fail(f"{exc.code}: {exc.message}")
    click.echo("", err=True)
    click.echo(json.dumps({"status": output.status, "result": output.result,
                           "artefacts": {k: str(v) for k, v in output.artefacts.items()}}, indent=2))


# ------------------------------------------------------------------ processes

@footy_cli.command("worker")
@click.option("--queues", default="previews,analysis", show_default=True,
              help="comma-separated, in priority order")
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@click.option("--scheduler/--no-scheduler", default=True, show_default=True)
def worker_command(queues: str, burst: bool, scheduler: bool):
    """Run an RQ worker on footy's queues inside this app's context."""
    from .faults import make_worker
    from .queue import get_redis, queue_names

    names = queue_names([q.strip() for q in queues.split(",") if q.strip()])
    wait_for_schema()
    # the vision stack (OpenCV, PyAV, supervision, trackers) takes ~1 s to import: load it once
    # here, so every job's forked work horse starts with it instead of importing it again
    import footy.vision.analysis  # noqa: F401
    import footy.vision.track  # noqa: F401
    worker = make_worker(names, get_redis())  # retries lost jobs once, marks the rest WORKER_LOST, sweeps
    worker.work(burst=burst, with_scheduler=scheduler)


@footy_cli.command("sweep")
def sweep_command():
    """Settle jobs whose worker died or whose queue entry vanished (workers do this periodically)."""
    from .faults import sweep

    report = sweep(force=True)
    click.echo(json.dumps(report))


@footy_cli.command("redis")
@click.argument("action", type=click.Choice(["start", "stop", "url"]))
def redis_command(action: str):
    """Manage the embedded Redis (used when REDIS_URL is unset)."""
    from .queue import embedded_redis_server, stop_embedded_redis

    if current_app.config["REDIS_URL"]:
        click.echo(f"REDIS_URL is set ({current_app.config['REDIS_URL'].split('@')[-1]}); nothing embedded")
        return
    if action == "stop":
        click.echo("stopped" if stop_embedded_redis(current_app.instance_path) else "not running")
    else:
        click.echo("unix://" + embedded_redis_server(current_app.instance_path))


def _schema_ready() -> bool:
    from sqlalchemy import inspect

    from .extensions import db

    try:
        return inspect(db.engine).has_table("jobs")
    except Exception:  # the database is not reachable yet: not ready
        return False


def wait_for_schema(timeout: float = 120.0) -> None:
    """Started beside `release` (honcho starts every process at once), wait for its migrations.

    Also used by gunicorn.conf.py's ``on_starting`` under honcho."""
    import time

    deadline = time.monotonic() + timeout
    waited = False
    while not _schema_ready():
        if time.monotonic() > deadline:
            raise click.ClickException("the database has no schema: run `flask --app wsgi db upgrade` (release)")
        if not waited:
            click.echo("waiting for the database schema (the release process migrates it)")
            waited = True
        time.sleep(0.5)


@footy_cli.command("release")
def release_command():
    """The Procfile's release phase: apply the migrations, then exit.

    Under honcho (`honcho start` runs every Procfile process at once) it stays up after migrating,
    because honcho stops all processes as soon as one exits; a platform's release phase has no
    honcho and exits as usual.
    """
    import signal

    from flask_migrate import upgrade

    upgrade()
    click.echo("release: the database schema is up to date")
    if not os.environ.get("HONCHO_PROCESS_NAME"):
        return
    click.echo("release: started by honcho beside web and worker; idle until they stop")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass


@footy_cli.command("init-db")
def init_db_command():
    """Create or upgrade the schema (Alembic migrations)."""
    from flask_migrate import upgrade

    upgrade()
    click.echo("database ready")


# ------------------------------------------------------------------ accounts

def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        _fail("the password must have at least 8 characters")
    return password


def _user(email: str) -> User:
    user = db.session.scalar(db.select(User).where(User.email == email.strip().lower()))
    if user is None:
        _fail(f"no user {email}")
    return user


@footy_cli.command("create-user")
@click.argument("email")
@click.option("--admin", is_flag=True, help="may see and manage every job")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
def create_user_command(email: str, admin: bool, password_stdin: bool):
    """Create a coach (or admin) account."""
    email = email.strip().lower()
    if "@" not in email:
        _fail("EMAIL must be an email address")
    if db.session.scalar(db.select(User).where(User.email == email)):
        _fail(f"{email} exists already")
    user = User(email=email, is_admin=admin)
    user.set_password(_read_password(password_stdin))
    db.session.add(user)
    db.session.commit()
    click.echo(f"created {'admin' if admin else 'coach'} {email}")


@footy_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True)
def set_password_command(email: str, password_stdin: bool):
    """Change a user's password."""
    user = _user(email)
    user.set_password(_read_password(password_stdin))
    db.session.commit()
    click.echo(f"password changed for {user.email}")


@footy_cli.command("users")
def users_command():
    """List accounts."""
    for user in db.session.scalars(db.select(User).order_by(User.email)):
        tokens = db.session.scalar(db.select(db.func.count(ApiToken.id)).where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)))
        click.echo(f"{user.email:<40} {'admin' if user.is_admin else 'coach':<6} tokens={tokens}")


@footy_cli.command("create-token")
@click.argument("email")
@click.option("--name", default="default", show_default=True)
def create_token_command(email: str, name: str):
    """Print a new API token for EMAIL once; only its hash is stored."""
    row, token = ApiToken.issue(_user(email), name=name[:80])
    db.session.add(row)
    db.session.commit()
    click.echo(token)


@footy_cli.command("revoke-token")
@click.argument("email")
@click.option("--name", default=None, help="only the tokens with this name (default: all of EMAIL's)")
def revoke_token_command(email: str, name: str | None):
    """Revoke EMAIL's API tokens."""
    user = _user(email)
    query = db.select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if name:
        query = query.where(ApiToken.name == name)
    rows = db.session.scalars(query).all()
    for row in rows:
        row.revoked_at = utcnow()
    db.session.commit()
    click.echo(f"revoked {len(rows)} token(s)")


@footy_cli.command("ensure-admin")
def ensure_admin_command():
    """First start: if there is no account, create an admin (FOOTY_ADMIN_EMAIL / FOOTY_ADMIN_PASSWORD,
    else admin@footy.local with a generated password kept in instance/admin-password.txt)."""
    if db.session.scalar(db.select(db.func.count(User.id))):
        return
    email = os.environ.get("FOOTY_ADMIN_EMAIL", "admin@footy.local").strip().lower()
    password = os.environ.get("FOOTY_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    user = User(email=email, is_admin=True)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    if not os.environ.get("FOOTY_ADMIN_PASSWORD"):
        path = Path(current_app.instance_path) / "admin-password.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{email}\n{password}\n")
        click.echo(f"created admin {email} with password {password} (also in {path})")
    else:
        click.echo(f"created admin {email}")


@footy_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "5000")), show_default="PORT or 5000")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="RQ workers on all queues (one more always serves the previews queue alone)")
def serve_command(host: str, port: int, workers: int):
    """Local all-in-one: the embedded Redis, RQ workers and the web server, stopped together on Ctrl-C."""
    import signal
    import subprocess

    from werkzeug.serving import run_simple

    from .queue import get_redis

    from .queue import stop_embedded_redis

    get_redis().ping()  # starts the embedded Redis once, before the workers race for it
    # `kill` (SIGTERM) must stop the workers too, as Ctrl-C does
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    env = dict(os.environ, FLASK_APP=os.environ.get("FLASK_APP", "wsgi.py"))
    cmd = [sys.executable, "-m", "flask", "footy", "worker"]
    procs = [subprocess.Popen(cmd + ["--queues", "previews"], env=env)]
    procs += [subprocess.Popen(cmd, env=env) for _ in range(workers)]
    click.echo(f"footy on http://{host}:{port}  ({len(procs)} workers; Ctrl-C stops everything)")
    try:
        run_simple(host, port, current_app._get_current_object(), threaded=True, use_reloader=False)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not current_app.config["REDIS_URL"]:
            stop_embedded_redis(current_app.instance_path)
