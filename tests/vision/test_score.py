"""score.py: the mvp-vision result is always complete, monotonic in coverage, and explains itself."""
from __future__ import annotations

import json

import numpy as np
import pytest

from footy.vision.score import AXES, PARTIAL_COVERAGE, ROLE_WEIGHTS, score_track
from footy.vision.types import TargetTrack, TrackPoint, VideoInfo

INFO = VideoInfo(fps=25.0, frame_count=500, width=1280, height=720, duration_sec=20.0, codec="h264")


def walking_track(n=500, seed=0, speed_px=3.0, jitter_px=0.8, height=80.0, conf=0.9) -> TargetTrack:
    """A player wandering smoothly with a little detector jitter, visible on every frame."""
    rng = np.random.default_rng(seed)
    heading = np.cumsum(rng.normal(0, 0.08, n))
    x = 600 + np.cumsum(speed_px * np.cos(heading))
    y = 500 + np.cumsum(0.5 * speed_px * np.sin(heading))
    points = []
    for i in range(n):
        h = height * (1 + rng.normal(0, 0.02))
        w = 0.4 * h
        cx, fy = x[i] + rng.normal(0, jitter_px), y[i] + rng.normal(0, jitter_px)
        points.append(TrackPoint(i, i / 25.0, (cx - w / 2, fy - h, cx + w / 2, fy), conf))
    return TargetTrack(points=points, frames_total=n)


def hide(track: TargetTrack, hidden) -> TargetTrack:
    hidden = set(int(i) for i in hidden)
    return TargetTrack(points=[TrackPoint(p.frame_index, p.time_sec, None, 0.0) if p.frame_index in hidden else p
                               for p in track.points], frames_total=track.frames_total)


def assert_complete(result: dict) -> None:
    json.dumps(result)  # stored as the job's JSON result
    assert isinstance(result["overallScore"], int) and 0 <= result["overallScore"] <= 100
    assert set(result["radar"]) == set(AXES)
    assert all(isinstance(v, int) and 0 <= v <= 100 for v in result["radar"].values())
    assert result["method"] == "mvp-vision"
    for key in ("coverage", "time_visible_sec", "distance_body_heights", "top_speed_body_heights_per_sec",
                "lost_segments", "frames_analysed", "frames_visible", "signals"):
        assert key in result


def test_empty_track_scores_zero_on_all_five_axes():
    result = score_track(TargetTrack(), INFO)
    assert_complete(result)
    assert result["overallScore"] == 0 and set(result["radar"].values()) == {0}
    assert result["frames_analysed"] == 0


def test_never_visible_track_scores_zero_and_is_one_lost_segment():
    track = hide(walking_track(n=100), range(100))
    result = score_track(track, INFO, role="defender")
    assert_complete(result)
    assert result["overallScore"] == 0 and result["roleScore"] == 0
    assert result["lost_segments"] == [{"start_sec": 0.0, "end_sec": 4.0, "duration_sec": 4.0}]


def test_fully_tracked_player_scores_high():
    result = score_track(walking_track(), INFO)
    assert_complete(result)
    assert result["coverage"] == 1.0 and result["radar"]["visibility"] == 100
    assert result["radar"]["tracking_quality"] >= 85
    assert result["radar"]["consistency"] == 100
    assert result["radar"]["stability"] >= 70
    assert result["signals"]["tracking_jumps"] == 0
    assert result["lost_segments"] == []
    assert result["overallScore"] >= 70


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_score_is_monotonic_in_coverage(seed):
    """Hiding more frames (nested sets: random ones, then whole blocks) never raises any axis."""
    rng = np.random.default_rng(seed)
    track = walking_track(seed=seed)
    order = rng.permutation(500)
    previous = None
    for k in range(0, 501, 25):
        result = score_track(hide(track, order[:k]), INFO)
        if previous is not None:
            assert result["coverage"] <= previous["coverage"]
            assert result["overallScore"] <= previous["overallScore"], k
            for axis in AXES:
                assert result["radar"][axis] <= previous["radar"][axis], (k, axis)
        previous = result
    assert previous["overallScore"] == 0
    # contiguous losses, the usual case (the player leaves the picture)
    scores = [score_track(hide(track, range(250 - k, 250 + k)), INFO)["overallScore"] for k in range(0, 251, 25)]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]


def test_lost_segments_are_reported_with_times():
    result = score_track(hide(walking_track(n=100), range(40, 60)), INFO)
    assert result["lost_segments"] == [{"start_sec": 1.6, "end_sec": 2.4, "duration_sec": 0.8}]
    assert result["coverage"] == 0.8 and result["frames_visible"] == 80
    assert result["time_visible_sec"] == pytest.approx(3.2)
    # single-frame dropouts are counted, not listed
    result = score_track(hide(walking_track(n=100), [10, 30, 70]), INFO)
    assert result["lost_segments"] == [] and result["signals"]["short_dropouts"] == 3


def test_identity_jumps_lower_quality_and_consistency():
    smooth = walking_track(n=200)
    jumpy_points = list(smooth.points)
    for i in range(10, 200, 20):  # every 20 frames the box lands on someone 400 px away
        x1, y1, x2, y2 = jumpy_points[i].xyxy
        jumpy_points[i] = TrackPoint(i, i / 25.0, (x1 + 400, y1, x2 + 400, y2), 0.9)
    jumpy = score_track(TargetTrack(points=jumpy_points, frames_total=200), INFO)
    clean = score_track(smooth, INFO)
    assert jumpy["signals"]["tracking_jumps"] == 20
    assert jumpy["radar"]["tracking_quality"] < clean["radar"]["tracking_quality"]
    assert jumpy["radar"]["consistency"] < clean["radar"]["consistency"]


def test_activity_tells_runner_from_jittering_stander():
    runner = score_track(walking_track(speed_px=6.0, jitter_px=0.5), INFO)
    stander = score_track(walking_track(speed_px=0.0, jitter_px=1.5), INFO)
    assert runner["radar"]["activity_proxy"] >= 60
    assert stander["radar"]["activity_proxy"] <= 5  # detector jitter is not running
    assert runner["distance_body_heights"] > 10 * max(stander["distance_body_heights"], 0.1)
    assert runner["top_speed_body_heights_per_sec"] > stander["top_speed_body_heights_per_sec"]


def test_role_score_present_when_role_given():
    track = walking_track(speed_px=1.0)
    plain = score_track(track, INFO)
    assert "role" not in plain and "roleScore" not in plain
    keeper = score_track(track, INFO, role="GK")
    forward = score_track(track, INFO, role="forward")
    assert keeper["role"] == "goalkeeper" and forward["role"] == "forward"
    assert isinstance(keeper["roleScore"], int) and 0 <= keeper["roleScore"] <= 100
    # a slow but well-held player rates better as a goalkeeper than as a forward
    assert keeper["roleScore"] > forward["roleScore"]
    assert keeper["overallScore"] == plain["overallScore"]
    with pytest.raises(ValueError):
        score_track(track, INFO, role="libero")


def test_weights_are_documented_and_complete():
    assert set(ROLE_WEIGHTS) == {"goalkeeper", "defender", "midfielder", "forward"}
    for weights in ROLE_WEIGHTS.values():
        assert set(weights) == set(AXES)
        assert sum(weights.values()) == pytest.approx(1.0)
    assert 0 < PARTIAL_COVERAGE < 1


def test_stride_is_taken_from_the_track_times():
    """Every 3rd frame analysed: rates and seconds come out the same as analysing every frame."""
    full = walking_track(n=300, jitter_px=0.0)
    strided = TargetTrack(points=full.points[::3], frames_total=100)
    a, b = score_track(full, INFO), score_track(strided, INFO)
    assert b["signals"]["analysed_fps"] == pytest.approx(25 / 3, rel=0.01)
    assert b["time_visible_sec"] == pytest.approx(a["time_visible_sec"], rel=0.02)
    assert b["distance_body_heights"] == pytest.approx(a["distance_body_heights"], rel=0.1)
    assert abs(a["overallScore"] - b["overallScore"]) <= 3
