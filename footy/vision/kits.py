"""Appearance: a kit-colour descriptor of a player's box (shirt and shorts HSV histograms), and
how far two are apart, with the slack a small box's few pixels need."""
from __future__ import annotations

import math

import cv2
import numpy as np

HIST_BINS = (8, 3, 3)  # coarse: a far player has a few dozen shirt pixels
HSV_RANGES = (0, 180, 0, 256, 0, 256)


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
        hist = cv2.calcHist([hsv], [0, 1, 2], None, list(HIST_BINS), list(HSV_RANGES)).ravel()
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
