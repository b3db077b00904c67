"""Keyboard-only picking, upload errors, and the no-JavaScript path, in Debian's Chromium."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from footy.extensions import db
from footy.models import Job

from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _job(job_id: str) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def _upload_by_api(page, base: str, clip) -> str:
    """The job is created over the JSON API with the page's own session and CSRF token."""
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    res = page.request.post(f"{base}/api/jobs", headers={"X-CSRFToken": token},
                            multipart={"video": {"name": "derby.mp4", "mimeType": "video/mp4",
                                                 "buffer": clip.read_bytes()}})
    assert res.status == 201, res.text()
    return res.json()["data"]["job_id"]


def _tab_to(page, predicate_js: str, limit: int = 120) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(predicate_js):
            return
    raise AssertionError(f"Tab never reached: {predicate_js}")


def test_keyboard_only_selection(app, live_server, workers, page, coach_user, clip, shot):
    base = live_server
    sign_in(page, base)
    workers.start("previews")
    job_id = _upload_by_api(page, base, clip)
    page.goto(f"{base}/jobs/{job_id}")
    expect(page.locator("g.track").first).to_be_visible(timeout=60_000)

    # Tab reaches each box, labelled "player N"; Enter picks the focused one
    _tab_to(page, "() => document.activeElement.matches('g.track')")
    label = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert re.fullmatch(r"player \d+", label)
    focused_id = int(page.evaluate("document.activeElement.dataset.trackId"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.matches('g.track')"), "the next box is focusable too"
    page.keyboard.press("Shift+Tab")
    shot(page, "20-keyboard-focus", full_page=False)
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-dialog")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "confirm-btn"
    assert _job(job_id).player_ref["track_id"] == focused_id
    shot(page, "20b-keyboard-confirm", full_page=False)

    # Escape cancels; the focus is back on the same box, and Enter opens the dialog again
    page.keyboard.press("Escape")
    expect(page.locator("#confirm-dialog")).to_be_hidden()
    assert page.evaluate("document.activeElement.dataset.trackId") == str(focused_id)
    page.keyboard.press("Enter")
    expect(page.locator("#confirm-dialog")).to_be_visible()

    # arrows move the box, and the box still overlaps the player enough to be confirmed
    x0 = float(page.input_value("#box-x"))
    page.focus("#target-box")
    page.keyboard.press("ArrowRight")
    assert float(page.input_value("#box-x")) == pytest.approx(x0 + 0.01, abs=1e-3)
    page.keyboard.press("ArrowLeft")

    # far away with the arrows: TARGET_MISMATCH; "use my box anyway" by keyboard sends force=true
    away = "ArrowRight" if x0 < 0.5 else "ArrowLeft"
    for _ in range(35):
        page.keyboard.press(away)
    moved_x = float(page.input_value("#box-x"))
    assert abs(moved_x - x0) > 0.2
    page.focus("#confirm-btn")
    page.keyboard.press("Enter")
    expect(page.locator("#mismatch-dialog")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "mismatch-retry"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") == "mismatch-force"
    page.keyboard.press("Enter")
    expect(page.locator("#start-btn")).to_be_enabled()
    job = _job(job_id)
    assert job.target["confirmed"] is True and job.target["forced"] is True
    assert job.target["bbox"]["x"] == pytest.approx(moved_x, abs=1e-3)

    _tab_to(page, "() => document.activeElement.id === 'start-btn'")
    page.keyboard.press("Enter")
    expect(page.locator("#progress")).to_be_visible()
    assert _job(job_id).status.value == "QUEUED"
    assert page.console_errors == [], page.console_errors


def test_upload_errors_show_the_servers_code_and_message(app, live_server, page, coach_user, tmp_path, shot):
    base = live_server
    sign_in(page, base)

    # a file that is not a video: the server's INVALID_VIDEO
    wrong = tmp_path / "notes.mp4"
    wrong.write_text("these are my match notes, not a video\n" * 50)
    page.set_input_files("#video-input", str(wrong))
    page.click("#upload-btn")
    error = page.locator("#upload-error")
    expect(error.locator(".error-code")).to_have_text("INVALID_VIDEO")
    expect(error.locator(".error-message")).to_contain_text("not a video footy can decode")
    assert page.url.endswith("/jobs")
    shot(page, "21-upload-wrong-file")

    # a file over the limit: refused before a long upload, with the server's own code
    app.config.update(MAX_UPLOAD_MB=1, MAX_CONTENT_LENGTH=1024 * 1024)
    page.reload()
    big = tmp_path / "whole-season.mp4"
    big.write_bytes(b"\0" * (1024 * 1024 + 4096))
    page.set_input_files("#video-input", str(big))
    page.click("#upload-btn")
    expect(error.locator(".error-code")).to_have_text("UPLOAD_TOO_LARGE")
    expect(error.locator(".error-message")).to_contain_text("1 MB limit")
    shot(page, "22-upload-too-large")
    assert db.session.query(Job).count() == 0
    assert page.console_errors == [], page.console_errors


def test_the_core_path_without_javascript(app, live_server, workers, browser, coach_user, clip, shot):
    """Scripts off: forms post, pages re-render, errors are shown next to the form."""
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1024, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        base = live_server
        sign_in(page, base)
        workers.start("previews")
        page.set_input_files("#video-input", str(clip))
        page.click("#upload-btn")
        page.wait_for_url(re.compile(r".*/jobs/[0-9a-f]{32}$"))
        job_id = page.url.rsplit("/", 1)[-1]
        for _ in range(60):  # the page refreshes itself (<noscript> meta refresh) until the frames are there
            if page.locator(".pick-form").count():
                break
            page.wait_for_timeout(500)
        expect(page.locator(".pick-form").first).to_be_visible()
        job = _job(job_id)
        frame = max(job.preview_frames, key=lambda f: len(f["tracks"]))
        track = max(frame["tracks"], key=lambda t: t["bbox"]["h"])
        page.locator(f'.pick-form button[data-frame-key="{frame["frame_key"]}"][value="{track["track_id"]}"]').click()
        form = page.locator("#confirm-form")
        expect(form).to_be_visible()
        assert float(page.input_value("#box-x")) == pytest.approx(track["bbox"]["x"], abs=1e-3)

        # a box far from the player: the page comes back with TARGET_MISMATCH and a force button
        page.click("summary")
        far = 0.02 if track["bbox"]["x"] > 0.5 else 0.85
        page.fill("#box-x", str(far))
        page.fill("#box-y", "0.05")
        page.click("#confirm-btn")
        expect(page.locator("#confirm-error .error-code")).to_have_text("TARGET_MISMATCH")
        shot(page, "23-nojs-mismatch")
        page.get_by_role("button", name="Use my box anyway").click()
        expect(page.locator("#start-btn")).to_be_enabled()
        job = _job(job_id)
        assert job.target["forced"] is True and job.target["bbox"]["x"] == pytest.approx(far)
        page.click("#start-btn")
        expect(page.locator("#progress")).to_be_visible()
        assert _job(job_id).status.value == "QUEUED"
        shot(page, "24-nojs-queued")
    finally:
        context.close()


def test_failed_and_missing_results_are_explicit_pages(app, live_server, page, coach_user, shot):
    from footy.jobs.states import JobStatus, Step
    from footy.models import new_id

    def row(**values) -> str:
        job = Job(id=new_id(), user_id=coach_user.id, video_name="away-game.mp4",
                  video_info={"duration_sec": 5400.0, "fps": 25.0, "width": 1920, "height": 1080}, **values)
        db.session.add(job)
        db.session.commit()
        return job.id

    failed = row(status=JobStatus.FAILED, step=Step.FAILED, progress_message="The analysis failed",
                 error={"code": "VIDEO_DECODE_ERROR", "message": "The video is damaged at frame 48210",
                        "frame_index": 48210})
    empty = row(status=JobStatus.COMPLETED, step=Step.DONE, progress_percent=100, result=None)
    sign_in(page, live_server)

    page.goto(f"{live_server}/jobs/{failed}")
    expect(page.locator("#job-error .error-code")).to_have_text("VIDEO_DECODE_ERROR")
    expect(page.locator("#job-error")).to_contain_text("The video is damaged at frame 48210")
    shot(page, "30-failed-job")

    page.goto(f"{live_server}/jobs/{empty}")
    expect(page.locator("#result-error .error-code")).to_have_text("RESULT_MISSING")
    shot(page, "31-result-missing")

    page.goto(f"{live_server}/jobs")
    expect(page.locator(f'tr[data-job-id="{failed}"] [data-field=state]')).to_have_text("Failed")
    shot(page, "32-jobs-mixed")
    assert page.console_errors == [], page.console_errors
