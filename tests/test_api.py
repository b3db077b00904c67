"""Every route of seeds 001/002 and every error code, through the HTTP API."""
from __future__ import annotations

import threading

import pytest

from footy.queue import get_queue

from .conftest import run_worker, upload


def envelope_error(res, status: int, code: str) -> dict:
    assert res.status_code == status, res.json
    body = res.json
    assert set(body) == {"ok", "data", "error", "message"}
    assert body["ok"] is False and body["data"] is None
    assert body["error"]["code"] == code
    assert body["error"]["message"] and body["message"] == body["error"]["message"]
    return body["error"]


def pick(job):
    frame = next(f for f in job["preview_frames"] if f["tracks"])
    return frame, frame["tracks"][0]


# ------------------------------------------------------------- upload

def test_upload_of_a_file_that_is_not_a_video_leaves_nothing(app, api, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_bytes(b"this is not a video at all" * 100)
    err = envelope_error(upload(api, bad), 400, "INVALID_VIDEO")
    assert str(tmp_path) not in err["message"] and "/tmp" not in err["message"], "no server path in the message"
    assert api.get("/api/jobs").json["data"] == []
    media = tmp_path / "media"
    assert not list(media.glob("jobs/*")), "no media left behind"
    assert not [p for p in (media / "tmp").iterdir()], "no temporary upload left behind"


def test_upload_without_a_file_is_invalid_payload(api):
    err = envelope_error(api.post("/api/jobs", data={}, content_type="multipart/form-data"), 400, "INVALID_PAYLOAD")
    assert err["field"] == "video"


def test_upload_too_large_is_413(app, api, clip):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    envelope_error(upload(api, clip), 413, "UPLOAD_TOO_LARGE")
    assert api.get("/api/jobs").json["data"] == []


def test_upload_file_name_is_never_a_path(app, api, clip, tmp_path):
    res = upload(api, clip, name="../../etc/passwd.mp4")
    assert res.status_code == 201
    job = res.json["data"]
    assert job["video"]["name"] == "passwd.mp4"
    assert (tmp_path / "media" / "jobs" / job["job_id"] / "video.mp4").is_file()


# ------------------------------------------------------------- reading

def test_list_newest_first_and_job_payload_fields(app, api, clip):
    first = upload(api, clip, "a.mp4").json["data"]["job_id"]
    second = upload(api, clip, "b.mp4").json["data"]["job_id"]
    res = api.get("/api/jobs")
    assert res.status_code == 200 and res.json["ok"] is True
    assert [j["job_id"] for j in res.json["data"]][:2] == [second, first]
    job = api.get(f"/api/jobs/{first}").json["data"]
    for field in ("job_id", "status", "progress", "preview_frames", "player_ref", "target", "result",
                  "result_url", "error", "created_at", "updated_at"):
        assert field in job
    assert set(job["progress"]) >= {"step", "percent", "message"}


def test_unknown_job_is_404_job_not_found_everywhere(api):
    missing = "0" * 32
    for method, url in [("get", f"/api/jobs/{missing}"), ("get", f"/api/jobs/{missing}/status"),
                        ("get", f"/api/jobs/{missing}/candidates"),
                        ("post", f"/api/jobs/{missing}/enqueue"),
                        ("get", f"/api/jobs/{missing}/frames/frame_0001.jpg")]:
        envelope_error(getattr(api, method)(url), 404, "JOB_NOT_FOUND")


def test_candidates_route(api, prepared_job):
    res = api.get(f"/api/jobs/{prepared_job['job_id']}/candidates")
    data = res.json["data"]
    assert data["status"] == "ready" and len(data["frames"]) == 3
    assert all({"track_id", "bbox", "confidence"} <= set(t) for f in data["frames"] for t in f["tracks"])


# ------------------------------------------------------------- status contract (seed 003)

def test_status_contract_field_by_field(app, api, prepared_job):
    job_id = prepared_job["job_id"]
    res = api.get(f"/api/jobs/{job_id}/status")
    body = res.json
    assert res.status_code == 200 and body["ok"] is True and body["error"] is None and body["message"]
    data = body["data"]
    assert set(data) >= {"job_id", "state", "progress", "message", "error", "created_at", "updated_at",
                         "result_url"}
    assert data["job_id"] == job_id
    assert data["state"] == "WAITING_FOR_SELECTION"
    assert isinstance(data["progress"], int) and 0 <= data["progress"] <= 100
    assert data["error"] is None and data["result_url"] is None
    assert data["created_at"].endswith("Z") and data["updated_at"].endswith("Z")


def test_status_of_a_failed_job_carries_its_error(app, api, prepared_job):
    from footy.jobs import service

    service.fail(prepared_job["job_id"], "VIDEO_DECODE_ERROR", "broken at frame 12",
                 only_if_status={"WAITING_FOR_SELECTION"}, frame_index=12)
    data = api.get(f"/api/jobs/{prepared_job['job_id']}/status").json["data"]
    assert data["state"] == "FAILED"
    assert data["error"] == {"code": "VIDEO_DECODE_ERROR", "message": "broken at frame 12", "frame_index": 12}


# ------------------------------------------------------------- pick-player / select-track

def test_pick_player_errors(api, prepared_job):
    job_id = prepared_job["job_id"]
    frame, track = pick(prepared_job)
    url = f"/api/jobs/{job_id}/pick-player"
    for unknown in [f"jobs/{job_id}/frames/frame_0099.jpg", "frame_0001.jpg", "no-such-frame", f"jobs/{job_id}/x.png"]:
        envelope_error(api.post(url, json={"frame_key": unknown, "track_id": 1}), 404, "FRAME_NOT_FOUND")
    err = envelope_error(api.post(url, json={"frame_key": frame["frame_key"], "track_id": 999999}),
                         404, "TRACK_NOT_FOUND")
    assert track["track_id"] in err["available"]
    for bad_key in ["../../../etc/passwd", f"jobs/{job_id}/../secret_key", f"jobs/{'1' * 32}/frames/frame_0001.jpg",
                    "/etc/passwd", f"jobs/{job_id}/frames/frame_0001.jpg\x00", "jobs\\..\\secret_key"]:
        envelope_error(api.post(url, json={"frame_key": bad_key, "track_id": 1}), 400, "INVALID_FRAME_KEY")
    assert envelope_error(api.post(url, json={"frame_key": frame["frame_key"], "track_id": "nine"}),
                          400, "INVALID_PAYLOAD")["field"] == "track_id"
    assert envelope_error(api.post(url, json={"track_id": 1}), 400, "INVALID_PAYLOAD")["field"] == "frame_key"
    assert envelope_error(api.post(url, data="{not json", content_type="application/json"),
                          400, "INVALID_PAYLOAD")["field"] == "body"
    assert envelope_error(api.post(url, json=[1, 2]), 400, "INVALID_PAYLOAD")["field"] == "body"


def test_select_track_resets_the_target(api, prepared_job):
    job_id = prepared_job["job_id"]
    frame, track = pick(prepared_job)
    api.post(f"/api/jobs/{job_id}/pick-player", json={"frame_key": frame["frame_key"], "track_id": track["track_id"]})
    res = api.post(f"/api/jobs/{job_id}/select-track",
                   json={"frame_key": frame["frame_key"], "track_id": track["track_id"]})
    job = res.json["data"]
    assert job["status"] == "WAITING_FOR_TARGET" and job["progress"]["step"] == "WAITING_FOR_TARGET"
    assert job["target"] is None and job["player_ref"]["track_id"] == track["track_id"]


# ------------------------------------------------------------- target

def test_target_mismatch_and_force(api, prepared_job):
    job_id = prepared_job["job_id"]
    frame, track = pick(prepared_job)
    api.post(f"/api/jobs/{job_id}/pick-player", json={"frame_key": frame["frame_key"], "track_id": track["track_id"]})
    b = track["bbox"]
    far = {"x": 0.0 if b["x"] > 0.5 else 0.8, "y": 0.0, "w": 0.1, "h": 0.1}
    err = envelope_error(api.post(f"/api/jobs/{job_id}/target",
                                  json={"frame_key": frame["frame_key"], "time_sec": frame["time_sec"], "bbox": far}),
                         409, "TARGET_MISMATCH")
    assert err["iou"] < 0.2 and err["expected_bbox"] == b and err["track_id"] == track["track_id"]
    assert api.get(f"/api/jobs/{job_id}").json["data"]["target"]["confirmed"] is False, "nothing changed"
    res = api.post(f"/api/jobs/{job_id}/target",
                   json={"frame_key": frame["frame_key"], "time_sec": frame["time_sec"], "bbox": far, "force": True})
    assert res.status_code == 200
    target = res.json["data"]["target"]
    assert target["confirmed"] is True and target["forced"] is True and target["bbox"] == far


def test_target_iou_threshold_accepts_a_nearby_box(api, prepared_job):
    job_id = prepared_job["job_id"]
    frame, track = pick(prepared_job)
    api.post(f"/api/jobs/{job_id}/pick-player", json={"frame_key": frame["frame_key"], "track_id": track["track_id"]})
    b = track["bbox"]
    shifted = {**b, "x": min(1 - b["w"], b["x"] + b["w"] * 0.3)}  # IoU ~0.54
    res = api.post(f"/api/jobs/{job_id}/target", json={"frame_key": frame["frame_key"], "bbox": shifted})
    assert res.status_code == 200 and res.json["data"]["status"] == "READY_TO_ENQUEUE"


@pytest.mark.parametrize("route", ["target", "select-target", "selection"])
def test_legacy_selections_form_on_every_alias(api, prepared_job, route):
    job_id = prepared_job["job_id"]
    frame, track = pick(prepared_job)
    api.post(f"/api/jobs/{job_id}/pick-player", json={"frame_key": frame["frame_key"], "track_id": track["track_id"]})
    sel = {"frame_time_sec": frame["time_sec"], **track["bbox"]}  # no frame_key: resolved by time
    res = api.post(f"/api/jobs/{job_id}/{route}", json={"selections": [sel]})
    assert res.status_code == 200, res.json
    target = res.json["data"]["target"]
    assert target["confirmed"] is True and target["frame_key"] == frame["frame_key"]
    assert target["selections"] == [{"frame_time_sec": frame["time_sec"], "frame_key": frame["frame_key"],
                                     "bbox": track["bbox"]}]
    assert res.json["data"]["status"] == "READY_TO_ENQUEUE"


def test_legacy_selections_are_all_kept_and_the_last_is_the_target(api, prepared_job):
    job_id = prepared_job["job_id"]
    frame, track = pick(prepared_job)
    api.post(f"/api/jobs/{job_id}/pick-player", json={"frame_key": frame["frame_key"], "track_id": track["track_id"]})
    first = {"frame_time_sec": 0.5, "x": 0.0, "y": 0.0, "w": 0.1, "h": 0.1}  # a first try the coach corrected
    final = {"frame_time_sec": frame["time_sec"], "frame_key": frame["frame_key"], **track["bbox"]}
    res = api.post(f"/api/jobs/{job_id}/selection", json={"selections": [first, final]})
    assert res.status_code == 200, res.json
    target = res.json["data"]["target"]
    assert target["bbox"] == track["bbox"] and target["frame_key"] == frame["frame_key"]
    assert [s["bbox"] for s in target["selections"]] == [{"x": 0.0, "y": 0.0, "w": 0.1, "h": 0.1}, track["bbox"]]
    assert target["selections"][0]["frame_time_sec"] == 0.5


def test_target_before_player_waits_for_player(api, prepared_job):
    job_id = prepared_job["job_id"]
    frame, track = pick(prepared_job)
    res = api.post(f"/api/jobs/{job_id}/target", json={"frame_key": frame["frame_key"], "bbox": track["bbox"]})
    assert res.json["data"]["status"] == "WAITING_FOR_PLAYER"
    err = envelope_error(api.post(f"/api/jobs/{job_id}/enqueue"), 400, "NOT_READY")
    assert err["missing"] == ["player_ref"]


@pytest.mark.parametrize("payload,field", [
    ({"frame_key": "x", "bbox": {"x": 0.1, "y": 0.1, "w": 0.2}}, "bbox.h"),
    ({"bbox": {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}}, "frame_key"),
    ({"time_sec": 1.0, "bbox": {"x": "a", "y": 0.1, "w": 0.2, "h": 0.2}}, "bbox.x"),
    ({"time_sec": 1.0, "bbox": {"x": 0.1, "y": 0.1, "w": 2.0, "h": 0.2}}, "bbox.w"),
    ({"time_sec": 1.0, "bbox": {"x": 0.9, "y": 0.1, "w": 0.5, "h": 0.2}}, "bbox"),
    ({"time_sec": float("nan"), "bbox": {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}}, "time_sec"),
    ({"time_sec": 1.0, "bbox": [0.1, 0.1, 0.2, 0.2]}, "bbox"),
    ({"time_sec": 1.0, "bbox": {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}, "force": "maybe"}, "force"),
    ({"time_sec": 1.0, "bbox": {"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}, "role": "striker"}, "role"),
    ({"selections": []}, "selections"),
    ({"selections": [{"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}]}, "selections[0].frame_time_sec"),
    ({"selections": [{"frame_time_sec": None, "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}]},
     "selections[0].frame_time_sec"),
    ({"selections": [{"frame_time_sec": "soon", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}]},
     "selections[0].frame_time_sec"),
    ({"selections": [{"frame_time_sec": 1.0, "x": "a", "y": 0.1, "w": 0.2, "h": 0.2},
                     {"frame_time_sec": 1.0, "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}]}, "selections[0].x"),
    ({"selections": ["box"]}, "selections[0]"),
])
def test_target_payload_errors_name_the_field(api, prepared_job, payload, field):
    res = api.post(f"/api/jobs/{prepared_job['job_id']}/target", data=__import__("json").dumps(payload,
                   allow_nan=True), content_type="application/json")
    assert envelope_error(res, 400, "INVALID_PAYLOAD")["field"] == field


# ------------------------------------------------------------- enqueue

def confirmed(api, job):
    frame, track = pick(job)
    api.post(f"/api/jobs/{job['job_id']}/pick-player",
             json={"frame_key": frame["frame_key"], "track_id": track["track_id"]})
    res = api.post(f"/api/jobs/{job['job_id']}/target", json={"frame_key": frame["frame_key"], "bbox": track["bbox"]})
    assert res.status_code == 200
    return res.json["data"]


def test_enqueue_not_ready_lists_what_is_missing(api, prepared_job):
    job_id = prepared_job["job_id"]
    err = envelope_error(api.post(f"/api/jobs/{job_id}/enqueue", json={}), 400, "NOT_READY")
    assert err["missing"] == ["player_ref", "target"]
    assert err["message"] == "Missing required selections for enqueue"
    frame, track = pick(prepared_job)
    api.post(f"/api/jobs/{job_id}/pick-player", json={"frame_key": frame["frame_key"], "track_id": track["track_id"]})
    err = envelope_error(api.post(f"/api/jobs/{job_id}/enqueue"), 400, "NOT_READY")
    assert err["missing"] == ["target"]
    envelope_error(api.post(f"/api/jobs/{job_id}/enqueue", data="nope", content_type="application/json"),
                   400, "INVALID_PAYLOAD")


@pytest.mark.parametrize("route", ["enqueue", "confirm-selection"])
def test_enqueue_and_its_alias_queue_exactly_one_rq_job(app, api, prepared_job, route):
    confirmed(api, prepared_job)
    job_id = prepared_job["job_id"]
    res = api.post(f"/api/jobs/{job_id}/{route}")
    assert res.status_code == 202 and res.json["data"]["status"] == "QUEUED"
    envelope_error(api.post(f"/api/jobs/{job_id}/{route}"), 409, "ALREADY_QUEUED")
    assert get_queue("analysis").count == 1


def test_two_concurrent_clicks_start_one_analysis(app, api, prepared_job):
    confirmed(api, prepared_job)
    job_id = prepared_job["job_id"]
    barrier = threading.Barrier(4)
    answers = []

    def click():
        client = app.test_client()
        barrier.wait()
        answers.append(client.post(f"/api/jobs/{job_id}/enqueue", headers=api.headers).status_code)

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [202, 409, 409, 409]
    assert get_queue("analysis").count == 1
    assert api.get(f"/api/jobs/{job_id}").json["data"]["attempts"] == 1


def test_a_pick_racing_an_enqueue_never_undoes_it(app, api, prepared_job):
    """Another connection moves the job to QUEUED and holds its transaction open while a pick-player
    arrives: the pick must wait and then see QUEUED (409), not write its stale state over the enqueue."""
    from sqlalchemy import text

    from footy.extensions import db

    confirmed(api, prepared_job)
    job_id = prepared_job["job_id"]
    frame, track = pick(prepared_job)
    answers = []

    def pick_player():
        answers.append(app.test_client().post(f"/api/jobs/{job_id}/pick-player", headers=api.headers, json={
            "frame_key": frame["frame_key"], "track_id": track["track_id"]}))

    with db.engine.connect() as other:
        other.execute(text("UPDATE jobs SET status = 'QUEUED' WHERE id = :id"), {"id": job_id})  # row locked
        thread = threading.Thread(target=pick_player)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive(), "the pick must wait for the other transaction"
        other.commit()
    thread.join(30)
    assert envelope_error(answers[0], 409, "ALREADY_QUEUED")
    db.session.expire_all()
    assert api.get(f"/api/jobs/{job_id}").json["data"]["status"] == "QUEUED"


def test_selection_is_frozen_while_queued(api, prepared_job):
    job = confirmed(api, prepared_job)
    api.post(f"/api/jobs/{job['job_id']}/enqueue")
    frame, track = pick(prepared_job)
    envelope_error(api.post(f"/api/jobs/{job['job_id']}/pick-player",
                            json={"frame_key": frame["frame_key"], "track_id": track["track_id"]}),
                   409, "ALREADY_QUEUED")


# ------------------------------------------------------------- media

def test_frame_and_artefact_routes_refuse_bad_names(api, prepared_job):
    job_id = prepared_job["job_id"]
    for name in ["..secret_key", "frame_1.jpg", "video.mp4", "frame_0001.png", "%2e%2e"]:
        envelope_error(api.get(f"/api/jobs/{job_id}/frames/{name}"), 400, "INVALID_FRAME_KEY")
    # a name with a folder in it (encoded or not) is refused as a key, never served
    for name in ["..%2F..%2Fsecret_key", "sub/frame_0001.jpg", "frames%2Fframe_0001.jpg", "a/../../b.jpg"]:
        envelope_error(api.get(f"/api/jobs/{job_id}/frames/{name}"), 400, "INVALID_FRAME_KEY")
        envelope_error(api.get(f"/api/jobs/{job_id}/artefacts/{name}"), 400, "INVALID_FRAME_KEY")
    envelope_error(api.get(f"/api/jobs/{job_id}/frames/frame_0042.jpg"), 404, "MEDIA_NOT_FOUND")
    envelope_error(api.get(f"/api/jobs/{job_id}/artefacts/secret_key"), 400, "INVALID_FRAME_KEY")
    envelope_error(api.get(f"/api/jobs/{job_id}/artefacts/spotlight.mp4"), 404, "ARTEFACT_NOT_FOUND")


def test_unknown_api_path_and_method_use_the_envelope(api):
    envelope_error(api.get("/api/nothing-here"), 404, "NOT_FOUND")
    envelope_error(api.client.delete("/api/jobs", headers=api.headers), 405, "METHOD_NOT_ALLOWED")


def test_anonymous_api_call_is_401(app):
    envelope_error(app.test_client().get("/api/jobs"), 401, "UNAUTHORIZED")


# ------------------------------------------------------------- worker failures

def test_corrupt_video_found_by_the_worker_fails_the_job_with_a_code(app, api, clip, tmp_path):
    job_id = upload(api, clip).json["data"]["job_id"]
    stored = tmp_path / "media" / "jobs" / job_id / "video.mp4"
    stored.write_bytes(b"\x00" * 2048)  # the disk went bad after the upload was checked
    run_worker(app, ["previews"])
    data = api.get(f"/api/jobs/{job_id}/status").json["data"]
    assert data["state"] == "FAILED" and data["error"]["code"] == "INVALID_VIDEO"
    assert str(tmp_path) not in data["error"]["message"] and "video.mp4" in data["error"]["message"], data["error"]


def test_worker_messages_never_show_server_paths():
    from footy.jobs.service import public_message

    assert public_message("not a readable video file: [Errno 1] Invalid data: '/srv/footy/instance/media/jobs/ab/"
                          "video.mp4'") == "not a readable video file: [Errno 1] Invalid data: 'video.mp4'"
    assert public_message("no frame at 3.000s; 3/10 done; see https://example.org/a/b") == \
        "no frame at 3.000s; 3/10 done; see https://example.org/a/b"


def test_analysis_crash_is_failed_never_left_running(app, api, prepared_job, tmp_path):
    job = confirmed(api, prepared_job)
    (tmp_path / "media" / "jobs" / job["job_id"] / "video.mp4").unlink()
    api.post(f"/api/jobs/{job['job_id']}/enqueue")
    run_worker(app, ["analysis"])
    data = api.get(f"/api/jobs/{job['job_id']}/status").json["data"]
    assert data["state"] == "FAILED" and data["error"]["code"] == "VIDEO_MISSING"
    # the coach may try again: enqueue from FAILED is allowed and queues a second attempt
    res = api.post(f"/api/jobs/{job['job_id']}/enqueue")
    assert res.status_code == 202 and res.json["data"]["attempts"] == 2 and res.json["data"]["error"] is None
