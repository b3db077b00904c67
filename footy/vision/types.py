"""Small typed values passed between the pure vision functions.

Boxes are pixel ``xyxy`` floats in the source video's coordinates unless a name says
``norm`` (0..1 of width/height, the API's ``{x, y, w, h}`` form).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class VisionError(Exception):
    """A failure the user can act on, with a stable code (``INVALID_VIDEO``, ``VIDEO_DECODE_ERROR``)."""

    def __init__(self, code: str, message: str, **details):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def __reduce__(self):
        # pickled whole (the backward walk's process sends its errors): the default would call
        # VisionError(message) alone
        return type(self), (self.code, self.message), self.__dict__


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    frame_count: int
    width: int
    height: int
    duration_sec: float
    codec: str
    # degrees the stored picture is turned counterclockwise to be shown (a phone's display matrix:
    # 0, 90, 180 or 270); width and height are the picture as shown, which is all footy works in
    rotation: int = 0


@dataclass
class Frame:
    index: int
    time_sec: float
    image: np.ndarray  # BGR uint8, H x W x 3


@dataclass(frozen=True)
class NormBox:
    """A box as a fraction of the frame: the API's ``{x, y, w, h}``."""

    x: float
    y: float
    w: float
    h: float

    def to_xyxy(self, width: int, height: int) -> np.ndarray:
        return np.array(
            [self.x * width, self.y * height, (self.x + self.w) * width, (self.y + self.h) * height],
            dtype=float,
        )

    @classmethod
    def from_xyxy(cls, xyxy, width: int, height: int) -> "NormBox":
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        return cls(x=x1 / width, y=y1 / height, w=(x2 - x1) / width, h=(y2 - y1) / height)

    def as_dict(self) -> dict:
        return {"x": round(self.x, 6), "y": round(self.y, 6), "w": round(self.w, 6), "h": round(self.h, 6)}


@dataclass(frozen=True)
class CandidateTrack:
    """One player the tracker followed around a preview frame, as seen on that frame."""

    track_id: int
    xyxy: tuple[float, float, float, float]
    confidence: float


@dataclass(frozen=True)
class TrackPoint:
    """Where the chosen player is on one frame; ``xyxy`` is None when not visible."""

    frame_index: int
    time_sec: float
    xyxy: tuple[float, float, float, float] | None
    confidence: float

    @property
    def visible(self) -> bool:
        return self.xyxy is not None


@dataclass
class TargetTrack:
    """The chosen player followed through the whole video, one point per analysed frame, in time order."""

    points: list[TrackPoint] = field(default_factory=list)
    frames_total: int = 0
    decode_error: VisionError | None = None  # set when the video broke part-way
    start_image: np.ndarray | None = None  # BGR, source size: the frame the player was confirmed on
