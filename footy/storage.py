"""Media keys <-> files. The only code that touches media, and the only place keys are validated.

A key looks like ``jobs/<job_id>/frames/frame_0001.jpg``: lowercase folders, a plain file name,
nothing that could climb out of the media root. Backends: the local folder (default) and, for
deployments without a shared disk, S3-compatible object storage (``FOOTY_STORAGE_URL=s3://...``).
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol

from flask import current_app, send_file

KEY_RE = re.compile(r"^jobs/[0-9a-f]{32}(?:/[a-z0-9_]+)*/[A-Za-z0-9_\-]+\.[a-z0-9]{2,4}$")
FRAME_NAME_RE = re.compile(r"^frame_\d{4}\.jpg$")
ARTEFACT_NAMES = {
    "spotlight.mp4": "video/mp4",
    "heatmap.png": "image/png",
    "track.csv": "text/csv",
    "track.json": "application/json",
}


class StorageKeyError(ValueError):
    """A malformed key, or one that escapes its job's folder."""


class StorageFullError(OSError):
    """The disk (or bucket) refused the write; nothing half-written is left."""


class StorageUnavailable(OSError):
    """The object store refused or could not be reached (credentials, network, missing bucket)."""


def escapes_job(key: str, job_id: str) -> bool:
    """A key that tries to leave its job's folder: traversal, an absolute or Windows path, a NUL
    byte, another job's folder. (Any other key validate_key refuses is merely malformed.)"""
    return (".." in key or key.startswith("/") or "\\" in key or "\x00" in key
            or (key.startswith("jobs/") and not key.startswith(f"jobs/{job_id}/")))


def validate_key(key: object, job_id: str | None = None) -> str:
    if not isinstance(key, str) or len(key) > 200 or not KEY_RE.match(key) or ".." in key:
        raise StorageKeyError("malformed media key")
    if job_id is not None and not key.startswith(f"jobs/{job_id}/"):
        raise StorageKeyError("the key does not belong to this job")
    return key


def job_prefix(job_id: str) -> str:
    return f"jobs/{job_id}/"


def video_key(job_id: str, suffix: str) -> str:
    suffix = suffix.lower() if re.fullmatch(r"\.[a-z0-9]{2,4}", suffix.lower() or "") else ".bin"
    return f"jobs/{job_id}/video{suffix}"


def frame_key(job_id: str, number: int) -> str:
    return f"jobs/{job_id}/frames/frame_{number:04d}.jpg"


def frame_key_from_name(job_id: str, name: str) -> str:
    if not isinstance(name, str) or not FRAME_NAME_RE.match(name):
        raise StorageKeyError("malformed frame name")
    return f"jobs/{job_id}/frames/{name}"


def artefact_key(job_id: str, name: str) -> str:
    if name not in ARTEFACT_NAMES:
        raise StorageKeyError("unknown artefact")
    return f"jobs/{job_id}/artefacts/{name}"


class Storage(Protocol):
    def save_file(self, key: str, source: Path) -> None: ...
    def save_bytes(self, key: str, data: bytes) -> None: ...
    def exists(self, key: str) -> bool: ...
    def local_copy(self, key: str) -> "contextmanager[Path]": ...
    def delete_prefix(self, prefix: str) -> None: ...
    def send(self, key: str, mimetype: str | None = None, download_name: str | None = None): ...
    def scratch_dir(self) -> Path: ...


def _raise_if_full(exc: OSError) -> None:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise StorageFullError(exc.errno, "no space left to store the file") from exc


class LocalStorage:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if self.root not in path.parents:  # belt and braces on top of KEY_RE
            raise StorageKeyError("the key escapes the media folder")
        return path

    def scratch_dir(self) -> Path:
        """Temporary files live beside the media so the final move is an atomic rename."""
        path = self.root / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def save_file(self, key: str, source: Path) -> None:
        dest = self.path_for(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            if Path(source).resolve().parent == self.scratch_dir().resolve():
                os.replace(source, dest)
            else:
                tmp = dest.with_name(dest.name + ".part")
                try:
                    shutil.copyfile(source, tmp)
                    os.replace(tmp, dest)
                finally:
                    tmp.unlink(missing_ok=True)
        except OSError as exc:
            _raise_if_full(exc)
            raise

    def save_bytes(self, key: str, data: bytes) -> None:
        dest = self.path_for(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, dest)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            _raise_if_full(exc)
            raise

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self.path_for(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        yield path

    def delete_prefix(self, prefix: str) -> None:
        if not re.fullmatch(r"jobs/[0-9a-f]{32}/", prefix):
            raise StorageKeyError("only a job's folder can be deleted")
        shutil.rmtree(self.root / prefix, ignore_errors=True)

    def send(self, key: str, mimetype: str | None = None, download_name: str | None = None):
        path = self.path_for(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        # conditional=True: Range requests, so <video> can seek
        return send_file(path, mimetype=mimetype, conditional=True, max_age=0,
                         as_attachment=download_name is not None, download_name=download_name)


def make_storage(config: dict) -> Storage:
    url = config.get("FOOTY_STORAGE_URL") or ""
    if url.startswith("s3://"):
        from .storage_s3 import S3Storage  # boto3 only where object storage is used

        return S3Storage.from_url(url, scratch=Path(config["FOOTY_MEDIA_DIR"]) / "tmp", settings=config)
    if url and not url.startswith("file://"):
        raise ValueError(f"unsupported FOOTY_STORAGE_URL {url!r}: use s3://bucket/prefix or leave it unset")
    return LocalStorage(url[len("file://"):] if url else config["FOOTY_MEDIA_DIR"])


def get_storage() -> Storage:
    return current_app.extensions["footy.storage"]


def scratch_file(storage: Storage, suffix: str = "") -> Path:
    fd, name = tempfile.mkstemp(dir=storage.scratch_dir(), suffix=suffix)
    os.close(fd)
    return Path(name)
