"""Preview frames: spread over the match by seeking, and moved off close-ups and crowd shots."""
from __future__ import annotations

import pytest

from footy.vision.previews import preview_frames, preview_times
from footy.vision.synthetic import ShotCut, render_scene, scene_preset
from footy.vision.video import probe


def test_preview_times_are_spread_and_inside_the_video():
    times = preview_times(90 * 60.0, 25.0, 8)
    assert len(times) == 8 and times == sorted(times)
    assert times[0] > 0 and times[-1] < 90 * 60.0
    assert preview_times(10.0, 25.0, 0) == [pytest.approx(5.0, abs=0.05)]


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory):
    """8 s of broadcast with a close-up from 2.3 s to 3.7 s and a crowd shot from 4.4 s to 5.6 s: two of
    the four nominal preview times (about 3.0 s and 5.0 s) fall on them."""
    spec = scene_preset("broadcast", seconds=8.0, width=640, height=360)
    spec.cuts = [ShotCut(2.3, 1.4, "closeup", around=12, zoom=4.0), ShotCut(4.4, 1.2, "crowd")]
    path = tmp_path_factory.mktemp("previews") / "cuts.mp4"
    render_scene(spec, path)
    return path, spec


def test_previews_on_a_cut_away_move_to_the_wide_shot_nearby(cut_clip):
    path, spec = cut_clip
    info = probe(path)
    nominal = preview_times(info.duration_sec, info.fps, 4)
    assert any(cut.covers(nominal[1]) for cut in spec.cuts) and any(cut.covers(nominal[2]) for cut in spec.cuts)
    seen = []
    frames = preview_frames(path, info, 4, lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    times = [f.time_sec for f in frames]
    assert times == sorted(times) and len(set(times)) == 4
    for frame in frames:
        assert not any(cut.covers(frame.time_sec) for cut in spec.cuts), f"preview at {frame.time_sec} is off air"
    # previews already on the wide shot stay where they were
    assert times[0] == pytest.approx(nominal[0], abs=0.05) and times[3] == pytest.approx(nominal[3], abs=0.05)
    assert all(abs(t - n) <= 8.0 for t, n in zip(times, nominal))


def test_previews_of_a_clip_without_cuts_stay_at_their_times(tmp_path):
    path = tmp_path / "broadcast.mp4"
    render_scene(scene_preset("broadcast", seconds=6.0, width=640, height=360), path)
    info = probe(path)
    frames = preview_frames(path, info, 5)
    assert [f.time_sec for f in frames] == pytest.approx(preview_times(info.duration_sec, info.fps, 5), abs=0.05)
