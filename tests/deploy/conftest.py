"""Real servers for the deployment tests: an S3-compatible server (moto's server mode, a separate
process on localhost), a PostgreSQL database of their own, and helpers to run footy's Procfile
processes as subprocesses with a production-shaped environment."""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from urllib.parse import urlsplit, urlunsplit
from pathlib import Path

import pytest

from ..conftest import wait_for  # noqa: F401 (also for the tests of this folder)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEFAULT_POSTGRES_URL = "postgresql://footy:footy@127.0.0.1:5432/footy_test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile() -> dict[str, str]:
    """The Procfile's process types, exactly as a platform (or honcho) reads them."""
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def procfile_command(name: str, *extra: str) -> list[str]:
    return shlex.split(procfile()[name]) + list(extra)


def process_env(**values) -> dict:
    """The environment of a Procfile process: the venv first on PATH, footy's settings given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOOTY_", "AWS_")) and
           k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PORT", "WEB_CONCURRENCY")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update({k: str(v) for k, v in values.items()})
    return env


def run_process(name: str, env: dict, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a Procfile process to completion (release), failing the test with its output if it fails."""
    res = subprocess.run(procfile_command(name, *extra), cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, f"{name} {extra} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
    return res


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """Warm shutdown (SIGTERM, as a platform does), then SIGKILL to the whole group if it hangs."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# ------------------------------------------------------------------ S3 (moto server)

@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """moto's standalone S3-compatible server: a real HTTP server in its own process."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "w")
    proc = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def up():
        if proc.poll() is not None:
            raise AssertionError(f"moto_server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=1):
                return True
        except OSError:
            return False

    wait_for(up, 30, "moto_server")
    yield url
    stop(proc, timeout=10)
    log.close()


S3_KEYS = {"AWS_ACCESS_KEY_ID": "footy-test-key", "AWS_SECRET_ACCESS_KEY": "footy-test-secret"}


@pytest.fixture
def s3_settings(s3_endpoint) -> dict:
    """Settings (as footy.config.s3_settings names them) for a fresh bucket on the moto server."""
    import boto3

    bucket = f"footy-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id=S3_KEYS[
        "AWS_ACCESS_KEY_ID"], aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"]).create_bucket(Bucket=bucket)
    return {"FOOTY_STORAGE_URL": f"s3://{bucket}/media", "FOOTY_S3_ENDPOINT_URL": s3_endpoint,
            "FOOTY_S3_REGION": "us-east-1", **S3_KEYS, "FOOTY_S3_URL_EXPIRY": 120, "FOOTY_S3_SERVE": "redirect",
            "FOOTY_S3_PUBLIC_ENDPOINT_URL": "", "FOOTY_S3_ADDRESSING_STYLE": ""}


# ------------------------------------------------------------------ PostgreSQL

def _postgres_admin_url() -> str:
    for name in ("FOOTY_TEST_POSTGRES_URL", "FOOTY_TEST_DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgresql", "postgres:")):
            return url
    return DEFAULT_POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """A reachable PostgreSQL whose role may create databases; skipped (CI: failed) when there is none."""
    import psycopg

    url = _postgres_admin_url()
    dsn = "postgresql://" + url.split("://", 1)[1]  # psycopg wants plain libpq URLs
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        message = f"no PostgreSQL at {url.split('@')[-1]} ({str(exc).strip().splitlines()[0][:120]}); " \
                  "set FOOTY_TEST_POSTGRES_URL"
        if os.environ.get("FOOTY_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    return dsn


@pytest.fixture
def postgres_url(postgres_server):
    """A database of the test's own on that server, dropped afterwards."""
    import psycopg
    from psycopg import sql

    name = f"footy_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield urlunsplit(urlsplit(postgres_server)._replace(path=f"/{name}"))
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
