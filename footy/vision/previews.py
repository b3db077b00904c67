"""Preview frames for the coach: spread over the match, found by seeking, and on the wide camera.

A coach can only click a player on a wide view of the pitch. A preview time that falls on a
close-up, the crowd or a replay graphic (a broadcast cuts away often) is moved to a nearby frame
of the wide shot: the one with the most grass within a few seconds.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .camera import shot_signature
from .types import Frame, VideoInfo
from .video import frame_at

# a preview with less grass than this share of the previews' median grass is not the wide shot
WIDE_SHARE = 0.8
NUDGES_SEC = (1.0, -1.0, 2.0, -2.0, 4.0, -4.0, 8.0, -8.0)
MIN_GAP_SEC = 0.5  # a moved preview keeps this far from its neighbours, and in time order


def _last_time(duration_sec: float, fps: float) -> float:
    return max(0.0, duration_sec - 1.0 / fps)


def preview_times(duration_sec: float, fps: float, count: int) -> list[float]:
    """``count`` instants spread over the match, away from the very first and last frames."""
    count = max(1, count)
    last = _last_time(duration_sec, fps)
    return [round(last * (i + 0.5) / count, 3) for i in range(count)]


def preview_frames(path: str | Path, info: VideoInfo, count: int,
                   progress: Callable[[int, int], None] | None = None) -> list[Frame]:
    """The preview frames, in time order; ``progress(done, count)`` after each nominal frame."""
    times = preview_times(info.duration_sec, info.fps, count)
    frames: list[Frame] = []
    for number, at in enumerate(times, start=1):
        frames.append(frame_at(path, at))
        if progress is not None:
            progress(number, len(times))
    grass = [shot_signature(frame.image)[0] for frame in frames]
    wide = WIDE_SHARE * float(np.median(grass))
    last = _last_time(info.duration_sec, info.fps)
    for i, frame in enumerate(frames):
        if grass[i] >= wide:
            continue
        lo = frames[i - 1].time_sec + MIN_GAP_SEC if i > 0 else 0.0
        hi = frames[i + 1].time_sec - MIN_GAP_SEC if i + 1 < len(frames) else last
        for offset in NUDGES_SEC:
            at = frame.time_sec + offset
            if not lo <= at <= hi:
                continue
            candidate = frame_at(path, at)
            share = shot_signature(candidate.image)[0]
            if share > grass[i]:
                frames[i], grass[i] = candidate, share
            if share >= wide:
                break
    return frames
