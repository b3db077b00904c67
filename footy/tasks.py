"""RQ entry points. Thin: load the job, call the vision code, save, report progress.

The worker process runs `flask footy worker`, so an app context is already there; anything else
(an RQ worker started by hand) gets an app from create_app().
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import cv2
from flask import current_app, has_app_context

from .extensions import db
from .jobs import service
from .jobs.states import JobStatus, Step
from .models import Job
from .storage import artefact_key, frame_key, get_storage
from .vision.types import NormBox, VisionError

log = logging.getLogger(__name__)
_engine_pid = os.getpid()


@contextmanager
def _app_context():
    global _engine_pid
    if has_app_context():
        app = current_app._get_current_object()
    else:
        from . import create_app

        app = create_app()
    with app.app_context():
        if os.getpid() != _engine_pid:
            # a forked work-horse must not reuse the parent's database connections
            db.engine.dispose(close=False)
            _engine_pid = os.getpid()
        yield app
        db.session.remove()


def prepare_job(job_id: str) -> None:
    """Probe, extract preview frames by seeking, then track candidates around each preview."""
    from .vision.detect import make_detector
    from .vision.previews import preview_frames
    from .vision.track import candidate_tracks
    from .vision.video import probe

    with _app_context() as app:
        job = db.session.get(Job, job_id)
        if job is None or job.status != JobStatus.WAITING_FOR_SELECTION:
            return
        storage = get_storage()
        try:
            with storage.local_copy(job.video_key) as video:
                info = probe(video)
                service.report_preparation(job_id, Step.EXTRACTING_PREVIEWS, 5, "Extracting preview frames")
                previews = preview_frames(video, info, app.config["FOOTY_PREVIEW_FRAMES"], lambda done, total: (
                    service.report_preparation(job_id, Step.EXTRACTING_PREVIEWS, 5 + 35 * done // total,
                                               f"Extracted preview {done} of {total}")))
                frames = []
                for number, frame in enumerate(previews, start=1):
                    ok, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 88])
                    if not ok:
                        raise VisionError("INVALID_VIDEO", f"could not encode the preview at {frame.time_sec:.2f}s")
                    key = frame_key(job_id, number)
                    storage.save_bytes(key, jpeg.tobytes())
                    frames.append({"frame_key": key, "time_sec": round(frame.time_sec, 3),
                                   "frame_index": frame.index, "width": info.width, "height": info.height,
                                   "tracks": []})
                service.report_preparation(job_id, Step.PREVIEWS_READY, 40, "Preview frames ready",
                                           preview_frames=frames, candidates_status="running")
                detector = make_detector(app.config["FOOTY_DETECTOR"])
                next_id = 1
                for number, frame in enumerate(frames, start=1):
                    service.report_preparation(job_id, Step.TRACKING_CANDIDATES, 40 + 60 * (number - 1) // len(frames),
                                               f"Finding players on preview {number} of {len(frames)}")
                    tracks = candidate_tracks(video, frame["time_sec"], detector, first_track_id=next_id, info=info)
                    frame["tracks"] = [{"track_id": int(t.track_id),
                                        "bbox": NormBox.from_xyxy(t.xyxy, info.width, info.height).as_dict(),
                                        "confidence": round(float(t.confidence), 3)} for t in tracks]
                    next_id = max([next_id - 1] + [t["track_id"] for t in frame["tracks"]]) + 1
                service.report_preparation(job_id, Step.CANDIDATES_READY, 100,
                                           "Click your player on a preview frame",
                                           preview_frames=frames, candidates_status="ready")
        except VisionError as exc:
            service.fail_preparation(job_id, exc.code, exc.message, **exc.details)
        except FileNotFoundError:
            service.fail_preparation(job_id, "VIDEO_MISSING", "The uploaded video is no longer stored")
        except Exception as exc:  # noqa: BLE001 - any crash must still leave a valid, explained job
            log.exception("preparation of %s failed", job_id)
            service.fail_preparation(job_id, "PREPARATION_FAILED", f"Preparing the previews failed: {exc}")


class _ProgressWriter:
    """Writes analysis progress to the job row at most once a second (the web polls it)."""

    # analyze_video names its steps; the coach reads these words
    STEPS = {
        "tracking": (Step.TRACKING, "Following the player through the video"),
        "scoring": (Step.SCORING, "Scoring the performance"),
        "rendering": (Step.RENDERING, "Finishing the spotlight clip and heatmap"),
        "done": (Step.RENDERING, "Saving the results"),
    }

    def __init__(self, job_id: str):
        self.job_id, self.last, self.last_percent, self.last_step = job_id, 0.0, -1, None

    def __call__(self, fraction: float, step_name: str = "tracking") -> None:
        percent = max(0, min(99, int(fraction * 100)))
        step, message = self.STEPS.get(step_name, (Step.TRACKING, "Following the player through the video"))
        now = time.monotonic()
        changed = step != self.last_step
        if changed or (percent != self.last_percent and (now - self.last >= 1.0 or percent - self.last_percent >= 10)):
            service.report_progress(self.job_id, step, percent, message)
            self.last, self.last_percent, self.last_step = now, percent, step


def run_analysis(job_id: str, rq_job_id: str | None = None) -> str:
    """Follow the confirmed player through the whole video, score, render, save."""
    from .vision.analysis import analyze_video
    from .vision.detect import make_detector

    with _app_context() as app:
        if not service.start_running(job_id, rq_job_id):
            return "skipped"  # a duplicate or stale RQ job: this attempt is not QUEUED any more
        job = db.session.get(Job, job_id)
        storage = get_storage()
        out_dir = Path(tempfile.mkdtemp(prefix=f"footy-{job_id}-"))
        try:
            target = job.target
            with storage.local_copy(job.video_key) as video:
                output = analyze_video(video, float(target["time_sec"]), NormBox(**target["bbox"]), out_dir,
                                       detector=make_detector(app.config["FOOTY_DETECTOR"]), role=job.role,
                                       progress=_ProgressWriter(job_id))
            artefacts = {}
            for kind, path in output.artefacts.items():
                key = artefact_key(job_id, Path(path).name)
                storage.save_file(key, Path(path))
                artefacts[kind] = key
            status = JobStatus.PARTIAL if output.status == "PARTIAL" else JobStatus.COMPLETED
            service.finish(job_id, status, output.result, artefacts)
            return status.value
        except VisionError as exc:
            service.fail(job_id, exc.code, exc.message, **exc.details)
            return "FAILED"
        except FileNotFoundError:
            service.fail(job_id, "VIDEO_MISSING", "The uploaded video is no longer stored")
            return "FAILED"
        except Exception as exc:  # noqa: BLE001 - nothing may stay RUNNING
            log.exception("analysis of %s failed", job_id)
            service.fail(job_id, "ANALYSIS_ERROR", f"The analysis failed: {type(exc).__name__}: {exc}")
            return "FAILED"
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)


def _fault_options() -> dict:
    """Every footy RQ job: retried once if its worker is lost, and footy told of each failure."""
    from rq import Callback, Retry

    from .faults import RETRIES, on_job_failure

    return {"retry": Retry(max=RETRIES), "on_failure": Callback(on_job_failure)}


def enqueue_prepare(job_id: str) -> str:
    from .queue import PREVIEWS, get_queue

    rq_id = f"footy-prepare-{job_id}"
    get_queue(PREVIEWS).enqueue("footy.tasks.prepare_job", job_id, job_id=rq_id, job_timeout=1800,
                                result_ttl=3600, failure_ttl=7 * 86400, **_fault_options())
    return rq_id


def enqueue_analysis(job_id: str, rq_job_id: str) -> str:
    from .queue import ANALYSIS, get_queue

    get_queue(ANALYSIS).enqueue("footy.tasks.run_analysis", job_id, rq_job_id, job_id=rq_job_id,
                                job_timeout=current_app.config["FOOTY_ANALYSIS_TIMEOUT"],
                                result_ttl=86400, failure_ttl=7 * 86400, **_fault_options())
    return rq_job_id
