"""The whole analysis of one job: follow the chosen player, score, render the artefacts.

Two streamed passes over the video, never more than a few frames in memory:
1. ``track.follow_target`` decodes the video and follows the player (most of the time);
2. ``render.render_spotlight`` decodes it again and writes the spotlight clip (it needs the
   finished track: the box on a frame between analysed frames is interpolated).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import render
from .score import PARTIAL_COVERAGE, normalise_role, score_track
from .types import NormBox, VideoInfo, VisionError
from .video import frame_at, probe

log = logging.getLogger(__name__)

COMPLETED = "COMPLETED"
PARTIAL = "PARTIAL"

ARTEFACT_NAMES = {"spotlight": "spotlight.mp4", "heatmap": "heatmap.png",
                  "track_csv": "track.csv", "track_json": "track.json"}
MAX_ANALYSIS_FPS = 15.0       # analyse every n-th frame so that at most this many frames/s are analysed
SPOTLIGHT_MAX_WIDTH = 640     # 360p clip: enough to follow one highlighted player, encodes in ~1 ms/frame
# share of the progress bar each step takes (tracking dominates the run time)
TRACKING_SHARE, RENDERING_SHARE = 0.70, 0.27

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
    from .track import follow_target

    report = progress or (lambda fraction, step: None)
    role = normalise_role(role)  # fail before the long work, not after
    info = probe(video_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stride = stride or default_stride(info.fps)
    detector = detector or make_detector()

    report(0.0, "tracking")
    xyxy = bbox.to_xyxy(info.width, info.height)
    track = follow_target(video_path, time_sec, xyxy, detector, info=info, stride=stride,
                          progress=lambda f: report(TRACKING_SHARE * min(1.0, max(0.0, f)), "tracking"))

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

    artefacts = {key: out_dir / name for key, name in ARTEFACT_NAMES.items()}
    report(TRACKING_SHARE, "rendering")
    render.render_spotlight(video_path, track, artefacts["spotlight"], info, max_width=SPOTLIGHT_MAX_WIDTH,
                            progress=lambda f: report(TRACKING_SHARE + RENDERING_SHARE * f, "rendering"))
    render.render_heatmap(track, info, artefacts["heatmap"], background=_background(video_path, time_sec))
    render.write_track_csv(track, artefacts["track_csv"])
    render.write_track_json(track, info, artefacts["track_json"])
    report(1.0, "done")
    return AnalysisOutput(status=status, result=result, artefacts=artefacts)


def _decoded_share(error: VisionError, info: VideoInfo) -> float:
    frame_index = error.details.get("frame_index")
    if frame_index is None or info.frame_count <= 0:
        return 0.0
    return min(1.0, max(0.0, frame_index / info.frame_count))


def _background(video_path, time_sec: float):
    """The frame the coach picked the player on, as the heatmap's backdrop (None if unreadable)."""
    try:
        return frame_at(video_path, time_sec).image
    except VisionError:
        log.warning("no backdrop frame for the heatmap at %.3fs", time_sec)
        return None
