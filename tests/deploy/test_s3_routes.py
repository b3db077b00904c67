"""footy's media routes on object storage, in one process with a real RQ worker: the upload goes to
the bucket, the worker reads it back from there, and the routes check the coach before they stream
(proxy) or redirect to a signed URL (redirect). Another coach gets 404, never a URL."""
from __future__ import annotations

import urllib.request

import pytest

from footy.extensions import db

from ..conftest import ApiClient, make_token, make_user, own_app, run_worker, upload


@pytest.fixture(params=["proxy", "redirect"])
def s3_app(request, tmp_path, redis_server, s3_settings):
    app = own_app(tmp_path, redis_server, FOOTY_MEDIA_DIR=str(tmp_path / "scratch"), FOOTY_PREVIEW_FRAMES=2,
                  **{**s3_settings, "FOOTY_S3_SERVE": request.param})
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_media_routes_on_object_storage(s3_app, clip, tmp_path):
    storage = s3_app.extensions["footy.storage"]
    coach = ApiClient(s3_app.test_client(), make_token(make_user("coach@s3.example")))
    other = ApiClient(s3_app.test_client(), make_token(make_user("other@s3.example")))
    res = upload(coach, clip)
    assert res.status_code == 201, res.json
    job = res.json["data"]
    video_key = f"jobs/{job['job_id']}/video.mp4"
    assert storage.exists(video_key), "the upload is in the bucket"
    assert not [p for p in (tmp_path / "scratch").rglob("*") if p.is_file()], "and nowhere on the web's disk"

    run_worker(s3_app, ["previews"])  # a real RQ worker: streams the video down from the bucket
    job = coach.get(f"/api/jobs/{job['job_id']}").json["data"]
    assert job["progress"]["step"] == "CANDIDATES_READY", job
    url = job["preview_frames"][0]["url"]

    res = coach.get(url)
    if storage.serve == "proxy":
        assert res.status_code == 200 and res.mimetype == "image/jpeg" and res.data[:2] == b"\xff\xd8"
    else:
        assert res.status_code == 302 and res.headers["Cache-Control"] == "no-store"
        with urllib.request.urlopen(res.headers["Location"], timeout=10) as signed:
            assert signed.headers["Content-Type"] == "image/jpeg" and signed.read()[:2] == b"\xff\xd8"

    denied = other.get(url)
    assert denied.status_code == 404 and "Location" not in denied.headers
    assert denied.json["error"]["code"] == "JOB_NOT_FOUND"
    missing = coach.get(url.replace("frame_0001", "frame_0009"))
    assert missing.status_code == 404 and missing.json["error"]["code"] == "MEDIA_NOT_FOUND"


def test_an_unreachable_store_is_a_503_and_keeps_nothing(s3_app, clip, tmp_path, s3_settings):
    """The bucket gone (or the store down): the upload is refused with STORAGE_UNAVAILABLE, no job row and no
    scratch file are left; reading a frame that was stored before answers 503 too, not a 500."""
    import boto3

    from footy.models import Job

    coach = ApiClient(s3_app.test_client(), make_token(make_user("coach@s3.example")))
    res = upload(coach, clip)
    assert res.status_code == 201, res.json
    run_worker(s3_app, ["previews"])
    url = coach.get(f"/api/jobs/{res.json['data']['job_id']}").json["data"]["preview_frames"][0]["url"]

    bucket = s3_settings["FOOTY_STORAGE_URL"][5:].split("/")[0]
    s3 = boto3.client("s3", endpoint_url=s3_settings["FOOTY_S3_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id=s3_settings["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=s3_settings["AWS_SECRET_ACCESS_KEY"])
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)

    refused = upload(coach, clip)
    assert refused.status_code == 503, refused.json
    assert refused.json["error"]["code"] == "STORAGE_UNAVAILABLE" and refused.json["data"] is None
    assert Job.query.count() == 1, "no job row for the refused upload"
    assert not [p for p in (tmp_path / "scratch").rglob("*") if p.is_file()], "no scratch file left"

    frame = coach.get(url)
    if s3_app.extensions["footy.storage"].serve == "proxy":
        assert frame.status_code == 503 and frame.json["error"]["code"] == "STORAGE_UNAVAILABLE", frame.data[:200]
    else:  # redirect mode asks HEAD first, and S3 answers a HEAD on a missing bucket with a bare 404
        assert frame.status_code == 404 and frame.json["error"]["code"] == "MEDIA_NOT_FOUND", frame.data[:200]
