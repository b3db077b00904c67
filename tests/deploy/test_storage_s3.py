"""S3Storage against a real S3-compatible server (moto_server on localhost), through boto3 and HTTP."""
from __future__ import annotations

import os
import urllib.error
import urllib.request
import uuid

import pytest
from flask import Flask

from footy.storage import (LocalStorage, StorageKeyError, artefact_key, frame_key, make_storage, scratch_file,
                           video_key)
from footy.storage_s3 import S3Storage


@pytest.fixture
def storage(s3_settings, tmp_path) -> S3Storage:
    store = make_storage({**s3_settings, "FOOTY_MEDIA_DIR": str(tmp_path / "media")})
    assert isinstance(store, S3Storage)
    return store


@pytest.fixture
def flask_app():
    return Flask(__name__)


def job_id() -> str:
    return uuid.uuid4().hex


def fetch(url: str, headers: dict | None = None):
    """A plain HTTP GET, as the browser makes it after the redirect."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, {k.lower(): v for k, v in res.headers.items()}, res.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def test_make_storage_reads_the_url_and_the_settings(s3_settings, tmp_path):
    store = make_storage({**s3_settings, "FOOTY_MEDIA_DIR": str(tmp_path / "media")})
    assert store.bucket == s3_settings["FOOTY_STORAGE_URL"][5:].split("/")[0]
    assert store.prefix == "media/"
    assert store.scratch_dir() == tmp_path / "media" / "tmp" and store.scratch_dir().is_dir()
    assert isinstance(make_storage({"FOOTY_STORAGE_URL": "", "FOOTY_MEDIA_DIR": str(tmp_path / "m")}), LocalStorage)
    assert make_storage({**s3_settings, "FOOTY_S3_SERVE": "", "FOOTY_MEDIA_DIR": str(tmp_path)}).serve == "proxy"
    with pytest.raises(ValueError):
        make_storage({**s3_settings, "FOOTY_STORAGE_URL": "s3://", "FOOTY_MEDIA_DIR": str(tmp_path)})
    with pytest.raises(ValueError):
        make_storage({**s3_settings, "FOOTY_S3_SERVE": "sometimes", "FOOTY_MEDIA_DIR": str(tmp_path)})


def test_bytes_round_trip_under_the_prefix(storage):
    jid = job_id()
    key = frame_key(jid, 1)
    assert not storage.exists(key)
    storage.save_bytes(key, b"\xff\xd8jpeg")
    assert storage.exists(key)
    head = storage.client.head_object(Bucket=storage.bucket, Key=f"media/{key}")
    assert head["ContentType"] == "image/jpeg"
    with storage.local_copy(key) as path:
        assert path.read_bytes() == b"\xff\xd8jpeg"
        assert path.parent == storage.scratch_dir() and path.suffix == ".jpg"
    assert not path.exists(), "the worker's temporary copy is deleted afterwards"


def test_a_large_upload_goes_up_in_parts_and_the_scratch_file_is_consumed(storage):
    jid = job_id()
    key = video_key(jid, ".mp4")
    source = scratch_file(storage, suffix=".upload")
    data = os.urandom(20 * 1024 * 1024 + 123)  # above the 16 MB multipart threshold
    source.write_bytes(data)
    storage.save_file(key, source)
    assert not source.exists(), "a scratch file is consumed, as LocalStorage moves it"
    head = storage.client.head_object(Bucket=storage.bucket, Key=storage.object_key(key))
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-2"), "multipart upload: two parts"
    with storage.local_copy(key) as path:
        assert path.stat().st_size == len(data) and path.read_bytes() == data
    assert not path.exists()


def test_a_file_outside_the_scratch_folder_is_left_alone(storage, tmp_path):
    jid = job_id()
    source = tmp_path / "track.csv"
    source.write_text("t,x,y\n0,1,2\n")
    storage.save_file(artefact_key(jid, "track.csv"), source)
    assert source.exists()
    head = storage.client.head_object(Bucket=storage.bucket, Key=storage.object_key(artefact_key(jid, "track.csv")))
    assert head["ContentType"] == "text/csv"


def test_missing_objects_raise_file_not_found_and_leave_no_temp_file(storage, flask_app):
    key = video_key(job_id(), ".mp4")
    before = set(storage.scratch_dir().iterdir())
    with pytest.raises(FileNotFoundError):
        with storage.local_copy(key):
            pass
    assert set(storage.scratch_dir().iterdir()) == before
    with flask_app.test_request_context():
        with pytest.raises(FileNotFoundError):
            storage.send(key, "video/mp4")


@pytest.mark.parametrize("key", ["../etc/passwd", "jobs/../x.mp4", "jobs/ABC/video.mp4",
                                 f"jobs/{'a' * 32}/../../x.mp4", "media/jobs/x.jpg", ""])
def test_unsafe_keys_are_refused_before_any_request(storage, key):
    with pytest.raises(StorageKeyError):
        storage.save_bytes(key, b"x")
    with pytest.raises(StorageKeyError):
        storage.exists(key)


def test_delete_prefix_removes_one_job_and_nothing_else(storage):
    one, other = job_id(), job_id()
    for n in range(1, 4):
        storage.save_bytes(frame_key(one, n), b"x")
    storage.save_bytes(artefact_key(one, "heatmap.png"), b"png")
    storage.save_bytes(frame_key(other, 1), b"y")
    storage.delete_prefix(f"jobs/{one}/")
    assert not any(storage.exists(frame_key(one, n)) for n in range(1, 4))
    assert not storage.exists(artefact_key(one, "heatmap.png"))
    assert storage.exists(frame_key(other, 1))
    with pytest.raises(StorageKeyError):
        storage.delete_prefix("jobs/")
    with pytest.raises(StorageKeyError):
        storage.delete_prefix("")


def test_send_redirects_to_a_short_lived_signed_url_that_supports_range(storage, flask_app):
    jid = job_id()
    key = artefact_key(jid, "spotlight.mp4")
    payload = bytes(range(256)) * 40
    storage.save_bytes(key, payload)
    with flask_app.test_request_context():
        res = storage.send(key, "video/mp4")
        download = storage.send(key, "video/mp4", download_name="spotlight.mp4")
    assert res.status_code == 302 and res.headers["Cache-Control"] == "no-store"
    url = res.headers["Location"]
    assert url.startswith(storage.client.meta.endpoint_url) and "X-Amz-Signature=" in url
    assert "X-Amz-Expires=120" in url
    status, headers, body = fetch(url)
    assert status == 200 and body == payload
    assert headers["content-type"] == "video/mp4"
    assert headers["content-disposition"] == "inline"
    status, headers, body = fetch(url, {"Range": "bytes=100-199"})
    assert status == 206 and body == payload[100:200], "the browser's <video> seeks with Range requests"
    assert headers["content-range"] == f"bytes 100-199/{len(payload)}"
    status, headers, _ = fetch(download.headers["Location"])
    assert status == 200 and headers["content-disposition"] == 'attachment; filename="spotlight.mp4"'


def test_signed_urls_are_short_lived(s3_settings, tmp_path, flask_app):
    """The expiry is part of the signed query (moto does not enforce expiry; S3, MinIO and R2 do)."""
    from datetime import datetime, timezone
    from urllib.parse import parse_qs, urlsplit

    store = make_storage({**s3_settings, "FOOTY_S3_URL_EXPIRY": 45, "FOOTY_MEDIA_DIR": str(tmp_path)})
    key = frame_key(job_id(), 1)
    store.save_bytes(key, b"\xff\xd8")
    with flask_app.test_request_context():
        url = store.send(key, "image/jpeg").headers["Location"]
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["45"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - signed_at).total_seconds()) < 60
    assert query["response-content-type"] == ["image/jpeg"]
    assert fetch(url)[0] == 200


def test_proxy_mode_streams_through_footy_with_range(s3_settings, tmp_path, flask_app):
    store = make_storage({**s3_settings, "FOOTY_S3_SERVE": "proxy", "FOOTY_MEDIA_DIR": str(tmp_path)})
    key = artefact_key(job_id(), "spotlight.mp4")
    payload = os.urandom(700_000)
    store.save_bytes(key, payload)
    with flask_app.test_request_context():
        full = store.send(key, "video/mp4")
        assert full.status_code == 200 and full.mimetype == "video/mp4"
        assert full.headers["Accept-Ranges"] == "bytes" and int(full.headers["Content-Length"]) == len(payload)
        assert b"".join(full.response) == payload
        full.close()
    with flask_app.test_request_context(headers={"Range": "bytes=1000-"}):
        part = store.send(key, "video/mp4", download_name="spotlight.mp4")
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 1000-{len(payload) - 1}/{len(payload)}"
        assert part.headers["content-disposition"] == 'attachment; filename="spotlight.mp4"'
        assert b"".join(part.response) == payload[1000:]
        part.close()
    with flask_app.test_request_context(headers={"Range": f"bytes={len(payload) + 10}-"}):
        bad = store.send(key, "video/mp4")
        assert bad.status_code == 416 and bad.headers["Content-Range"] == f"bytes */{len(payload)}"
    with flask_app.test_request_context():
        with pytest.raises(FileNotFoundError):
            store.send(frame_key(job_id(), 1), "image/jpeg")


def test_a_missing_bucket_is_an_error_not_a_silent_loss(s3_settings, tmp_path):
    from footy.storage_s3 import StorageUnavailable

    store = make_storage({**s3_settings, "FOOTY_STORAGE_URL": "s3://footy-no-such-bucket/m",
                          "FOOTY_MEDIA_DIR": str(tmp_path)})
    with pytest.raises(StorageUnavailable):
        store.save_bytes(frame_key(job_id(), 1), b"x")
    assert isinstance(StorageUnavailable("x"), OSError)


def test_prefixes_keep_two_deployments_apart(s3_settings, tmp_path):
    a = make_storage({**s3_settings, "FOOTY_MEDIA_DIR": str(tmp_path / "a")})
    b = make_storage({**s3_settings, "FOOTY_STORAGE_URL": s3_settings["FOOTY_STORAGE_URL"] + "-b",
                      "FOOTY_MEDIA_DIR": str(tmp_path / "b")})
    key = frame_key(job_id(), 1)
    a.save_bytes(key, b"a")
    assert a.exists(key) and not b.exists(key)


def test_a_forked_process_gets_its_own_client(storage):
    """RQ runs each job in a forked work-horse: it must not reuse the parent's HTTP connections."""
    parent = storage.client
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            storage.save_bytes(frame_key("f" * 32, 1), b"child")
            os.write(write, b"1" if storage.client is not parent else b"0")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert storage.exists(frame_key("f" * 32, 1))
    assert storage.client is parent


def test_pages_allow_the_bucket_origin_only_in_redirect_mode(s3_settings, tmp_path, s3_endpoint):
    """<img>/<video> follow the redirect to the bucket: the pages' CSP must name its origin, and only then."""
    from footy import create_app

    for serve, expected in (("redirect", True), ("proxy", False)):
        app = create_app({"INSTANCE_PATH": str(tmp_path / serve), "SECRET_KEY": "x", "TESTING": True,
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / serve / 'db.sqlite'}",
                          "FOOTY_MEDIA_DIR": str(tmp_path / serve / "media"), **s3_settings, "FOOTY_S3_SERVE": serve})
        csp = app.test_client().get("/login").headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        for name in ("img-src", "media-src"):
            assert (s3_endpoint in directives[name]) is expected, (serve, csp)
        assert s3_endpoint not in directives["script-src"] + directives["connect-src"] + directives["default-src"]
