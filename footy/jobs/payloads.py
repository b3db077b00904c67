"""Parsing of the coach's JSON payloads. Every problem names its field (400 INVALID_PAYLOAD)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import invalid_payload

ROLES = ("goalkeeper", "defender", "midfielder", "forward")


@dataclass(frozen=True)
class PlayerPick:
    frame_key: str
    track_id: int


@dataclass(frozen=True)
class TargetSelection:
    frame_key: str | None
    time_sec: float | None
    bbox: dict  # {x, y, w, h}, fractions of the frame
    force: bool
    role: str | None
    selections: list[dict] | None = None  # seed 002's form: every selection sent, the last is the target


def _obj(payload, field: str = "body") -> dict:
    if not isinstance(payload, dict):
        raise invalid_payload(field, "must be a JSON object")
    return payload


def _int(value, field: str, lo: int = 0, hi: int = 2**31 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())  # form posts send strings
        else:
            raise invalid_payload(field, "must be an integer")
    if not lo <= value <= hi:
        raise invalid_payload(field, f"must be between {lo} and {hi}")
    return value


def _num(value, field: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise invalid_payload(field, "must be a number") from None
        else:
            raise invalid_payload(field, "must be a number")
    try:
        value = float(value)
    except OverflowError:  # an integer with hundreds of digits: valid JSON, no float
        raise invalid_payload(field, "must be a finite number") from None
    if not math.isfinite(value):
        raise invalid_payload(field, "must be a finite number")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise invalid_payload(field, f"must be between {lo} and {hi}")
    return value


def _bool(value, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "1", "on", 1):
        return True
    if value in (None, "", "false", "0", "off", 0):
        return False
    raise invalid_payload(field, "must be true or false")


def _str(value, field: str, max_len: int = 200) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise invalid_payload(field, f"must be a non-empty string of at most {max_len} characters")
    return value


def parse_bbox(raw, field: str = "bbox") -> dict:
    """A normalized box: x, y in [0, 1), w, h in (0, 1], and inside the frame (a little slack for rounding)."""
    raw = _obj(raw, field)
    box = {k: _num(raw.get(k), f"{field}.{k}", 0.0, 1.0) for k in ("x", "y", "w", "h")}
    if box["w"] <= 0 or box["h"] <= 0:
        raise invalid_payload(field, "w and h must be greater than 0")
    if box["x"] + box["w"] > 1.001 or box["y"] + box["h"] > 1.001:
        raise invalid_payload(field, "the box must lie inside the frame (x + w <= 1, y + h <= 1)")
    return box


def parse_pick(payload) -> PlayerPick:
    payload = _obj(payload)
    if "frame_key" not in payload:
        raise invalid_payload("frame_key", "is required")
    if "track_id" not in payload:
        raise invalid_payload("track_id", "is required")
    return PlayerPick(frame_key=_str(payload["frame_key"], "frame_key"),
                      track_id=_int(payload["track_id"], "track_id"))


def parse_role(value) -> str | None:
    if value in (None, ""):
        return None
    if value not in ROLES:
        raise invalid_payload("role", f"must be one of {', '.join(ROLES)}")
    return value


def _legacy_selection(raw, prefix: str) -> dict:
    """One of seed 002's ``selections``: ``{frame_time_sec, frame_key?, x, y, w, h}``."""
    sel = _obj(raw, prefix)
    frame_key = sel.get("frame_key")
    if frame_key is not None:
        frame_key = _str(frame_key, f"{prefix}.frame_key")
    time_sec = sel.get("frame_time_sec")
    if time_sec is None and frame_key is None:
        raise invalid_payload(f"{prefix}.frame_time_sec", "is required when frame_key is absent")
    if time_sec is not None:
        time_sec = _num(time_sec, f"{prefix}.frame_time_sec", 0.0, 1e7)
    bbox = parse_bbox({k: sel.get(k) for k in ("x", "y", "w", "h")}, prefix)
    return {"frame_time_sec": time_sec, "frame_key": frame_key, "bbox": bbox}


def parse_target(payload) -> TargetSelection:
    """Seed 001's ``{frame_key, time_sec, bbox, force?}`` or seed 002's ``{selections: [...]}``."""
    payload = _obj(payload)
    force = _bool(payload.get("force", False), "force")
    role = parse_role(payload.get("role"))
    if "selections" in payload:
        raw = payload["selections"]
        if not isinstance(raw, list) or not raw:
            raise invalid_payload("selections", "must be a non-empty list")
        if len(raw) > 100:
            raise invalid_payload("selections", "at most 100 selections")
        selections = [_legacy_selection(sel, f"selections[{i}]") for i, sel in enumerate(raw)]
        last = selections[-1]  # the box the coach settled on is the target
        return TargetSelection(last["frame_key"], last["frame_time_sec"], last["bbox"], force, role, selections)
    frame_key = payload.get("frame_key")
    if frame_key is not None:
        frame_key = _str(frame_key, "frame_key")
    time_sec = payload.get("time_sec")
    if time_sec is not None:
        time_sec = _num(time_sec, "time_sec", 0.0, 1e7)
    if frame_key is None and time_sec is None:
        raise invalid_payload("frame_key", "frame_key or time_sec is required")
    if "bbox" not in payload:
        raise invalid_payload("bbox", "is required")
    return TargetSelection(frame_key, time_sec, parse_bbox(payload["bbox"]), force, role)
