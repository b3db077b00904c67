"""Box overlap for the vision tests: supervision's, on pixel xyxy boxes given as lists or arrays."""
from __future__ import annotations

import numpy as np
import supervision as sv


def iou_matrix(a, b) -> np.ndarray:
    return sv.box_iou_batch(np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4))


def iou(a, b) -> float:
    """IoU of two boxes; 0 when either is None (a point where the player is not visible)."""
    if a is None or b is None:
        return 0.0
    return float(iou_matrix(a, b)[0, 0])
