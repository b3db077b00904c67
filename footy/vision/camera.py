"""The camera between frames: its motion (background points followed by optical flow, one
similarity transform per frame, so a box moves with a pan or a zoom), and the cuts between shots
(each frame's grass share and coarse colour histogram; two views of the wide camera registered
across a cut)."""
from __future__ import annotations

import math

import cv2
import numpy as np

from .kits import HSV_RANGES

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
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(_SHOT_BINS), list(HSV_RANGES)).ravel()
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
