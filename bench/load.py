"""Load: many coaches' pages polling a job's status and fetching its preview frames, against footy
served by gunicorn (gunicorn.conf.py, as in production) on the loopback interface.

    python bench/load.py                      # 50 clients, 15 s, each polling every 0.1 s (asyncio)
    python bench/load.py --clients 50 --interval 0 --duration 10   # closed loop: as fast as possible

Sets up its own world in a temporary folder (SQLite, an embedded Redis, media, a coach, an API token,
one uploaded and prepared job), starts gunicorn on 127.0.0.1 at a free port, runs the clients, prints
requests/s, p50/p95/p99 latency per kind of request and the error count, then stops everything.
Bounded: at most --duration seconds and --max-requests requests. Only loopback traffic.

Target on a 2-CPU machine: zero errors, status p99 under 50 ms at 50 concurrent clients.
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATUS_TARGET_P99_MS = 50.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_world(folder: Path) -> tuple[dict, str, str, list[str]]:
    """Environment for gunicorn, an API token, a prepared job id and its frame URLs."""
    from rq import SimpleWorker

    from footy.queue import embedded_redis_server

    redis_dir = Path(f"/tmp/footy-load-{uuid.uuid4().hex[:8]}")  # short: Unix socket paths are limited
    env = {
        "SECRET_KEY": uuid.uuid4().hex,
        "DATABASE_URL": f"sqlite:///{folder / 'footy.db'}",
        "REDIS_URL": "unix://" + embedded_redis_server(redis_dir),
        "FOOTY_MEDIA_DIR": str(folder / "media"),
        "FOOTY_QUEUE_PREFIX": f"load-{uuid.uuid4().hex[:6]}",
        "FOOTY_PREVIEW_FRAMES": "4",
        "FOOTY_LOAD_REDIS_DIR": str(redis_dir),
    }
    os.environ.update(env)
    from footy import create_app
    from footy.extensions import db
    from footy.models import ApiToken, User
    from footy.queue import get_redis, queue_names
    from footy.vision.synthetic import default_scene, render_scene

    clip = folder / "match.mp4"
    render_scene(default_scene(n_players=6, seconds=4.0, seed=3), clip)
    app = create_app({"INSTANCE_PATH": str(folder / "instance")})
    with app.app_context():
        db.create_all()
        user = User(email="coach@example.com")
        user.set_password(uuid.uuid4().hex)
        row, token = ApiToken.issue(user, "load")
        db.session.add_all([user, row])
        db.session.commit()
        client = app.test_client()
        with open(clip, "rb") as fh:
            res = client.post("/api/jobs", data={"video": (fh, "match.mp4")}, content_type="multipart/form-data",
                              headers={"Authorization": f"Bearer {token}"})
        assert res.status_code == 201, res.json
        job_id = res.json["data"]["job_id"]
        SimpleWorker(queue_names(["previews"]), connection=get_redis()).work(burst=True, with_scheduler=False)
        job = client.get(f"/api/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"}).json["data"]
        frames = [f["url"] for f in job["preview_frames"]]
        assert frames, job
    return env, token, job_id, frames


def start_gunicorn(env: dict, port: int, folder: Path, workers: int, threads: int) -> subprocess.Popen:
    full = {**os.environ, **env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers),
            "GUNICORN_THREADS": str(threads), "GUNICORN_LOG_LEVEL": "warning"}
    log = open(folder / "gunicorn.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--access-logfile",
                             "/dev/null", "wsgi:app"], cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/login")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    raise SystemExit(f"gunicorn did not start; see {folder / 'gunicorn.log'}")


class Client:
    """One coach's page: polls the status, now and then fetches a preview frame. All clients run as
    coroutines of one event loop, each on its own keep-alive connection, so the load generator
    itself stays light and its own scheduling adds little to the latencies it measures."""

    def __init__(self, port, token, job_id, frames, interval, stop_at, budget, frame_every, index):
        self.port, self.token = port, token
        self.status_url = f"/api/jobs/{job_id}/status"
        self.frames, self.interval, self.stop_at, self.budget = frames, interval, stop_at, budget
        self.frame_every, self.index = frame_every, index
        self.latencies = {"status": [], "frame": []}
        self.errors: list[str] = []
        self.reconnects = 0
        self.reader = self.writer = None

    async def _connect(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def _close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def _once(self, url: str) -> tuple[int, bytes]:
        if self.writer is None:
            await self._connect()
        self.writer.write((f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                           f"Authorization: Bearer {self.token}\r\nConnection: keep-alive\r\n\r\n").encode())
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self._close()
        return status, body

    async def _request(self, url: str) -> tuple[int, bytes]:
        for attempt in (0, 1):
            reused = self.writer is not None
            try:
                return await self._once(url)
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
                # the server closed an idle keep-alive connection (a recycled process): open a new
                # one and send again, as every HTTP client does for a GET
                await self._close()
                if attempt or not reused:
                    raise
                self.reconnects += 1
        raise AssertionError("unreachable")

    async def run(self) -> None:
        n = self.index
        while time.monotonic() < self.stop_at and self.budget.take():
            n += 1
            kind = "frame" if self.frame_every and n % self.frame_every == 0 else "status"
            url = self.frames[n % len(self.frames)] if kind == "frame" else self.status_url
            started = time.perf_counter()
            try:
                status, body = await asyncio.wait_for(self._request(url), timeout=10)
                elapsed = (time.perf_counter() - started) * 1000
                if status != 200:
                    self.errors.append(f"{kind} {status} {body[:100]!r}")
                elif kind == "status" and not json.loads(body)["ok"]:
                    self.errors.append(f"status not ok: {body[:100]!r}")
                else:
                    self.latencies[kind].append(elapsed)
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
                self.errors.append(f"{kind} {type(exc).__name__}: {exc}")
                await self._close()
            if self.interval:
                await asyncio.sleep(self.interval)
        await self._close()


class Budget:
    def __init__(self, total: int):
        self.left = total

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


async def run_clients(clients) -> None:
    await asyncio.gather(*(client.run() for client in clients))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds (at most 120)")
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--interval", type=float, default=0.1,
                        help="seconds each client waits between requests (the pages poll; 0: closed loop)")
    parser.add_argument("--frame-every", type=int, default=5, help="every n-th request of a client fetches a frame")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    duration = min(max(args.duration, 1.0), 120.0)

    folder = Path(tempfile.mkdtemp(prefix="footy-load-"))
    gunicorn = None
    env: dict = {}
    try:
        print("preparing a job (upload, previews) ...", flush=True)
        env, token, job_id, frames = prepare_world(folder)
        port = free_port()
        gunicorn = start_gunicorn(env, port, folder, args.web_workers, args.threads)
        print(f"gunicorn on 127.0.0.1:{port} ({args.web_workers} processes x {args.threads} threads); "
              f"{args.clients} clients for {duration:.0f} s, interval {args.interval} s", flush=True)
        budget = Budget(args.max_requests)
        stop_at = time.monotonic() + duration
        clients = [Client(port, token, job_id, frames, args.interval, stop_at, budget, args.frame_every, i)
                   for i in range(args.clients)]
        started = time.monotonic()
        asyncio.run(run_clients(clients))
        elapsed = time.monotonic() - started
        errors = [e for c in clients for e in c.errors]
        total = sum(len(c.latencies[k]) for c in clients for k in c.latencies) + len(errors)
        print(f"\nrequests: {total} in {elapsed:.1f} s = {total / elapsed:.0f} requests/s; "
              f"errors: {len(errors)}; keep-alive reconnects: {sum(c.reconnects for c in clients)}")
        for kind in ("status", "frame"):
            lat = [v for c in clients for v in c.latencies[kind]]
            print(f"  {kind:<7} n={len(lat):<7} p50={percentile(lat, 50):6.1f} ms  p95={percentile(lat, 95):6.1f} ms"
                  f"  p99={percentile(lat, 99):6.1f} ms  max={max(lat, default=float('nan')):6.1f} ms")
        for error in sorted(set(errors))[:10]:
            print("  error:", error)
        status_p99 = percentile([v for c in clients for v in c.latencies["status"]], 99)
        ok = not errors and status_p99 < STATUS_TARGET_P99_MS
        print(f"\ntarget (zero errors, status p99 < {STATUS_TARGET_P99_MS:.0f} ms): {'MET' if ok else 'NOT MET'}")
        return 0 if ok else 1
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
        if env.get("FOOTY_LOAD_REDIS_DIR"):
            from footy.queue import stop_embedded_redis

            stop_embedded_redis(env["FOOTY_LOAD_REDIS_DIR"])
            shutil.rmtree(env["FOOTY_LOAD_REDIS_DIR"], ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
