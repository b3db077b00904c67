"""The whole job flow through the HTTP API, on real parts: upload -> previews -> pick -> confirm ->
enqueue -> real RQ worker -> COMPLETED -> the spotlight clip."""
from __future__ import annotations

import av

from .conftest import run_worker, upload


def test_upload_to_result_through_the_api(app, api, clip, tmp_path):
    res = upload(api, clip)
    assert res.status_code == 201
    body = res.json
    assert body["ok"] is True and body["error"] is None
    job = body["data"]
    job_id = job["job_id"]
    assert job["status"] == "WAITING_FOR_SELECTION"
    assert job["video"]["width"] == 640 and job["video"]["fps"] == 25.0

    run_worker(app, ["previews"])
    job = api.get(f"/api/jobs/{job_id}").json["data"]
    assert job["progress"]["step"] == "CANDIDATES_READY"
    assert len(job["preview_frames"]) == 3
    frame = job["preview_frames"][1]
    assert frame["frame_key"] == f"jobs/{job_id}/frames/frame_0002.jpg"
    assert frame["url"] == f"/api/jobs/{job_id}/frames/frame_0002.jpg"
    assert frame["width"] == 640 and frame["height"] == 360
    assert frame["tracks"], "the detector should find the players on the preview"
    img = api.get(frame["url"])
    assert img.status_code == 200 and img.mimetype == "image/jpeg" and img.data[:2] == b"\xff\xd8"
    ids = [t["track_id"] for f in job["preview_frames"] for t in f["tracks"]]
    assert len(ids) == len(set(ids)), "track ids are unique within the job"

    track = max(frame["tracks"], key=lambda t: t["bbox"]["h"])
    res = api.post(f"/api/jobs/{job_id}/pick-player",
                   json={"frame_key": frame["frame_key"], "track_id": track["track_id"]})
    assert res.status_code == 200, res.json
    job = res.json["data"]
    assert job["progress"]["step"] == "WAITING_FOR_TARGET_CONFIRMATION"
    assert job["player_ref"]["track_id"] == track["track_id"]
    assert job["target"]["confirmed"] is False and job["target"]["bbox"] == track["bbox"]

    res = api.post(f"/api/jobs/{job_id}/target",
                   json={"frame_key": frame["frame_key"], "time_sec": frame["time_sec"], "bbox": track["bbox"]})
    assert res.status_code == 200, res.json
    job = res.json["data"]
    assert job["status"] == "READY_TO_ENQUEUE" and job["target"]["confirmed"] is True
    assert job["target"]["frame_key"] == frame["frame_key"]

    res = api.post(f"/api/jobs/{job_id}/enqueue", json={})
    assert res.status_code == 202 and res.json["data"]["status"] == "QUEUED"

    run_worker(app, ["analysis"])
    status = api.get(f"/api/jobs/{job_id}/status").json["data"]
    assert status["state"] in ("COMPLETED", "PARTIAL"), status
    assert status["progress"] == 100 and status["error"] is None
    job = api.get(f"/api/jobs/{job_id}").json["data"]
    result = job["result"]
    assert 0 <= result["overallScore"] <= 100
    assert set(result["radar"]) == {"tracking_quality", "activity_proxy", "visibility", "consistency", "stability"}
    assert all(0 <= v <= 100 for v in result["radar"].values())
    assert job["result_url"] == status["result_url"] == f"/api/jobs/{job_id}/artefacts/spotlight.mp4"

    clip_res = api.get(job["result_url"])
    assert clip_res.status_code == 200 and clip_res.mimetype == "video/mp4"
    out = tmp_path / "spotlight.mp4"
    out.write_bytes(clip_res.data)
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert sum(1 for _ in container.decode(stream)) > 10
    for kind in ("heatmap", "track_csv", "track_json"):
        assert api.get(job["artefacts"][kind]).status_code == 200, kind
