"""Shot cuts: the director cuts from the wide camera to a close-up or the crowd and back.

Generated clips (synthetic.ShotCut) through the real PitchDetector and follower: no box while the
wide camera is off air, the player re-acquired soon after it is back (it may point elsewhere),
and no cut seen where there is none (pan and zoom).
"""
from __future__ import annotations

import numpy as np
import pytest

from footy.vision.detect import PitchDetector
from footy.vision.synthetic import PlayerSpec, SceneSpec, ShotCut, render_scene, scene_preset
from footy.vision.camera import CameraMotion
from footy.vision.follower import new_follower, observe
from footy.vision.kits import kit_descriptor
from footy.vision.track import follow_target
from footy.vision.video import iter_frames

from .boxes import iou

FPS = 25.0
CUT_START, CUT_END = 38, 75  # frames of the close-up (1.5 s .. 3.0 s)


def on_whom(point, truth):
    """The player a reported box sits on (IoU >= 0.5), None for no box or nobody."""
    if point.xyxy is None:
        return None
    best = max(truth, key=lambda pid: iou(point.xyxy, truth[pid]), default=None)
    return best if best is not None and iou(point.xyxy, truth[best]) >= 0.5 else None


def cut_scene(target_kit: str, kind: str = "closeup") -> SceneSpec:
    """A wide view with stands, two teams, the target jogging slowly in the middle; from 1.5 s to
    3 s a 4x close-up of the target itself (the strongest temptation to draw a wrong box) or a
    crowd shot, and the wide camera comes back panned by a fifth of the frame."""
    rng = np.random.default_rng(3)
    spec = SceneSpec(width=640, height=360, fps=FPS, seconds=5.0, seed=3, noise=2.0, stands=0.15,
                     pan_px_per_frame=0.6, focus_players=(1,))
    h = 360 * 0.15
    spec.players = [PlayerSpec(1, target_kit, (420.0, 250.0), (-0.5, 0.1), h)]
    for i in range(2, 11):
        x, y = rng.uniform(40, 760), rng.uniform(130, 340)
        if abs(x - 420) < 60 and abs(y - 250) < 40:
            x += 150
        spec.players.append(PlayerSpec(i, "red" if i % 2 else "blue", (x, y),
                                       (rng.uniform(-1.0, 1.0), rng.uniform(-0.3, 0.3)), h * rng.uniform(0.9, 1.1)))
    spec.cuts = [ShotCut(CUT_START / FPS, (CUT_END - CUT_START) / FPS, kind, around=1, zoom=4.0, pan_after=128.0)]
    return spec


@pytest.fixture(scope="module")
def keeper_cut(tmp_path_factory):
    # the target wears a kit nobody else wears: re-acquired by kit anywhere in the frame
    return render_scene(cut_scene("keeper"), tmp_path_factory.mktemp("cuts") / "keeper.mp4")


@pytest.fixture(scope="module")
def teammate_cut(tmp_path_factory):
    # the target wears its team's kit: four team-mates look just like it
    return render_scene(cut_scene("red", kind="crowd"), tmp_path_factory.mktemp("cuts") / "teammate.mp4")


def test_the_scene_cuts_away_and_back(keeper_cut):
    truth = keeper_cut.truth
    assert all(truth[f] == {} for f in range(CUT_START, CUT_END))
    assert 1 in truth[CUT_START - 1] and 1 in truth[CUT_END] and 1 in truth[-1]


@pytest.mark.parametrize("start", [10, 110], ids=["forward", "backward"])
def test_no_box_during_the_cut_and_reacquired_after_it(keeper_cut, start):
    scene = keeper_cut
    track = follow_target(scene.path, start / FPS, scene.truth[start][1], PitchDetector(), stride=2)
    points = {p.frame_index: p for p in track.points}
    assert sorted(points) == list(range(0, 125, 2))
    during = [p for f, p in points.items() if CUT_START <= f < CUT_END]
    # (a) the close-up is of the target itself, huge: no box at all while off the wide shot
    assert sum(p.xyxy is not None for p in during) == 0
    # (b) back on the wide shot (camera panned), the target is found again within 2 s of
    # the wide shot's return, walking in either direction, and then followed
    if start < CUT_START:
        after = [points[f] for f in sorted(points) if f >= CUT_END]
    else:
        after = [points[f] for f in sorted(points, reverse=True) if f < CUT_START]
    right = [on_whom(p, scene.truth[p.frame_index]) == 1 for p in after]
    assert True in right[:25], "not re-acquired within 2 s after the cut"
    first = right.index(True)
    assert sum(right[first:]) >= 0.9 * len(right[first:])
    # never on someone else, on either side of the cut
    wrong = [p.frame_index for p in track.points if on_whom(p, scene.truth[p.frame_index]) not in (None, 1)]
    assert wrong == []


def test_no_box_on_a_teammate_after_a_cut(teammate_cut):
    # same kit as four others: re-acquired only where the camera's view before the cut says it
    # was (registered across the cut), never just by kit somewhere
    scene = teammate_cut
    for start in (10, 110):
        track = follow_target(scene.path, start / FPS, scene.truth[start][1], PitchDetector(), stride=2)
        during = [p for p in track.points if CUT_START <= p.frame_index < CUT_END]
        assert sum(p.xyxy is not None for p in during) == 0
        wrong = [p.frame_index for p in track.points if on_whom(p, scene.truth[p.frame_index]) not in (None, 1)]
        assert wrong == []


def walk(scene, start: int = 0, stride: int = 2):
    """Step the real follower forward over a clip, as follow_target does; the follower at the end."""
    detector, camera = PitchDetector(), CameraMotion()
    follower = None
    for frame in iter_frames(scene.path, start_sec=start / FPS, step=stride):
        obs = observe(frame.image, frame.index, frame.time_sec, detector, camera)
        if follower is None:
            truth = scene.truth[frame.index]
            pid = next((p for p in scene.spec.focus_players if p in truth), min(truth))
            box = np.asarray(truth[pid], float)
            follower = new_follower(obs, box, kit_descriptor(frame.image, box), None, FPS / stride)
        else:
            follower.step(obs, obs.motion)
    return follower


def test_pan_and_zoom_are_not_cuts(tmp_path):
    # (c) the broadcast preset pans and zooms (players 13-16% of the frame, 1.3x zoom): no cut
    spec = scene_preset("broadcast", seconds=4.0, width=640, height=360)
    scene = render_scene(spec, tmp_path / "broadcast.mp4")
    follower = walk(scene)
    assert follower.cuts == 0 and not follower.off_wide


def test_both_cuts_of_the_preset_are_seen(tmp_path):
    spec = scene_preset("broadcast_cuts", seconds=5.0, width=640, height=360)
    scene = render_scene(spec, tmp_path / "broadcast_cuts.mp4")
    follower = walk(scene)
    assert follower.cuts == 2 and not follower.off_wide
