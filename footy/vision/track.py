"""Tracking: candidate tracks around a preview frame, and the chosen player through the video.

``candidate_tracks`` runs ByteTrack (Roboflow ``trackers``) over a short window of frames and
returns the players alive on the preview frame. ``follow_target`` follows one confirmed player
forward to the end and backward to the start, streaming: each frame becomes a small
``Observation`` (detections, their kit-colour descriptors, the camera motion since the previous
frame), and one ``TargetFollower`` walks observations in either direction. Backward, a chunk of
a few seconds is decoded forward into observations (no images but a small grey frame kept) and
then walked in reverse. When the director cuts away from the wide camera (a close-up, the crowd,
a replay) the follower reports the player as not visible until the wide shot is back, and then
finds it again by kit and size (see ``TargetFollower._off_wide``).
"""
from __future__ import annotations

import copy
import functools
import itertools
import logging
import math
import mmap
import multiprocessing
import pickle
import queue
import struct
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from .detect import Detector, guessed, row_medians
from .forking import CAN_FORK, end_child, fork_child
from .observing import ObserverProcess
from .render import DRAWER_SLOTS, SpotlightDrawer
from .types import CandidateTrack, TargetTrack, TrackPoint, VideoInfo, VisionError
from .video import DecodedFrame, iter_decoded, iter_frames, keyframe_before, probe, to_bgr, to_i420

if TYPE_CHECKING:
    from .render import SpotlightClip

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Candidate tracks
# --------------------------------------------------------------------------------------------


ANALYSIS_WIDTH = 640  # frames are decoded straight to this width; detectors work at ~this scale anyway


def analysis_size(info: VideoInfo) -> tuple[int, int] | None:
    """(width, height) to decode at for analysis, or None to keep the source size."""
    if info.width <= ANALYSIS_WIDTH:
        return None
    height = int(round(info.height * ANALYSIS_WIDTH / info.width / 2)) * 2
    return ANALYSIS_WIDTH, max(2, height)


def analysis_scaling(info: VideoInfo) -> tuple[tuple[int, int] | None, float, float]:
    """Decode size for analysis and the x/y factors from analysis pixels back to source pixels."""
    size = analysis_size(info)
    if size is None:
        return None, 1.0, 1.0
    return size, info.width / size[0], info.height / size[1]


def new_candidate_tracker(fps: float) -> ByteTrackTracker:
    """The ByteTrack configuration candidate tracks use (the accuracy benchmark scores this)."""
    return ByteTrackTracker(lost_track_buffer=int(round(30 * 0.8)), frame_rate=fps,
                            track_activation_threshold=0.5, minimum_consecutive_frames=2,
                            minimum_iou_threshold=0.15, high_conf_det_threshold=0.5)


def detect_scaled(detector: Detector, image: np.ndarray, sx: float, sy: float) -> sv.Detections:
    """Detections on an analysis-size image, boxes back in source pixels."""
    detections = detector.detect(image)
    if len(detections) and (sx != 1.0 or sy != 1.0):
        detections.xyxy = (detections.xyxy * np.array([sx, sy, sx, sy])).astype(np.float32)
    return detections


def candidate_tracks(path, time_sec: float, detector: Detector, first_track_id: int = 1,
                     window_sec: float = 1.0, info: VideoInfo | None = None) -> list[CandidateTrack]:
    """Players on the frame at ``time_sec``, tracked by ByteTrack over the preceding window.

    Ids are the tracker's own, shifted so every id is ``>= first_track_id``; players first seen
    on the preview frame itself get fresh ids after those. Boxes are source-video pixels.
    """
    info = info or probe(path)
    time_sec = float(min(max(0.0, time_sec), max(0.0, info.duration_sec - 0.5 / info.fps)))
    size, sx, sy = analysis_scaling(info)
    tracker = new_candidate_tracker(info.fps)
    last: sv.Detections | None = None
    for frame in iter_frames(path, start_sec=max(0.0, time_sec - window_sec), end_sec=time_sec, size=size):
        last = tracker.update(detect_scaled(detector, frame.image, sx, sy))
    if last is None or len(last) == 0:
        return []
    # the coach picks among the players the detector saw: a guess (a player inferred from a
    # crowd's blob) helps the tracker through the crowd, but is no box to start a follow from
    last = last[~guessed(last)]
    if len(last) == 0:
        return []
    confidences = last.confidence if last.confidence is not None else np.ones(len(last))
    tracker_ids = np.asarray(last.tracker_id, dtype=int)
    tracked = tracker_ids >= 0  # the tracker counts from 0; -1 is a detection it has not confirmed
    base = first_track_id  # tracker id 0 is first_track_id
    next_id = base + (int(tracker_ids[tracked].max()) if tracked.any() else -1) + 1
    out: list[CandidateTrack] = []
    for box, conf, tid in zip(last.xyxy, confidences, tracker_ids):
        if tid >= 0:
            track_id = base + int(tid)
        else:  # seen only on this frame: still clickable, with an id of its own
            track_id, next_id = next_id, next_id + 1
        out.append(CandidateTrack(track_id=track_id, xyxy=tuple(float(v) for v in box),
                                  confidence=float(conf)))
    out.sort(key=lambda c: c.track_id)
    return out


# --------------------------------------------------------------------------------------------
# Appearance: kit colour descriptors
# --------------------------------------------------------------------------------------------

_HIST_BINS = (8, 3, 3)  # coarse: a far player has a few dozen shirt pixels
_HIST_RANGES = (0, 180, 0, 256, 0, 256)


def kit_descriptor(image: np.ndarray, xyxy) -> np.ndarray | None:
    """Shirt and shorts HSV histograms of a box, concatenated (None for a degenerate box)."""
    h_img, w_img = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    w, h = x2 - x1, y2 - y1
    if w < 2 or h < 4:
        return None
    # the central part of the body: avoids grass at the sides and the head/legs
    cx1, cx2 = int(max(0, x1 + 0.2 * w)), int(min(w_img, x2 - 0.2 * w))
    parts = []
    for top, bottom in ((0.15, 0.52), (0.52, 0.75)):
        ry1, ry2 = int(max(0, y1 + top * h)), int(min(h_img, y1 + bottom * h))
        if ry2 - ry1 < 1 or cx2 - cx1 < 1:
            return None
        crop = image[ry1:ry2, cx1:cx2]
        if crop.shape[0] * crop.shape[1] > 400:  # a fixed small size keeps the cost constant
            crop = cv2.resize(crop, (12, 16), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1, 2], None, list(_HIST_BINS), list(_HIST_RANGES)).ravel()
        total = hist.sum()
        parts.append(hist / total if total > 0 else hist)
    return np.concatenate(parts).astype(np.float32)


def kit_distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Bhattacharyya distance averaged over shirt and shorts: 0 same colours, 1 disjoint."""
    if a is None or b is None:
        return 1.0
    n = len(a) // 2
    d = 0.0
    for sl in (slice(0, n), slice(n, 2 * n)):
        bc = float(np.sum(np.sqrt(a[sl] * b[sl])))
        d += math.sqrt(max(0.0, 1.0 - min(1.0, bc)))
    return d / 2


# A far player's kit is a few dozen pixels, and its histograms differ from frame to frame by more
# than a near player's (seed-0 match, a player against its first sighting, 90th percentile: 0.46 at
# 32-43 px tall, 0.62 at 16-22 px, 0.77 at 11-15 px; another kit's 10th percentile: 0.77-0.80 at
# every size). The follower forgives a box that much of its distance, from nothing at KIT_FULL_HEIGHT
# analysis pixels (640 px wide frames) to KIT_SLACK at KIT_SLACK_SPAN fewer and below, in its gates
# and its costs alike, so that they mean the same at any size
KIT_SLACK, KIT_FULL_HEIGHT, KIT_SLACK_SPAN = 0.15, 28.0, 15.0


def kit_slack(heights: np.ndarray) -> np.ndarray:
    """The kit distance a box of these heights (analysis pixels) shows by its few pixels alone."""
    return KIT_SLACK * np.clip((KIT_FULL_HEIGHT - np.asarray(heights, np.float64)) / KIT_SLACK_SPAN, 0.0, 1.0)


def kit_distances(model: np.ndarray | None, kits: list, boxes: np.ndarray) -> np.ndarray:
    """``kit_distance`` from ``model`` to each box's kit, less what the box's size accounts for."""
    if not len(kits):
        return np.empty(0)
    raw = np.array([kit_distance(model, k) for k in kits])
    return np.maximum(0.0, raw - kit_slack(boxes[:, 3] - boxes[:, 1]))


# --------------------------------------------------------------------------------------------
# Camera motion
# --------------------------------------------------------------------------------------------

_MOTION_WIDTH = 320
_MIN_TRACKED = 40  # background points followed on from the last frame; fewer: find corners afresh


class CameraMotion:
    """Frame-to-frame camera motion as a similarity transform (pan, zoom), sparse optical flow.

    Runs on a small grey image; the result maps previous-frame pixels to current-frame pixels
    of the full-size video. Falls back to identity when the flow is unreliable. The background
    points that fitted the motion are followed on into the next frame; corners are found afresh
    only when fewer than ``_MIN_TRACKED`` are left (finding them is a third of the cost).
    """

    def __init__(self):
        self._prev: np.ndarray | None = None
        self._scale = 1.0
        self._points: np.ndarray | None = None  # on self._prev, small-image pixels

    @staticmethod
    def small_grey(image: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = image.shape[:2]
        scale = min(1.0, _MOTION_WIDTH / w)
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, (int(round(w * scale)), int(round(h * scale))), interpolation=cv2.INTER_AREA)
        return grey, scale

    @property
    def last_grey(self) -> tuple[np.ndarray, float] | None:
        return None if self._prev is None else (self._prev, self._scale)

    def update(self, image: np.ndarray) -> np.ndarray:
        grey, scale = self.small_grey(image)
        prev, self._prev, self._scale = self._prev, grey, scale
        points, self._points = self._points, None
        if prev is None or prev.shape != grey.shape:
            return np.eye(2, 3)
        found = None
        if points is not None and len(points) >= _MIN_TRACKED:
            found = _fit_motion(prev, grey, points)
        if found is None:
            found = _fit_motion(prev, grey, _corners(prev))
        if found is None:
            return np.eye(2, 3)
        matrix, self._points = found
        return _to_full_size(matrix, scale)


def _corners(grey: np.ndarray) -> np.ndarray | None:
    return cv2.goodFeaturesToTrack(grey, maxCorners=80, qualityLevel=0.01, minDistance=10, blockSize=5)


def _fit_motion(prev: np.ndarray, cur: np.ndarray, points: np.ndarray | None, levels: int = 2
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """(similarity transform previous -> current in small-image pixels, the points that fit it
    where they are now) from ``points`` on ``prev`` followed by optical flow; None when unreliable.

    ``levels`` above the image in the flow's pyramid: two follow a point ~50 px at this size
    between analysed frames (a pan across the frame in under a second) as precisely as three, at
    half the cost (three were a tenth of an analysed frame's work)."""
    if points is None or len(points) < 8:
        return None
    moved, status, _ = cv2.calcOpticalFlowPyrLK(prev, cur, points, None, winSize=(15, 15), maxLevel=levels)
    if moved is None:
        return None
    ok = status.ravel() == 1
    if ok.sum() < 8:
        return None
    matrix, inliers = cv2.estimateAffinePartial2D(points[ok], moved[ok], method=cv2.RANSAC,
                                                  ransacReprojThreshold=1.0, maxIters=500)
    if matrix is None or inliers is None or inliers.sum() < 6:
        return None
    zoom = math.hypot(matrix[0, 0], matrix[1, 0])
    if not 0.8 < zoom < 1.25:
        return None
    return matrix.astype(np.float64), moved[ok][inliers.ravel() == 1].reshape(-1, 1, 2)


def _to_full_size(matrix: np.ndarray, scale: float) -> np.ndarray:
    matrix = matrix.copy()
    matrix[:, 2] /= scale  # translation back to full-size pixels
    return matrix


def estimate_motion(prev: np.ndarray, cur: np.ndarray, scale: float) -> np.ndarray:
    """2x3 similarity transform, previous -> current frame, in full-size pixels (identity when
    it cannot be told)."""
    found = _fit_motion(prev, cur, _corners(prev), levels=3)  # frames further apart (across a cut)
    return np.eye(2, 3) if found is None else _to_full_size(found[0], scale)


def warp_box(xyxy: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Move a box with a similarity transform (centre moved, size scaled)."""
    cx, cy = (xyxy[0] + xyxy[2]) / 2, (xyxy[1] + xyxy[3]) / 2
    w, h = xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]
    zoom = math.hypot(matrix[0, 0], matrix[1, 0])
    ncx = matrix[0, 0] * cx + matrix[0, 1] * cy + matrix[0, 2]
    ncy = matrix[1, 0] * cx + matrix[1, 1] * cy + matrix[1, 2]
    return np.array([ncx - zoom * w / 2, ncy - zoom * h / 2, ncx + zoom * w / 2, ncy + zoom * h / 2])


def invert_motion(matrix: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(matrix.astype(np.float64))


# --------------------------------------------------------------------------------------------
# Observations and the follower
# --------------------------------------------------------------------------------------------


@dataclass
class Observation:
    """What the follower needs from one analysed frame; small, so chunks can be buffered."""

    frame_index: int
    time_sec: float
    boxes: np.ndarray  # N x 4 xyxy, analysis pixels
    confidences: np.ndarray  # N
    kits: list  # N kit descriptors (or None)
    motion: np.ndarray  # 2x3, previous analysed frame -> this frame
    width: int
    height: int
    grass: float = 1.0  # share of grass-green pixels on the frame (shot-change cue)
    hist: np.ndarray | None = None  # coarse HSV histogram of the whole frame (shot-change cue)
    grey: np.ndarray | None = None  # the small grey frame of the camera motion (re-registering after a cut)
    grey_scale: float = 1.0  # its size / the analysis size
    # boxes the detector guessed (a player inferred from what was left of a crowd's blob): kept
    # apart from ``boxes``; only tracks left without a detection use them (TargetFollower._guess,
    # _update_others)
    guesses: np.ndarray = field(default_factory=lambda: np.empty((0, 4)))
    guess_kits: list = field(default_factory=list)
    guess_confidences: np.ndarray = field(default_factory=lambda: np.empty(0))


# --------------------------------------------------------------------------------------------
# Shot changes
# --------------------------------------------------------------------------------------------

_SHOT_SIZE = (64, 36)
_SHOT_BINS = (12, 4, 4)


def shot_signature(image: np.ndarray) -> tuple[float, np.ndarray]:
    """(grass share, coarse HSV histogram) of a frame, on a 64x36 thumbnail (~0.1 ms).

    Grass is any green (OpenCV hue 25-95) that is saturated and not dark; the follower compares
    it with the wide shot's own share, so the exact pitch colour does not matter much."""
    thumb = cv2.resize(image, _SHOT_SIZE, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(thumb, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(_SHOT_BINS), list(_HIST_RANGES)).ravel()
    hist /= max(1.0, float(hist.sum()))
    grass = float(np.count_nonzero(cv2.inRange(hsv, (25, 40, 40), (95, 255, 255)))) / hsv[..., 0].size
    return grass, hist.astype(np.float32)


def shot_distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Bhattacharyya distance of two shot histograms: ~0.05-0.15 between frames of one shot
    (noise, pan, zoom), 0.5 and more across a cut to a close-up or a crowd."""
    if a is None or b is None:
        return 0.0
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def register_shots(prev: np.ndarray, cur: np.ndarray, scale: float) -> np.ndarray | None:
    """Similarity transform between two views of the same camera seconds apart (before and
    after a cut), in full-size pixels, or None when it cannot be told. ORB features matched
    across the two small grey frames (stands, boards, lines), RANSAC; ~5 ms, run once per cut.
    Frame-to-frame optical flow cannot do it: the camera has moved too far meanwhile."""
    if prev is None or cur is None or prev.shape != cur.shape:
        return None
    orb = cv2.ORB_create(nfeatures=500, fastThreshold=10)  # one per call: the two walks run on two threads
    k1, d1 = orb.detectAndCompute(prev, None)
    k2, d2 = orb.detectAndCompute(cur, None)
    if d1 is None or d2 is None or len(k1) < 15 or len(k2) < 15:
        return None
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(d1, d2)
    if len(matches) < 15:
        return None
    p1 = np.float32([k1[m.queryIdx].pt for m in matches])
    p2 = np.float32([k2[m.trainIdx].pt for m in matches])
    matrix, inliers = cv2.estimateAffinePartial2D(p1, p2, method=cv2.RANSAC, ransacReprojThreshold=2.0,
                                                  maxIters=2000)
    if matrix is None or inliers is None:
        return None
    n_in = int(inliers.sum())
    zoom = math.hypot(matrix[0, 0], matrix[1, 0])
    if n_in < 15 or n_in < 0.25 * len(matches) or not 0.5 < zoom < 2.0 or abs(matrix[1, 0]) > 0.05 * zoom:
        return None
    matrix = matrix.astype(np.float64)
    matrix[:, 2] /= scale
    return matrix


def _observe(image: np.ndarray, frame_index: int, time_sec: float, detector: Detector,
             camera: CameraMotion) -> Observation:
    detections = detector.detect(image)
    boxes = np.asarray(detections.xyxy, dtype=np.float64).reshape(-1, 4)
    conf = (np.asarray(detections.confidence, dtype=np.float64) if detections.confidence is not None
            else np.ones(len(boxes)))
    guess = guessed(detections)
    kits = [kit_descriptor(image, b) for b in boxes]
    motion = camera.update(image)
    grass, hist = shot_signature(image)
    grey, grey_scale = camera.last_grey
    seen = ~guess
    return Observation(frame_index, time_sec, boxes[seen], conf[seen], [k for k, g in zip(kits, guess) if not g],
                       motion, image.shape[1], image.shape[0], grass, hist, grey, grey_scale,
                       boxes[guess], [k for k, g in zip(kits, guess) if g], conf[guess])


def _intersection_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Area of one box's intersection with each of ``boxes`` (float64)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    others = boxes.astype(np.float64, copy=False)
    inter_w = np.clip(np.minimum(x2, others[:, 2]) - np.maximum(x1, others[:, 0]), 0.0, None)
    inter_h = np.clip(np.minimum(y2, others[:, 3]) - np.maximum(y1, others[:, 1]), 0.0, None)
    return inter_w * inter_h


def _covered_share(box: np.ndarray, boxes: np.ndarray) -> float:
    """The largest share of ``box``'s area that lies inside one of ``boxes`` (0 with none)."""
    if not len(boxes):
        return 0.0
    area = max(1.0, float((box[2] - box[0]) * (box[3] - box[1])))
    return float(_intersection_one(box, boxes).max()) / area


def _iou_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box with each of ``boxes``: ``sv.box_iou_batch``'s arithmetic (float64, float32
    out, 0 against an empty box) without its set-up, which was a quarter of the follower's time."""
    if not len(boxes):
        return np.empty(0)
    x1, y1, x2, y2 = (float(v) for v in box)
    others = boxes.astype(np.float64, copy=False)
    inter = _intersection_one(box, others)
    union = (x2 - x1) * (y2 - y1) + (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1]) - inter
    out = np.zeros(len(others), np.float32)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def _centre(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., :2] + boxes[..., 2:]) / 2


def _box(centre, size) -> np.ndarray:
    cx, cy = centre
    w, h = size
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _size(box) -> tuple[float, float]:
    return box[2] - box[0], box[3] - box[1]


OWN_TALLEST = 1.18  # a box taller than this x the player's height is a merged blob (_own_shape)


def _own_shape(w, h, size, tallest: float = OWN_TALLEST):
    """Width and height (scalars or arrays) a player of ``size`` (w, h) can have: wider or taller
    (than ``tallest`` x its height) is a merged blob, narrower or shorter a piece of one."""
    return (w >= 0.75 * size[0]) & (w <= 1.35 * size[0]) & (h >= 0.8 * size[1]) & (h <= tallest * size[1])


def _borders_cut(box, width: float, height: float, margin: float = 2.0) -> tuple[bool, bool, bool, bool]:
    """Whether the box runs into the frame's left, right, top and bottom border."""
    return (bool(box[0] <= margin), bool(box[2] >= width - margin),
            bool(box[1] <= margin), bool(box[3] >= height - margin))


def _cut_sides(box, width: float, height: float, margin: float = 2.0) -> tuple[bool, bool]:
    """Whether the box runs into the frame's left or right border (its width is cut off), and
    into its top or bottom border (its height is)."""
    left, right, top, bottom = _borders_cut(box, width, height, margin)
    return left or right, top or bottom


def _blend(old, new, rate: float):
    """A running average learning at ``rate`` (the first value is taken as it is)."""
    return new if old is None else (1 - rate) * old + rate * new


def _detection_of(box: np.ndarray, boxes: np.ndarray) -> int | None:
    """The detection of this frame a track's box sits on (IoU >= 0.9), if any."""
    ious = _iou_one(box, boxes)
    j = int(np.argmax(ious)) if len(ious) else 0
    return j if len(ious) and ious[j] >= 0.9 else None


@dataclass
class FollowerSettings:
    max_coast_sec: float = 1.2  # follow the predicted box this long without a trusted match
    report_coast_sec: float = 0.8  # ...and report it as visible this long
    gate: float = 0.6  # match radius (box heights) around the prediction while tracking
    gate_growth_sec: float = 1.0  # extra radius per second without a match
    kit_gate: float = 0.62  # max kit distance to accept a match while tracking
    # kit distance the player's own detections show anyway (pose, blur, a neighbour's edge: 0.2-0.45)
    # and that does not count against a detection in the target's cost, while the target is seen,
    # followed inside a crowd's blob (not counted as missed there), or missed at most kit_noise_sec
    kit_noise: float = 0.2
    kit_noise_sec: float = 0.2
    reacquire_kit: float = 0.5  # max kit distance for a lost player to be re-acquired
    reacquire_frames: int = 3  # frames a new track must live before it can be the player
    reacquire_size: tuple = (0.7, 1.3)  # ...and its height vs the target's when last seen for sure
    reacquire_depth: float = 1.5  # weight of feet height in the re-acquisition radius from the last sighting
    # a re-acquired identity is on probation this long (renewed while it is missed): its coasting
    # box is not reported where it sits on a detection it did not take (most likely a team-mate)
    tentative_sec: float = 0.4
    tentative_overlap: float = 0.3  # IoU of the coasting box with such a detection
    velocity_smoothing: float = 0.7
    # the player's motion at the click is not known from the click: each walk starts with the
    # motion a follower of its own saw over this long on the other side of it (walking forward
    # into a crossing just after the click, the player's motion before it tells who is who)
    start_motion_sec: float = 0.8
    start_motion_sightings: float = 0.3  # ...learned from this share of its frames at least
    # seen on its own last frame, its prediction now spread over two detections (this much of it
    # inside another one, while the one it took overlaps it at IoU < 0.5): the detector cut it in
    # two, or cut it and a neighbour at the wrong column, and neither box is its own, so it coasts
    # (0 turns this off)
    straddle_cover: float = 0.25
    # missed (no detection of its own), the target is shown on a box the detector only guessed
    # (``detect.GUESSED``) that overlaps its prediction this much, still counted as missed; the
    # others' tracks left without a detection take such a guess as theirs
    guess_iou: float = 0.5
    # missed, the target adopts a track born on or since the frame it was last seen, where it could have run to
    adopt_speed: float = 2.5  # body heights/s (~4.5 m/s) on top of ``gate``
    adopt_hits: int = 3  # frames the track must have lived
    adopt_clear: float = 1.0  # body heights further from the sighting than the newcomer: no rival
    others_max_missed_sec: float = 0.6
    # a young track on the target's detection is the target all along only if its feet are at most
    # this much of a height lower than the target's predicted feet (a tolerance, not a switch): one
    # clearly nearer the camera is a team-mate passing in front (crossing, 24 follows: 0.634 -> 0.660)
    absorb_nearer: float = 0.08
    # a confirmed box narrower than this x the players in full view are for its height is a piece
    # of the player (a split cut it; held-out seed 6 match player 6: a box 0.67 of it wide, 0.10
    # -> 0.61): the follower takes the player to be as wide as they are
    narrow_start: float = 0.75
    # another player (a team-mate or not) whose feet are this much of the target's detection's
    # height or more above the target's (behind it, its legs over the target's head) or below them
    # (in front of it, its head over the target's legs), on a detection of its own that fits its
    # track, does not make the target's detection touched or shared: the target, on a detection
    # that fits its prediction, is seen for sure and learns its motion (seed 1 match player 6 from
    # frame 86: never seen for sure beside a team-mate behind it, it kept the motion it started
    # with and lost the player, 0.21 -> 0.56; crossing seed 7 from the quarter 0.28 -> 0.73;
    # held-out seed 12 match player 6, behind a player in front while it turned, 0.80 -> 1.00 from
    # two starts). math.inf turns this off
    apart_depth: float = 0.3
    # before its first sure sighting, the player's size is the box clicked, which a neighbour's
    # feet may have cut at the head (or which the neighbour's feet make its detections taller
    # than): a detection up to this x its height is its shape then, not 1.18 x (match seed 42
    # player 1 from frame 50, never seen for sure, was lost as it turned into a team-mate)
    first_tallest: float = 1.25
    # on the frame clicked, a box the detector only guessed at is someone else (a track of its own)
    # if it overlaps the box clicked at IoU under this; more, it is a guess the player's own blob
    # left over (a detection is someone else under IoU 0.5)
    start_guess_iou: float = 0.25
    exit_edge: float = 1.5  # left the frame: re-acquired from a track born this near (body heights) that edge
    kit_learning: float = 0.1  # share of each trusted sighting in the target's kit model
    # shot changes (the director cuts to a close-up, a crowd, a replay, then back to the wide camera)
    cut_distance: float = 0.35  # histogram distance between consecutive analysed frames that is a cut
    off_wide_grass: float = 0.5  # grass share under this x the wide shot's: not the wide shot
    back_wide_grass: float = 0.75  # after a cut, grass share needed to be the wide shot again...
    back_wide_hist: float = 0.45  # ...and histogram distance to the wide shot's (0.05-0.2 on it)
    back_wide_sec: float = 4.0  # ...or this long of frames with over fallback_grass x the wide
    fallback_grass: float = 0.6  # shot's grass share, whatever the colours (the wide shot changed)
    cut_size: tuple = (0.6, 1.6)  # re-acquired after a cut: height vs the height before it
    # ...or among team-mates within base + per second, at most cap (body heights from where it was last seen)
    cut_radius: tuple = (1.5, 1.0, 4.0)


# another player's motion is the median of its last this many steps' displacements: a single
# detection that cut or merged it (a team-mate's legs in its box) moves its box's centre by a
# fifth of a body or more, and averaged in, that sent its track off the other way in crossings
OTHERS_MOTION_STEPS = 5
# ...and it goes on with its own motion over a detection not the shape of its box this many frames
# in a row at most: the size it coasts on may be the wrong one (a track born on a sliver of a
# player walking in at the frame's edge, wider by over 1.35x a frame, stayed that sliver for good)
OTHERS_ODD_FRAMES = 3

# a track born last frame and not met again is dropped unless this share of its box lies inside
# one of this frame's detections (its player merged into a neighbour's blob)...
UNCONFIRMED_INSIDE = 0.8
UNCONFIRMED_ASPECT = 0.3  # ...and its box is at least this wide for its height (no sliver)


class _Others:
    """Everyone else, tracked just well enough to claim their own detections in crossings."""

    def __init__(self):
        self.boxes = np.empty((0, 4))
        self.velocity = np.empty((0, 2))
        self.missed = np.empty(0, int)
        self.hits = np.empty(0, int)
        self.odd = np.empty(0, int)  # frames in a row it coasted over a detection not its shape
        self.born = np.empty(0, int)
        self.predicted = np.empty((0, 4))
        self.origin = np.empty((0, 4))  # box on the frame each track was born (moved with the camera)
        self.entry = np.empty((0, 2))  # its centre in the image of that frame (where it came into view)
        self.steps = np.empty((0, OTHERS_MOTION_STEPS, 2))  # its last displacements (NaN: none yet)

    def predict(self, motion: np.ndarray) -> np.ndarray:
        if len(self.boxes):
            zoom = math.hypot(motion[0, 0], motion[1, 0])
            moved = np.array([warp_box(b, motion) for b in self.boxes])
            self.origin = np.array([warp_box(b, motion) for b in self.origin])
            self.velocity = self.velocity * zoom
            self.steps = self.steps * zoom
            self.predicted = moved + np.hstack([self.velocity, self.velocity])
        else:
            self.predicted = np.empty((0, 4))
        return self.predicted

    def update(self, matches: dict[int, int], boxes: np.ndarray, new: list[int], step: int,
               max_missed: int, coast: set[int] | None = None) -> None:
        n = len(self.boxes)
        keep = np.ones(n, bool)
        moving: list[int] = []  # the tracks with a new displacement
        for t in range(n):
            if coast and t in coast and t in matches and self._seen_moving(t):
                # its detection is shared with someone else: keep its own motion (a track not yet
                # seen to move has none to keep: standing still where it was born, it is left
                # behind by its player and takes the next player coming by; crossing seed 7
                # player 1 from frame 50, a team-mate's track born on the frame clicked)
                self.boxes[t] = self.predicted[t]
                self.missed[t] = 0
                self.hits[t] += 1
            elif t in matches:
                box = boxes[matches[t]]
                measured = _centre(box) - (_centre(self.predicted[t]) - self.velocity[t])
                if not _own_shape(*_size(box), _size(self.predicted[t])):
                    # its box changed shape (a sliver it was born on became the whole player, a
                    # blob took someone's legs): its centre moved by the change, not the player
                    # (crossing seed 7 player 1 from frame 150: a team-mate's track born on a
                    # sliver of it flew off at the pace the sliver widened, 0.27 -> 0.79)
                    measured = np.full(2, np.nan)
                self.steps[t, :-1] = self.steps[t, 1:]
                self.steps[t, -1] = measured
                moving.append(t)
                self.boxes[t] = box
                self.missed[t] = 0
                self.hits[t] += 1
            else:
                self.boxes[t] = self.predicted[t]
                self.missed[t] += 1
                self.hits[t] = 0 if self.missed[t] > 2 else self.hits[t]
                keep[t] = self.missed[t] <= max_missed and not self._unconfirmed(t, boxes, step)
        moving = [t for t in moving if self._seen_moving(t)]
        if moving:
            # (the measured steps' median, each axis: np.nanmedian's numbers at an eighth of its cost)
            per_axis = self.steps[moving].transpose(0, 2, 1).reshape(-1, OTHERS_MOTION_STEPS)
            self.velocity[moving] = row_medians(per_axis).reshape(-1, 2)
        self._keep(keep)
        if new:
            self.steps = np.concatenate([self.steps, np.full((len(new), OTHERS_MOTION_STEPS, 2), np.nan)])
            self.origin = np.vstack([self.origin, boxes[new]])
            self.entry = np.vstack([self.entry, _centre(boxes[new])])
            self.boxes = np.vstack([self.boxes, boxes[new]])
            self.velocity = np.vstack([self.velocity, np.zeros((len(new), 2))])
            self.missed = np.concatenate([self.missed, np.zeros(len(new), int)])
            self.hits = np.concatenate([self.hits, np.ones(len(new), int)])
            self.odd = np.concatenate([self.odd, np.zeros(len(new), int)])
            self.born = np.concatenate([self.born, np.full(len(new), step, int)])

    def _seen_moving(self, t: int) -> bool:
        """Whether track ``t`` has a step measured (none while each of its boxes changed shape)."""
        return not np.isnan(self.steps[t]).all()

    def _unconfirmed(self, t: int, boxes: np.ndarray, step: int) -> bool:
        """Whether track ``t``, not met this frame, was born last frame on a box that is no player:
        a piece of a pair, or the legs between two players, seen for one frame (ByteTrack drops its
        unconfirmed tracks so). Kept, such a track sat where it was born and took the chosen
        player's detection passing through (held-out seed 16 match player 12). A track of a whole
        player's shape whose box lies in one of this frame's detections is kept: its player may
        have merged into it (a sliver born beside the chosen player is dropped all the same:
        held-out seed 15 match player 12)."""
        if self.hits[t] != 1 or step - self.born[t] != 1:
            return False
        w, h = _size(self.predicted[t])
        return w < UNCONFIRMED_ASPECT * h or _covered_share(self.predicted[t], boxes) < UNCONFIRMED_INSIDE

    def off_shape(self, t: int, box: np.ndarray) -> bool:
        """Whether track ``t`` goes on with its own motion over its detection ``box`` this frame,
        as in a crowd: the box is not the shape of its prediction (a piece of its player, or a
        blob with someone else's legs in it), at most OTHERS_ODD_FRAMES frames in a row."""
        odd = self.hits[t] >= 2 and self.odd[t] < OTHERS_ODD_FRAMES and \
            not _own_shape(*_size(box), _size(self.predicted[t]))
        self.odd[t] = self.odd[t] + 1 if odd else 0
        return bool(odd)

    def remove(self, t: int) -> None:
        self._keep(np.arange(len(self.boxes)) != t)

    def _keep(self, keep: np.ndarray) -> None:
        self.boxes, self.velocity, self.steps = self.boxes[keep], self.velocity[keep], self.steps[keep]
        self.missed, self.hits, self.born = self.missed[keep], self.hits[keep], self.born[keep]
        self.odd = self.odd[keep]
        self.origin, self.entry = self.origin[keep], self.entry[keep]


class TargetFollower:
    """Follows one player over observations given in either time direction.

    Everyone on the pitch is tracked with constant velocity in camera-compensated coordinates
    and detections are assigned jointly (Hungarian), so a team-mate crossing the target claims
    its own detection. The target's match must also fit its kit colours; when its detection is
    shared with another player's prediction (a crossing) or is a merged blob, the target coasts
    on its own velocity instead of being dragged along. Lost for long, it is re-acquired from a
    track that appeared since, by kit colour and distance, after a few consistent frames.
    """

    def __init__(self, box, kit: np.ndarray | None, fps_analysed: float,
                 settings: FollowerSettings | None = None):
        self.s = settings or FollowerSettings()
        self.box = np.asarray(box, dtype=np.float64)
        self.kit = kit  # as clicked: the cost against everyone
        self.seen_kit = kit  # as seen since (slowly learned): a second chance at the gate
        self.velocity = np.zeros(2)
        self.size = np.array([self.box[2] - self.box[0], self.box[3] - self.box[1]])
        self.anchor = self.box.copy()  # where it was last seen (camera-compensated)
        self.anchor_age = 0  # analysed frames since
        self.trusted_box = self.box.copy()  # where it was last seen for sure (camera-compensated)
        self.trusted_age = 0  # analysed frames since
        self.trusted_cut = (False, False)  # that box ran into the frame's left, right border
        self.missed = 0
        self.fps = fps_analysed
        self.others = _Others()
        self.step_count = 0
        self.lost_at = 0
        self.occluded = 0  # consecutive frames the target's detection was shared or merged
        self.last_trusted_step = 0
        self.trusted_count = 0
        # shot changes: what the wide shot looks like, and whether we are on it
        self.wide_grass: float | None = None  # grass share of the wide shot (slowly learned)
        self.wide_hist: np.ndarray | None = None  # shot histogram of the wide shot (slowly learned)
        self.wide_height: float | None = None  # median detection height on the wide shot
        self.wide_count: float | None = None  # detections per wide frame
        self.prev_hist: np.ndarray | None = None  # shot histogram of the frame stepped before
        self.off_wide = False
        self.wide_like = 0  # consecutive wide-looking frames while off the wide shot
        self.after_cut = False  # lost by a cut: re-acquire anywhere in the frame, by kit and size
        self.cut_registered = False  # the view after the cut was registered to the one before it
        self.wide_grey: tuple[np.ndarray, float] | None = None  # last wide frame stepped (small grey)
        self.cuts = 0  # times the wide shot was left (for tests and diagnostics)
        self.tentative = 0  # analysed frames of probation left after a re-acquisition
        self._width = self._height = 0  # of the frame being stepped

    def _frames(self, seconds: float) -> int:
        return max(2, int(round(seconds * self.fps)))

    # -- shot changes ----------------------------------------------------------------------------
    def note_wide(self, obs: Observation, rate: float = 1.0) -> None:
        """Learn what the wide shot looks like from a frame known to be on it."""
        self.prev_hist = obs.hist if obs.hist is not None else self.prev_hist
        if obs.grey is not None:
            self.wide_grey = (obs.grey, obs.grey_scale)
        if obs.hist is not None:
            self.wide_hist = _blend(self.wide_hist, obs.hist, rate)
        self.wide_grass = _blend(self.wide_grass, obs.grass, rate)
        n = len(obs.boxes)
        self.wide_count = _blend(self.wide_count, n, rate)
        if n >= 3:
            self.wide_height = _blend(self.wide_height, float(np.median(obs.boxes[:, 3] - obs.boxes[:, 1])), rate)

    def _looks_wide(self, obs: Observation, grass_share: float, hist_distance: float = math.inf) -> bool:
        """Grass over ``grass_share`` x the wide shot's, colours within ``hist_distance`` of its,
        and players as many and as big as there."""
        if self.wide_grass is not None and self.wide_grass >= 0.2 and obs.grass < grass_share * self.wide_grass:
            return False
        if shot_distance(self.wide_hist, obs.hist) > hist_distance:
            return False
        n = len(obs.boxes)
        if self.wide_count is not None and n < max(2.0, 0.3 * self.wide_count):
            return False
        if self.wide_height is not None and n:
            h = float(np.median(obs.boxes[:, 3] - obs.boxes[:, 1]))
            if not 0.5 * self.wide_height <= h <= 2.0 * self.wide_height:
                return False
        return True

    def _off_wide(self, obs: Observation) -> tuple[bool, np.ndarray | None]:
        """(off the wide shot on this frame, the camera motion across the cut when back on it on
        this frame: registered before/after, or the identity when that fails).

        A cut is a jump of the frame's colour histogram from the frame stepped before (in the
        walking direction, so backward walks see the same cuts); a slow change (a dissolve) is
        caught by the grass share falling under half the wide shot's. Once off, the wide shot is
        back when the frame has its grass share, its colours and players of its number and size
        again (or, should the wide shot itself have changed, after a few seconds of frames with
        much grass and such players)."""
        jump = shot_distance(self.prev_hist, obs.hist) > self.s.cut_distance
        if obs.hist is not None:
            self.prev_hist = obs.hist
        if not self.off_wide:
            if not jump and (self.wide_grass is None or self.wide_grass < 0.2 or
                             obs.grass >= self.s.off_wide_grass * self.wide_grass):
                self.note_wide(obs, 0.05)
                return False, None
            self.off_wide, self.wide_like, self.cuts = True, 0, self.cuts + 1
            if not self.after_cut:
                self.lost_at = self.step_count
            self.after_cut = True
        elif jump:
            self.wide_like = 0
        self.wide_like = self.wide_like + 1 if self._looks_wide(obs, self.s.fallback_grass) else 0
        if self._looks_wide(obs, self.s.back_wide_grass, self.s.back_wide_hist) or \
                self.wide_like >= self._frames(self.s.back_wide_sec):
            # back on the wide camera, maybe pointing elsewhere: nothing known carries over but
            # the player's kit and size
            self.off_wide = False
            self.others = _Others()
            self.velocity[:] = 0
            self.occluded = 0
            self.missed = self._frames(self.s.max_coast_sec) + 1
            motion = None
            if self.wide_grey is not None and obs.grey is not None:
                motion = register_shots(self.wide_grey[0], obs.grey, self.wide_grey[1])
            self.cut_registered = motion is not None
            if obs.grey is not None:
                self.wide_grey = (obs.grey, obs.grey_scale)
            return False, np.eye(2, 3) if motion is None else motion
        return True, None

    def step(self, obs: Observation, motion: np.ndarray) -> TrackPoint:
        self.step_count += 1
        self._width, self._height = obs.width, obs.height
        off, across = self._off_wide(obs)
        if off:
            return self._point(obs, None, 0.0)
        if across is not None:
            motion = across  # the motion measured frame to frame across the cut is meaningless
            self.tentative = 0
        probation = self.tentative
        self.tentative = max(0, self.tentative - 1)
        zoom = math.hypot(motion[0, 0], motion[1, 0])
        moved = warp_box(self.box, motion)
        self.anchor = warp_box(self.anchor, motion)
        self.anchor_age += 1
        self.trusted_box = warp_box(self.trusted_box, motion)
        self.trusted_age += 1
        self.size = self.size * zoom
        self.velocity = self.velocity * zoom
        predicted = _box(_centre(moved) + self.velocity, self.size)
        others_pred = self.others.predict(motion)
        boxes = obs.boxes
        n_det, n_oth = len(boxes), len(others_pred)
        lost = self.missed > self._frames(self.s.max_coast_sec)
        held = False  # on a box that fits its prediction but that it cannot take (_on_prediction)

        # cost matrix: row 0 the target, then everyone else
        big = 1e6
        cost = np.full((1 + n_oth, n_det), big)
        kit_dist = kit_distances(self.kit, obs.kits, boxes)
        gate_kits = kit_dist
        fits = _iou_one(predicted, boxes)  # each detection's IoU with the prediction
        if n_det and not lost:
            seen_dist = kit_distances(self.seen_kit, obs.kits, boxes) if self.seen_kit is not self.kit else kit_dist
            gate_kits = np.minimum(kit_dist, seen_dist)
            cost[0] = self._target_cost(predicted, boxes, fits, kit_dist, gate_kits)
            held = self._on_prediction(predicted, boxes, fits, gate_kits, obs.guesses)
            if held:
                cost[0][fits < 0.5] = big
        if n_det and n_oth:
            iou = sv.box_iou_batch(others_pred, boxes)
            h = np.maximum(4.0, others_pred[:, 3] - others_pred[:, 1])
            dist = np.linalg.norm(_centre(others_pred)[:, None] - _centre(boxes)[None], axis=2) / h[:, None]
            ok = (iou >= 0.2) | (dist <= 0.5)
            cost[1:] = np.where(ok, (1 - iou) + 0.5 * dist, big)
            if not lost and (self.missed or self.occluded):
                # tracks born while the target was hidden may be the target re-appearing: the
                # target gets first claim on detections inside its own gate
                young = self.others.born > self.last_trusted_step
                cost[1:][young] += 1.0
        matches: dict[int, int] = {}
        if n_det:
            from scipy.optimize import linear_sum_assignment

            # a dummy column per row lets a row stay unmatched rather than forcing a poor pair
            # on someone else (rectangular Hungarian assigns every row otherwise)
            n_rows = cost.shape[0]
            dummy = np.full((n_rows, n_rows), big)
            np.fill_diagonal(dummy, 10.0)
            padded = np.hstack([cost, dummy])
            rows, cols = linear_sum_assignment(padded)
            matches = {int(r): int(c) for r, c in zip(rows, cols) if c < n_det and cost[r, c] < big}
        target_det = matches.pop(0, None)
        # back from hiding, the target takes only the detection it fits best itself: a detection
        # it got because a neighbour took the better one is most likely that neighbour
        own_choice = target_det is None or not (self.missed or self.occluded) or \
            int(np.argmin(cost[0])) == target_det
        other_matches = {r - 1: c for r, c in matches.items()}
        claimed = set(other_matches.values()) | ({target_det} if target_det is not None else set())
        new_tracks = [j for j in range(n_det) if j not in claimed]

        if lost:
            self.box = moved
            self.velocity[:] = 0
            self._update_others(other_matches, new_tracks, others_pred, obs, set())
            t = self._reacquire_after_cut(moved, kit_dist, boxes) if self.after_cut else \
                self._reacquire(moved, kit_dist, other_matches)
            if t is not None:
                box = self._take_over(t)
                if not self.after_cut and self.s.tentative_sec > 0:
                    self.tentative = self._frames(self.s.tentative_sec)
                if self.after_cut:
                    # everyone else was met after the cut too: none of them is the target hiding,
                    # but a second track started on the target itself (its box changed while
                    # it was met again) would claim its detection from now on
                    self.after_cut = False
                    self.last_trusted_step = self.step_count
                    if len(self.others.boxes):
                        for k in np.where(_iou_one(box, self.others.boxes) >= 0.3)[0][::-1]:
                            self.others.remove(int(k))
                return self._point(obs, box, 0.6)
            self.missed += 1
            return self._point(obs, None, 0.0)

        trusted = placed = straddled = False
        absorbed_tracks: set[int] = set()  # pruned below: they take no guess either
        if target_det is not None:
            det = boxes[target_det]
            overlap = _iou_one(det, others_pred) if n_oth else np.empty(0)
            if n_oth:
                # young tracks sitting on the target's detection were the target all along
                young = self.others.born > self.last_trusted_step
                # ...if they also move like the target (a team-mate walking away does not)
                same_motion = np.linalg.norm(self.others.velocity - self.velocity, axis=1) <= 0.08 * self.size[1]
                where_expected = _iou_one(predicted, others_pred) >= 0.4
                # ...and do not stand nearer the camera than the target: a second track on the
                # target itself cannot, a team-mate passing in front of it does
                not_nearer = others_pred[:, 3] - predicted[3] <= self.s.absorb_nearer * self.size[1]
                absorbed = young & not_nearer & (overlap >= 0.3) & \
                    np.where(self.others.hits >= 3, same_motion, where_expected)
                for t in np.where(absorbed)[0]:
                    other_matches.pop(int(t), None)
                    absorbed_tracks.add(int(t))
                    self.others.missed[t] = 10 ** 6  # pruned by the update below
                overlap = np.where(absorbed, 0.0, overlap)
            fit = float(fits[target_det])
            if fit >= 0.5:
                overlap = np.where(self._apart_on_own(det, others_pred, other_matches, boxes), 0.0, overlap)
            # the detection also fits someone else's prediction: a crossing, do not be dragged
            touching = n_oth > 0 and float(overlap.max()) >= 0.05
            shared = n_oth > 0 and float(overlap.max()) >= 0.15
            # a merged blob, or a piece of one: not the player's own shape (never seen for sure yet,
            # its size is the box clicked, which a neighbour may have cut: ``first_tallest``)
            consistent = bool(_own_shape(*_size(det), self.size,
                                         self.s.first_tallest if not self.trusted_count else OWN_TALLEST))
            straddled = fit < 0.5 and not (self.missed or self.occluded) and \
                self._straddles(predicted, np.delete(boxes, target_det, axis=0))
            trusted = not touching and consistent and own_choice and not straddled
            # brushing past someone: believe where it is, not how it moves
            placed = not trusted and not shared and consistent and own_choice and fit >= 0.5
        everyone = np.vstack([predicted[None], others_pred]) if n_oth else predicted[None]
        crowded = set()
        for t, j in other_matches.items():
            overlaps = _iou_one(boxes[j], everyone)
            overlaps[1 + t] = 0.0
            if overlaps.max() >= 0.15 or self.others.off_shape(t, boxes[j]):
                crowded.add(t)
        claimed_guesses = self._update_others(other_matches, new_tracks, others_pred, obs, absorbed_tracks,
                                              coast=crowded)
        if trusted:
            det = boxes[target_det]
            # learn the speed fast at first, then smoothly
            self.trusted_count += 1
            a = min(self.s.velocity_smoothing, 1 - 1 / (self.trusted_count + 1))
            self.velocity = a * self.velocity + (1 - a) * self._motion_since_sure(det)
            self.size = 0.6 * self.size + 0.4 * np.array(_size(det))
            seen = obs.kits[target_det]
            if self.seen_kit is not None and seen is not None:
                # the kit as seen over time, not on the one frame it was clicked on
                self.seen_kit = (1 - self.s.kit_learning) * self.seen_kit + self.s.kit_learning * seen
            self.box = det.copy()
            self.anchor, self.anchor_age = det.copy(), 0
            self.trusted_box, self.trusted_age = det.copy(), 0
            self.trusted_cut = _borders_cut(det, self._width, self._height)[:2]
            self.missed = 0
            self.occluded = 0
            self.last_trusted_step = self.step_count
            return self._point(obs, det, 0.4 + 0.6 * float(obs.confidences[target_det]))
        if self.s.adopt_speed > 0 and self.missed and target_det is None and not held and \
                self.trusted_count >= self.s.adopt_hits:  # its own shape and motion known
            t = self._adopt(boxes, gate_kits, on_probation=probation > 0)
            if t is not None:
                box = self._take_over(t)
                self.occluded = 0
                self.last_trusted_step = self.step_count
                return self._point(obs, box, 0.6)
        if placed:
            det = boxes[target_det]
            # brushing past someone, one box may be pulled aside, but its motion since the last
            # sure sighting is steadier the longer ago that was (a player that turns while it
            # brushes past someone would otherwise drift off on its old motion)
            self._keep_learning_motion(det)
            self.box = det.copy()
            self.anchor, self.anchor_age = det.copy(), 0
            self.missed = 0
            return self._point(obs, det, 0.3 + 0.5 * float(obs.confidences[target_det]))
        if target_det is not None:
            # occluded or crossing: follow the prediction, kept inside the blob the target is in
            det = boxes[target_det]
            # across two detections, it is in neither, and a detection it got because a neighbour
            # took the one it fits best is most likely that neighbour's: it stays where predicted
            inside = predicted.copy() if straddled or not own_choice else self._inside_blob(predicted, det)
            if own_choice and not straddled and self._in_sight_beside(det, boxes):
                # the part a player in front leaves in sight stands head to feet like the player:
                # the box goes up and down with it (the player may be turning up or down the pitch)
                _shift_inside(inside, det, 1, 3)
            self.box = inside
            self.missed = 0 if self.missed == 0 else self.missed + 1
            self.occluded += 1
            if self.occluded > self._frames(2.0):  # too long in a crowd: treat as missed
                self.missed += 1
            if self.missed > self._frames(self.s.max_coast_sec):
                self.lost_at = self.step_count  # lost from here (a newcomer is born after this)
            shown = inside.copy()
            if own_choice and consistent and not straddled:
                # a detection of one player's shape, not one the target got because a neighbour
                # took the better one: the player fills it head to feet, so the box shown moves up
                # or down into it where the prediction drifted (its height kept). The prediction
                # goes on as it was (the detection may still be the other player's), and a blob of
                # two keeps it (the target may be either part)
                _shift_inside(shown, det, 1, 3)
            return self._point(obs, shown, 0.5)
        guess = self._guess(predicted, obs, claimed_guesses) if self.trusted_count else None
        if guess is not None and self.missed < self._frames(self.s.max_coast_sec):
            # a player the detector could only guess at, where the target was predicted, that no
            # other track took: shown there, less sure, and followed from there; but not seen (it
            # is still missed, and no sighting to re-acquire it from), so guesses bridge a gap of
            # at most max_coast_sec (then it is lost, below, like any coasting target)
            det = obs.guesses[guess]
            # as when it is placed: a player that slows down while only guessed at would
            # otherwise be predicted off the guesses at its old speed
            self._keep_learning_motion(det)
            self.box = det.copy()
            self.missed += 1
            self.occluded = 0
            return self._point(obs, det, 0.3 + 0.5 * float(obs.guess_confidences[guess]))
        self.occluded = 0
        self.missed += 1
        self.box = predicted
        self.velocity *= 0.97
        if self.missed > self._frames(self.s.max_coast_sec):
            self.lost_at = self.step_count
        if probation and n_det and float(fits.max()) >= self.s.tentative_overlap:
            # just re-acquired and already missed, coasting onto a detection it did not take: the
            # borrowed track was probably a team-mate's, and a box on someone else is worse than
            # "not visible" (seed 2 match player 1: 15 -> 10 wrong frames, no share lost)
            self.tentative = self._frames(self.s.tentative_sec)
            return self._point(obs, None, 0.0)
        if self.missed <= self._frames(self.s.report_coast_sec) and self._inside(predicted, obs):
            return self._point(obs, predicted, 0.45 * (1 - self.missed / (self._frames(self.s.report_coast_sec) + 1)))
        return self._point(obs, None, 0.0)

    def _update_others(self, matches: dict[int, int], new_tracks: list[int], predicted: np.ndarray,
                       obs: Observation, skip: set[int], coast: set[int] | None = None) -> set[int]:
        """The others' tracks after this frame's assignment (``matches``: track -> detection),
        with their second round (ByteTrack's, on its low-score boxes): a track left without a
        detection takes a guess on its prediction, so a team-mate hidden in a crowd keeps its track
        and claims its detection when it comes out, not taken for a newcomer. Tracks in ``skip``
        take none (absorbed into the target: pruned). Returns the guesses taken."""
        boxes, n_det = obs.boxes, len(obs.boxes)
        taken: dict[int, int] = {}
        if len(predicted) and len(obs.guesses):
            taken = _claim_guesses(predicted, obs.guesses, set(matches) | skip, self.s.guess_iou)
            matches = {**matches, **{t: n_det + g for t, g in taken.items()}}
            boxes = np.vstack([boxes, obs.guesses])
        self.others.update(matches, boxes, new_tracks, self.step_count, self._frames(self.s.others_max_missed_sec),
                           coast=coast)
        return set(taken.values())

    def _guess(self, predicted: np.ndarray, obs: Observation, claimed: set[int]) -> int | None:
        """The guessed box the target stands in, if any: the one overlapping its prediction most,
        at ``guess_iou`` or more, of its kit, and not ``claimed`` by another track."""
        if not len(obs.guesses):
            return None
        iou = _iou_one(predicted, obs.guesses)
        j = int(np.argmax(iou))
        if iou[j] < self.s.guess_iou or j in claimed:
            return None
        guess = obs.guesses[j:j + 1]
        kits = [kit_distances(self.kit, obs.guess_kits[j:j + 1], guess)[0],
                kit_distances(self.seen_kit, obs.guess_kits[j:j + 1], guess)[0]]
        if min(kits) > self.s.kit_gate:
            return None
        return j

    def _apart_on_own(self, det: np.ndarray, others_pred: np.ndarray, other_matches: dict[int, int],
                      boxes: np.ndarray) -> np.ndarray:
        """Which of the others stand a step behind or in front of the target on a detection of their
        own (a mask over ``others_pred``): a track matched in three frames or more (no newcomer)
        that took a detection on its prediction (IoU >= 0.5) whose feet are ``apart_depth`` of the
        height of the target's detection ``det`` or more above or below its feet. Its legs overlap
        the target's head, or its head the target's legs, but the detector told the two apart, so
        the target's detection is still its own."""
        apart = np.zeros(len(others_pred), bool)
        tall = max(1.0, float(det[3] - det[1]))
        for t, j in other_matches.items():
            if self.others.hits[t] >= 3 and abs(det[3] - boxes[j, 3]) >= self.s.apart_depth * tall and \
                    _iou_one(others_pred[t], boxes[j:j + 1])[0] >= 0.5:
                apart[t] = True
        return apart

    def _straddles(self, predicted: np.ndarray, rest: np.ndarray) -> bool:
        """Whether one of the detections ``rest`` (all but the one the target took, which overlaps
        the prediction at IoU < 0.5) holds ``straddle_cover`` of the prediction's area or more: the
        prediction lies across the two."""
        return self.s.straddle_cover > 0 and _covered_share(predicted, rest) >= self.s.straddle_cover

    def _in_sight_beside(self, det: np.ndarray, boxes: np.ndarray) -> bool:
        """Whether ``det`` is the part of the player that a neighbour a step in front of it leaves in
        sight: narrower than the player and of its full height, with a detection beside it whose feet
        are lower (nearer the camera) by a tenth of its height or more reaching over or up to one of
        its sides. (A piece with no such neighbour may be anyone's: up and down it was followed into
        pieces of players crossing, seed 39 `match` player 6 0.87 -> 0.58.)"""
        w, h = _size(det)
        # (of the player's own height: _own_shape with the player's own width)
        if not (w < 0.75 * self.size[0] and _own_shape(self.size[0], h, self.size)):
            return False
        for other in boxes:
            if np.array_equal(other, det):
                continue
            in_front = other[3] - det[3] >= 0.1 * h
            beside = min(other[3], det[3]) - max(other[1], det[1]) >= 0.5 * h
            over_left = other[0] < det[0] <= other[2] + 2.0 <= det[2] + 2.0
            over_right = other[0] - 2.0 <= det[2] < other[2] and other[0] >= det[0] - 2.0
            if in_front and beside and (over_left or over_right):
                return True
        return False

    def _inside_blob(self, predicted: np.ndarray, det: np.ndarray) -> np.ndarray:
        """The part of a merged blob the target is in: the predicted box moved sideways the least
        to lie inside the blob's box (when the blob is about as wide as the target or wider); up
        and down it stays where it was predicted, as the blob may be two players stacked."""
        box = predicted.copy()
        if det[2] - det[0] >= 0.9 * (box[2] - box[0]):
            _shift_inside(box, det, 0, 2)
        return box

    def _target_cost(self, predicted: np.ndarray, boxes: np.ndarray, iou: np.ndarray, kit_dist: np.ndarray,
                     gate_kit_dist: np.ndarray | None = None) -> np.ndarray:
        """The target's row of the cost matrix (``iou``: each box's IoU with ``predicted``)."""
        ph, pw = max(4.0, self.size[1]), max(2.0, self.size[0])
        # feet height counts double: in the image it is depth, it changes slowly, and a merged
        # blob's centre is pulled around while its feet stay put
        dx = (_centre(boxes)[:, 0] - _centre(predicted)[0]) / ph
        dy = (boxes[:, 3] - predicted[3]) / ph
        d = np.hypot(dx, 2.0 * dy)
        widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        size_cost = np.abs(np.log(np.maximum(heights, 1) / ph)) + 0.5 * np.abs(np.log(np.maximum(widths, 1) / pw))
        gate = self.s.gate + self.s.gate_growth_sec * self.missed / self.fps
        gate_kit_dist = kit_dist if gate_kit_dist is None else gate_kit_dist
        ok = ((iou >= 0.25) | (d <= gate)) & (gate_kit_dist <= self.s.kit_gate) & (size_cost <= 0.9)
        # the others' rows cost position alone: counted in full, the kit distance the target's own
        # detections always show hands its detection to a neighbour's track sitting on it (seed 3
        # match player 12: a track born on a sliver of it). Missed for longer, it is being found
        # again, and there its kit is the evidence in full
        noise = self.s.kit_noise if self.missed <= self._frames(self.s.kit_noise_sec) else 0.0
        kit_cost = 1.5 * np.maximum(0.0, kit_dist - noise)
        return np.where(ok, (1 - iou) + 0.5 * d + kit_cost + 0.5 * size_cost, 1e6)

    def _on_prediction(self, predicted: np.ndarray, boxes: np.ndarray, fits: np.ndarray, gate_kits: np.ndarray,
                       guesses: np.ndarray) -> bool:
        """Whether, seen for sure a moment ago, the target is most likely on a box that fits its
        prediction (IoU >= 0.7) and is of its shape, but that it cannot take: a detection only its
        kit keeps out of the gate (a team-mate in front of it spoiling its colours), or a box the
        detector only guessed at (``fits``: each of ``boxes``' IoU with ``predicted``). Then it
        takes no detection that fits its prediction worse (IoU < 0.5), nor adopts a track: such a
        one is the player stepping in front of it, or the one behind (match seed 34 player 12 from
        frame 150, 0.31 -> 0.97; seed 35 player 6 on a guess, 0.71 -> 0.80). Longer unseen, the
        prediction may have drifted off the player (a crossing coasted through: broadcast seed 24
        player 1 lost 0.05 without this limit)."""
        if self.trusted_age > self._frames(0.4):
            return False

        def of_its_shape(candidates: np.ndarray) -> np.ndarray:
            return _own_shape(candidates[:, 2] - candidates[:, 0], candidates[:, 3] - candidates[:, 1], self.size)

        if len(boxes) and ((fits >= 0.7) & (gate_kits > self.s.kit_gate) & of_its_shape(boxes)).any():
            return True
        return bool(len(guesses)) and bool(((_iou_one(predicted, guesses) >= 0.7) & of_its_shape(guesses)).any())

    def _keep_learning_motion(self, det: np.ndarray) -> None:
        """Its motion since it was last seen for sure, two frames ago or more, learned from a box
        it was not seen on for sure (``det``: placed, or guessed at) as smoothly as from sure
        sightings."""
        if self.trusted_age >= 2:
            a = self.s.velocity_smoothing
            self.velocity = a * self.velocity + (1 - a) * self._motion_since_sure(det)

    def _motion_since_sure(self, det: np.ndarray) -> np.ndarray:
        """Its motion per frame from where it was last seen for sure to ``det``: boxes placed or
        coasted on in between (a blob a team-mate's legs pulled aside) say where it was, not how
        it moves."""
        moved = _centre(det) - _centre(self.trusted_box)
        left, right = (a or b for a, b in zip(self.trusted_cut, _borders_cut(det, self._width, self._height)))
        if left != right:
            # at the frame's border the box is cut off and its centre moves half as fast as the
            # player: its inner edge moves with the player
            moved[0] = det[2] - self.trusted_box[2] if left else det[0] - self.trusted_box[0]
        # up and down, by the edge that moved least: a box that grew at its feet (a shadow, a
        # team-mate's head below) or at its head did not move the player, where its centre says
        # it walked half the growth; walking, both edges move (tried: the centre when they move
        # the same way, which follows the feet's jitter too, lost 0.009 on held-out seeds 18-23)
        top, bottom = det[1] - self.trusted_box[1], det[3] - self.trusted_box[3]
        moved[1] = min(top, bottom, key=abs) if top * bottom > 0 else 0.0
        return moved / self.trusted_age

    def _take_over(self, t: int) -> np.ndarray:
        """Track ``t`` of the others is the target: it takes the track's box and motion."""
        box = self.others.boxes[t].copy()
        self.velocity = self.others.velocity[t].copy()
        self.others.remove(t)
        self.box, self.size, self.missed = box, np.array(_size(box)), 0
        self.anchor, self.anchor_age = box.copy(), 0
        self.trusted_box, self.trusted_age = box.copy(), 0
        self.trusted_cut = _borders_cut(box, self._width, self._height)[:2]
        return box

    def _from_anchor(self, boxes: np.ndarray, depth: float = 1.0) -> np.ndarray:
        """Distance of boxes' feet from where the target was last seen, in its body heights then;
        ``depth`` weights the feet height (image y: distance from the camera)."""
        ah = max(4.0, self.anchor[3] - self.anchor[1])
        ax, ay = _centre(self.anchor)[0], self.anchor[3]
        return np.hypot((_centre(boxes)[..., 0] - ax) / ah, depth * (boxes[..., 3] - ay) / ah)

    def _adopt(self, boxes: np.ndarray, gate_kits: np.ndarray, on_probation: bool = False) -> int | None:
        """While the target is missed (its prediction went on straight, it turned): a track born
        on or since the frame it was last seen, near where it was then, on a detection of the target's shape and
        kit that nobody else is on, within running reach of where it was last seen and the only
        such detection around, is the target itself (the index in ``others``, or None). Unless on
        probation, a detection held by a track older than the last sighting does not count as such
        a detection when it is ``adopt_clear`` further from that sighting than the newcomer, nor at
        all once the coasting box is no longer shown."""
        others = self.others
        if not len(others.boxes) or not len(boxes):
            return None
        own_size = (max(2.0, self.size[0]), max(4.0, self.size[1]))
        reach = self.s.gate + self.s.adopt_speed * self.anchor_age / self.fps
        # detections like the target's (kit and shape), and how far each is from its last sighting
        like = (gate_kits <= self.s.kit_gate) & _own_shape(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1],
                                                           own_size)
        from_anchor = self._from_anchor(boxes)
        near = like & (from_anchor <= reach + 1.0)
        # detections held by tracks born before the last sighting: team-mates who were someone
        # else already when the target was last seen
        old_held = np.zeros(len(boxes), bool)
        sighted = self.step_count - self.anchor_age
        for t in np.where(others.born < sighted)[0]:
            j = _detection_of(others.boxes[t], boxes)
            if j is not None:
                old_held[j] = True
        if self.missed >= self._frames(self.s.report_coast_sec) and not on_probation:
            # its coasting box is no longer shown (from this frame: ``missed`` does not count it
            # yet, step does when it hides the box), and once lost it is re-acquired from the
            # best newcomer whoever else is near (_reacquire): a team-mate whose track is older
            # than the last sighting no longer makes the newcomer ambiguous, only another newcomer.
            # Not on probation: then the last sighting itself may have been that team-mate
            near &= ~old_held
        best, best_cost = None, math.inf
        for t in range(len(others.boxes)):
            # born since the last sighting, or on that very frame: a second box the detector gave
            # on the target there starts a track that may take over its path the next frame
            if others.missed[t] or others.born[t] < sighted or others.hits[t] < self.s.adopt_hits:
                continue
            b = others.boxes[t]
            # born where the target could have been by then
            age_at_birth = others.born[t] - sighted
            if self._from_anchor(others.origin[t]) > self.s.gate + self.s.adopt_speed * max(1, age_at_birth) / self.fps:
                continue
            if self._came_into_view(t):
                continue
            j = _detection_of(b, boxes)
            if j is None:
                continue
            if not _own_shape(*_size(b), own_size):
                continue
            if gate_kits[j] > self.s.kit_gate:
                continue
            if len(others.boxes) > 1:
                rest = np.delete(others.boxes, t, axis=0)
                if _iou_one(b, rest).max() >= 0.15:
                    continue
            da = float(self._from_anchor(b))
            if da > reach:
                continue
            # ...and the only detection like the target's within (a little more than) that reach;
            # a team-mate of an older track clearly further from the last sighting does not count:
            # the newcomer, clearly nearer, is the one the target turned into (not on probation:
            # the last sighting may have been that team-mate)
            rivals = near if on_probation else near & ~(old_held & (from_anchor > da + self.s.adopt_clear))
            if np.delete(rivals, j).any():
                continue
            cost = 3 * gate_kits[j] + 0.5 * da
            if cost < best_cost:
                best, best_cost = t, cost
        return best

    def _came_into_view(self, t: int) -> bool:
        """Whether track ``t`` of the others was born on a box cut off by a border of the frame (a
        player coming into view there) that the target's last sighting was clear of: a missed
        target that did not leave the frame does not walk in across its border."""
        born = _box(self.others.entry[t], _size(self.others.origin[t]))  # in the image it was born in
        seen = _borders_cut(self.anchor, self._width, self._height)
        return any(b and not a for b, a in zip(_borders_cut(born, self._width, self._height), seen))

    def _edge_left(self, box: np.ndarray) -> int | None:
        """The edge (0 left, 1 right, 2 top, 3 bottom) the box's centre is beyond, if any."""
        if self.s.exit_edge <= 0 or not self._width:
            return None
        cx, cy = _centre(box)
        for edge, beyond in enumerate((cx < 0, cx >= self._width, cy < 0, cy >= self._height)):
            if beyond:
                return edge
        return None

    def _reacquire(self, last_seen: np.ndarray, kit_dist: np.ndarray, other_matches: dict[int, int]) -> int | None:
        """An established track that appeared since the target was lost and wears its kit (when
        the target left the frame, one that came into view by the edge it left by)."""
        others = self.others
        if len(others.boxes) == 0:
            return None
        ph = max(4.0, last_seen[3] - last_seen[1])
        best, best_cost = None, math.inf
        det_of = {t: j for t, j in other_matches.items()}
        gone = self._edge_left(last_seen)
        ah = max(4.0, self.anchor[3] - self.anchor[1])  # as tall as when last seen for sure
        for t in range(len(others.boxes)):
            j = det_of.get(t)
            if j is None or others.hits[t] < self.s.reacquire_frames:
                continue
            kd = kit_dist[j] if j < len(kit_dist) else 1.0
            if kd > self.s.reacquire_kit:
                continue
            # about as tall as the target was (a taller box is often it merged with someone)
            lo, hi = self.s.reacquire_size
            if not lo * ah <= others.boxes[t][3] - others.boxes[t][1] <= hi * ah:
                continue
            dist = float(np.linalg.norm(_centre(others.boxes[t]) - _centre(last_seen))) / ph
            newcomer = others.born[t] >= self.lost_at - self._frames(self.s.max_coast_sec)
            if not newcomer and dist > 1.0:
                continue
            # where a lost player can be grows with the time it has been lost (~ a sprint); measured
            # from the last trusted sighting, feet height counting 1.5x (it is depth): the coasted
            # box drifts, and a team-mate far up the pitch passed from it (seed 1 match player 6:
            # 3.2 body heights from the coasted box, 4.0 this way; 16 wrong frames)
            lost_sec = (self.step_count - self.lost_at) / self.fps
            if float(self._from_anchor(others.boxes[t], self.s.reacquire_depth)) > 2.0 + 4.0 * lost_sec:
                continue
            if gone is not None:
                # it left the frame: it comes back in across the edge it left by, so its track
                # starts at that edge (a team-mate turning up mid-frame is someone else)
                ox, oy = others.entry[t]
                from_edge = (ox, self._width - ox, oy, self._height - oy)[gone] / ph
                if from_edge > self.s.exit_edge:
                    continue
            cost = 3 * kd + 0.05 * dist
            if cost < best_cost:
                best, best_cost = t, cost
        return best

    def _reacquire_after_cut(self, last_seen: np.ndarray, kit_dist: np.ndarray, boxes: np.ndarray) -> int | None:
        """After a cut the camera may point anywhere. An established track (a few frames old)
        about as tall as the target was and wearing its kit is the target when nobody else on
        the frame wears anything like it (anywhere in the frame), or, among team-mates, when
        it is clearly the nearest to where the target was last seen, when the view after the cut
        could be registered to the one before it (the radius grows with the time since the cut)."""
        others = self.others
        ph = max(4.0, self.size[1])
        lo, hi = self.s.cut_size
        lost_sec = (self.step_count - self.lost_at) / self.fps
        base, per_sec, cap = self.s.cut_radius
        radius = min(cap, base + per_sec * lost_sec)
        found = []  # (cost, distance, track, kit distance, detection)
        for t in range(len(others.boxes)):
            # a little longer than a track lost in play: everyone in view is met again at once,
            # so wait until they all are before choosing
            if others.hits[t] < self.s.reacquire_frames + 2 or others.missed[t] or not len(boxes):
                continue
            j = _detection_of(others.boxes[t], boxes)
            if j is None:  # not on a detection of this frame
                continue
            kd = float(kit_dist[j])
            h = others.boxes[t][3] - others.boxes[t][1]
            if kd > self.s.reacquire_kit or not lo * ph <= h <= hi * ph:
                continue
            dist = float(np.linalg.norm(_centre(others.boxes[t]) - _centre(last_seen))) / ph
            found.append((dist + 3 * kd + 2 * abs(math.log(h / ph)), dist, t, kd, j))
        if not found:
            return None
        found.sort()
        cost, dist, t, kd, j = found[0]
        # the kit alone: every other detection on the frame is far from it
        rest = np.delete(kit_dist, j)
        if len(found) == 1 and (len(rest) == 0 or float(rest.min()) >= kd + 0.25):
            return t
        # ...and clearly nearer than the frame's edge, else it may as well have left the frame
        cx, cy = _centre(last_seen)
        edge = min(cx, self._width - cx, cy, self._height - cy) / ph
        if self.cut_registered and dist <= radius and dist + 1.0 <= edge and \
                (len(found) == 1 or found[1][0] - cost >= 1.0):
            return t
        return None

    @staticmethod
    def _inside(box: np.ndarray, obs: Observation) -> bool:
        cx, cy = _centre(box)
        return 0 <= cx < obs.width and 0 <= cy < obs.height

    @staticmethod
    def _point(obs: Observation, box, conf: float) -> TrackPoint:
        if box is not None:
            x1, y1, x2, y2 = (float(v) for v in box)
            x1, x2 = max(0.0, x1), min(float(obs.width), x2)
            y1, y2 = max(0.0, y1), min(float(obs.height), y2)
            if x2 - x1 >= 1 and y2 - y1 >= 1:
                return TrackPoint(obs.frame_index, obs.time_sec, (x1, y1, x2, y2), float(np.clip(conf, 0, 1)))
        return TrackPoint(obs.frame_index, obs.time_sec, None, 0.0)


# --------------------------------------------------------------------------------------------
# follow_target
# --------------------------------------------------------------------------------------------

_BACKWARD_CHUNK_SEC = 4.0
_MAX_BACKWARD_CHUNK_SEC = 12.0
_PREFETCH = 4  # frames each walk's decoder thread may run ahead (720p: ~1.4 MB each)


def _backward_chunk_start(path, end_sec: float, fps: float, stride: int = 1) -> float:
    """Where the backward chunk ending at ``end_sec`` starts: at the keyframe before it when that is
    at most ``_MAX_BACKWARD_CHUNK_SEC`` back (decoding starts there anyway, so each frame is decoded
    once), else ``_BACKWARD_CHUNK_SEC`` back. Observations are small, so a chunk of a GOP fits."""
    key = keyframe_before(path, max(0.0, end_sec - 1.5 / fps))
    # (a keyframe just before the end would make a chunk with no analysed frame in it)
    if key is not None and end_sec - _MAX_BACKWARD_CHUNK_SEC <= key < end_sec - (stride + 0.5) / fps:
        return max(0.0, key)
    return max(0.0, end_sec - _BACKWARD_CHUNK_SEC)


class _FramePool:
    """Arrays for the spotlight frames of backward chunks, handed back once a chunk is drawn and
    taken again by the next. A chunk holds up to a GOP of frames (~350 KB each at 640 px) until it
    is walked and drawn; freed and allocated anew from chunk to chunk, they fragmented glibc's heap,
    whose holes the next chunk reused only in part: a 10-minute match clicked 25 s before its end
    peaked at 519 MB (the two processes together) instead of ~420 MB. Used by one walk only; a
    backward walk with a drawer of its own takes the drawer's slots instead (``chunk_frame``)."""

    def __init__(self):
        self._free: list[np.ndarray] = []

    def take(self) -> np.ndarray | None:
        """A free array (of whatever shape the frames had), or None: then the frame gets a new one."""
        return self._free.pop() if self._free else None

    def give_back(self, images: Iterable[np.ndarray]) -> None:
        self._free.extend(images)


@dataclass
class _Chunk:
    """A backward chunk, decoded: its observations and spotlight frames, in time order."""

    start_sec: float
    first_index: int | None = None
    observations: list[Observation] = field(default_factory=list)
    frames: list[tuple[int, float, np.ndarray]] = field(default_factory=list)  # (index, time_sec, I420)


_EARLY_DONE = object()


class _Slot:
    """One value passed between the walks' threads: the first given counts, ``take`` waits for it.
    Each slot has one writing thread (its side gives the value, then None on its way out)."""

    def __init__(self):
        self._given = threading.Event()
        self._value = None

    def give(self, value) -> None:
        if not self._given.is_set():
            self._value = value
            self._given.set()

    def take(self):
        self._given.wait()
        return self._value

    @property
    def given(self) -> bool:
        return self._given.is_set()


class _Handoff:
    """What the two walks pass each other: first the frames the forward walk decodes before the
    confirmed frame (the backward walk's first chunk), then the start of the follow (the confirmed
    frame's observation, box, kit, ...; None when there is none), then each walk's motion at the
    start as a follower of its own saw it (``ahead``: forward's; ``behind``: backward's; None when
    it saw none). Each side gives None on its way out, so the other never waits for nothing."""

    def __init__(self):
        self._early: queue.Queue = queue.Queue(maxsize=2 * _PREFETCH)
        self._early_closed = threading.Event()  # no more early frames are sent or taken
        self._early_ended = False  # the forward walk's side
        self.start, self.ahead, self.behind = _Slot(), _Slot(), _Slot()

    def end_early(self) -> None:
        """No more early frames (the forward walk reached the confirmed frame, or stopped)."""
        if not self._early_ended:
            self._early_ended = True
            self.send_early(_EARLY_DONE)

    def send_early(self, item: DecodedFrame | object) -> None:
        while not self._early_closed.is_set():  # once the backward walk takes no more, drop it
            try:
                self._early.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def early_frames(self) -> Iterator[DecodedFrame]:
        while True:
            item = self._early.get()
            if item is _EARLY_DONE:
                return
            yield item

    def early_done(self) -> None:
        """The backward walk takes no more early frames (the forward walk must not wait on it)."""
        self._early_closed.set()


class _Channel:
    """One end of the pipe between the forward walk's process and the backward walk's: named
    values, each given once by one of the two ends (the first given counts) and read at both, in
    any order. When the other end is gone (its process died), every value not read yet is None."""

    def __init__(self, conn: Connection, theirs: Iterable[str]):
        self.conn = conn
        self.theirs = frozenset(theirs)  # the names the other end gives
        self._values: dict[str, object] = {}  # given here, or read from the other end
        self.closed = False

    def give(self, name: str, value) -> None:
        """Send ``value`` as ``name``, unless that was sent already. A value that does not pickle
        raises here, and is not sent."""
        if name in self._values:
            return
        data = pickle.dumps((name, value), protocol=pickle.HIGHEST_PROTOCOL)
        self._values[name] = value
        try:
            self.conn.send_bytes(data)
        except (BrokenPipeError, ConnectionResetError):  # the other side is gone: nobody waits for it
            pass

    def given(self, name: str) -> bool:
        """Whether ``name`` was given here or has come from the other end (without waiting); a name
        the other end gives counts as given (None) once that end is gone."""
        while name not in self._values and not self.closed and self.conn.poll():
            self._read()
        return name in self._values or (self.closed and name in self.theirs)

    def _read(self) -> None:
        try:
            data = self.conn.recv_bytes()
        except (EOFError, ConnectionResetError):
            self.closed = True
            return
        try:
            name, value = pickle.loads(data)
        except Exception as exc:  # noqa: BLE001 - a value the other end could pickle but not this one
            self.closed = True  # (nothing after it can be trusted to be in order)
            raise RuntimeError(f"a value from the other walk's process could not be read: {exc!r}") from exc
        self._values[name] = value

    def take(self, name: str, timeout: float | None = None):
        """The value ``name`` from the other end, waiting for it (at most ``timeout`` seconds, then
        ``FuturesTimeout``); None if the other end went away without sending it."""
        while name not in self._values and not self.closed:
            if timeout is not None and not self.conn.poll(timeout):
                raise FuturesTimeout
            self._read()
        return self._values.get(name)


class _ChannelSlot:
    """A ``_Slot`` over a ``_Channel``: the same handoff, between processes."""

    def __init__(self, channel: _Channel, name: str):
        self._channel, self._name = channel, name

    def give(self, value) -> None:
        self._channel.give(self._name, value)

    def take(self):
        return self._channel.take(self._name)

    @property
    def given(self) -> bool:
        return self._channel.given(self._name)


class _ProcessHandoff:
    """``_Handoff`` between the forward walk's process and the backward walk's. No decoded frame
    crosses: the backward walk decodes the frames before the confirmed one itself
    (``early_frames``, on its side only), as the forward walk decodes them on its way too."""

    def __init__(self, channel: _Channel, early_frames: Callable[[], Iterator[DecodedFrame]] | None = None):
        self.start, self.ahead, self.behind = (_ChannelSlot(channel, n) for n in ("start", "ahead", "behind"))
        self._early_frames = early_frames

    def end_early(self) -> None:
        pass

    def send_early(self, item) -> None:
        pass

    def early_frames(self) -> Iterator[DecodedFrame]:
        return self._early_frames()

    def early_done(self) -> None:
        pass


class _BackwardProcess:
    """The backward walk in a process of its own, forked from this one, beside the forward walk.

    Each walk's Python (the detector's blob loop, the follower's steps) holds the interpreter's
    lock, so on threads the two walks took as long as one after the other (measured: 3.7-4.0 s
    against 3.5-3.8 s for one walk over the same frames); in two processes they share the cores.
    Forked (see ``forking``), it has the detector and the spotlight clip as they are. The walk's
    values cross a pipe (pickled), its spotlight parts are files in the clip's folder (drawn by a
    drawer of its own, when it was given one), its progress a shared counter.
    Use as the ``Future`` of a thread: ``result(timeout)``."""

    def __init__(self, walk: Callable[[_ProcessHandoff, Callable[[], None]], tuple],
                 early_frames: Callable[[], Iterator[DecodedFrame]], spotlight: SpotlightClip | None):
        ours, theirs = multiprocessing.Pipe()
        self._done = mmap.mmap(-1, 8)  # shared with the child: how many frames it has walked
        self._spotlight = spotlight

        def in_child() -> None:  # walk, send what came of it, and end
            ours.close()
            self._run(walk, _Channel(theirs, ("start", "ahead")), early_frames)

        def in_parent(pid: int) -> None:
            theirs.close()
            self.channel = _Channel(ours, ("behind", "outcome"))
            self.handoff = _ProcessHandoff(self.channel)

        try:
            self.pid = fork_child(in_child, in_parent)
        except BaseException:
            for end in (ours, theirs):
                end.close()
            self._done.close()
            raise

    def _run(self, walk, channel: _Channel, early_frames) -> None:
        walked = [0]

        def tick() -> None:
            walked[0] += 1
            struct.pack_into("q", self._done, 0, walked[0])

        try:
            backward, error = walk(_ProcessHandoff(channel, early_frames), tick)
            parts = list(self._spotlight.parts) if self._spotlight is not None else []
            outcome = (True, (backward, error, parts))
        except BaseException as exc:  # noqa: BLE001 - raised in the forward walk's process
            exc.add_note("in the backward walk's process:\n" + "".join(traceback.format_exception(exc)))
            outcome = (False, exc)
        try:
            channel.give("outcome", outcome)
        except Exception as exc:  # noqa: BLE001 - an error that does not pickle: its text does
            channel.give("outcome", (False, RuntimeError(f"the backward walk failed: {outcome[1]!r} ({exc})")))

    def done(self) -> int:
        """How many frames the backward walk has walked so far."""
        return struct.unpack_from("q", self._done, 0)[0]

    def result(self, timeout: float | None = None) -> tuple[list[TrackPoint], VisionError | None]:
        """The backward walk's points and decode error, once it has ended; its exception raised here."""
        outcome = self.channel.take("outcome", timeout)
        if outcome is None:
            raise RuntimeError(f"the backward walk's process {self.pid} ended without a result")
        ok, value = outcome
        if not ok:
            raise value
        backward, error, parts = value
        if self._spotlight is not None:
            self._spotlight.adopt(parts)
        return backward, error

    def close(self) -> None:
        """End the child (still walking when the forward walk failed; else ending anyway) and reap it."""
        try:
            end_child(self.pid)
        finally:
            self.channel.conn.close()
            self._done.close()


@dataclass
class _Progress:
    callback: Callable[[float], None] | None
    total: int
    done: int = 0
    _last: float = field(default=-1.0)

    def tick(self, n: int = 1) -> None:
        self.done += n
        if self.callback is None or self.total <= 0:
            return
        fraction = min(1.0, self.done / self.total)
        if fraction - self._last >= 0.01 or fraction >= 1.0:
            self._last = fraction
            self.callback(fraction)


def _shift_inside(box: np.ndarray, det: np.ndarray, lo: int, hi: int) -> None:
    """Moves ``box`` the least along one axis (its coordinates ``lo`` and ``hi``: 0, 2 across,
    1, 3 up and down) to lie inside ``det`` there, in place."""
    box[[lo, hi]] += max(0.0, det[lo] - box[lo]) - max(0.0, box[hi] - det[hi])


def _claim_guesses(predicted: np.ndarray, guesses: np.ndarray, matched: set[int], min_iou: float) -> dict[int, int]:
    """Tracks (rows of ``predicted``) not in ``matched`` paired with the guess overlapping their
    prediction most, at ``min_iou`` or more, the best-fitting tracks first; a guess goes to one
    track only, and a track whose best guess went to another gets none (no second choice)."""
    iou = sv.box_iou_batch(predicted, guesses)
    out: dict[int, int] = {}
    for t in np.argsort(-iou.max(axis=1), kind="stable"):
        g = int(np.argmax(iou[t]))
        if int(t) not in matched and iou[t, g] >= min_iou and g not in out.values():
            out[int(t)] = g
    return out


def _player_aspect(obs: Observation) -> float | None:
    """Width over height of the players in full view on the frame (the median; None under three)."""
    whole = [b for b in obs.boxes if not any(_cut_sides(b, obs.width, obs.height))]
    if len(whole) < 3:
        return None
    return float(np.median([(b[2] - b[0]) / max(1.0, b[3] - b[1]) for b in whole]))


def _snap(obs: Observation, xyxy: np.ndarray) -> tuple[np.ndarray, float, int | None]:
    """The confirmed box snapped to the detection it clearly is on the start frame (if any), unless
    that detection is the player and a neighbour: over 1.15 x the box's width and 1.15 x as wide for
    its height as the players in full view (side by side), or over 1.15 x its height and as much
    narrower for it (one behind the other). A box drawn tighter than the player has a detection of
    a player's shape round it, and snaps to it: the follower has to know the player's full size."""
    if len(obs.boxes):
        ious = _iou_one(xyxy, obs.boxes)
        j = int(np.argmax(ious))
        det = obs.boxes[j]
        aspect = _player_aspect(obs)
        dw, dh = det[2] - det[0], max(1.0, det[3] - det[1])
        pair = aspect is not None and (dw > 1.15 * (xyxy[2] - xyxy[0]) and dw / dh > 1.15 * aspect or
                                       dh > 1.15 * (xyxy[3] - xyxy[1]) and dw / dh < aspect / 1.15)
        if ious[j] >= 0.7 and not pair:
            return obs.boxes[j].copy(), max(0.8, float(obs.confidences[j])), j
        if ious[j] >= 0.3:  # the user's box overlaps a blob that is not quite it: trust the user
            return xyxy, 1.0, j
    return xyxy, 1.0, None


@dataclass(frozen=True)
class StartMotion:
    """A player's motion over the first frames of a walk from the confirmed frame, as a follower
    of its own saw it: camera-compensated analysis pixels per analysed frame, in the direction it
    walked, learned from ``sightings`` trusted sightings."""

    velocity: np.ndarray
    sightings: int

    def reversed(self) -> StartMotion:
        return StartMotion(-self.velocity, self.sightings)


def clearer_motion(own: StartMotion | None, other: StartMotion | None, min_sightings: int) -> StartMotion | None:
    """The motion a walk starts with: its own first frames' (walked once already) or the other
    walk's, reversed, whichever was learned from more sightings (a crossing on one side of the
    click hides the player there), and from ``min_sightings`` at least."""
    best = max([m for m in (own, other and other.reversed()) if m is not None],
               key=lambda m: m.sightings, default=None)
    return best if best is not None and best.sightings >= min_sightings else None


def _new_follower(obs: Observation, box: np.ndarray, kit, target_det: int | None, fps: float,
                  motion: StartMotion | None = None) -> TargetFollower:
    """The follower on the confirmed frame, moving with ``motion``'s velocity from the start if
    given (its first sighting of its own counts half, as for any follower: ``velocity_smoothing``)."""
    follower = TargetFollower(box, kit, fps)
    if motion is not None:
        follower.velocity = motion.velocity.copy()
    cut_w, cut_h = _cut_sides(box, obs.width, obs.height)
    aspect = _player_aspect(obs)
    if cut_w != cut_h and aspect is not None:
        # clicked at the frame's border, the box is narrower (or shorter) than the player: its
        # shape is not the player's, and the whole player walking in would not fit it. The cut-off
        # side is made up from the other by the aspect of the players in full view
        w, h = follower.size
        follower.size = np.array([max(w, aspect * h), h] if cut_w else [w, max(h, w / max(0.05, aspect))])
    elif aspect is not None and follower.size[0] < follower.s.narrow_start * aspect * follower.size[1]:
        # under ``narrow_start`` x as wide for its height as the players in full view (the median), a split
        # cut the player, or the coach drew a sliver of it: the player is as wide as they are, or
        # no detection of all of it would look like its own shape and it would never be seen for sure
        follower.size = np.array([aspect * follower.size[1], follower.size[1]])
    follower.note_wide(obs)  # the player was clicked on the wide shot
    follower.trusted_cut = _borders_cut(box, obs.width, obs.height)[:2]
    # everyone else on the start frame is known from the start, so they claim their detections;
    # the players the detector could only guess at too (a team-mate split off the target's blob
    # the frame it was clicked on would otherwise be a detection no track claims the next frame)
    everyone = np.vstack([obs.boxes.reshape(-1, 4), obs.guesses.reshape(-1, 4)])
    overlap = _iou_one(box, everyone)
    at_most = np.where(np.arange(len(everyone)) < len(obs.boxes), 0.5, follower.s.start_guess_iou)
    others = [j for j in range(len(everyone)) if j != target_det and overlap[j] < at_most[j]]
    follower.others.update({}, everyone, others, 0, 1)
    return follower


class _Start(NamedTuple):
    """The confirmed frame, as the forward walk hands it to the backward walk."""

    obs: Observation
    box: np.ndarray  # the confirmed box, snapped (analysis pixels)
    kit: np.ndarray | None
    det: int | None  # the detection it is on
    index: int  # its frame index
    later_grey: tuple[np.ndarray, float] | None  # its small grey image, for the motion across the seam
    later_point: TrackPoint  # its point, which the spotlight interpolates to after the first chunk


def start_motion(start: _Start, fps: float, steps: Iterable[tuple[Observation, np.ndarray]]) -> StartMotion | None:
    """The player's motion over the first ``steps`` (observation, camera motion from the frame
    before it in walking order) of a walk from ``start``, by a follower of its own; None when it
    never saw the player on its own."""
    follower = _new_follower(start.obs, start.box, start.kit, start.det, fps)
    for step_obs, motion in steps:
        follower.step(step_obs, motion)
    if not follower.trusted_count:
        return None
    return StartMotion(follower.velocity.copy(), follower.trusted_count)


def _reversed_steps(observations: list[Observation], later_grey: tuple[np.ndarray, float] | None
                    ) -> Iterator[tuple[Observation, np.ndarray]]:
    """A backward chunk's observations in reverse, each with the camera motion to it from the
    frame after it: the inverse of the forward motion stored on that frame, and across the seam
    (from ``later_grey``, the small grey frame after the chunk) measured between the two."""
    last = observations[-1]
    if later_grey is not None and last.grey is not None and later_grey[0].shape == last.grey.shape:
        motion_back = invert_motion(estimate_motion(last.grey, later_grey[0], last.grey_scale))
    else:
        motion_back = np.eye(2, 3)
    for k in range(len(observations) - 1, -1, -1):
        yield observations[k], motion_back
        motion_back = invert_motion(observations[k].motion)


def _to_source(points: list[TrackPoint], sx: float, sy: float, info: VideoInfo) -> list[TrackPoint]:
    if sx == 1.0 and sy == 1.0:
        return points
    out = []
    for p in points:
        if p.xyxy is None:
            out.append(p)
            continue
        x1, y1, x2, y2 = p.xyxy
        out.append(TrackPoint(p.frame_index, p.time_sec,
                              (min(x1 * sx, info.width), min(y1 * sy, info.height),
                               min(x2 * sx, info.width), min(y2 * sy, info.height)), p.confidence))
    return out


def _detector_copy(detector: Detector) -> Detector | None:
    """An independent copy of a stateful detector for the backward walk (in a process, on a thread or in
    turn), or None if it cannot be copied."""
    from .detect import PitchDetector

    if isinstance(detector, PitchDetector):
        return copy.deepcopy(detector)
    return None


def _convert(decoded: DecodedFrame, analysed: bool, size: tuple[int, int] | None,
             clip_size: tuple[int, int] | None, out: np.ndarray | None = None
             ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(analysis BGR image or None, spotlight I420 image or None) of one decoded frame. When both
    are wanted at the same scaled size the BGR image is converted from the I420 one (``to_bgr``
    takes that same path), so the frame is scaled once. ``out``: an array for the I420 image."""
    small = to_i420(decoded.frame, clip_size, out) if clip_size is not None else None
    if not analysed:
        return None, small
    if small is not None and size is not None and tuple(size) == tuple(clip_size):
        return cv2.cvtColor(small, cv2.COLOR_YUV2BGR_I420), small
    return to_bgr(decoded.frame, size), small


def follow_target(path, time_sec: float, xyxy, detector: Detector, info: VideoInfo | None = None,
                  progress: Callable[[float], None] | None = None, stride: int = 1,
                  parallel: bool = True, spotlight: SpotlightClip | None = None, fork: bool = True) -> TargetTrack:
    """Follow the player confirmed at ``time_sec`` (box ``xyxy``, source pixels) to both ends.

    One point per analysed frame (every ``stride``-th), in time order. Forward is streamed;
    backward decodes chunks of a few seconds into observations and walks them in reverse. A video
    that stops decoding part-way keeps what was tracked and sets ``decode_error``.
    ``parallel``: walk backward beside the forward walk (when the detector can be copied:
    ``PitchDetector`` can, an ONNX session is not copied and runs the passes in turn): in a
    forked process of its own (``fork``, where the system can fork; see ``_BackwardProcess``),
    else on a second thread. All three ways give the same track.
    ``spotlight``: the clip to draw from the same decoded frames (boxes in analysis pixels, see
    ``analysis_scaling``): the forward walk is one part, each backward chunk another; the caller
    joins them with ``spotlight.finish()``.
    """
    info = info or probe(path)
    stride = max(1, int(stride))
    fps_analysed = info.fps / stride
    frames_total = max(1, math.ceil(info.frame_count / stride))
    result = TargetTrack(frames_total=frames_total)
    prog = _Progress(progress, frames_total)
    size, sx, sy = analysis_scaling(info)
    target = np.asarray(xyxy, dtype=np.float64) / np.array([sx, sy, sx, sy])

    # the walks use every frame at half the source's width or less (720p and up): they skip the
    # deblocking filter, whose effect that scaling averages away (see iter_decoded)
    widest_used = max(size[0] if size else info.width, spotlight.size[0] if spotlight else 0)
    deblock = 2 * widest_used > info.width

    def clip_size(frame_index: int) -> tuple[int, int] | None:
        return spotlight.size if spotlight is not None and spotlight.wants(frame_index) else None

    chunk_frames = _FramePool()  # the backward chunks' spotlight frames, one chunk's after another's

    def chunk_frame() -> np.ndarray | None:
        """An array for a backward chunk's spotlight frame: a drawer's slot (sent with no copy)
        when the walk has a drawer with one free, else one from the pool (None: a new one)."""
        lent = spotlight.lend()
        return lent if lent is not None else chunk_frames.take()

    def observe_chunk(det: Detector, frames: Iterable[DecodedFrame], start_sec: float,
                      end_index: int | None = None) -> _Chunk | None:
        """Decoded frames of a backward chunk (those before ``end_index``) as observations and
        spotlight frames, in time order; None when it has no analysed frame."""
        chunk = _Chunk(start_sec)
        camera = CameraMotion()
        kept = False
        try:
            for decoded in frames:
                if end_index is not None and decoded.index >= end_index:
                    break
                chunk.first_index = decoded.index if chunk.first_index is None else chunk.first_index
                analysed = decoded.index % stride == 0
                wanted = clip_size(decoded.index)  # (a frame the clip skips takes no array: none is lost)
                out = chunk_frame() if wanted else None
                image, small = _convert(decoded, analysed, size, wanted, out)
                if out is not None and small is not out:  # (a turned frame: converted anew)
                    spotlight.unlend(out)
                if small is not None:
                    chunk.frames.append((decoded.index, decoded.time_sec, small))
                if analysed:
                    chunk.observations.append(_observe(image, decoded.index, decoded.time_sec, det, camera))
            kept = bool(chunk.observations)
        finally:
            if not kept:  # (failed, or nothing to walk: a drawer's slots lent for its frames are free again)
                for _, _, small in chunk.frames:
                    spotlight.unlend(small)
        return chunk if kept else None

    def decode_chunk(det: Detector, end_index: int, start_sec: float | None = None) -> _Chunk | None:
        if start_sec is None:
            start_sec = _backward_chunk_start(path, end_index / info.fps, info.fps, stride)
        frames = iter_decoded(path, start_sec=start_sec, end_sec=end_index / info.fps, prefetch=_PREFETCH,
                              deblock=deblock)
        try:
            return observe_chunk(det, frames, start_sec, end_index)
        finally:
            frames.close()

    warm_steps = max(2, int(round(FollowerSettings.start_motion_sec * fps_analysed)))
    min_sightings = max(2, int(round(FollowerSettings.start_motion_sightings * warm_steps)))

    def walk_backward(det: Detector, handoff: _Handoff, early: bool, tick: Callable[[], None],
                      chunk: _Chunk | None = None) -> tuple[list[TrackPoint], VisionError | None]:
        """Chunks of a few seconds ending at the confirmed frame, each walked in reverse; the first
        starts at ``first_chunk_sec``, as the forward walk's decoding does.

        Beside the forward walk (``early``), the first chunk is the frames from the keyframe to the
        confirmed frame, observed here as soon as they are decoded (nothing in a chunk's
        observations depends on the follower): on a thread, the frames the forward walk decodes on
        its way (so none is decoded twice); in a process, decoded here (``frames_before_start``).
        The follower itself starts once the forward walk hands over the confirmed frame, and
        walks once the two walks have told each other the player's motion on their side of it.
        ``chunk``: the first chunk, when the forward walk in turn decoded it already for that."""
        try:
            try:
                if early:
                    try:
                        chunk = observe_chunk(det, handoff.early_frames(), first_chunk_sec)
                    except VisionError as exc:  # (decoded on this side: in a process of its own)
                        if exc.code != "VIDEO_DECODE_ERROR":
                            raise
                        chunk = None  # decoded again below, which meets the same error and keeps it
            finally:
                handoff.early_done()  # whatever happens here, the forward walk's decoder must not wait
            return walk_back_from(det, handoff, chunk, tick)
        finally:
            handoff.behind.give(None)  # no-op once given: nor must the forward walk's warm-up

    def motion_behind(start: _Start, chunk: _Chunk | None) -> StartMotion | None:
        if chunk is None:
            return None
        steps = itertools.islice(_reversed_steps(chunk.observations, start.later_grey), warm_steps)
        return start_motion(start, fps_analysed, steps)

    def walk_back_from(det: Detector, handoff: _Handoff, chunk: _Chunk | None,
                       tick: Callable[[], None]) -> tuple[list[TrackPoint], VisionError | None]:
        start = handoff.start.take()
        if start is None:  # the forward walk found no start frame: nothing to walk back from
            return [], None
        start_obs, start_box, kit, start_det, start_index, later_grey, later_point = start
        backward: list[TrackPoint] = []
        chunk_end_index = start_index  # frames before this one are still to do
        # later_grey: the frame just after the chunk, for the motion across the seam;
        # later_point: the box the spotlight interpolates to after the chunk's last analysed frame
        try:
            if chunk is None and chunk_end_index > 0:  # it starts where the forward walk's decoding did
                chunk = decode_chunk(det, chunk_end_index, first_chunk_sec)
            if not handoff.behind.given:  # (the forward walk in turn worked it out already)
                handoff.behind.give(motion_behind(start, chunk))
            motion = clearer_motion(handoff.behind.take(), handoff.ahead.take(), min_sightings)
            follower = _new_follower(start_obs, start_box, kit, start_det, fps_analysed, motion)
            while chunk_end_index > 0:
                if chunk is None:
                    chunk = decode_chunk(det, chunk_end_index)
                if chunk is None:
                    break
                observations = chunk.observations
                for obs, motion_back in _reversed_steps(observations, later_grey):
                    backward.append(follower.step(obs, motion_back))
                    tick()
                if chunk.frames:
                    part = spotlight.part(chunk.frames[0][0])
                    try:
                        # in time order, each box after the frames up to its own (a drawer in a
                        # process of its own then keeps only the frames since the last box)
                        frames = iter(chunk.frames)
                        frame = next(frames, None)
                        for point in itertools.chain(reversed(backward[-len(observations):]), [later_point]):
                            while frame is not None and frame[0] <= point.frame_index:
                                part.add_frame(*frame)
                                frame = next(frames, None)
                            part.add_point(point)
                        while frame is not None:
                            part.add_frame(*frame)
                            frame = next(frames, None)
                    except BaseException:
                        part.close(drawn=False)
                        raise
                    part.close()
                    # (drawn and written; a drawer's slot comes back to it once its frame is encoded)
                    chunk_frames.give_back(image for _, _, image in chunk.frames if not spotlight.lent(image))
                first = observations[0]
                later_grey, later_point = (first.grey, first.grey_scale), backward[-1]
                chunk_end_index = chunk.first_index  # the next chunk ends where this one's frames begin
                if chunk.start_sec <= 0:
                    break
                chunk = None
        except VisionError as exc:
            if exc.code != "VIDEO_DECODE_ERROR":
                raise
            return backward, exc
        return backward, None

    def before_start(decoded: DecodedFrame) -> bool:
        """Whether a decoded frame comes before the confirmed one: before the confirmed time (as
        ``iter_decoded`` tells it), or not analysed (the confirmed frame is the first analysed
        frame from that time on). Both walks tell the backward walk's first chunk by this rule."""
        return decoded.index % stride != 0 or decoded.stamp_sec + 0.5 / info.fps < time_sec

    def frames_before_start() -> Iterator[DecodedFrame]:
        """The backward walk's first chunk, decoded on its own side (in a process of its own)."""
        frames = iter_decoded(path, start_sec=first_chunk_sec, prefetch=_PREFETCH, deblock=deblock)
        try:
            yield from itertools.takewhile(before_start, frames)
        finally:
            frames.close()

    # forward: from the confirmed frame to the end, on this thread. The backward walk runs beside
    # it from the start, in a process (or on a thread) of its own with a copy of the detector;
    # progress is reported from this thread only
    forward: list[TrackPoint] = []
    camera = CameraMotion()
    start: _Start | None = None  # handed to the backward walk on the confirmed frame
    follower: TargetFollower | None = None  # ...and on the forward walk once the motions are told
    ahead: list[Observation] = []  # the forward walk's first frames, walked once that is done
    handoff = _Handoff()
    backward_done = [0]
    pool = future = process = part = None
    # the backward walk has a detector of its own, a copy taken before anything was seen, in a
    # process, on a thread or in turn alike (so all give the same track); an ONNX session is not copied
    twin = _detector_copy(detector)
    time_sec = max(0.0, time_sec)
    # both walks decode from where the backward walk's first chunk starts, when that is the keyframe
    # the forward walk must decode from anyway (else from the confirmed time: then a broken frame
    # before it would stop the forward walk too); beside it on a thread, the backward walk is handed
    # the frames before the confirmed one, in a process or in turn it decodes them itself
    first_chunk_sec = _backward_chunk_start(path, time_sec, info.fps, stride) if time_sec > 0 else 0.0
    key = keyframe_before(path, time_sec) if time_sec > 0 else None
    forward_from = first_chunk_sec if key is not None and first_chunk_sec >= key else time_sec
    early = parallel and twin is not None and forward_from < time_sec
    first_chunk: _Chunk | None = None  # in turn: decoded by the forward walk, walked back after it

    def walked_back() -> int:
        return process.done() if process is not None else backward_done[0]

    def tell_ahead() -> None:
        """The forward walk's side: the motion over its first ``warm_steps`` frames (or all there are)."""
        if not handoff.ahead.given:
            steps = ((obs, obs.motion) for obs in ahead[:warm_steps])
            handoff.ahead.give(start_motion(start, fps_analysed, steps))

    def start_forward() -> TargetFollower:
        """The forward follower, once the walks have told each other the motion on their side."""
        nonlocal first_chunk
        tell_ahead()
        if future is None:
            # in turn: the backward walk's side is worked out here, and its first chunk kept for it
            # (the frames a parallel backward walk would hold now; an ONNX detector would take long
            # to see them twice)
            try:
                first_chunk = decode_chunk(twin or detector, start.index, first_chunk_sec) if start.index > 0 else None
            except VisionError as exc:
                if exc.code != "VIDEO_DECODE_ERROR":
                    raise
            handoff.behind.give(motion_behind(start, first_chunk))
        motion = clearer_motion(handoff.ahead.take(), handoff.behind.take(), min_sightings)
        return _new_follower(start.obs, start.box, start.kit, start.det, fps_analysed, motion)

    def walk_ahead(points: list[TrackPoint]) -> None:
        forward.extend(points)
        if part is not None:
            for point in points:
                part.add_point(point)

    def walk_backward_in_process(side: _ProcessHandoff, tick: Callable[[], None]):
        """The backward walk in its process; its spotlight drawn by the drawer forked for it, if any."""
        if drawer is not None:
            drawer.forget()  # the forward walk's to feed
        if backward_drawer is not None:
            spotlight.draw_in(backward_drawer)
        try:
            outcome = walk_backward(twin, side, True, tick)
            if backward_drawer is not None:
                backward_drawer.finish()  # every part written before the walk's parts are counted
            return outcome
        finally:
            if backward_drawer is not None:
                backward_drawer.forget()  # (it is this process's sibling: the analysis ends and reaps it)

    # the spotlight is drawn and encoded in a process of its own (render.SpotlightDrawer) by a walk
    # that leaves a core to spare: the walks in turn in this process; with the backward walk in a
    # process of its own, the one at least twice as long as the other (a click near one end). From
    # the middle each walk keeps a core busy, and drawers beside them made the analysis ~4 % slower.
    # The backward walk keeps a chunk's frames until it has walked it, then hands them over at once:
    # its drawer has slots for a whole chunk, which the chunk is decoded into (its frame pool).
    # Drawers are forked now, before any decoder thread runs
    backward_forks = parallel and twin is not None and fork and CAN_FORK and time_sec > 0
    frames_behind = time_sec * info.fps
    frames_ahead = max(0.0, info.frame_count - frames_behind)
    # the forward walk, at least twice as long as the backward one (clicked near the start, or at
    # 0 s: it is the only walk), has its frames observed in a process of its own (ObserverProcess),
    # forked before its decoder runs: 0.45-0.49 -> 0.49-0.55 of the plain decode's speed clicked at
    # 10 %. The backward walk's chunks are observed, then walked: with an observer of its own, its
    # decoding and observing overlapped, not its walking, and the pipe cost more (0.49-0.53 -> 0.45)
    observe_ahead = parallel and twin is not None and fork and CAN_FORK and \
        (not backward_forks or frames_ahead >= 2 * frames_behind)
    observer: ObserverProcess | None = None
    drawer = backward_drawer = None  # this process's walks', and the backward walk's process's
    try:
        try:
            if spotlight is not None and fork and CAN_FORK:
                if not backward_forks or frames_ahead >= 2 * frames_behind:
                    drawer = SpotlightDrawer(spotlight)
                elif frames_behind >= 2 * frames_ahead:
                    chunk_slots = math.ceil(_MAX_BACKWARD_CHUNK_SEC * info.fps / spotlight.step) + 2
                    backward_drawer = SpotlightDrawer(spotlight, slots=chunk_slots + DRAWER_SLOTS, lends=True)
        except OSError:
            log.warning("the spotlight's drawer could not fork: the walks draw it", exc_info=True)
        if backward_forks:
            try:
                process = future = _BackwardProcess(walk_backward_in_process, frames_before_start, spotlight)
                handoff = process.handoff
                early = False  # the backward walk decodes its first chunk itself, in its process
            except OSError:  # no fork (out of memory, a process limit): on a thread, as before
                log.warning("the backward walk could not fork: it runs on a thread", exc_info=True)
        if backward_drawer is not None:  # that process's to feed (or, if it could not fork, not needed)
            if process is None:
                backward_drawer.close()
                backward_drawer = None
            else:
                backward_drawer.forget()
        if observe_ahead:  # (before a backward walk's thread runs: no fork beside it)
            analysed_w, analysed_h = size or (info.width, info.height)
            try:  # (its copies of the detector and the camera, unused here, are the walk's own)
                observer = ObserverProcess(functools.partial(_observe, detector=detector, camera=camera),
                                           slot_bytes=analysed_w * analysed_h * 3)  # a BGR frame, turned or not
            except OSError:  # no fork: this walk observes its frames itself
                log.warning("the forward walk's observer could not fork: the walk observes", exc_info=True)
        if drawer is not None:
            spotlight.draw_in(drawer)
        if parallel and twin is not None and process is None:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="footy-backward")
            future = pool.submit(walk_backward, twin, handoff, early,
                                 lambda: backward_done.__setitem__(0, backward_done[0] + 1))
        started, start_kit = False, None  # the confirmed frame decoded; the kit in its box

        def walk_on(obs: Observation) -> None:
            """The forward walk's next observation: the start, the warm-up's, or a step."""
            nonlocal start, follower
            if start is None:
                start_box, conf, start_det = _snap(obs, target)
                walk_ahead([TargetFollower._point(obs, start_box, conf)])
                start = _Start(obs, start_box, start_kit, start_det, obs.frame_index, (obs.grey, obs.grey_scale),
                               forward[0])
                handoff.start.give(start)
            elif follower is None:
                ahead.append(obs)
                if len(ahead) >= warm_steps:
                    tell_ahead()
                    # beside the backward walk, frames are analysed on (not walked) until it has
                    # told its side: it may have a whole chunk to decode first
                    if future is None or handoff.behind.given:
                        follower = start_forward()
                        walk_ahead([follower.step(o, o.motion) for o in ahead])
                        ahead.clear()
            else:
                walk_ahead([follower.step(obs, obs.motion)])
            prog.done = len(forward) + len(ahead) + walked_back() - 1
            prog.tick()

        try:
            for decoded in iter_decoded(path, start_sec=forward_from, prefetch=_PREFETCH, deblock=deblock):
                analysed = decoded.index % stride == 0
                if not started and before_start(decoded):  # the backward walk's
                    if early:
                        handoff.send_early(decoded)
                    continue
                if not started and spotlight is not None:  # (the confirmed frame: analysed)
                    part = spotlight.part(decoded.index)
                image, small = _convert(decoded, analysed, size, clip_size(decoded.index))
                if small is not None:
                    part.add_frame(decoded.index, decoded.time_sec, small)
                if not analysed:
                    continue
                if not started:
                    started = True
                    handoff.end_early()
                    result.start_image = to_bgr(decoded.frame, None)  # the heatmap's backdrop, for free
                    start_kit = kit_descriptor(image, target)
                if observer is not None:
                    for obs in observer.send(image, decoded.index, decoded.time_sec):
                        walk_on(obs)
                else:
                    walk_on(_observe(image, decoded.index, decoded.time_sec, detector, camera))
        except VisionError as exc:
            if exc.code != "VIDEO_DECODE_ERROR":
                raise
            result.decode_error = exc
        if observer is not None:  # (the frames decoded before the end, or before it broke)
            for obs in observer.rest():
                walk_on(obs)
        if start is not None and follower is None:  # the clip ended (or broke) within the warm-up
            follower = start_forward()
            walk_ahead([follower.step(o, o.motion) for o in ahead])
        if part is not None:
            part.close()  # the frames after the last analysed one (the end, or where it broke)
        if follower is None:  # nothing decodes from the confirmed frame on
            if result.decode_error is None:
                raise VisionError("VIDEO_DECODE_ERROR", f"no frame decodes at {time_sec:.3f}s")
            return result
        if future is not None:
            while True:
                try:
                    backward, backward_error = future.result(timeout=0.5)
                    break
                except FuturesTimeout:
                    prog.done = len(forward) + walked_back() - 1
                    prog.tick()
        else:
            def tick() -> None:
                prog.tick()
            backward, backward_error = walk_backward(twin or detector, handoff, False, tick, first_chunk)
        if drawer is not None:
            drawer.finish()
    finally:
        handoff.end_early()  # no-op once ended; all release a backward walk still waiting
        handoff.start.give(None)
        handoff.ahead.give(None)
        try:
            if process is not None:
                process.close()  # first: whatever fails below, the child must not walk on
        finally:
            if observer is not None:
                observer.close()
            try:
                if part is not None:
                    part.close(drawn=False)  # no-op after the close above; drops the frames on an error
                if pool is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
            finally:
                if drawer is not None:
                    drawer.close()
                    spotlight.draw_in(None)
                if backward_drawer is not None:
                    backward_drawer.close()  # (ended by the backward walk: reaped here, its parent)
    result.decode_error = result.decode_error or backward_error

    result.points = _to_source(list(reversed(backward)) + forward, sx, sy, info)
    if progress is not None:
        progress(1.0)
    return result
