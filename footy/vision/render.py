"""What the coach sees: the spotlight clip, the heatmap, and the track as CSV/JSON.

The maths (where is the player on frame f, density of positions) is kept apart from the drawing.
Everything streams: the spotlight is one pass over the video, one frame in memory at a time.
"""
from __future__ import annotations

import csv
import json
import math
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from .types import TargetTrack, VideoInfo, VisionError
from .video import H264Writer, i420_planes, iter_frames

_ENCODE_QUEUE = 8  # frames decoded ahead of the encoder (640x360 I420: ~350 KB each)
SPOTLIGHT_DIM = 0.38          # brightness kept outside the spotlight
SPOTLIGHT_LOST_DIM = 0.6      # brightness of the whole frame while the player is not visible
RING_COLOUR = (0, 215, 255)   # BGR amber: visible on grass and on both common kit colours
LOST_COLOUR = (60, 60, 230)
SPOTLIGHT_PRESET = "ultrafast"  # the clip is re-encoded on every analysis: speed over file size
SPOTLIGHT_CRF = 26
SPOTLIGHT_MAX_FPS = 30.0      # smoother adds nothing to following one player, and costs encode time


# ---------------------------------------------------------------------------------------------
# Where the player is on any frame
# ---------------------------------------------------------------------------------------------

class TrackLookup:
    """The player's box on any frame index, including frames between analysed ones (stride > 1).

    Between two analysed frames where the player was visible the box is interpolated linearly;
    next to a frame where they were not, the nearest analysed frame decides.
    """

    def __init__(self, track: TargetTrack):
        pts = track.points
        self.indexes = np.array([p.frame_index for p in pts], np.int64)
        self.boxes = np.array([p.xyxy if p.visible else (np.nan,) * 4 for p in pts], float).reshape(-1, 4)
        self.confidence = np.array([p.confidence for p in pts], float)
        steps = np.diff(self.indexes)
        self.max_interp_gap = int(np.median(steps) * 2.5) if len(steps) else 1

    def box_at(self, frame_index: int) -> tuple[np.ndarray | None, float]:
        """(xyxy or None, confidence) for a frame of the source video."""
        n = len(self.indexes)
        if n == 0:
            return None, 0.0
        j = int(np.searchsorted(self.indexes, frame_index, side="right")) - 1
        if j < 0:
            return None, 0.0
        if self.indexes[j] == frame_index or j + 1 >= n:
            if self.indexes[j] != frame_index and frame_index - self.indexes[j] > self.max_interp_gap // 2:
                return None, 0.0
            return self._at(j)
        a, b = self.boxes[j], self.boxes[j + 1]
        gap = self.indexes[j + 1] - self.indexes[j]
        if gap <= self.max_interp_gap and not (np.isnan(a).any() or np.isnan(b).any()):
            t = (frame_index - self.indexes[j]) / gap
            conf = (1 - t) * self.confidence[j] + t * self.confidence[j + 1]
            return a + (b - a) * t, float(conf)
        before, after = frame_index - self.indexes[j], self.indexes[j + 1] - frame_index
        if before != after:
            nearest = j if before < after else j + 1
        else:  # halfway between a seen and an unseen frame: show the player where they were seen
            nearest = j + 1 if np.isnan(a).any() else j
        if abs(self.indexes[nearest] - frame_index) > self.max_interp_gap // 2:
            return None, 0.0
        return self._at(nearest)

    def analysed(self, frame_index: int) -> bool:
        """Whether the frame lies inside the analysed span (tracking may not cover the whole video)."""
        return len(self.indexes) > 0 and self.indexes[0] <= frame_index <= self.indexes[-1] + self.max_interp_gap // 2

    def _at(self, j: int) -> tuple[np.ndarray | None, float]:
        box = self.boxes[j]
        if np.isnan(box).any():
            return None, 0.0
        return box.copy(), float(self.confidence[j])


# ---------------------------------------------------------------------------------------------
# Spotlight clip
# ---------------------------------------------------------------------------------------------

def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, colour, thickness: int = 1) -> None:
    """Text with a dark drop shadow; ``colour`` is BGR on a BGR image, a luma value on a Y plane.

    (A thicker dark copy as an outline would not line up: Hershey glyph advance grows with thickness.)
    """
    shadow = (0, 0, 0) if img.ndim == 3 else 16
    offset = max(1, thickness)
    cv2.putText(img, text, (org[0] + offset, org[1] + offset), cv2.FONT_HERSHEY_SIMPLEX, scale, shadow,
                thickness, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)


def bgr_to_yuv(bgr: tuple[int, int, int]) -> tuple[int, int, int]:
    """BT.601 limited-range Y, U, V of a BGR colour (what H.264 at SD/HD sizes carries)."""
    b, g, r = bgr
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return int(round(y)), int(round(u)), int(round(v))


RING_YUV = bgr_to_yuv(RING_COLOUR)
LOST_YUV = bgr_to_yuv(LOST_COLOUR)


def _dim(plane: np.ndarray, alpha: float, neutral: int) -> None:
    """Scale a plane towards its neutral value (16 for luma: black, 128 for chroma: grey), in place."""
    cv2.convertScaleAbs(plane, dst=plane, alpha=alpha, beta=neutral * (1 - alpha))


def draw_spotlight(image: np.ndarray, box: np.ndarray | None, confidence: float, time_sec: float,
                   lost_message: str = "not visible") -> None:
    """Draw the spotlight in place on an I420 frame (see ``video.i420_planes``).

    Everything but an ellipse around the player is dimmed, their feet ringed, the body boxed and
    labelled. Working on the YUV planes the encoder takes avoids two colour conversions per frame.
    ``box`` is xyxy in ``image`` coordinates, None when the player is not visible: the whole
    frame is dimmed less and ``lost_message`` shown.
    """
    y_plane, u_plane, v_plane = i420_planes(image)
    h, w = y_plane.shape
    scale = max(0.4, w / 1280)
    if box is None:
        for plane, neutral in ((y_plane, 16), (u_plane, 128), (v_plane, 128)):
            _dim(plane, SPOTLIGHT_LOST_DIM, neutral)
        badge_w, badge_h = int(170 * scale + 40), int(30 * scale + 10)
        for plane, value, k in ((y_plane, LOST_YUV[0], 1), (u_plane, LOST_YUV[1], 2), (v_plane, LOST_YUV[2], 2)):
            cv2.rectangle(plane, (8 // k, 8 // k), ((8 + badge_w) // k, (8 + badge_h) // k), value, -1)
        _text(y_plane, lost_message, (14, 8 + badge_h - int(9 * scale + 3)), 0.7 * scale + 0.15, 235, 1)
    else:
        x1, y1, x2, y2 = (float(v) for v in box)
        bw, bh = max(2.0, x2 - x1), max(2.0, y2 - y1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        # the lit ellipse: a generous margin around the body so the ball at the feet shows too
        ax, ay = bw * 0.5 + bh * 0.45, bh * 0.85
        rx1, ry1 = max(0, int(cx - ax)) // 2 * 2, max(0, int(cy - ay)) // 2 * 2  # even: chroma aligned
        rx2, ry2 = min(w, int(cx + ax) + 2) // 2 * 2, min(h, int(cy + ay) + 2) // 2 * 2
        lit = None
        if rx2 > rx1 and ry2 > ry1:
            mask = np.zeros((ry2 - ry1, rx2 - rx1), np.uint8)
            cv2.ellipse(mask, (int(cx - rx1), int(cy - ry1)), (int(ax), int(ay)), 0, 0, 360, 1, -1)
            half_mask = mask[::2, ::2].astype(bool)
            lit = [(y_plane[ry1:ry2, rx1:rx2], mask.astype(bool))] + [
                (p[ry1 // 2:ry2 // 2, rx1 // 2:rx2 // 2], half_mask) for p in (u_plane, v_plane)]
            lit = [(roi, roi.copy(), m) for roi, m in lit]
        for plane, neutral in ((y_plane, 16), (u_plane, 128), (v_plane, 128)):
            _dim(plane, SPOTLIGHT_DIM, neutral)
        for roi, original, m in lit or []:
            np.copyto(roi, original, where=m)
        t = max(1, int(round(2 * scale)))
        for plane, value, k in ((y_plane, RING_YUV[0], 1), (u_plane, RING_YUV[1], 2), (v_plane, RING_YUV[2], 2)):
            cv2.ellipse(plane, (int(cx / k), int(y2 / k)), (int((bw * 0.75 + 2) / k), max(1, int(bw * 0.25 / k))),
                        0, 0, 360, value, max(1, (t + 1) // k))
            cv2.rectangle(plane, (int(x1 / k), int(y1 / k)), (int(x2 / k), int(y2 / k)), value, max(1, t // k))
        label = f"player {int(round(confidence * 100))}%"
        _text(y_plane, label, (int(x1), max(12, int(y1) - 6)), 0.5 * scale + 0.15, 235, 1)
    minutes, seconds = divmod(max(0.0, time_sec), 60)
    _text(y_plane, f"{int(minutes):02d}:{seconds:05.2f}", (8, h - 10), 0.5 * scale + 0.1, 225, 1)


def spotlight_size(info: VideoInfo, max_width: int) -> tuple[int, int]:
    """Output (width, height): no wider than ``max_width``, aspect kept, sized for I420 (even x 4n)."""
    scale = min(1.0, max_width / info.width) if info.width else 1.0
    width = max(2, int(round(info.width * scale)) // 2 * 2)
    height = max(4, int(round(info.height * scale)) // 4 * 4)
    return width, height


def render_spotlight(video_path, track: TargetTrack, out_path, info: VideoInfo, max_width: int = 1280,
                     progress: Callable[[float], None] | None = None, preset: str = SPOTLIGHT_PRESET,
                     crf: int = SPOTLIGHT_CRF) -> None:
    """The whole video, player highlighted, as H.264 yuv420p MP4 with faststart (plays in a browser).

    A second streamed pass over the video, decoded straight to scaled YUV planes that are drawn
    on and encoded without colour conversion. If the video breaks part-way the clip ends where
    decoding stopped (the analysis reports the error; the clip of what decoded is still useful).
    """
    lookup = TrackLookup(track)
    width, height = spotlight_size(info, max_width)
    sx, sy = width / info.width, height / info.height
    scale = np.array([sx, sy, sx, sy])
    total = max(1, info.frame_count)
    step = max(1, math.ceil(info.fps / SPOTLIGHT_MAX_FPS - 1e-6))  # 50/60 fps sources: every 2nd frame
    with H264Writer(out_path, info.fps / step, width, height, crf=crf, preset=preset) as writer:
        # the encoder runs on a thread of its own, a few frames behind the decoder (both release
        # the GIL, so decode+draw and encode share the cores); the queue bounds the memory
        frames: queue.Queue = queue.Queue(maxsize=_ENCODE_QUEUE)
        failure: list[BaseException] = []

        def encode() -> None:
            while True:
                image = frames.get()
                if image is None:
                    return
                if not failure:
                    try:
                        writer.write_i420(image)
                    except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                        failure.append(exc)

        encoder = threading.Thread(target=encode, name="footy-spotlight-encode", daemon=True)
        encoder.start()
        try:
            for frame in iter_frames(video_path, size=(width, height), pixel_format="yuv420p", step=step):
                if failure:
                    break
                box, conf = lookup.box_at(frame.index)
                message = "not visible" if lookup.analysed(frame.index) else "not analysed"
                draw_spotlight(frame.image, None if box is None else box * scale, conf, frame.time_sec, message)
                frames.put(frame.image)
                if progress and frame.index % 50 == 0:
                    progress(min(1.0, frame.index / total))
        except VisionError as exc:
            if exc.code != "VIDEO_DECODE_ERROR":
                raise
        finally:
            frames.put(None)
            encoder.join()
        if failure:
            raise failure[0]
    if progress:
        progress(1.0)


# ---------------------------------------------------------------------------------------------
# Heatmap
# ---------------------------------------------------------------------------------------------

HEATMAP_MAX_WIDTH = 960


def position_density(track: TargetTrack, info: VideoInfo, width: int, height: int) -> np.ndarray:
    """Gaussian-blurred density of the player's feet points on a ``width`` x ``height`` grid, 0..1."""
    density = np.zeros((height, width), np.float32)
    feet = np.array([((p.xyxy[0] + p.xyxy[2]) / 2, p.xyxy[3]) for p in track.points if p.visible], float)
    if len(feet) == 0:
        return density
    xs = np.clip((feet[:, 0] * width / info.width).astype(int), 0, width - 1)
    ys = np.clip((feet[:, 1] * height / info.height).astype(int), 0, height - 1)
    np.add.at(density, (ys, xs), 1.0)
    sigma = max(2.0, width * 0.025)
    density = cv2.GaussianBlur(density, (0, 0), sigmaX=sigma, sigmaY=sigma)
    peak = float(density.max())
    return density / peak if peak > 0 else density


def render_heatmap(track: TargetTrack, info: VideoInfo, out_path, background: np.ndarray | None = None) -> None:
    """PNG of where the player stood (feet points) over a faded frame of the video, if given.

    Positions are in image space: with a panning camera it shows where on screen, not on the pitch.
    """
    scale = min(1.0, HEATMAP_MAX_WIDTH / info.width) if info.width else 1.0
    width, height = max(2, int(round(info.width * scale))), max(2, int(round(info.height * scale)))
    if background is not None:
        base = cv2.resize(background, (width, height), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(cv2.cvtColor(base, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        base = cv2.addWeighted(base, 0.25, grey, 0.35, 0)  # faded, desaturated
    else:
        base = np.full((height, width, 3), (38, 70, 40), np.uint8)  # dark pitch green
    density = position_density(track, info, width, height)
    colours = cv2.applyColorMap((density * 255).astype(np.uint8), cv2.COLORMAP_JET)
    alpha = np.clip(density * 1.6, 0, 0.85)[..., None]
    out = (base * (1 - alpha) + colours * alpha).astype(np.uint8)
    if not density.any():
        _text(out, "player not visible", (12, 30), 0.7, LOST_COLOUR, 2)
    if not cv2.imwrite(str(out_path), out):
        raise OSError(f"could not write {out_path}")


# ---------------------------------------------------------------------------------------------
# Track files
# ---------------------------------------------------------------------------------------------

CSV_COLUMNS = ["frame_index", "time_sec", "x", "y", "w", "h", "confidence", "visible"]


def write_track_csv(track: TargetTrack, out_path) -> None:
    """One row per analysed frame; x, y (top-left), w, h in source pixels, empty when not visible."""
    with open(out_path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for p in track.points:
            if p.visible:
                x1, y1, x2, y2 = p.xyxy
                writer.writerow([p.frame_index, f"{p.time_sec:.3f}", f"{x1:.1f}", f"{y1:.1f}",
                                 f"{x2 - x1:.1f}", f"{y2 - y1:.1f}", f"{p.confidence:.3f}", 1])
            else:
                writer.writerow([p.frame_index, f"{p.time_sec:.3f}", "", "", "", "", f"{p.confidence:.3f}", 0])


def _plain(value):
    """numpy scalars (as error details may carry) as plain JSON numbers."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_track_json(track: TargetTrack, info: VideoInfo, out_path) -> None:
    """The track as JSON: video facts, then ``points`` as rows under ``columns`` (compact, streamed).

    ``{"video": {...}, "frames_total", "decode_error", "columns": [...], "points": [[...], ...]}``;
    ``x1..y2`` are null when the player is not visible.
    """
    error = track.decode_error
    head = {
        "video": {"fps": info.fps, "frame_count": info.frame_count, "width": info.width,
                  "height": info.height, "duration_sec": info.duration_sec, "codec": info.codec},
        "frames_total": track.frames_total,
        "decode_error": None if error is None else {"code": error.code, "message": error.message,
                                                    **{k: v for k, v in error.details.items()}},
        "columns": ["frame_index", "time_sec", "x1", "y1", "x2", "y2", "confidence"],
    }
    with open(out_path, "w") as fh:
        fh.write(json.dumps(head, default=_plain)[:-1] + ', "points": [')
        for i, p in enumerate(track.points):
            box = [round(float(v), 1) for v in p.xyxy] if p.visible else [None] * 4
            row = [int(p.frame_index), round(float(p.time_sec), 3), *box, round(float(p.confidence), 3)]
            fh.write(("," if i else "") + json.dumps(row))
        fh.write("]}\n")
