"""The spotlight of a finished track, drawn in a pass of its own (the analysis draws its clip while
it follows the player): the reference the tests compare clips with."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from footy.vision.render import SPOTLIGHT_CRF, SPOTLIGHT_PRESET, SpotlightClip
from footy.vision.types import TargetTrack, VideoInfo, VisionError
from footy.vision.video import iter_frames


def render_spotlight(video_path, track: TargetTrack, out_path, info: VideoInfo, max_width: int = 1280,
                     progress: Callable[[float], None] | None = None, preset: str = SPOTLIGHT_PRESET,
                     crf: int = SPOTLIGHT_CRF) -> None:
    """The spotlight clip of a finished track (source pixels), in a pass of its own over the video:
    the same drawing as the analysis does while it follows the player, fed from a track made up by
    a test (or read back from the analysis' track file), for comparison."""
    steps = np.diff([p.frame_index for p in track.points])
    stride = max(1, int(np.median(steps))) if len(steps) else 1
    clip = SpotlightClip(out_path, info, max_width, stride, preset=preset, crf=crf)
    width, height = clip.size
    part = clip.part(0)
    points = iter(track.points)
    upcoming = next(points, None)
    total = max(1, info.frame_count)
    try:
        try:
            for frame in iter_frames(video_path, size=(width, height), pixel_format="yuv420p", step=clip.step):
                part.add_frame(frame.index, frame.time_sec, frame.image)
                while upcoming is not None and upcoming.frame_index <= frame.index:
                    part.add_point(upcoming)
                    upcoming = next(points, None)
                if progress and frame.index % 50 == 0:
                    progress(min(1.0, frame.index / total))
        except VisionError as exc:
            if exc.code != "VIDEO_DECODE_ERROR":
                raise
        while upcoming is not None:
            part.add_point(upcoming)
            upcoming = next(points, None)
        part.close()
        clip.finish()
    finally:
        clip.discard()
    if progress:
        progress(1.0)
