"""The whole analysis of one job: follow the chosen player, score, render the artefacts.

One streamed pass over the video: ``track.follow_target`` decodes each frame once, follows the
player on the analysed ones and hands every frame, small, to ``render.SpotlightClip``, which
draws the player's box on it as soon as the analysed frames around it are decided (a frame
between two analysed ones gets the box interpolated). Decoding is the physical limit here, so
the clip costs drawing and encoding, not a second decode. Memory stays flat: the forward walk
keeps a frame or two, a backward chunk its few seconds of small frames.
"""
from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from . import render
from .score import PARTIAL_COVERAGE, normalise_role, score_track
from .types import NormBox, TargetTrack, VideoInfo, VisionError
from .video import probe

COMPLETED = "COMPLETED"
PARTIAL = "PARTIAL"

ARTEFACT_NAMES = {"spotlight": "spotlight.mp4", "heatmap": "heatmap.png",
                  "track_csv": "track.csv", "track_json": "track.json"}
MAX_ANALYSIS_FPS = 15.0       # analyse every n-th frame so that at most this many frames/s are analysed
SPOTLIGHT_MAX_WIDTH = 640     # 360p clip: enough to follow one highlighted player, encodes in ~1 ms/frame
# share of the progress bar tracking (with the spotlight drawn as it goes) takes; joining the
# clip's parts, scoring and the small artefacts take the rest
TRACKING_SHARE = 0.95

Progress = Callable[[float, str], None]


@dataclass
class AnalysisOutput:
    status: str                      # COMPLETED | PARTIAL
    result: dict                     # JSON-serialisable: overallScore, radar, signals, ...
    artefacts: dict[str, Path] = field(default_factory=dict)  # spotlight, heatmap, track_csv, track_json


def default_stride(fps: float) -> int:
    """Analyse every n-th frame so at most ``MAX_ANALYSIS_FPS`` frames per second are analysed."""
    return max(1, math.ceil(fps / MAX_ANALYSIS_FPS - 1e-9)) if fps > 0 else 1


def analyze_video(video_path, time_sec: float, bbox: NormBox, out_dir, detector=None, role: str | None = None,
                  progress: Progress | None = None, stride: int | None = None) -> AnalysisOutput:
    """Follow the player boxed by ``bbox`` at ``time_sec`` through the video, score and render.

    Raises ``VisionError("INVALID_VIDEO")`` for a file that is not a video, and the track's
    ``VIDEO_DECODE_ERROR`` when the video broke before enough of it was analysed. Ends PARTIAL
    (with the full result) when the player was visible on less than ``PARTIAL_COVERAGE`` of the
    analysed frames, or the video broke after at least that share of it decoded; then
    ``result["partial_reasons"]`` says why and ``result["error"]`` describes a decode error.
    """
    from .detect import make_detector  # V1's modules; imported here so score/render stand alone
    from .track import analysis_size, follow_target

    report = progress or (lambda fraction, step: None)
    role = normalise_role(role)  # fail before the long work, not after
    info = probe(video_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stride = stride or default_stride(info.fps)
    detector = detector or make_detector()
    steady_heap()

    artefacts = {key: out_dir / name for key, name in ARTEFACT_NAMES.items()}
    report(0.0, "tracking")
    xyxy = bbox.to_xyxy(info.width, info.height)
    size = analysis_size(info) or (info.width, info.height)
    spotlight = render.SpotlightClip(artefacts["spotlight"], info, SPOTLIGHT_MAX_WIDTH, stride, boxes_in=size)
    try:
        with _opencv_threads(1):
            track = follow_target(video_path, time_sec, xyxy, detector, info=info, stride=stride, spotlight=spotlight,
                                  progress=lambda f: report(TRACKING_SHARE * min(1.0, max(0.0, f)), "tracking"))
        return _finish(track, info, role, stride, spotlight, artefacts, report)
    finally:
        spotlight.discard()


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
HEAP_TRIM_BYTES = 8 << 20    # freed memory glibc's heap keeps, at most (64 MB: the same faults, 12 MB more)
HEAP_MMAP_BYTES = 4 << 20    # arrays up to this size (a 720p frame's planes, 640 px images) come from the heap


def steady_heap() -> bool:
    """Fix glibc malloc's thresholds for this process (an RQ work horse or a CLI run: it ends with
    the analysis). By default they move with what was freed last: frame-sized arrays then went to
    fresh pages (mmap, or a heap grown again after a trim) and back, every frame, and each page came
    back zeroed by the kernel: 140,000-170,000 page faults and ~0.4 s of system CPU in a 25 s 720p
    analysis, against ~12,000 and ~0.1 s with these (bench/README.md). False where the C library is
    not glibc (nothing is changed there)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # (the process's own symbols: libc's, with no search for it)
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_TRIM_THRESHOLD, HEAP_TRIM_BYTES)) and bool(mallopt(_M_MMAP_THRESHOLD, HEAP_MMAP_BYTES))


@contextmanager
def _opencv_threads(n: int):
    """OpenCV's own thread pool off while the two walks (and their decoders) already keep the
    cores busy: its workers wait by spinning, which cost ~10 % more CPU for no speed here."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


def _finish(track: TargetTrack, info: VideoInfo, role: str | None, stride: int,
            spotlight: render.SpotlightClip, artefacts: dict[str, Path], report: Progress) -> AnalysisOutput:
    """Score the track, decide the status, and write the artefacts (the clip's parts joined)."""
    report(TRACKING_SHARE, "scoring")
    result = score_track(track, info, role)
    result["stride"] = stride
    result["video"] = {"fps": round(info.fps, 3), "duration_sec": round(info.duration_sec, 3),
                       "width": info.width, "height": info.height}
    reasons = []
    if track.decode_error is not None:
        error = track.decode_error
        decoded_share = _decoded_share(error, info)
        if decoded_share < PARTIAL_COVERAGE or result["frames_visible"] == 0:
            raise error
        reasons.append("VIDEO_DECODE_ERROR")
        frame_index = error.details.get("frame_index")
        result["error"] = {"code": error.code, "message": error.message,
                           "frame_index": None if frame_index is None else int(frame_index)}
        result["decoded_share"] = round(decoded_share, 4)
    if result["coverage"] < PARTIAL_COVERAGE:
        reasons.append("LOW_COVERAGE")
    status = PARTIAL if reasons else COMPLETED
    if reasons:
        result["partial_reasons"] = reasons

    report(TRACKING_SHARE, "rendering")
    spotlight.finish()
    render.render_heatmap(track, info, artefacts["heatmap"], background=track.start_image)
    render.write_track_csv(track, artefacts["track_csv"])
    render.write_track_json(track, info, artefacts["track_json"])
    report(1.0, "done")
    return AnalysisOutput(status=status, result=result, artefacts=artefacts)


def _decoded_share(error: VisionError, info: VideoInfo) -> float:
    frame_index = error.details.get("frame_index")
    if frame_index is None or info.frame_count <= 0:
        return 0.0
    return min(1.0, max(0.0, frame_index / info.frame_count))
