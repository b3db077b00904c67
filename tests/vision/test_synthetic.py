"""The generated scenes the benchmarks and tests are built on: the same scene at another frame rate."""
import numpy as np
import pytest

from footy.vision.synthetic import _pose, at_frame_rate, camera_at, player_box, scene_preset


@pytest.mark.parametrize("name", ["broadcast", "lifelike"])
def test_a_scene_filmed_at_50_fps_moves_as_fast_in_seconds(name):
    """At 50 fps, frame 2k shows what frame k shows at 25 fps: players, weaves, pan, zoom and the
    runners' stride phase are where they were at that time (per-frame motion is halved)."""
    at25 = scene_preset(name, seconds=4.0, seed=3)
    at50 = at_frame_rate(at25, 50.0)
    assert at50.fps == 50.0 and at25.fps == 25.0  # the preset itself is left as it was
    for frame in (0, 17, 60, 99):
        for p25, p50 in zip(at25.players, at50.players):
            np.testing.assert_allclose(player_box(p50, 2 * frame, at50), player_box(p25, frame, at25), atol=1e-6)
            assert _pose(p50, 2 * frame, at50).phase == pytest.approx(_pose(p25, frame, at25).phase)
        np.testing.assert_allclose(camera_at(at50, 2 * frame), camera_at(at25, frame), atol=1e-9)
    # and it does move: a player is somewhere else a second later
    p = at50.players[0]
    assert not np.allclose(player_box(p, 50, at50), player_box(p, 0, at50))
