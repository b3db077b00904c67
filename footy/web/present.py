"""What the pages show, computed from job_payload(): words for steps, the radar's geometry, the
visibility timeline, the explanation of each axis. Presentation only: no rule lives here."""
from __future__ import annotations

import math

from jinja2 import Undefined

from ..jobs.states import BUSY, JobStatus
from ..vision.score import AXES

S = JobStatus

STEP_WORDS = {
    "UPLOADED": "Uploaded; waiting for a worker to extract the preview frames",
    "EXTRACTING_PREVIEWS": "Extracting preview frames from the video",
    "PREVIEWS_READY": "Preview frames ready; finding the players on them",
    "TRACKING_CANDIDATES": "Finding the players on the preview frames",
    "CANDIDATES_READY": "Click your player on one of the preview frames",
    "WAITING_FOR_TARGET": "Player picked; draw and confirm the target box",
    "WAITING_FOR_TARGET_CONFIRMATION": "Player picked; confirm the target box",
    "WAITING_FOR_PLAYER": "Target saved; pick the player on a preview frame",
    "READY_TO_ENQUEUE": "Ready: start the analysis",
    "QUEUED": "Queued; the analysis starts when a worker is free",
    "TRACKING": "Following your player through the video",
    "SCORING": "Scoring the performance",
    "RENDERING": "Rendering the spotlight clip and the heatmap",
    "DONE": "Analysis complete",
    "FAILED": "Failed",
}

STATUS_WORDS = {
    "WAITING_FOR_SELECTION": "Preparing",
    "WAITING_FOR_TARGET": "Confirm the target",
    "WAITING_FOR_PLAYER": "Pick the player",
    "READY_TO_ENQUEUE": "Ready to start",
    "QUEUED": "Queued",
    "RUNNING": "Analysing",
    "COMPLETED": "Completed",
    "PARTIAL": "Partial result",
    "FAILED": "Failed",
}

MISSING_WORDS = {"player_ref": "pick a player", "target": "confirm the target"}

AXIS_INFO = {
    "tracking_quality": ("Tracking quality",
                         "How surely the tracker held the player: the detector's confidence over consecutive "
                         "frames where the player was followed without a jump."),
    "activity_proxy": ("Activity",
                       "How much the player moved, in body heights per minute (a busy outfield player reaches "
                       "about 60). Image distances: camera pans add to or hide movement."),
    "visibility": ("Visibility",
                   "The share of the analysed frames on which the player was found."),
    "consistency": ("Consistency",
                    "The share of frames inside long unbroken runs of tracking, not scattered sightings."),
    "stability": ("Stability",
                  "How steady the player's box stayed from frame to frame (no sudden size changes)."),
}


def step_words(step: str | None) -> str:
    return STEP_WORDS.get(step or "", step or "")


def status_words(status: str | None) -> str:
    return STATUS_WORDS.get(status or "", status or "")


def badge_words(job: dict) -> str:
    """The state in the coach's words; a prepared job waits for the pick, not for preparing."""
    if job["status"] == S.WAITING_FOR_SELECTION.value and phase(job) == "select":
        return "Pick the player"
    return status_words(job["status"])


def phase(job: dict) -> str:
    """Which page the coach sees: preparing, select, progress, result, failed."""
    status = job["status"]
    if status in (S.COMPLETED.value, S.PARTIAL.value):
        return "result"
    if status in {s.value for s in BUSY}:
        return "progress"
    if status == S.FAILED.value:
        return "failed"
    if status == S.WAITING_FOR_SELECTION.value and job["candidates"]["status"] != "ready":
        return "preparing"
    return "select"


def missing_words(missing: list[str]) -> list[str]:
    return [MISSING_WORDS.get(m, m) for m in missing]


def duration(seconds) -> str:
    if isinstance(seconds, Undefined):
        return ""
    try:
        seconds = max(0, int(round(float(seconds))))
    except (TypeError, ValueError):
        return ""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def eta_words(eta_sec) -> str:
    if eta_sec is None:
        return "estimating time left…"
    eta_sec = int(eta_sec)
    if eta_sec < 60:
        return f"about {max(eta_sec, 1)} s left"
    if eta_sec < 3600:
        return f"about {round(eta_sec / 60)} min left"
    return f"about {eta_sec // 3600} h {round((eta_sec % 3600) / 60)} min left"


# ---------------------------------------------------------------- the radar

RADAR_SIZE = 320
RADAR_R = 105


def _point(i: int, fraction: float) -> tuple[float, float]:
    angle = -math.pi / 2 + 2 * math.pi * i / len(AXES)
    c = RADAR_SIZE / 2
    return round(c + RADAR_R * fraction * math.cos(angle), 1), round(c + RADAR_R * fraction * math.sin(angle), 1)


def radar(values: dict) -> dict:
    """Polygons and labels for an SVG radar of the five axes (0..100)."""
    rings = []
    for level in (0.25, 0.5, 0.75, 1.0):
        rings.append(" ".join(f"{x},{y}" for x, y in (_point(i, level) for i in range(len(AXES)))))
    spokes, labels = [], []
    for i, axis in enumerate(AXES):
        x, y = _point(i, 1.0)
        spokes.append({"x": x, "y": y})
        lx, ly = _point(i, 1.22)
        anchor = "middle" if abs(lx - RADAR_SIZE / 2) < 8 else ("start" if lx > RADAR_SIZE / 2 else "end")
        labels.append({"x": lx, "y": ly + (4 if ly > RADAR_SIZE / 2 else 0), "anchor": anchor,
                       "name": AXIS_INFO[axis][0], "value": int(values.get(axis, 0) or 0), "axis": axis})
    points = [_point(i, max(0.0, min(100.0, float(values.get(a, 0) or 0))) / 100) for i, a in enumerate(AXES)]
    return {"size": RADAR_SIZE, "center": RADAR_SIZE / 2, "rings": rings, "spokes": spokes, "labels": labels,
            "polygon": " ".join(f"{x},{y}" for x, y in points),
            "dots": [{"x": x, "y": y} for x, y in points]}


def axis_explanations(result: dict) -> list[dict]:
    """Each axis with its score, what it means, and the raw signals behind it."""
    sig = result.get("signals") or {}
    frames = result.get("frames_analysed")
    visible = result.get("frames_visible")

    def s(key, unit=""):
        value = sig.get(key, result.get(key))
        return None if value is None else f"{value}{unit}"

    rows = {
        "tracking_quality": [("mean detector confidence when visible", s("mean_confidence_visible")),
                             ("consecutive frame pairs held without a jump",
                              f"{sig.get('good_pairs')} of {sig.get('pairs')}" if "pairs" in sig else None),
                             ("tracking jumps (probably another person)", s("tracking_jumps"))],
        "activity_proxy": [("movement", s("activity_body_heights_per_min", " body heights/min")),
                           ("distance covered", s("distance_body_heights", " body heights")),
                           ("top speed", s("top_speed_body_heights_per_sec", " body heights/s"))],
        "visibility": [("coverage", f"{round(100 * float(result.get('coverage') or 0), 1)} %"),
                       ("frames with the player",
                        f"{visible} of {frames}" if frames is not None and visible is not None else None),
                       ("time visible", s("time_visible_sec", " s")),
                       ("seconds analysed", s("analysed_seconds", " s"))],
        "consistency": [("frames in unbroken runs", s("frames_in_consistent_runs")),
                        ("a run counts from", s("consistent_run_min_sec", " s")),
                        ("longest unbroken run", s("longest_visible_run_sec", " s")),
                        ("separate runs", s("visible_runs")),
                        ("times lost (≥ 0.5 s)", s("lost_segments_listed")),
                        ("short dropouts", s("short_dropouts")),
                        ("longest time lost", s("longest_lost_sec", " s"))],
        "stability": [("mean steadiness of the box (0..1)", s("mean_steadiness")),
                      ("median body height", s("median_body_height_px", " px"))],
    }
    radar_values = result.get("radar") or {}
    return [{"axis": axis, "name": AXIS_INFO[axis][0], "about": AXIS_INFO[axis][1],
             "value": radar_values.get(axis), "signals": [(k, v) for k, v in rows[axis] if v is not None]}
            for axis in AXES]


# ---------------------------------------------------------------- the visibility timeline

def timeline(result: dict, video: dict) -> dict | None:
    """Visible and lost segments over the video's duration, in a 1000-wide coordinate space."""
    total = video.get("duration_sec") or (result.get("video") or {}).get("duration_sec")
    if not total or total <= 0:
        return None
    total = float(total)
    lost = sorted((float(seg["start_sec"]), float(seg["end_sec"])) for seg in result.get("lost_segments") or [])
    segments, cursor = [], 0.0
    for start, end in lost:
        start, end = max(0.0, min(total, start)), max(0.0, min(total, end))
        if start > cursor:
            segments.append(("visible", cursor, start))
        if end > start:
            segments.append(("lost", start, end))
        cursor = max(cursor, end)
    if cursor < total:
        segments.append(("visible", cursor, total))
    width = 1000.0
    shapes = [{"kind": kind, "x": round(start / total * width, 2),
               "w": max(0.8, round((end - start) / total * width, 2)),
               "start": round(start, 2), "end": round(end, 2),
               "label": f"{kind} {duration(start)}–{duration(end)}"} for kind, start, end in segments]
    step = _tick_step(total)
    ticks = [{"x": round(t / total * width, 2), "label": duration(t)}
             for t in _frange(0.0, total + 1e-6, step)]
    return {"segments": shapes, "ticks": ticks, "total": total, "total_words": duration(total),
            "lost": [{"start": duration(a), "end": duration(b), "seconds": round(b - a, 1)} for a, b in lost]}


def _tick_step(total: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800):
        if total / step <= 8:
            return float(step)
    return 3600.0


def _frange(start: float, stop: float, step: float):
    value = start
    while value <= stop:
        yield value
        value += step


def error_details(error: dict) -> list[tuple[str, str]]:
    """An error's details (everything but code and message) in words, for the error box."""
    out = []
    for key, value in (error or {}).items():
        if key in ("code", "message") or value is None:
            continue
        if isinstance(value, dict) and set(value) >= {"x", "y", "w", "h"}:
            value = box_words(value)
        elif isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        out.append((key.replace("_", " "), str(value)))
    return out


def box_words(box: dict) -> str:
    return ", ".join(f"{k} {float(box[k]):.3f}" for k in ("x", "y", "w", "h"))
