"""The coach's pages without JavaScript: every form posts to footy/web, which calls the same
jobs.service functions as the API; errors come back inline with their real code and message."""
from __future__ import annotations

import html
import re

from footy.extensions import db
from footy.jobs.states import JobStatus, Step
from footy.models import Job, new_id
from footy.queue import get_queue

from ..conftest import make_user, run_worker
from .conftest import sign_in

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"\sstyle\s*=", re.I)


def assert_csp_clean(page: str) -> None:
    """The Content-Security-Policy allows only footy's own files: no inline script, handler or style."""
    assert not INLINE_SCRIPT.search(page), INLINE_SCRIPT.search(page).group(0)
    assert not INLINE_HANDLER.search(page), INLINE_HANDLER.search(page).group(0)
    assert not INLINE_STYLE.search(page), INLINE_STYLE.search(page).group(0)


def text(res) -> str:
    return html.unescape(res.get_data(as_text=True))


def _job(job_id: str) -> Job:
    db.session.rollback()  # a fresh read, not this session's old snapshot
    return db.session.get(Job, job_id)


def _upload(web, clip, name="match.mp4"):
    with open(clip, "rb") as fh:
        return web.post("/jobs", {"video": (fh, name)}, content_type="multipart/form-data")


def test_upload_pick_confirm_start_result_by_forms(app, web, clip):
    res = web.get("/jobs")
    assert res.status_code == 200 and 'id="upload-form"' in text(res) and "No jobs yet" in text(res)
    assert_csp_clean(text(res))

    res = _upload(web, clip)
    assert res.status_code == 303
    url = res.headers["Location"]
    job_id = url.rsplit("/", 1)[-1]
    page = text(web.get(url))
    assert 'id="progress"' in page and "waiting for a worker" in page
    assert '<meta http-equiv="refresh" content="3">' in page  # inside <noscript>: reloads without JavaScript
    assert_csp_clean(page)

    run_worker(app, ["previews"])
    page = text(web.get(url))
    assert "Click your player" in page and "To start: pick a player and confirm the target." in page
    assert re.search(r'<button type="submit" class="btn btn-primary btn-large" id="start-btn" disabled', page)
    assert_csp_clean(page)
    job = _job(job_id)
    frame = max(job.preview_frames, key=lambda f: len(f["tracks"]))
    track = max(frame["tracks"], key=lambda t: t["bbox"]["h"])
    for t in frame["tracks"]:
        assert f'aria-label="player {t["track_id"]}"' in page
        assert f'name="track_id" value="{t["track_id"]}"' in page

    res = web.post(f"/jobs/{job_id}/pick", {"frame_key": frame["frame_key"], "track_id": str(track["track_id"])})
    assert res.status_code == 303 and res.headers["Location"].endswith("#confirm-dialog")
    page = text(web.get(url))
    assert re.search(r'<dialog id="confirm-dialog"[^>]*\sopen>', page), "the confirm form is shown in the page"
    assert f'value="{track["bbox"]["x"]:.4f}"' in page
    assert f'value="{frame["frame_key"]}"' in page
    assert "To start: confirm the target." in page

    wrong = {"frame_key": frame["frame_key"], "x": "0.9", "y": "0.02", "w": "0.05", "h": "0.1"}
    if track["bbox"]["x"] > 0.7:
        wrong["x"] = "0.02"
    res = web.post(f"/jobs/{job_id}/target", wrong)
    page = text(res)
    assert res.status_code == 409
    assert 'data-error-code="TARGET_MISMATCH"' in page and "IoU 0.00" in page
    assert "Use my box anyway" in page and 'name="force" value="true"' in page
    assert f'value="{float(wrong["x"]):.4f}"' in page, "the coach's own box is kept"
    assert _job(job_id).target["confirmed"] is False

    box = {k: f'{track["bbox"][k]:.4f}' for k in ("x", "y", "w", "h")}
    res = web.post(f"/jobs/{job_id}/target", {"frame_key": frame["frame_key"], "role": "forward", **box})
    assert res.status_code == 303
    job = _job(job_id)
    assert job.status == JobStatus.READY_TO_ENQUEUE and job.role == "forward" and job.target["forced"] is False
    page = text(web.get(url))
    assert "To start:" not in page and re.search(r'id="start-btn"\s*>', page)
    assert "Role: <strong>forward</strong>" in page

    assert web.post(f"/jobs/{job_id}/start").status_code == 303
    res = web.post(f"/jobs/{job_id}/start")  # a second click
    assert res.status_code == 303
    assert "already queued" in text(web.get(url))
    assert _job(job_id).attempts == 1 and get_queue("analysis").count == 1

    run_worker(app, ["analysis"])
    page = text(web.get(url))
    assert_csp_clean(page)
    job = _job(job_id)
    assert job.status in (JobStatus.COMPLETED, JobStatus.PARTIAL)
    assert f'<span class="score-value">{job.result["overallScore"]}</span>' in page
    assert f'<span class="score-value">{job.result["roleScore"]}</span>' in page and "as a forward" in page
    assert page.count('class="radar-label"') == 5
    assert page.count('<article class="axis"') == 5
    assert f'src="/api/jobs/{job_id}/artefacts/spotlight.mp4"' in page
    assert f'href="/api/jobs/{job_id}/artefacts/track.csv?download=1"' in page
    assert f'href="/api/jobs/{job_id}/artefacts/track.json?download=1"' in page
    assert f'src="/api/jobs/{job_id}/artefacts/heatmap.png"' in page
    assert 'class="seg seg-visible"' in page
    res = web.get(f"/api/jobs/{job_id}/artefacts/track.csv?download=1")
    assert res.status_code == 200 and "attachment" in res.headers["Content-Disposition"]

    page = text(web.get("/jobs"))
    assert f'data-job-id="{job_id}"' in page and "100 %" in page


def test_upload_errors_are_shown_on_the_upload_form(app, web, tmp_path):
    res = web.post("/jobs", {}, content_type="multipart/form-data")
    assert res.status_code == 400
    assert 'data-error-code="INVALID_PAYLOAD"' in text(res) and "a file is required" in text(res)

    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n" * 100)
    res = _upload(web, notes, "notes.mp4")
    assert res.status_code == 400
    page = text(res)
    assert 'data-error-code="INVALID_VIDEO"' in page and "not a video footy can decode" in page
    assert 'id="upload-form"' in page

    app.config.update(MAX_UPLOAD_MB=1, MAX_CONTENT_LENGTH=1024 * 1024)
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (1024 * 1024 + 10))
    res = _upload(web, big, "big.mp4")
    assert res.status_code == 413
    page = text(res)
    assert 'data-error-code="UPLOAD_TOO_LARGE"' in page and "1 MB limit" in page and 'id="upload-form"' in page
    assert db.session.query(Job).count() == 0


def test_pick_and_start_errors_are_shown_next_to_their_form(app, web, clip):
    job_id = _upload(web, clip).headers["Location"].rsplit("/", 1)[-1]
    run_worker(app, ["previews"])
    frame = _job(job_id).preview_frames[0]

    res = web.post(f"/jobs/{job_id}/pick", {"frame_key": frame["frame_key"], "track_id": "9999"})
    assert res.status_code == 404
    page = text(res)
    assert 'data-error-code="TRACK_NOT_FOUND"' in page and "No track 9999 on this frame" in page
    assert "Click your player" in page

    res = web.post(f"/jobs/{job_id}/pick", {"frame_key": "jobs/elsewhere/frames/frame_0001.jpg", "track_id": "1"})
    assert res.status_code == 400 and 'data-error-code="INVALID_FRAME_KEY"' in text(res)

    res = web.post(f"/jobs/{job_id}/start")
    assert res.status_code == 400
    page = text(res)
    assert 'data-error-code="NOT_READY"' in page and "player_ref, target" in page

    t = frame["tracks"][0]
    web.post(f"/jobs/{job_id}/pick", {"frame_key": frame["frame_key"], "track_id": str(t["track_id"])})
    res = web.post(f"/jobs/{job_id}/target", {"frame_key": frame["frame_key"], "x": "1.5", "y": "0.1", "w": "0.1",
                                              "h": "0.1"})
    assert res.status_code == 400
    assert 'data-error-code="INVALID_PAYLOAD"' in text(res) and "bbox.x" in text(res)


def _row(user, **values) -> Job:
    job = Job(id=new_id(), user_id=user.id, video_name="old.mp4", video_info={"duration_sec": 30.0, "fps": 25.0,
                                                                              "width": 640, "height": 360},
              **values)
    db.session.add(job)
    db.session.commit()
    return job


def test_failed_and_missing_results_are_explicit(app, web, coach_user):
    failed = _row(coach_user, status=JobStatus.FAILED, step=Step.FAILED, progress_message="boom",
                  error={"code": "VIDEO_DECODE_ERROR", "message": "The video broke at frame 12", "frame_index": 12})
    page = text(web.get(f"/jobs/{failed.id}"))
    assert "The job failed" in page and 'data-error-code="VIDEO_DECODE_ERROR"' in page
    assert "The video broke at frame 12" in page and "frame index" in page

    empty = _row(coach_user, status=JobStatus.COMPLETED, step=Step.DONE, progress_percent=100, result=None)
    page = text(web.get(f"/jobs/{empty.id}"))
    assert 'data-error-code="RESULT_MISSING"' in page and "no result was saved" in page

    partial = _row(coach_user, status=JobStatus.PARTIAL, step=Step.DONE, progress_percent=100, artefacts={},
                   result={"overallScore": 12, "radar": {"tracking_quality": 20, "activity_proxy": 5, "visibility": 20,
                                                         "consistency": 10, "stability": 10},
                           "coverage": 0.2, "partial_reasons": ["LOW_COVERAGE"], "signals": {},
                           "lost_segments": [{"start_sec": 3.0, "end_sec": 20.0, "duration_sec": 17.0}]})
    page = text(web.get(f"/jobs/{partial.id}"))
    assert "Partial result" in page and "visible on only 20.0 %" in page
    assert 'class="seg seg-lost"' in page and "0:03 – 0:20 (17.0 s)" in page


def test_another_coachs_job_does_not_exist(app, web):
    other = make_user("other@example.com")
    job = _row(other, status=JobStatus.WAITING_FOR_SELECTION, step=Step.UPLOADED)
    res = web.get(f"/jobs/{job.id}")
    assert res.status_code == 404 and 'data-error-code="JOB_NOT_FOUND"' in text(res)
    res = web.post(f"/jobs/{job.id}/start")
    assert res.status_code == 404
    assert f'data-job-id="{job.id}"' not in text(web.get("/jobs"))


def test_forms_need_their_csrf_token(app, web, clip):
    res = web.client.post("/jobs", data={}, content_type="multipart/form-data")
    assert res.status_code == 400 and 'data-error-code="CSRF_FAILED"' in text(res)


def test_sign_in_page(app, coach_user):
    client = app.test_client()
    res = client.get("/jobs")
    assert res.status_code == 302 and "/login" in res.headers["Location"]
    page = text(client.get("/login"))
    assert 'name="csrf_token"' in page and "Sign in" in page
    assert_csp_clean(page)
    web = sign_in(client, "coach@example.com")
    assert "coach@example.com" in text(web.get("/jobs"))
