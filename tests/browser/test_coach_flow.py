"""The coach's whole path by clicks in Debian's Chromium: upload, previews, pick, confirm (with a
mismatch on the way), start, progress, result with the spotlight clip playing."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from footy.extensions import db
from footy.models import Job
from footy.queue import get_queue

from ..conftest import wait_for
from .conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _job(job_id: str) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def _box_fraction_on_screen(page, selector: str) -> dict:
    """Where a track's SVG rect sits on its image, as fractions of the image's on-screen size."""
    return page.evaluate("""(sel) => {
        const g = document.querySelector(sel);
        const img = g.closest('.frame-stage').querySelector('img').getBoundingClientRect();
        const r = g.querySelector('rect').getBoundingClientRect();
        return {x: (r.left - img.left) / img.width, y: (r.top - img.top) / img.height,
                w: r.width / img.width, h: r.height / img.height};
    }""", selector)


def test_upload_pick_confirm_start_and_result_by_clicks(app, live_server, workers, page, coach_user, long_clip, shot):
    base = live_server
    page.goto(f"{base}/login")
    shot(page, "01-login")
    sign_in(page, base)
    expect(page.get_by_role("heading", name="Your jobs")).to_be_visible()
    shot(page, "02-jobs-empty")

    # --- upload over a slow line (Chromium's own throttling), with the progress bar moving
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    size = long_clip.stat().st_size
    cdp.send("Network.emulateNetworkConditions",
             {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": max(20_000, size // 3)})
    page.set_input_files("#video-input", str(long_clip))
    page.click("#upload-btn")
    seen_percent, uploading_shot = set(), False
    for _ in range(200):
        try:
            value = page.evaluate("() => { const b = document.querySelector('#upload-bar'); "
                                  "return b && !document.querySelector('#upload-progress').hidden ? b.value : null; }")
        except Exception:  # noqa: BLE001 - the page is navigating to the new job
            break
        if value is None and seen_percent:
            break
        if value is not None:
            seen_percent.add(int(value))
            if 20 <= value <= 80 and not uploading_shot:
                uploading_shot = True
                shot(page, "02b-uploading", full_page=False)
        if re.search(r"/jobs/[0-9a-f]{32}$", page.url):
            break
        page.wait_for_timeout(100)
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f]{32}$"), timeout=60_000)
    cdp.send("Network.emulateNetworkConditions",
             {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    assert any(0 < v < 100 for v in seen_percent), f"the upload bar moved: {sorted(seen_percent)}"
    job_id = page.url.rsplit("/", 1)[-1]
    expect(page.locator("#progress")).to_be_visible()
    expect(page.locator("[data-field=step-words]")).to_contain_text("waiting for a worker")
    shot(page, "03-preparing")

    # --- the previews appear by themselves once a worker prepares them (the page polls)
    workers.start("previews")
    expect(page.locator("g.track").first).to_be_visible(timeout=60_000)
    assert _job(job_id).candidates_status == "ready"
    tracks = page.locator("g.track")
    assert tracks.count() >= 3
    expect(tracks.first).to_have_attribute("aria-label", re.compile(r"^player \d+$"))
    expect(page.locator("#start-btn")).to_be_disabled()
    expect(page.locator("#start-reason")).to_have_text("To start: pick a player and confirm the target.")

    # the boxes sit on their players at any page width
    job = _job(job_id)
    frame = max(job.preview_frames, key=lambda f: len(f["tracks"]))
    track = max(frame["tracks"], key=lambda t: t["bbox"]["h"])
    selector = f'g.track[data-frame-key="{frame["frame_key"]}"][data-track-id="{track["track_id"]}"]'
    for width in (1280, 700):
        page.set_viewport_size({"width": width, "height": 860})
        on_screen = _box_fraction_on_screen(page, selector)
        for k in ("x", "y", "w", "h"):
            assert on_screen[k] == pytest.approx(track["bbox"][k], abs=0.01), (width, k, on_screen, track["bbox"])
    page.set_viewport_size({"width": 1280, "height": 860})

    # hovering highlights the box
    box = page.locator(selector)
    box.scroll_into_view_if_needed()
    before = box.locator("rect").evaluate("r => getComputedStyle(r).stroke")
    box.hover()
    page.wait_for_timeout(300)  # the highlight fades in
    after = box.locator("rect").evaluate("r => getComputedStyle(r).stroke")
    assert before != after, "the hovered box is highlighted"
    shot(page, "04-pick-player", full_page=False)

    # --- click the player: the confirm modal shows the draft target on its frame (found by frame_key)
    box.click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    assert page.evaluate("document.querySelector('#confirm-dialog').matches(':modal')")
    frame_name = frame["frame_key"].rsplit("/", 1)[-1]
    expect(page.locator("#confirm-img")).to_have_attribute("src", re.compile(re.escape(frame_name) + "$"))
    expect(page.locator("#confirm-frame-key")).to_have_value(frame["frame_key"])
    assert float(page.input_value("#box-x")) == pytest.approx(track["bbox"]["x"], abs=1e-3)
    job = _job(job_id)
    assert job.player_ref["track_id"] == track["track_id"] and job.target["confirmed"] is False
    expect(page.locator("#start-reason")).to_have_text("To start: confirm the target.")
    shot(page, "05-confirm-target")

    # --- drag a wrong box (far from the player): the server answers 409 TARGET_MISMATCH
    svg = page.locator("#confirm-svg").bounding_box()
    bx = track["bbox"]["x"] + track["bbox"]["w"] / 2
    far_x = 0.05 if bx > 0.5 else 0.80
    start = (svg["x"] + svg["width"] * far_x, svg["y"] + svg["height"] * 0.08)
    end = (svg["x"] + svg["width"] * (far_x + 0.12), svg["y"] + svg["height"] * 0.30)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 20, start[1] + 20, steps=3)
    page.mouse.move(*end, steps=5)
    page.mouse.up()
    assert float(page.input_value("#box-x")) == pytest.approx(far_x, abs=0.01)
    page.click("#confirm-btn")
    mismatch = page.locator("#mismatch-dialog")
    expect(mismatch).to_be_visible()
    expect(mismatch.locator(".error-code")).to_have_text("TARGET_MISMATCH")
    expect(page.locator("#mismatch-iou")).to_have_text("0.00")
    expect(page.locator("#mismatch-expected")).to_contain_text(f"x {track['bbox']['x']:.3f}")
    expect(mismatch.get_by_role("button", name="Use my box anyway")).to_be_visible()
    assert _job(job_id).target["confirmed"] is False
    shot(page, "06-target-mismatch")

    # --- retry: back to the modal with the player's box; choose a role and confirm
    page.click("#mismatch-retry")
    expect(dialog).to_be_visible()
    assert float(page.input_value("#box-x")) == pytest.approx(track["bbox"]["x"], abs=1e-3)
    page.select_option("#confirm-role", "midfielder")
    page.click("#confirm-btn")
    expect(page.locator("#start-btn")).to_be_enabled()
    expect(page.locator("#start-reason")).to_be_hidden()
    expect(page.locator(".target-summary")).to_contain_text("midfielder")
    job = _job(job_id)
    assert job.status.value == "READY_TO_ENQUEUE" and job.target["confirmed"] is True and job.role == "midfielder"
    shot(page, "07-ready-to-start")

    # --- a double click starts one analysis
    page.dblclick("#start-btn")
    expect(page.locator("#progress")).to_be_visible()
    expect(page.locator("[data-field=step-words]")).to_contain_text("Queued")
    job = _job(job_id)
    assert job.status.value == "QUEUED" and job.attempts == 1
    assert get_queue("analysis").count == 1
    shot(page, "08-queued")

    # --- watch the progress move, then the result replaces it by itself
    workers.start("analysis")
    seen = set()

    def progressed():
        try:
            return _progress_state()
        except Exception:  # noqa: BLE001 - the page reloads itself when the phase changes
            return False

    def _progress_state():
        state = page.evaluate("""() => {
            const q = (s) => document.querySelector(s);
            return {done: !!q('#overall-score'),
                    percent: q('[data-field=percent]') ? q('[data-field=percent]').textContent : null,
                    eta: q('[data-field=eta]') ? q('[data-field=eta]').textContent : ''};
        }""")
        if state["done"]:
            return True
        if state["percent"]:
            seen.add(state["percent"].strip())
        if "left" in state["eta"] and (state["percent"] or "0").strip() not in ("0 %", "") and "shot" not in seen:
            seen.add("shot")
            shot(page, "09-analysing")
        return False

    wait_for(progressed, 120, "the result page", interval=0.25)
    assert len(seen - {"shot"}) >= 2, f"the progress moved while the page was open: {seen}"

    # --- the result
    expect(page.locator("#overall-score .score-value")).to_have_text(re.compile(r"^\d{1,3}$"))
    expect(page.locator("#role-score")).to_contain_text("midfielder")
    expect(page.locator("#radar .radar-label")).to_have_count(5)
    expect(page.locator("#axes .axis")).to_have_count(5)
    expect(page.locator("#axes .axis[data-axis=visibility] .signals")).to_contain_text("frames with the player")
    expect(page.locator("#timeline .seg")).not_to_have_count(0)
    expect(page.locator("#heatmap img")).to_be_visible()
    job = _job(job_id)
    assert job.status.value in ("COMPLETED", "PARTIAL")
    assert page.locator("#overall-score .score-value").text_content() == str(job.result["overallScore"])

    # downloads are attachments
    csv_href = page.get_attribute("#download-csv", "href")
    res = page.request.get(base + csv_href)
    assert res.status == 200 and "attachment" in res.headers["content-disposition"]
    assert res.text().splitlines()[0].count(",") >= 3
    json_res = page.request.get(base + page.get_attribute("#download-json", "href"))
    assert json_res.status == 200 and "attachment" in json_res.headers["content-disposition"]

    # the spotlight clip plays in Chromium (H.264)
    assert page.evaluate("document.createElement('video').canPlayType('video/mp4; codecs=\"avc1.42E01E\"')") != ""
    page.locator("#spotlight-video").scroll_into_view_if_needed()
    page.evaluate("() => { const v = document.querySelector('#spotlight-video'); v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('#spotlight-video').readyState >= 2", timeout=20_000)
    t0 = page.evaluate("document.querySelector('#spotlight-video').currentTime")
    page.wait_for_function("(t0) => document.querySelector('#spotlight-video').currentTime > t0 + 0.3", arg=t0,
                           timeout=20_000)
    err = page.evaluate("document.querySelector('#spotlight-video').error")
    assert err is None
    page.evaluate("() => { const v = document.querySelector('#spotlight-video'); v.pause(); v.currentTime = 1.0; }")
    page.wait_for_timeout(400)
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "10-result")
    page.set_viewport_size({"width": 820, "height": 1180})
    shot(page, "11-result-tablet")

    # the jobs list shows it, newest first, with its state and a link
    page.goto(f"{base}/jobs")
    row = page.locator(f'tr[data-job-id="{job_id}"]')
    expect(row.locator("[data-field=state]")).to_have_text(re.compile("Completed|Partial result"))
    expect(row.locator("[data-field=percent]")).to_have_text("100 %")
    shot(page, "12-jobs-list")
    assert page.console_errors == [], page.console_errors
