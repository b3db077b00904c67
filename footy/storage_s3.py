"""S3-compatible object storage for media, so web processes and workers need no shared disk.

``FOOTY_STORAGE_URL=s3://bucket/prefix`` selects it (see ``footy.storage.make_storage``). Media keys are
the same as on the local folder (``jobs/<id>/...``, validated by ``footy.storage.validate_key``); in the
bucket they sit under ``prefix/``.

- Uploads: the web process spools the upload to its scratch folder, then ``save_file`` sends it with
  boto3's managed transfer (multipart above 16 MB), so a 5 GB match never sits in memory.
- Workers: ``local_copy`` streams the object down to a temporary file in the scratch folder, yields
  it, and deletes it afterwards; artefacts go back up with ``save_file`` / ``save_bytes``.
- Serving, ``FOOTY_S3_SERVE``. Either way footy's route first checks who may see the job.
  ``proxy`` (default): footy streams the object itself, forwarding the browser's Range header to S3
  and answering 206/416 as S3 does, so ``<video>`` seeks. It works with any bucket (private, on an
  internal endpoint) and with the pages' self-only Content-Security-Policy; it costs a web thread per
  stream, which is fine at a club's scale.
  ``redirect``: a 302 to a presigned GET URL valid for ``FOOTY_S3_URL_EXPIRY`` seconds (default 300),
  Content-Type and Content-Disposition fixed by the signature. S3 answers the Range requests itself and
  the web process never carries video bytes: the choice for many viewers. The browser must reach the
  endpoint (``FOOTY_S3_PUBLIC_ENDPOINT_URL`` if it differs from the one the servers use), and the
  pages' CSP then allows that origin for images and media (``media_origins``).
"""
from __future__ import annotations

import mimetypes
import os
import re
import threading
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from flask import Response, redirect, request

from .storage import ARTEFACT_NAMES, StorageKeyError, StorageUnavailable, scratch_file, validate_key

MB = 1024 * 1024
TRANSFER = TransferConfig(multipart_threshold=16 * MB, multipart_chunksize=16 * MB, max_concurrency=4,
                          use_threads=True)
NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
SERVE_MODES = ("proxy", "redirect")


def _not_found(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in NOT_FOUND_CODES


def content_type(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    if name in ARTEFACT_NAMES:
        return ARTEFACT_NAMES[name]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


class S3Storage:
    """The Storage protocol of ``footy.storage`` on an S3 bucket (AWS, MinIO, R2, Ceph, moto...)."""

    def __init__(self, bucket: str, prefix: str = "", *, scratch: str | Path, endpoint_url: str | None = None,
                 public_endpoint_url: str | None = None, region: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 url_expiry: int = 300, serve: str = "proxy", addressing_style: str | None = None):
        if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket or ""):
            raise ValueError(f"invalid S3 bucket name {bucket!r}")
        if serve not in SERVE_MODES:
            raise ValueError(f"FOOTY_S3_SERVE must be one of {', '.join(SERVE_MODES)}, not {serve!r}")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.scratch = Path(scratch)
        self.url_expiry = max(1, int(url_expiry))
        self.serve = serve
        self._endpoint = endpoint_url or None
        self._public_endpoint = public_endpoint_url or self._endpoint
        self._session_args = {"region_name": region or None, "aws_access_key_id": access_key_id or None,
                              "aws_secret_access_key": secret_access_key or None}
        # MinIO, moto and most self-hosted stores only know path-style URLs
        self._config = Config(signature_version="s3v4", retries={"max_attempts": 5, "mode": "standard"},
                              s3={"addressing_style": addressing_style or ("path" if self._endpoint else "auto")})
        self._clients: dict[tuple[int, str | None], object] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, scratch: str | Path, settings: dict | None = None) -> "S3Storage":
        """``s3://bucket/optional/prefix``; the endpoint, keys and region come from ``settings``
        (footy's config) or else the environment, like any boto3 program."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"FOOTY_STORAGE_URL must look like s3://bucket/prefix, not {url!r}")
        if settings is None:
            from .config import s3_settings

            settings = s3_settings()
        return cls(parts.netloc, parts.path, scratch=scratch,
                   endpoint_url=settings.get("FOOTY_S3_ENDPOINT_URL"),
                   public_endpoint_url=settings.get("FOOTY_S3_PUBLIC_ENDPOINT_URL"),
                   region=settings.get("FOOTY_S3_REGION"),
                   access_key_id=settings.get("AWS_ACCESS_KEY_ID"),
                   secret_access_key=settings.get("AWS_SECRET_ACCESS_KEY"),
                   url_expiry=int(settings.get("FOOTY_S3_URL_EXPIRY") or 300),
                   serve=settings.get("FOOTY_S3_SERVE") or "proxy",
                   addressing_style=settings.get("FOOTY_S3_ADDRESSING_STYLE") or None)

    # ------------------------------------------------------------ clients

    def _client(self, endpoint: str | None = None):
        """One client per process (RQ forks a work-horse per job: never share sockets with the parent)."""
        endpoint = endpoint or self._endpoint
        key = (os.getpid(), endpoint)
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    session = boto3.session.Session(**self._session_args)
                    client = session.client("s3", endpoint_url=endpoint, config=self._config)
                    self._clients = {k: v for k, v in self._clients.items() if k[0] == os.getpid()}
                    self._clients[key] = client
        return client

    @property
    def client(self):
        return self._client()

    def object_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    # ------------------------------------------------------------ the Storage protocol

    def scratch_dir(self) -> Path:
        """Uploads are spooled here before going up, and workers' downloads live here while they run."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        return self.scratch

    def save_file(self, key: str, source: Path) -> None:
        """Upload (multipart when large). A file from the scratch folder is consumed, as LocalStorage
        moves it: the caller never finds it there afterwards."""
        name = self.object_key(key)
        source = Path(source)
        try:
            self.client.upload_file(str(source), self.bucket, name, Config=TRANSFER,
                                    ExtraArgs={"ContentType": content_type(key)})
        except (S3UploadFailedError, ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"could not store {key}: {exc}") from exc
        if source.resolve().parent == self.scratch_dir().resolve():
            source.unlink(missing_ok=True)

    def save_bytes(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.object_key(key), Body=data,
                                   ContentType=content_type(key))
        except (ClientError, BotoCoreError) as exc:
            raise StorageUnavailable(f"could not store {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
            return True
        except ClientError as exc:
            if _not_found(exc):
                return False
            raise StorageUnavailable(f"could not check {key}: {exc}") from exc

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """Stream the object down to a scratch file (same suffix: decoders sniff it), delete it after."""
        name = self.object_key(key)
        tmp = scratch_file(self, suffix=Path(key).suffix)
        try:
            try:
                self.client.download_file(self.bucket, name, str(tmp), Config=TRANSFER)
            except ClientError as exc:
                if _not_found(exc):
                    raise FileNotFoundError(key) from None
                raise StorageUnavailable(f"could not fetch {key}: {exc}") from exc
            except BotoCoreError as exc:
                raise StorageUnavailable(f"could not fetch {key}: {exc}") from exc
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        if not re.fullmatch(r"jobs/[0-9a-f]{32}/", prefix):
            raise StorageKeyError("only a job's folder can be deleted")
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if objects:  # at most 1000 per page, the delete_objects limit
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})

    def send(self, key: str, mimetype: str | None = None, download_name: str | None = None):
        name = self.object_key(key)
        mimetype = mimetype or content_type(key)
        if self.serve == "proxy":
            return self._stream(key, name, mimetype, download_name)
        try:
            self.client.head_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _not_found(exc):
                raise FileNotFoundError(key) from None
            raise StorageUnavailable(f"could not read {key}: {exc}") from exc
        resp = redirect(self.presigned_url(key, mimetype, download_name), 302)
        resp.headers["Cache-Control"] = "no-store"  # the signed URL expires; never cache the redirect
        return resp

    # ------------------------------------------------------------ serving

    @cached_property
    def media_origins(self) -> tuple[str, ...]:
        """Origins the browser loads media from besides footy itself (for the pages' CSP)."""
        if self.serve != "redirect":
            return ()
        url = self._client(self._public_endpoint).generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.prefix + "origin"}, ExpiresIn=60)
        parts = urlsplit(url)  # signing is local: no request is made
        return (f"{parts.scheme}://{parts.netloc}",)

    def presigned_url(self, key: str, mimetype: str | None = None, download_name: str | None = None) -> str:
        params = {"Bucket": self.bucket, "Key": self.object_key(key),
                  "ResponseContentType": mimetype or content_type(key),
                  "ResponseContentDisposition": _disposition(download_name),
                  "ResponseCacheControl": f"private, max-age={self.url_expiry}"}
        return self._client(self._public_endpoint).generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self.url_expiry)

    def _stream(self, key: str, name: str, mimetype: str, download_name: str | None) -> Response:
        args = {"Bucket": self.bucket, "Key": name}
        byte_range = request.headers.get("Range")
        if byte_range and re.fullmatch(r"bytes=\d*-\d*(,\s*\d*-\d*)*", byte_range.strip()):
            args["Range"] = byte_range.strip()
        try:
            obj = self.client.get_object(**args)
        except ClientError as exc:
            if _not_found(exc):
                raise FileNotFoundError(key) from None
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                head = self.client.head_object(Bucket=self.bucket, Key=name)
                resp = Response(status=416)
                resp.headers["Content-Range"] = f"bytes */{head['ContentLength']}"
                return resp
            raise StorageUnavailable(f"could not read {key}: {exc}") from exc
        body = obj["Body"]
        resp = Response(body.iter_chunks(256 * 1024), status=206 if obj.get("ContentRange") else 200,
                        mimetype=mimetype, direct_passthrough=True)
        resp.headers["Content-Length"] = str(obj["ContentLength"])
        resp.headers["Accept-Ranges"] = "bytes"
        resp.headers["Content-Disposition"] = _disposition(download_name)
        resp.headers["Cache-Control"] = "no-cache"
        if obj.get("ContentRange"):
            resp.headers["Content-Range"] = obj["ContentRange"]
        if obj.get("ETag"):
            resp.headers["ETag"] = obj["ETag"]
        if obj.get("LastModified"):
            resp.last_modified = obj["LastModified"]
        resp.call_on_close(body.close)
        return resp


def _disposition(download_name: str | None) -> str:
    if not download_name:
        return "inline"
    safe = re.sub(r"[^A-Za-z0-9._\-]", "_", download_name)[:100]
    return f'attachment; filename="{safe}"'
