"""The real app served over HTTP in a thread, real RQ workers in their own processes, Debian's
Chromium driven by Playwright. Screenshots go to $FOOTY_SCREENSHOTS (make test sets it)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from ..conftest import make_user

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("FOOTY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--mute-audio",
                 "--autoplay-policy=no-user-gesture-required"]
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.browser


def screenshot_dir() -> Path:
    folder = Path(os.environ.get("FOOTY_SCREENSHOTS") or ROOT / "test-artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def shot():
    """shot(page, "03-pick") writes a full-page PNG that anyone can look at after the run."""
    folder = screenshot_dir()

    def take(page, name: str, full_page: bool = True) -> Path:
        path = folder / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture
def live_server(app):
    """The app, as configured by the app fixture, on a free port; requests are served in threads."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="footy-live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


class Workers:
    """`flask footy worker` processes with the test app's settings, started and stopped by the test."""

    def __init__(self, app):
        self.env = dict(os.environ, FLASK_APP="wsgi.py", SECRET_KEY=app.config["SECRET_KEY"],
                        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=app.config["REDIS_URL"],
                        FOOTY_MEDIA_DIR=app.config["FOOTY_MEDIA_DIR"],
                        FOOTY_QUEUE_PREFIX=app.config["FOOTY_QUEUE_PREFIX"],
                        FOOTY_PREVIEW_FRAMES=str(app.config["FOOTY_PREVIEW_FRAMES"]),
                        FOOTY_DETECTOR=app.config["FOOTY_DETECTOR"], PYTHONUNBUFFERED="1")
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, queues: str) -> None:
        if queues in self.procs:
            return
        self.procs[queues] = subprocess.Popen(
            [sys.executable, "-m", "flask", "footy", "worker", "--queues", queues, "--no-scheduler"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()


@pytest.fixture
def workers(app):
    """Starts nothing by itself: the test says which queues get a worker, and when."""
    w = Workers(app)
    yield w
    w.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() or not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.console_errors = []
    # a 409 the page expects (TARGET_MISMATCH) is logged by Chromium as a failed load: not a script error
    page.on("console", lambda msg: page.console_errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    return page


@pytest.fixture
def coach_user(app):
    return make_user("coach@example.com", password=PASSWORD)


def sign_in(page, base_url: str, email: str = "coach@example.com", password: str = PASSWORD) -> None:
    """Through the real login page, as a coach would."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/jobs$"))


@pytest.fixture(scope="session")
def long_clip(tmp_path_factory) -> Path:
    """A minute of 640x360 match: its analysis takes a few seconds, so the progress page (polled
    every second) is seen moving while it runs."""
    from footy.vision.synthetic import default_scene, render_scene

    path = tmp_path_factory.mktemp("browser-clips") / "cup-final.mp4"
    render_scene(default_scene(n_players=6, seconds=60.0, seed=3), path)
    return path
