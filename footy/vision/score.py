"""Tracking signals -> five radar axes -> ``overallScore`` (the "mvp-vision" method).

Without event data (passes, shots) the score rates what the video shows of the chosen player:
how well and how continuously the tracker held them, and how much they moved. Every axis is an
average over *all analysed frames*, a frame where the player is not visible contributing 0, so
hiding more frames never raises any axis (the score is monotonic in coverage).

Definitions (``N`` analysed frames, ``dt`` seconds between analysed frames, ``h`` box height in
pixels used as the unit of length: one body height is about 1.8 m). A *good pair* is two
consecutive analysed frames where the player is visible on both, no more than
``MAX_GAP_STEPS * dt`` apart, whose feet point moved less than ``JUMP_SPEED_BH_PER_SEC`` body
heights per second (or less than ``JUMP_MIN_BH``) and whose box height changed by less than
``JUMP_SIZE_RATIO``: anything else is a tracking jump (probably another person).

====================  =========================================================================
axis (0..100)         formula
====================  =========================================================================
visibility            100 * coverage,  coverage = visible frames / N
tracking_quality      100 * sum over good pairs of mean(confidence of the two) / (N - 1)
consistency           100 * frames inside unbroken runs (good pairs) lasting >= run_min_sec / N,
                      run_min_sec = min(CONSISTENT_RUN_SEC, 0.25 * analysed seconds)
stability             100 * sum over good pairs of steadiness / (N - 1),
                      steadiness = clip(1 - (|ln h2/h1| + 0.5 |ln w2/w1|) / STEADY_SCALE, 0, 1)
activity_proxy        100 * min(1, distance in body heights / analysed minutes / ACTIVITY_FULL_BH_PER_MIN)
                      distance = sum over steps inside unbroken ~DISTANCE_WINDOW_SEC windows of
                      max(0, feet displacement over the window / mean h - JITTER_DEADBAND_BH)
                      / window steps -- the window and the dead band keep detector jitter on a
                      standing player from counting as running
overallScore          round(sum of DEFAULT_WEIGHTS[axis] * axis)
roleScore             round(sum of ROLE_WEIGHTS[role][axis] * axis)
====================  =========================================================================

Limits, said plainly: distances are in image space, so camera pans add to (or hide) movement and
the activity axis is a proxy, not metres run. ``top_speed_body_heights_per_sec`` is the fastest
``SPEED_WINDOW_SEC`` window and shares that limit.
"""
from __future__ import annotations

import math

import numpy as np

from .types import TargetTrack, VideoInfo

METHOD = "mvp-vision"
AXES = ("tracking_quality", "activity_proxy", "visibility", "consistency", "stability")

# Below this coverage (share of analysed frames where the player was visible) the job ends
# PARTIAL: the result is complete but rests on too little of the video to be trusted as a rating.
# The same share of the video must have decoded for a broken video to give a PARTIAL result.
PARTIAL_COVERAGE = 0.30

DEFAULT_WEIGHTS: dict[str, float] = {
    "tracking_quality": 0.25, "activity_proxy": 0.15, "visibility": 0.25,
    "consistency": 0.20, "stability": 0.15,
}
# What matters more per position: a goalkeeper moves little, so activity weighs little and a
# steady, continuously held track weighs more; midfielders and forwards are rated more on movement.
ROLE_WEIGHTS: dict[str, dict[str, float]] = {
    "goalkeeper": {"tracking_quality": 0.25, "activity_proxy": 0.05, "visibility": 0.25,
                   "consistency": 0.25, "stability": 0.20},
    "defender": {"tracking_quality": 0.25, "activity_proxy": 0.15, "visibility": 0.25,
                 "consistency": 0.20, "stability": 0.15},
    "midfielder": {"tracking_quality": 0.20, "activity_proxy": 0.25, "visibility": 0.20,
                   "consistency": 0.20, "stability": 0.15},
    "forward": {"tracking_quality": 0.20, "activity_proxy": 0.30, "visibility": 0.20,
                "consistency": 0.15, "stability": 0.15},
}
ROLE_ALIASES = {"gk": "goalkeeper", "keeper": "goalkeeper", "goalie": "goalkeeper",
                "def": "defender", "defence": "defender", "defense": "defender",
                "mid": "midfielder", "midfield": "midfielder",
                "fwd": "forward", "striker": "forward", "attacker": "forward", "winger": "forward"}

JUMP_SPEED_BH_PER_SEC = 15.0   # faster than any sprint plus a brisk pan: another person
JUMP_MIN_BH = 0.5              # ...but never call a move under half a body height a jump
JUMP_SIZE_RATIO = 1.5          # box height changing by this factor between frames: another person
MAX_GAP_STEPS = 2.5            # analysed frames further apart than this (in dt) are not a pair
STEADY_SCALE = 0.3             # relative size change per frame at which steadiness reaches 0
CONSISTENT_RUN_SEC = 2.0
DISTANCE_WINDOW_SEC = 0.4
SPEED_WINDOW_SEC = 1.0
JITTER_DEADBAND_BH = 0.03      # per distance window: ~2 px of box jitter on a 70 px tall player
ACTIVITY_FULL_BH_PER_MIN = 60.0  # ~110 m/min, a busy outfield player's average
LOST_SEGMENT_MIN_SEC = 0.5     # shorter gaps are counted as dropouts, not listed
MAX_LOST_SEGMENTS_LISTED = 500


def normalise_role(role: str | None) -> str | None:
    """``"GK"`` -> ``"goalkeeper"``; None stays None; an unknown role raises ValueError."""
    if role is None or not str(role).strip():
        return None
    key = str(role).strip().lower()
    key = ROLE_ALIASES.get(key, key)
    if key not in ROLE_WEIGHTS:
        raise ValueError(f"unknown role {role!r}; expected one of {sorted(ROLE_WEIGHTS)}")
    return key


def _weighted(axes: dict[str, int | float], weights: dict[str, float]) -> int:
    return int(round(sum(weights[a] * axes[a] for a in AXES) / sum(weights.values())))


def _step_seconds(times: np.ndarray, fps: float) -> float:
    if len(times) >= 2:
        diffs = np.diff(times)
        diffs = diffs[diffs > 0]
        if len(diffs):
            return float(np.median(diffs))
    return 1.0 / fps if fps > 0 else 0.04


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index ranges where ``flags`` is True."""
    if not len(flags):
        return []
    padded = np.concatenate([[False], flags.astype(bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _window_sums(good_pairs: np.ndarray, window: int) -> np.ndarray:
    """For each start i, whether pairs i .. i+window-1 are all good."""
    if len(good_pairs) < window:
        return np.zeros(0, bool)
    c = np.concatenate([[0], np.cumsum(good_pairs.astype(np.int64))])
    return (c[window:] - c[:-window]) == window


def _empty_result(info: VideoInfo, n: int, role: str | None) -> dict:
    axes = {a: 0 for a in AXES}
    result = {
        "method": METHOD, "overallScore": 0, "radar": axes, "signals": {},
        "coverage": 0.0, "time_visible_sec": 0.0, "distance_body_heights": 0.0,
        "top_speed_body_heights_per_sec": 0.0, "lost_segments": [],
        "frames_analysed": n, "frames_visible": 0,
    }
    if role:
        result["role"], result["roleScore"] = role, 0
    return result


def score_track(track: TargetTrack, info: VideoInfo, role: str | None = None) -> dict:
    """The JSON-serialisable result: overallScore, radar (5 axes), the raw signals behind them.

    Always complete: an empty or never-visible track scores zeros rather than failing.
    ``role`` (goalkeeper, defender, midfielder, forward or an alias) adds ``role``/``roleScore``.
    """
    role = normalise_role(role)
    points = track.points
    n = len(points)
    visible = np.array([p.visible for p in points], bool)
    if n == 0 or not visible.any():
        result = _empty_result(info, n, role)
        if n:
            times = np.array([p.time_sec for p in points], float)
            lost = _lost_segments(times, visible, _step_seconds(times, info.fps))
            result["lost_segments"] = [s for s in lost if s["duration_sec"] >= LOST_SEGMENT_MIN_SEC]
        return result

    times = np.array([p.time_sec for p in points], float)
    conf = np.array([p.confidence if p.visible else 0.0 for p in points], float).clip(0, 1)
    boxes = np.array([p.xyxy if p.visible else (np.nan,) * 4 for p in points], float)
    dt = _step_seconds(times, info.fps)
    widths = np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    feet = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)

    # --- pairs of consecutive analysed frames -------------------------------------------------
    both = visible[:-1] & visible[1:]
    gap = np.diff(times)
    adjacent = both & (gap <= MAX_GAP_STEPS * dt + 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        pair_h = (heights[:-1] + heights[1:]) / 2
        step_bh = np.linalg.norm(np.diff(feet, axis=0), axis=1) / pair_h
        size_ratio = np.exp(np.abs(np.log(heights[1:] / heights[:-1])))
        jump = adjacent & (
            ((step_bh > JUMP_MIN_BH) & (step_bh / np.maximum(gap, 1e-6) > JUMP_SPEED_BH_PER_SEC))
            | (size_ratio > JUMP_SIZE_RATIO))
        good = adjacent & ~jump
        change = np.abs(np.log(heights[1:] / heights[:-1])) + 0.5 * np.abs(np.log(widths[1:] / widths[:-1]))
        steadiness = np.where(good, np.clip(1 - change / STEADY_SCALE, 0, 1), 0.0)
    good = np.nan_to_num(good).astype(bool)
    steadiness = np.nan_to_num(steadiness)
    pair_conf = np.where(good, (conf[:-1] + conf[1:]) / 2, 0.0)

    frames_visible = int(visible.sum())
    coverage = frames_visible / n
    analysed_sec = n * dt
    if n >= 2:
        tracking_quality = float(pair_conf.sum()) / (n - 1)
        stability = float(steadiness.sum()) / (n - 1)
    else:
        tracking_quality = float(conf[0])
        stability = 1.0 if visible[0] else 0.0

    # --- consistency: frames held inside long unbroken runs ------------------------------------
    run_min_sec = min(CONSISTENT_RUN_SEC, 0.25 * analysed_sec)
    run_lengths = []  # in frames, runs of visible frames joined by good pairs
    start = None
    for i in range(n):
        if not visible[i]:
            if start is not None:
                run_lengths.append(i - start)
            start = None
            continue
        if start is None:
            start = i
        elif not good[i - 1]:
            run_lengths.append(i - start)
            start = i
    if start is not None:
        run_lengths.append(n - start)
    run_min_frames = max(1, int(math.ceil(run_min_sec / dt - 1e-9)))
    frames_in_long_runs = sum(r for r in run_lengths if r >= run_min_frames)
    consistency = frames_in_long_runs / n

    # --- activity: distance over short smoothed windows ----------------------------------------
    window = max(1, int(round(DISTANCE_WINDOW_SEC / dt)))
    distance_bh = 0.0
    if n > window:
        ok = _window_sums(good, window)
        idx = np.flatnonzero(ok)
        if len(idx):
            disp = np.linalg.norm(feet[idx + window] - feet[idx], axis=1)
            mean_h = (heights[idx] + heights[idx + window]) / 2
            # a small dead band per window: detector jitter on a standing player is not running
            moved = np.maximum(0.0, disp / mean_h - JITTER_DEADBAND_BH)
            distance_bh = float(np.sum(moved / window))
    activity_rate = distance_bh / (analysed_sec / 60.0) if analysed_sec > 0 else 0.0
    activity = min(1.0, activity_rate / ACTIVITY_FULL_BH_PER_MIN)

    speed_window = max(1, int(round(SPEED_WINDOW_SEC / dt)))
    top_speed = 0.0
    if n > speed_window:
        idx = np.flatnonzero(_window_sums(good, speed_window))
        if len(idx):
            disp = np.linalg.norm(feet[idx + speed_window] - feet[idx], axis=1)
            mean_h = (heights[idx] + heights[idx + speed_window]) / 2
            span = times[idx + speed_window] - times[idx]
            top_speed = float(np.max(disp / mean_h / np.maximum(span, 1e-6)))

    axes_raw = {"tracking_quality": tracking_quality, "activity_proxy": activity,
                "visibility": coverage, "consistency": consistency, "stability": stability}
    axes = {a: int(round(100 * min(1.0, max(0.0, axes_raw[a])))) for a in AXES}
    lost = _lost_segments(times, visible, dt)
    dropouts = sum(1 for s in lost if s["duration_sec"] < LOST_SEGMENT_MIN_SEC)
    listed = [s for s in lost if s["duration_sec"] >= LOST_SEGMENT_MIN_SEC]

    result = {
        "method": METHOD,
        "overallScore": _weighted(axes, DEFAULT_WEIGHTS),
        "radar": axes,
        "coverage": round(coverage, 4),
        "time_visible_sec": round(frames_visible * dt, 2),
        "distance_body_heights": round(distance_bh, 1),
        "top_speed_body_heights_per_sec": round(top_speed, 2),
        "lost_segments": listed[:MAX_LOST_SEGMENTS_LISTED],
        "frames_analysed": n,
        "frames_visible": frames_visible,
        "signals": {
            "analysed_seconds": round(analysed_sec, 2),
            "analysed_fps": round(1.0 / dt, 3),
            "mean_confidence_visible": round(float(conf[visible].mean()), 3),
            "good_pairs": int(good.sum()),
            "pairs": max(0, n - 1),
            "tracking_jumps": int(np.nan_to_num(jump).astype(bool).sum()),
            "mean_steadiness": round(float(steadiness[good].mean()) if good.any() else 0.0, 3),
            "median_body_height_px": round(float(np.median(heights[visible])), 1),
            "consistent_run_min_sec": round(run_min_sec, 2),
            "longest_visible_run_sec": round(max(run_lengths) * dt, 2),
            "visible_runs": len(run_lengths),
            "frames_in_consistent_runs": int(frames_in_long_runs),
            "activity_body_heights_per_min": round(activity_rate, 1),
            "lost_segments_total": len(lost),
            "lost_segments_listed": min(len(listed), MAX_LOST_SEGMENTS_LISTED),
            "short_dropouts": dropouts,
            "longest_lost_sec": round(max((s["duration_sec"] for s in lost), default=0.0), 2),
        },
    }
    if role:
        result["role"] = role
        result["roleScore"] = _weighted(axes, ROLE_WEIGHTS[role])
    return result


def _lost_segments(times: np.ndarray, visible: np.ndarray, dt: float) -> list[dict]:
    """Runs of analysed frames without the player: from the first missing frame to the next seen one."""
    segments = []
    for start, end in _runs(~visible):
        start_sec = float(times[start])
        end_sec = float(times[end]) if end < len(times) else float(times[-1]) + dt
        segments.append({"start_sec": round(start_sec, 3), "end_sec": round(end_sec, 3),
                         "duration_sec": round(end_sec - start_sec, 3)})
    return segments
