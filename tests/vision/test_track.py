"""track.py on generated clips with ground truth: candidate tracks and the followed player."""
from __future__ import annotations

import multiprocessing
import os
import pickle
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from footy.vision.detect import PitchDetector
from footy.vision.render import SpotlightClip, SpotlightDrawer
from footy.vision.synthetic import camera_at, players_scaled, render_scene, scene_preset
from footy.vision.camera import _MIN_TRACKED, CameraMotion
from footy.vision.follower import FollowerSettings
from footy.vision.kits import kit_descriptor, kit_distances
from footy.vision.track import _Channel, analysis_scaling, candidate_tracks, follow_target
from footy.vision.types import TargetTrack, VisionError
from footy.vision.video import H264Writer, iter_frames, probe

from .boxes import iou
from .timing import in_time


def followed(scene, track, player_id):
    """(share of points on the player while it is in view, identity switches, points on others)."""
    on_target = in_view = switches = on_others = 0
    last = None
    for point in track.points:
        truth = scene.truth[point.frame_index]
        on = None
        if point.xyxy is not None:
            best = max(truth, key=lambda pid: iou(point.xyxy, truth[pid]), default=None)
            if best is not None and iou(point.xyxy, truth[best]) >= 0.5:
                on = best
        if player_id in truth:
            in_view += 1
            on_target += on == player_id
        if on is not None:
            on_others += on != player_id
            switches += last is not None and on != last
            last = on
    return on_target / max(1, in_view), switches, on_others


@pytest.fixture(scope="module")
def easy(tmp_path_factory):
    spec = scene_preset("easy", seconds=4.0, width=640, height=360)
    return render_scene(spec, tmp_path_factory.mktemp("track") / "easy.mp4")


@pytest.fixture(scope="module")
def crossing(tmp_path_factory):
    # player 1 is passed behind by team-mate 3 at 30% and in front by team-mate 2 at 70%
    spec = scene_preset("crossing", seconds=4.0, width=640, height=360)
    return render_scene(spec, tmp_path_factory.mktemp("track") / "crossing.mp4")


def test_candidate_tracks_ids_are_unique_and_shifted(easy):
    candidates = candidate_tracks(easy.path, 2.0, PitchDetector(), first_track_id=40)
    ids = [c.track_id for c in candidates]
    assert len(ids) == len(set(ids))
    assert min(ids) >= 40
    truth = easy.truth[50]
    matched = sum(any(iou(c.xyxy, box) >= 0.5 for c in candidates) for box in truth.values())
    assert matched >= len(truth) - 1
    assert all(0 <= c.confidence <= 1 for c in candidates)


def test_candidate_tracks_on_the_first_frame_still_get_ids(easy):
    candidates = candidate_tracks(easy.path, 0.0, PitchDetector(), first_track_id=1)
    assert len(candidates) >= len(easy.truth[0]) - 1
    assert min(c.track_id for c in candidates) >= 1
    assert len({c.track_id for c in candidates}) == len(candidates)


def test_follow_target_through_same_kit_crossings(crossing):
    start = 50  # between the two crossings; both directions then meet a team-mate
    track = follow_target(crossing.path, start / 25.0, crossing.truth[start][1], PitchDetector(), stride=2)
    assert [p.frame_index for p in track.points] == list(range(0, 100, 2))
    share, switches, on_others = followed(crossing, track, 1)
    assert share >= 0.9
    assert switches == 0
    assert on_others == 0


@pytest.mark.parametrize("start", [26, 80], ids=["crossing-just-after", "crossing-just-before"])
def test_a_player_clicked_next_to_a_crossing_starts_with_its_motion_from_the_other_side(crossing, start):
    # team-mate 3 passes behind player 1 at frame 30, team-mate 2 in front at frame 70, both in the
    # same kit: walking into a crossing a few frames from the click, the player's motion is not yet
    # known, and who is who coming out of it is a coin toss (before: 0.34 with a switch from frame
    # 26, 0.94 with two from frame 80). Each walk now starts with the motion a follower of its own
    # saw on the other side of the click
    track = follow_target(crossing.path, start / 25.0, crossing.truth[start][1], PitchDetector(), stride=2)
    share, switches, on_others = followed(crossing, track, 1)
    assert share >= 0.95
    assert switches == 0


def test_follow_target_backward_from_late_in_the_clip(easy):
    start = 90
    progress = []
    track = follow_target(easy.path, start / 25.0, easy.truth[start][1], PitchDetector(), stride=1,
                          progress=progress.append)
    assert [p.frame_index for p in track.points] == list(range(100))
    share, switches, _ = followed(easy, track, 1)
    assert share >= 0.95 and switches == 0
    backward = [p for p in track.points if p.frame_index < start]
    assert sum(p.xyxy is not None and iou(p.xyxy, easy.truth[p.frame_index][1]) >= 0.5 for p in backward) \
        >= 0.95 * len(backward)
    assert progress and progress[-1] == 1.0 and progress == sorted(progress)
    assert all(0.0 <= p.confidence <= 1.0 for p in track.points)


WAYS = {"process": {"parallel": True}, "thread": {"parallel": True, "fork": False}, "in turn": {"parallel": False}}


@pytest.mark.parametrize("gop,start", [(None, 52), (25, 52), (25, 50)],
                         ids=["one-keyframe", "keyframe-every-second", "clicked-on-a-keyframe"])
def test_follow_target_backward_in_a_process_on_a_thread_or_in_turn_gives_the_same_track(
        easy, tmp_path, gop, start, monkeypatch):
    # on a thread, the backward walk is handed the frames the forward walk decodes before the
    # confirmed one; in a process of its own or in turn it decodes them itself: the chunks, the
    # detector it starts with and so the track are the same (2.07 s: the keyframe at 2 s is too
    # close to start a chunk at). Clicked on a keyframe, the forward walk decodes nothing before it:
    # the backward walk decodes its first chunk while the forward walk goes on analysing, and waits
    # for its motion before walking
    path = easy.path
    if gop:
        path = tmp_path / "gop.mp4"
        with H264Writer(path, 25, 640, 360, crf=18, keyint=gop) as writer:
            for frame in iter_frames(easy.path):
                writer.write(frame.image)
    tracks, forks, fork = {}, [], os.fork
    monkeypatch.setattr(os, "fork", lambda: forks.append(1) or fork())
    for way, how in WAYS.items():
        progress = []
        time_sec = 2.07 if start == 52 else start / 25.0
        forks.clear()
        tracks[way] = follow_target(path, time_sec, easy.truth[start][1], PitchDetector(), stride=2,
                                    progress=progress.append, **how)
        assert len(forks) == (way == "process")  # each way is the way it says
        assert progress and progress[-1] == 1.0 and progress == sorted(progress)
        assert [p.frame_index for p in tracks[way].points] == list(range(0, 100, 2))
        share, switches, _ = followed(easy, tracks[way], 1)
        assert share >= 0.95 and switches == 0
    points = {way: [(p.xyxy, p.confidence) for p in track.points] for way, track in tracks.items()}
    assert points["process"] == points["in turn"] and points["thread"] == points["in turn"]


@pytest.mark.parametrize("start,how,forks", [(10, {}, 3), (90, {}, 2), (50, {}, 1), (10, {"parallel": False}, 1)],
                         ids=["near-the-start", "near-the-end", "in-the-middle", "in-turn"])
def test_the_longer_walk_has_its_spotlight_drawn_aside_and_the_clip_is_the_same(
        easy, tmp_path, monkeypatch, start, how, forks):
    # clicked near one end, the longer walk hands its part of the clip to a drawer of its own (a
    # fork besides the backward walk's; near the end the backward walk's chunks are decoded into the
    # drawer's slots); near the start the forward walk's frames are observed in a process of its own
    # too (a third fork); walked in turn, both walks draw aside; from the middle nothing is drawn or
    # observed aside. The track and the clip are the ones the walks give by themselves (on threads,
    # nothing forked), frame for frame
    info = probe(easy.path)
    forked, fork = [], os.fork
    monkeypatch.setattr(os, "fork", lambda: forked.append(1) or fork())
    clips, tracks = {}, {}
    before = children()
    for way, extra in (("drawn aside", how), ("drawn by the walks", {"fork": False})):
        forked.clear()
        clip = SpotlightClip(tmp_path / f"{way}.mp4", info, max_width=320, stride=2, boxes_in=(640, 360))
        tracks[way] = in_time(lambda: follow_target(easy.path, start / 25.0, easy.truth[start][1], PitchDetector(),
                                                    info=info, stride=2, spotlight=clip, **extra))
        assert isinstance(tracks[way], TargetTrack), tracks[way]
        clip.finish()
        clips[way] = list(iter_frames(clip.out_path))
        assert len(forked) == (forks if way == "drawn aside" else 0)
    assert children() == before  # every drawer ended, and was reaped
    assert [(p.xyxy, p.confidence) for p in tracks["drawn aside"].points] == \
        [(p.xyxy, p.confidence) for p in tracks["drawn by the walks"].points]
    aside, walks = clips["drawn aside"], clips["drawn by the walks"]
    assert [f.index for f in aside] == [f.index for f in walks] == list(range(100))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(aside, walks))


def test_camera_motion_follows_pan_and_zoom_with_the_background_points_it_keeps(tmp_path):
    # a broadcast scene pans right and zooms in and out; every other frame, as the analysis does
    spec = scene_preset("broadcast", seconds=4.0, width=640, height=360)
    scene = render_scene(spec, tmp_path / "pan_zoom.mp4")
    grid = np.array([[x, y, 1.0] for x in (80, 320, 560) for y in (60, 180, 300)])
    camera, errors, kept, previous = CameraMotion(), [], [], None
    for frame in iter_frames(scene.path):
        if frame.index % 2:
            continue
        matrix = camera.update(frame.image)
        kept.append(0 if camera._points is None else len(camera._points))
        if previous is not None:
            true = np.vstack([camera_at(spec, frame.index), [0, 0, 1]]) @ \
                np.linalg.inv(np.vstack([camera_at(spec, previous), [0, 0, 1]]))
            errors.append(np.abs(grid @ matrix.T - grid @ true[:2].T).max())
        previous = frame.index
    # points that fitted the motion are followed on: finding corners afresh on every frame was
    # a third of the cost, and less exact (mean 0.29 px, worst 1.09 px on this scene)
    assert np.mean(errors) < 0.25 and max(errors) < 0.6
    assert sum(k >= _MIN_TRACKED for k in kept[1:]) >= 0.8 * len(kept[1:])


def children(pid: int | str = "self") -> set[int]:
    """A process's child processes (alive or not yet reaped; this process's by default), as Linux
    lists them per thread; none once the process has ended."""
    pids = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:  # it ended meanwhile
        return pids
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as listed:
                pids.update(int(child) for child in listed.read().split())
        except FileNotFoundError:  # a thread that ended meanwhile (its children passed to another)
            continue
    return pids


@pytest.mark.parametrize("way", ["process", "thread"])
def test_follow_target_with_no_start_frame_releases_the_backward_walk(easy, tmp_path, way):
    # the backward walk starts beside the forward one and waits for its start: when the forward
    # walk finds none (the file breaks before the confirmed time) it must not wait for ever
    data = easy.path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.4)])
    before, before_children = {t.ident for t in threading.enumerate()}, children()
    track = follow_target(cut, 3.5, easy.truth[87][1], PitchDetector(), info=probe(cut), stride=2, **WAYS[way])
    assert track.points == [] and track.decode_error.code == "VIDEO_DECODE_ERROR"
    assert not [t for t in threading.enumerate() if t.ident not in before and t.name.startswith("footy-")]
    assert children() == before_children  # the backward walk's process ended, and was reaped


class _BrokenCopy(PitchDetector):
    """A detector whose copy (the backward walk's) fails on its first frame."""

    broken = False

    def __deepcopy__(self, memo):
        twin = _BrokenCopy()
        twin.broken = True
        return twin

    def detect(self, image):
        if self.broken:
            raise RuntimeError("the backward walk's detector broke")
        return super().detect(image)


@pytest.mark.parametrize("way", ["process", "thread"])
def test_a_backward_walk_that_fails_does_not_leave_the_forward_walk_waiting_for_its_motion(easy, way):
    # the forward walk waits for the motion the backward walk saw before the click: when the
    # backward walk fails first, its error must come out (from its process too), not a forward
    # walk waiting for ever
    outcome = []

    def follow():
        try:
            follow_target(easy.path, 2.07, easy.truth[52][1], _BrokenCopy(), stride=2, **WAYS[way])
        except RuntimeError as exc:
            outcome.append(exc)

    before = children()
    worker = threading.Thread(target=follow, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert [str(e) for e in outcome] == ["the backward walk's detector broke"]
    assert children() == before


class _DyingDetector(PitchDetector):
    """A detector that ends the process it detects in (as the kernel's out-of-memory killer would: no
    error is sent, the pipe just closes) on its first frame in a process other than the one it was
    made in: the backward walk's copy in its process (``dies_as_copy``), else the forward walk's own
    in its observer's process (clicked near the start)."""

    def __init__(self, dies_as_copy: bool, copy: bool = False):
        super().__init__()
        self.made_in, self.dies_as_copy, self.copy = os.getpid(), dies_as_copy, copy

    def __deepcopy__(self, memo):
        return _DyingDetector(self.dies_as_copy, copy=True)

    def detect(self, image):
        if self.copy == self.dies_as_copy and os.getpid() != self.made_in:
            os._exit(9)
        return super().detect(image)


@pytest.mark.parametrize("time_sec,start,dies_as_copy,message", [
    (2.07, 52, True, r"the backward walk's process \d+ ended without a result"),
    (0.4, 10, False, r"the observer process \d+ ended without a word")], ids=["backward-walk", "observer"])
def test_a_helper_process_that_dies_is_an_error_not_a_wait(easy, time_sec, start, dies_as_copy, message):
    before = children()
    error = in_time(lambda: follow_target(easy.path, time_sec, easy.truth[start][1], _DyingDetector(dies_as_copy),
                                          stride=2))
    assert isinstance(error, RuntimeError)
    assert re.match(message, str(error))
    assert children() == before


class _DecodeErrorCopy(PitchDetector):
    """A detector whose copy (the backward walk's) meets what a broken stream would raise, from its
    30th frame on (decoded again, the stream breaks again): the backward walk ends with that error."""

    def __init__(self, copy: bool = False):
        super().__init__()
        self.copy, self.seen = copy, 0

    def __deepcopy__(self, memo):
        return _DecodeErrorCopy(copy=True)

    def detect(self, image):
        self.seen += 1
        if self.copy and self.seen >= 30:
            raise VisionError("VIDEO_DECODE_ERROR", "the video stops decoding here", frame_index=17)
        return super().detect(image)


def test_a_decode_error_of_the_backward_walk_comes_back_whole_from_its_process(easy):
    def follow(how):
        return in_time(lambda: follow_target(easy.path, 3.5, easy.truth[87][1], _DecodeErrorCopy(), stride=2, **how))

    tracks = {way: follow(how) for way, how in WAYS.items()}
    for track in tracks.values():
        assert isinstance(track, TargetTrack), track
        error = track.decode_error
        assert (error.code, error.message, error.details) == \
            ("VIDEO_DECODE_ERROR", "the video stops decoding here", {"frame_index": 17})
    points = {way: [(p.frame_index, p.xyxy) for p in track.points] for way, track in tracks.items()}
    assert points["process"] == points["thread"] == points["in turn"]
    assert points["process"][0][0] == 88  # the forward walk's points, from the confirmed frame on


def test_a_vision_error_pickles_whole():
    error = pickle.loads(pickle.dumps(VisionError("VIDEO_DECODE_ERROR", "broken", frame_index=3)))
    assert (type(error), error.code, error.message, error.details, str(error)) == \
        (VisionError, "VIDEO_DECODE_ERROR", "broken", {"frame_index": 3}, "broken")


def test_the_walks_channel_reads_a_gone_end_as_none_for_what_that_end_gives_only():
    ours, theirs = multiprocessing.Pipe()
    channel = _Channel(ours, theirs=("behind",))
    _Channel(theirs, theirs=("ahead",)).give("behind", 7)
    assert channel.given("behind") and channel.take("behind") == 7
    theirs.close()
    assert channel.given("outcome") is False  # not read yet: given only once the end is found gone
    assert channel.take("outcome") is None and channel.closed
    assert channel.given("ahead") is False  # this end gives it: still to give, not given by the gone end


class _FailingForward(PitchDetector):
    """A detector that fails on the forward walk some frames after the confirmed one; its copy,
    the backward walk's, is slow (1 s a frame: its first chunk alone would take 26 s)."""

    def __init__(self, fail_at: int | None = None):
        super().__init__()
        self.fail_at, self.seen = fail_at, 0

    def __deepcopy__(self, memo):
        return _FailingForward()

    def detect(self, image):
        self.seen += 1
        if self.fail_at is None:
            time.sleep(1.0)
        elif self.seen >= self.fail_at:
            raise RuntimeError("the forward walk's detector broke")
        return super().detect(image)


@pytest.mark.parametrize("start", [52, 10], ids=["in-the-middle", "near-the-start-in-its-observer"])
def test_a_forward_walk_that_fails_ends_the_backward_process_at_once(easy, start):
    before, started = children(), time.monotonic()
    error = in_time(lambda: follow_target(easy.path, start / 25.0, easy.truth[start][1], _FailingForward(fail_at=12),
                                          stride=2))
    assert isinstance(error, RuntimeError) and str(error) == "the forward walk's detector broke"
    assert time.monotonic() - started < 10  # not after the backward walk (over 26 s): it was killed
    assert children() == before  # and reaped


ORPHAN = """
import sys, time
from footy.vision.detect import PitchDetector
from footy.vision.render import SpotlightClip
from footy.vision.track import follow_target
from footy.vision.video import probe


class Slow(PitchDetector):  # the backward walk takes long (decoding its first chunk: ~20 s)
    def __deepcopy__(self, memo):
        twin = Slow()
        twin.slow = True
        return twin

    slow = False

    def detect(self, image):
        if self.slow:
            time.sleep(0.5)
        return super().detect(image)


at, box, spotlight = float(sys.argv[2]), [float(v) for v in sys.argv[3:]], None
if at < 1:  # clicked near the start, with a clip: its drawer is forked too
    info = probe(sys.argv[1])
    spotlight = SpotlightClip(sys.argv[1] + ".spotlight.mp4", info, 320, 2, boxes_in=(info.width, info.height))
follow_target(sys.argv[1], at, box, Slow(), stride=2, spotlight=spotlight)
"""


@pytest.mark.parametrize("start,forked", [(87, 1), (15, 3)], ids=["near-the-end", "near-the-start"])
def test_the_backward_process_and_the_drawer_end_when_the_analysis_process_is_killed(easy, tmp_path, start, forked):
    # an RQ job that is stopped or times out is killed with its work horse; the walk it forked (and,
    # clicked near the start, the spotlight's drawer and the forward walk's observer) must not run
    # on alone for the rest of a match; nor may anything those forked in turn
    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN)
    video = tmp_path / "easy.mp4"
    video.write_bytes(easy.path.read_bytes())  # (its clip is written beside it)
    box = [str(v) for v in easy.truth[start][1]]
    root = str(Path(__file__).resolve().parents[2])
    analysis = subprocess.Popen([sys.executable, str(script), str(video), str(start / 25), *box], cwd=root,
                                env={**os.environ, "PYTHONPATH": root})
    try:
        deadline = time.monotonic() + 60
        helpers = set()
        while len(helpers) < forked and time.monotonic() < deadline and analysis.poll() is None:
            helpers = _descendants(analysis.pid)
            time.sleep(0.05)
        assert len(helpers) == forked, f"the analysis forked {len(helpers)} of its {forked} helper processes"
        analysis.kill()
        analysis.wait()
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in helpers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in helpers)
    finally:
        if analysis.poll() is None:
            analysis.kill()


def _descendants(pid: int) -> set[int]:
    """The processes ``pid`` forked, and those they forked in turn."""
    found = children(pid)
    return found.union(*(_descendants(child) for child in found))


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for init to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_follow_target_reports_not_visible_after_the_player_leaves(tmp_path):
    # the camera pans right, the player jogs slowly: it leaves the frame on the left
    spec = scene_preset("easy", seconds=3.0, width=640, height=360)
    spec.pan_px_per_frame = 4.0
    runner = spec.players[0]
    runner.start, runner.velocity = (100.0, 345.0), (0.3, 0.0)  # in front of everyone
    scene = render_scene(spec, tmp_path / "leaves.mp4")
    gone = [f for f, truth in enumerate(scene.truth) if runner.player_id not in truth]
    assert 20 < gone[0] < 60  # the scene does what the test needs
    track = follow_target(scene.path, 0.0, scene.truth[0][runner.player_id], PitchDetector())
    share, switches, on_others = followed(scene, track, runner.player_id)
    assert share >= 0.9 and switches == 0 and on_others == 0
    after = [p for p in track.points if p.frame_index >= gone[0] + 5]
    assert sum(p.xyxy is None for p in after) >= 0.9 * len(after)


def test_decode_error_midway_keeps_what_was_tracked(easy, tmp_path):
    data = easy.path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])  # faststart: the index survives, the end does not
    info = probe(cut)
    track = follow_target(cut, 0.4, easy.truth[10][1], PitchDetector(), info=info)
    assert track.decode_error is not None
    assert track.decode_error.code == "VIDEO_DECODE_ERROR"
    assert 10 < len(track.points) < 100
    indexes = [p.frame_index for p in track.points]
    assert indexes == list(range(len(indexes)))
    share, switches, _ = followed(easy, track, 1)
    assert share >= 0.9 and switches == 0


def test_candidate_track_ids_are_the_trackers_own_shifted(easy):
    """ByteTrack counts its ids from 0 (-1: not confirmed): id k is shown as first_track_id + k,
    the tracker's id 0 included (it once got a fresh id like an unconfirmed detection)."""
    from footy.vision.track import analysis_scaling, detect_scaled, new_candidate_tracker
    from footy.vision.video import iter_frames, probe

    info = probe(easy.path)
    size, sx, sy = analysis_scaling(info)
    tracker, detector = new_candidate_tracker(info.fps), PitchDetector()
    for frame in iter_frames(easy.path, start_sec=1.0, end_sec=2.0, size=size):
        last = tracker.update(detect_scaled(detector, frame.image, sx, sy))
    own = {int(t): box for t, box in zip(last.tracker_id, last.xyxy) if t >= 0}
    assert 0 in own
    candidates = candidate_tracks(easy.path, 2.0, PitchDetector(), first_track_id=40)
    for tid, box in own.items():
        shown = [c for c in candidates if c.track_id == 40 + tid]
        assert len(shown) == 1 and iou(shown[0].xyxy, box) >= 0.99


def test_a_phone_clip_stored_sideways_is_followed_as_it_is_shown(easy, tmp_path):
    # a phone stores the picture as its sensor saw it plus a display matrix; the coach clicks on
    # the picture as shown, so footy decodes, detects and follows in that orientation
    path = tmp_path / "phone.mp4"
    # stored turned clockwise, shown turned 90 degrees counterclockwise: the scene as it was drawn
    with H264Writer(path, 25, 360, 640, crf=18, rotation=90) as writer:
        for frame in iter_frames(easy.path):
            writer.write(cv2.rotate(frame.image, cv2.ROTATE_90_CLOCKWISE))
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (640, 360, 90)
    track = follow_target(path, 2.07, easy.truth[52][1], PitchDetector(), info=info, stride=2)
    share, switches, _ = followed(easy, track, 1)
    assert share >= 0.95 and switches == 0


def test_a_sideways_phone_clip_clicked_near_the_end_gives_its_drawers_slots_back(easy, tmp_path, monkeypatch):
    # the backward walk decodes its chunks into its drawer's slots; a turned frame is converted into
    # a new array instead, and the slot it was lent must come back, or the slots run out for good
    # and every later frame crawls through the pipe (the clip would look the same)
    path = tmp_path / "phone.mp4"
    with H264Writer(path, 25, 360, 640, crf=18, rotation=90) as writer:
        for frame in iter_frames(easy.path):
            writer.write(cv2.rotate(frame.image, cv2.ROTATE_90_CLOCKWISE))
    info = probe(path)
    # the drawers run in forked processes: what each lending drawer had out at its finish goes to a file
    ledger = tmp_path / "lent.txt"
    unlend, finish = SpotlightDrawer.unlend, SpotlightDrawer.finish

    def counting_unlend(self, image):
        self.given_back = getattr(self, "given_back", 0) + (self._slot_of(image) in self._lent)
        unlend(self, image)

    def recording_finish(self):
        if self.lends:
            with open(ledger, "a") as out:
                out.write(f"{len(self._lent)} {getattr(self, 'given_back', 0)}\n")
        finish(self)

    monkeypatch.setattr(SpotlightDrawer, "unlend", counting_unlend)
    monkeypatch.setattr(SpotlightDrawer, "finish", recording_finish)
    clips = {}
    for way, extra in (("drawn aside", {}), ("drawn by the walks", {"fork": False})):
        clip = SpotlightClip(tmp_path / f"{way}.mp4", info, max_width=320, stride=2, boxes_in=(640, 360))
        track = in_time(lambda: follow_target(path, 90 / 25.0, easy.truth[90][1], PitchDetector(),
                                              info=info, stride=2, spotlight=clip, **extra))
        assert isinstance(track, TargetTrack), track
        clip.finish()
        clips[way] = list(iter_frames(clip.out_path))
    finished = ledger.read_text().splitlines()
    assert len(finished) == 1, finished  # one lending drawer: the backward walk's
    outstanding, given_back = map(int, finished[0].split())
    assert given_back >= 80  # every frame the backward walk put in the clip was turned, its slot given back
    assert outstanding == 0
    aside, walks = clips["drawn aside"], clips["drawn by the walks"]
    assert [f.index for f in aside] == [f.index for f in walks] == list(range(100))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(aside, walks))


def test_a_far_player_s_kit_is_judged_against_what_its_few_pixels_show_anyway(tmp_path):
    """A far player's kit (11-15 px tall, a few dozen pixels) differs from its first sighting by as
    much as another kit does at full size: judged raw, half its sightings fail the follower's kit
    gate. Less the slack its size accounts for, most pass, and another kit still mostly fails."""
    spec = players_scaled(scene_preset("match", seconds=2.0, width=1280, height=720), 0.35)
    scene = render_scene(spec, tmp_path / "far.mp4")
    size, sx, sy = analysis_scaling(probe(scene.path))
    first, own, other = {}, [], []
    for frame in iter_frames(scene.path, size=size):
        boxes = {p: np.array(b) / [sx, sy, sx, sy] for p, b in scene.truth[frame.index].items()
                 if scene.visible_share[frame.index][p] > 0.9 and scene.kit_of(p) != "referee"}
        for p, b in boxes.items():
            kit = kit_descriptor(frame.image, b)
            if p not in first:
                first[p] = kit
                continue
            own.append(kit_distances(first[p], [kit], b[None])[0])
            other += [kit_distances(first[q], [kit], b[None])[0] for q in first if scene.kit_of(q) != scene.kit_of(p)]
    gate = FollowerSettings().kit_gate
    assert np.mean(np.array(own) <= gate) >= 0.75  # 0.85 (0.50 raw)
    assert np.mean(np.array(other) <= gate) <= 0.15  # 0.08 (0.01 raw)
