"""Tracking: candidate tracks around a preview frame, and the chosen player through the video.

``candidate_tracks`` runs ByteTrack (Roboflow ``trackers``) over a short window of frames and
returns the players alive on the preview frame. ``follow_target`` follows one confirmed player
forward to the end and backward to the start, streaming: each frame becomes a small
``Observation`` (detections, their kit-colour descriptors, the camera motion since the previous
frame), and one ``TargetFollower`` walks observations in either direction. Backward, a chunk of
a few seconds is decoded forward into observations (no images kept) and then walked in reverse.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from .detect import Detector
from .types import CandidateTrack, TargetTrack, TrackPoint, VideoInfo, VisionError
from .video import iter_frames, probe

# --------------------------------------------------------------------------------------------
# Candidate tracks
# --------------------------------------------------------------------------------------------


def candidate_tracks(path, time_sec: float, detector: Detector, first_track_id: int = 1,
                     window_sec: float = 1.0, info: VideoInfo | None = None) -> list[CandidateTrack]:
    """Players on the frame at ``time_sec``, tracked by ByteTrack over the preceding window.

    Ids are the tracker's own, shifted so every id is ``>= first_track_id``; players first seen
    on the preview frame itself get fresh ids after those. Boxes are source-video pixels.
    """
    info = info or probe(path)
    time_sec = float(min(max(0.0, time_sec), max(0.0, info.duration_sec - 0.5 / info.fps)))
    tracker = ByteTrackTracker(lost_track_buffer=int(round(30 * 0.6)), frame_rate=info.fps,
                               track_activation_threshold=0.5, minimum_consecutive_frames=2,
                               minimum_iou_threshold=0.15, high_conf_det_threshold=0.5)
    last: sv.Detections | None = None
    for frame in iter_frames(path, start_sec=max(0.0, time_sec - window_sec), end_sec=time_sec):
        detections = detector.detect(frame.image)
        last = tracker.update(detections)
    if last is None or len(last) == 0:
        return []
    confidences = last.confidence if last.confidence is not None else np.ones(len(last))
    tracker_ids = np.asarray(last.tracker_id, dtype=int)
    tracked = tracker_ids >= 1
    base = first_track_id - 1
    next_id = base + (int(tracker_ids[tracked].max()) if tracked.any() else 0) + 1
    out: list[CandidateTrack] = []
    for box, conf, tid in zip(last.xyxy, confidences, tracker_ids):
        if tid >= 1:
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

_HIST_BINS = (12, 4, 4)
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


# --------------------------------------------------------------------------------------------
# Camera motion
# --------------------------------------------------------------------------------------------

_MOTION_WIDTH = 320


class CameraMotion:
    """Frame-to-frame camera motion as a similarity transform (pan, zoom), sparse optical flow.

    Runs on a small grey image; the result maps previous-frame pixels to current-frame pixels
    of the full-size video. Falls back to identity when the flow is unreliable.
    """

    def __init__(self):
        self._prev: np.ndarray | None = None
        self._scale = 1.0

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
        if prev is None or prev.shape != grey.shape:
            return np.eye(2, 3)
        return estimate_motion(prev, grey, scale)


def estimate_motion(prev: np.ndarray, cur: np.ndarray, scale: float) -> np.ndarray:
    """2x3 similarity transform, previous -> current frame, in full-size pixels."""
    identity = np.eye(2, 3)
    points = cv2.goodFeaturesToTrack(prev, maxCorners=120, qualityLevel=0.01, minDistance=8, blockSize=5)
    if points is None or len(points) < 8:
        return identity
    moved, status, _ = cv2.calcOpticalFlowPyrLK(prev, cur, points, None, winSize=(21, 21), maxLevel=3)
    if moved is None:
        return identity
    ok = status.ravel() == 1
    if ok.sum() < 8:
        return identity
    matrix, inliers = cv2.estimateAffinePartial2D(points[ok], moved[ok], method=cv2.RANSAC,
                                                  ransacReprojThreshold=1.0, maxIters=500)
    if matrix is None or inliers is None or inliers.sum() < 6:
        return identity
    zoom = math.hypot(matrix[0, 0], matrix[1, 0])
    if not 0.8 < zoom < 1.25:
        return identity
    matrix = matrix.astype(np.float64)
    matrix[:, 2] /= scale  # translation back to full-size pixels
    return matrix


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
    boxes: np.ndarray  # N x 4 xyxy
    confidences: np.ndarray  # N
    kits: list  # N kit descriptors (or None)
    motion: np.ndarray  # 2x3, previous analysed frame -> this frame
    width: int
    height: int


def _observe(frame, detector: Detector, camera: CameraMotion) -> Observation:
    image = frame.image
    detections = detector.detect(image)
    boxes = np.asarray(detections.xyxy, dtype=np.float64).reshape(-1, 4)
    conf = (np.asarray(detections.confidence, dtype=np.float64) if detections.confidence is not None
            else np.ones(len(boxes)))
    kits = [kit_descriptor(image, b) for b in boxes]
    motion = camera.update(image)
    return Observation(frame.index, frame.time_sec, boxes, conf, kits, motion, image.shape[1], image.shape[0])


def _iou_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    if len(boxes) == 0:
        return np.empty(0)
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (box[2] - box[0]) * (box[3] - box[1])
    area_b = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(1e-9, area_a + area_b - inter)


@dataclass
class FollowerSettings:
    max_coast_sec: float = 0.8  # keep reporting the predicted box this long without a match
    lost_report_sec: float = 0.3  # after this long unmatched, confidence drops below 0.5
    gate_base: float = 0.9  # match radius in box heights while tracking
    gate_growth: float = 0.12  # extra radius per unmatched frame
    kit_gate: float = 0.55  # max kit distance to accept a match while tracking
    reacquire_kit: float = 0.4  # max kit distance for a lost player to be re-acquired
    reacquire_frames: int = 3  # consecutive consistent frames needed to re-acquire
    velocity_smoothing: float = 0.6


@dataclass
class _Candidate:
    box: np.ndarray
    frames: int
    kit: float


class TargetFollower:
    """Follows one player over observations given in either time direction.

    State is the box in the current frame and the player's own velocity (camera motion removed,
    pixels per analysed frame). Each frame: move the box with the camera, add the velocity, pick
    the detection that best fits position, size and kit; otherwise coast; after a while, the
    player is lost and is re-acquired by kit colour near where it was last seen, only after a few
    consistent frames.
    """

    def __init__(self, box, kit: np.ndarray | None, fps_analysed: float,
                 settings: FollowerSettings | None = None):
        self.s = settings or FollowerSettings()
        self.box = np.asarray(box, dtype=np.float64)
        self.kit = kit
        self.velocity = np.zeros(2)
        self.size = np.array([self.box[2] - self.box[0], self.box[3] - self.box[1]])
        self.missed = 0
        self.fps = fps_analysed
        self.candidate: _Candidate | None = None

    @property
    def max_coast(self) -> int:
        return max(2, int(round(self.s.max_coast_sec * self.fps)))

    def step(self, obs: Observation, motion: np.ndarray) -> TrackPoint:
        # prediction in this frame's pixels
        moved = warp_box(self.box, motion)
        zoom = math.hypot(motion[0, 0], motion[1, 0])
        self.size = self.size * zoom
        self.velocity = self.velocity * zoom
        cx, cy = (moved[0] + moved[2]) / 2 + self.velocity[0], (moved[1] + moved[3]) / 2 + self.velocity[1]
        w, h = self.size
        predicted = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])

        if self.missed <= self.max_coast:
            match = self._match_tracking(obs, predicted)
            if match is not None:
                return self._accept(obs, obs.boxes[match], predicted, float(obs.confidences[match]))
            self.missed += 1
            self.box = predicted
            self.velocity *= 0.95
            inside = self._inside(predicted, obs)
            if self.missed <= self.max_coast and inside:
                lost_frames = max(1, int(round(self.s.lost_report_sec * self.fps)))
                conf = 0.6 * max(0.1, 1.0 - self.missed / (lost_frames + self.max_coast))
                return self._point(obs, predicted, conf)
            return self._point(obs, None, 0.0)

        # lost: keep the last position moving with the camera, look for the kit nearby
        self.box = moved
        self.velocity[:] = 0
        box = self._reacquire(obs, moved)
        if box is not None:
            self.missed = 0
            self.velocity[:] = 0
            self.box = box
            self.size = np.array([box[2] - box[0], box[3] - box[1]])
            return self._point(obs, box, 0.6)
        self.missed += 1
        return self._point(obs, None, 0.0)

    def _inside(self, box: np.ndarray, obs: Observation) -> bool:
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        return 0 <= cx < obs.width and 0 <= cy < obs.height

    def _match_tracking(self, obs: Observation, predicted: np.ndarray) -> int | None:
        if len(obs.boxes) == 0:
            return None
        pcx, pcy = (predicted[0] + predicted[2]) / 2, (predicted[1] + predicted[3]) / 2
        ph = max(4.0, predicted[3] - predicted[1])
        pw = max(2.0, predicted[2] - predicted[0])
        boxes = obs.boxes
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        dist = np.hypot(cx - pcx, (cy - pcy)) / ph
        gate = self.s.gate_base + self.s.gate_growth * self.missed
        widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        size_cost = np.abs(np.log(np.maximum(heights, 1) / ph)) + 0.5 * np.abs(np.log(np.maximum(widths, 1) / pw))
        best, best_cost = None, math.inf
        for j in range(len(boxes)):
            if dist[j] > gate or size_cost[j] > 1.0:
                continue
            kd = kit_distance(self.kit, obs.kits[j])
            if kd > self.s.kit_gate:
                continue
            cost = dist[j] + 1.5 * kd + 0.7 * size_cost[j]
            if cost < best_cost:
                best, best_cost = j, cost
        return best

    def _accept(self, obs: Observation, box: np.ndarray, predicted: np.ndarray, conf: float) -> TrackPoint:
        box = np.asarray(box, dtype=np.float64)
        pw, ph = self.size
        w, h = box[2] - box[0], box[3] - box[1]
        # a box much wider than the player is two players merged: keep the predicted box instead
        if w > 1.6 * pw and self.missed == 0:
            box = np.array([predicted[0], box[1] if h < 1.3 * ph else predicted[1],
                            predicted[2], box[3] if h < 1.3 * ph else predicted[3]])
            conf *= 0.7
        measured_velocity = (box[:2] + box[2:]) / 2 - (self.box[:2] + self.box[2:]) / 2
        # self.box was last frame's box; remove the camera part by comparing to the moved box
        moved_centre = (predicted[:2] + predicted[2:]) / 2 - self.velocity
        measured_velocity = (box[:2] + box[2:]) / 2 - moved_centre
        if self.missed:
            measured_velocity = measured_velocity / (self.missed + 1)
        a = self.s.velocity_smoothing
        self.velocity = a * self.velocity + (1 - a) * measured_velocity
        self.size = 0.7 * self.size + 0.3 * np.array([box[2] - box[0], box[3] - box[1]])
        self.box = box
        self.missed = 0
        self.candidate = None
        return self._point(obs, box, min(1.0, 0.4 + 0.6 * conf))

    def _reacquire(self, obs: Observation, last_seen: np.ndarray) -> np.ndarray | None:
        if len(obs.boxes) == 0:
            self.candidate = None
            return None
        ph = max(4.0, last_seen[3] - last_seen[1])
        lcx, lcy = (last_seen[0] + last_seen[2]) / 2, (last_seen[1] + last_seen[3]) / 2
        kits = np.array([kit_distance(self.kit, k) for k in obs.kits])
        cx, cy = (obs.boxes[:, 0] + obs.boxes[:, 2]) / 2, (obs.boxes[:, 1] + obs.boxes[:, 3]) / 2
        dist = np.hypot(cx - lcx, cy - lcy) / ph
        if self.candidate is not None:
            ious = _iou_one(self.candidate.box, obs.boxes)
            j = int(np.argmax(ious))
            if ious[j] >= 0.3 and kits[j] <= self.s.reacquire_kit:
                self.candidate = _Candidate(obs.boxes[j].copy(), self.candidate.frames + 1, kits[j])
                if self.candidate.frames >= self.s.reacquire_frames:
                    box, self.candidate = self.candidate.box, None
                    return box
                return None
        ok = kits <= self.s.reacquire_kit
        if not ok.any():
            self.candidate = None
            return None
        cost = np.where(ok, kits * 3 + 0.05 * dist, np.inf)
        j = int(np.argmin(cost))
        self.candidate = _Candidate(obs.boxes[j].copy(), 1, kits[j])
        return None

    @staticmethod
    def _point(obs: Observation, box, conf: float) -> TrackPoint:
        if box is not None:
            x1, y1, x2, y2 = (float(v) for v in box)
            x1, x2 = max(0.0, x1), min(float(obs.width), x2)
            y1, y2 = max(0.0, y1), min(float(obs.height), y2)
            if x2 - x1 < 1 or y2 - y1 < 1:
                return TrackPoint(obs.frame_index, obs.time_sec, None, 0.0)
            return TrackPoint(obs.frame_index, obs.time_sec, (x1, y1, x2, y2), float(np.clip(conf, 0, 1)))
        return TrackPoint(obs.frame_index, obs.time_sec, None, float(np.clip(conf, 0, 1)))


# --------------------------------------------------------------------------------------------
# follow_target
# --------------------------------------------------------------------------------------------

_BACKWARD_CHUNK_SEC = 4.0


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


def _start_follower(obs: Observation, xyxy: np.ndarray, kit, fps_analysed: float) -> tuple[TargetFollower, TrackPoint]:
    """Snap the confirmed box to the best-overlapping detection on the start frame."""
    box = xyxy
    conf = 1.0
    if len(obs.boxes):
        ious = _iou_one(xyxy, obs.boxes)
        j = int(np.argmax(ious))
        if ious[j] >= 0.5:
            box, conf = obs.boxes[j].copy(), max(0.8, float(obs.confidences[j]))
    follower = TargetFollower(box, kit, fps_analysed)
    return follower, TargetFollower._point(obs, box, conf)


def follow_target(path, time_sec: float, xyxy, detector: Detector, info: VideoInfo | None = None,
                  progress: Callable[[float], None] | None = None, stride: int = 1) -> TargetTrack:
    """Follow the player confirmed at ``time_sec`` (box ``xyxy``) to both ends of the video."""
    info = info or probe(path)
    stride = max(1, int(stride))
    fps_analysed = info.fps / stride
    frames_total = max(1, math.ceil(info.frame_count / stride))
    result = TargetTrack(frames_total=frames_total)
    prog = _Progress(progress, frames_total)
    target = np.asarray(xyxy, dtype=np.float64)

    # forward: from the confirmed frame to the end
    forward: list[TrackPoint] = []
    camera = CameraMotion()
    follower: TargetFollower | None = None
    kit = None
    start_index: int | None = None
    start_grey: np.ndarray | None = None
    try:
        for frame in iter_frames(path, start_sec=max(0.0, time_sec), step=stride):
            if follower is None:
                kit = kit_descriptor(frame.image, target)
            obs = _observe(frame, detector, camera)
            if start_grey is None:
                start_grey = camera.last_grey
            if follower is None:
                follower, point = _start_follower(obs, target, kit, fps_analysed)
                start_index = obs.frame_index
            else:
                point = follower.step(obs, obs.motion)
            forward.append(point)
            prog.tick()
    except VisionError as exc:
        if exc.code != "VIDEO_DECODE_ERROR":
            raise
        result.decode_error = exc
    if follower is None:  # nothing decodes from the confirmed frame on
        result.points = forward
        if result.decode_error is None:
            raise VisionError("VIDEO_DECODE_ERROR", f"no frame decodes at {time_sec:.3f}s")
        return result

    # backward: chunks of a few seconds ending at the confirmed frame, each walked in reverse
    backward: list[TrackPoint] = []
    follower = TargetFollower(follower_start_box(forward[0], target), kit, fps_analysed)
    chunk_end_index = start_index  # exclusive upper bound of frames to emit
    later_grey = start_grey  # the frame just after the chunk (already processed), for the seam motion
    try:
        while chunk_end_index > 0:
            chunk_start_sec = max(0.0, (chunk_end_index / info.fps) - _BACKWARD_CHUNK_SEC)
            observations: list[Observation] = []
            camera = CameraMotion()
            first_grey = last_grey = None
            for frame in iter_frames(path, start_sec=chunk_start_sec, end_sec=chunk_end_index / info.fps,
                                     step=stride):
                if frame.index >= chunk_end_index:
                    break
                observations.append(_observe(frame, detector, camera))
                last_grey = camera.last_grey
                if first_grey is None:
                    first_grey = last_grey
            if not observations:
                break
            # walking back, the motion from frame k+1 to frame k is the inverse of the forward
            # motion stored on frame k+1; across the seam it is measured between the two chunks
            if later_grey is not None and last_grey is not None and later_grey[0].shape == last_grey[0].shape:
                motion_back = invert_motion(estimate_motion(last_grey[0], later_grey[0], last_grey[1]))
            else:
                motion_back = np.eye(2, 3)
            for k in range(len(observations) - 1, -1, -1):
                obs = observations[k]
                backward.append(follower.step(obs, motion_back))
                motion_back = invert_motion(obs.motion)
                prog.tick()
            later_grey = first_grey
            chunk_end_index = observations[0].frame_index
            if chunk_start_sec <= 0:
                break
    except VisionError as exc:
        if exc.code != "VIDEO_DECODE_ERROR":
            raise
        result.decode_error = result.decode_error or exc

    result.points = list(reversed(backward)) + forward
    if progress is not None:
        progress(1.0)
    return result


def follower_start_box(point: TrackPoint, fallback: np.ndarray) -> np.ndarray:
    return np.asarray(point.xyxy if point.xyxy is not None else fallback, dtype=np.float64)
