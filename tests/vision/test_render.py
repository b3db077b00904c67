"""render.py: the spotlight clip, the heatmap and the track files, checked on real outputs."""
from __future__ import annotations

import csv
import json
import os

import av
import cv2
import numpy as np
import pytest

from footy.vision.render import (CSV_COLUMNS, DRAWER_SLOTS, SpotlightClip, SpotlightDrawer, box_between,
                                 render_heatmap, write_track_csv, write_track_json)
from footy.vision.synthetic import default_scene, render_scene
from footy.vision.types import TargetTrack, TrackPoint, VisionError
from footy.vision.video import iter_frames, probe

from .spotlight import render_spotlight
from .timing import in_time

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return render_scene(default_scene(n_players=4, seconds=3.0), tmp_path_factory.mktemp("render") / "clip.mp4")


def truth_track(scene, player_id=1, hidden=range(40, 55), stride=1) -> TargetTrack:
    points = []
    for index in range(0, len(scene.truth), stride):
        box = scene.truth[index].get(player_id)
        visible = box is not None and index not in hidden
        points.append(TrackPoint(index, index / scene.spec.fps, tuple(box) if visible else None,
                                 0.9 if visible else 0.0))
    return TargetTrack(points=points, frames_total=len(points))


def test_box_between_analysed_frames_interpolates_or_takes_the_nearest():
    known = [(0, np.array([0, 0, 10, 20.0]), 1.0), (2, np.array([10, 0, 20, 20.0]), 0.5), (4, None, 0.0),
             (6, np.array([30, 0, 40, 20.0]), 1.0)]

    def at(index: int):  # the analysed frames on either side, as the spotlight's parts see them
        before = max((k for k in known if k[0] <= index), default=None, key=lambda k: k[0])
        after = min((k for k in known if k[0] > index), default=None, key=lambda k: k[0])
        return box_between(index, before, after, max_gap=5)  # stride 2

    box, conf = at(1)
    assert np.allclose(box, [5, 0, 15, 20]) and conf == pytest.approx(0.75)
    assert at(4)[0] is None
    assert np.allclose(at(3)[0], [10, 0, 20, 20])  # next to a lost frame: the nearest decides, a tie the sighting
    assert np.allclose(at(5)[0], [30, 0, 40, 20])
    assert at(7)[0] is not None and at(9)[0] is None  # past the end, then too far
    assert np.allclose(at(-1)[0], [0, 0, 10, 20])  # just before the first analysed frame
    assert box_between(0, None, None, 5) == (None, 0.0)


def test_csv_has_exact_columns_and_empty_boxes_when_not_visible(scene, tmp_path):
    track = truth_track(scene)
    path = tmp_path / "track.csv"
    write_track_csv(track, path)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == CSV_COLUMNS == ["frame_index", "time_sec", "x", "y", "w", "h", "confidence", "visible"]
    assert len(rows) == 1 + len(track.points)
    first, lost = rows[1], rows[1 + 45]
    x1, y1, x2, y2 = track.points[0].xyxy
    assert first[0] == "0" and first[7] == "1"
    assert [float(v) for v in first[2:6]] == pytest.approx([x1, y1, x2 - x1, y2 - y1], abs=0.06)
    assert lost[0] == "45" and lost[2:6] == ["", "", "", ""] and lost[7] == "0"
    assert float(lost[1]) == pytest.approx(1.8)


def test_json_track_round_trips(scene, tmp_path):
    track = truth_track(scene)
    track.decode_error = VisionError("VIDEO_DECODE_ERROR", "broken", frame_index=np.int64(75))
    path = tmp_path / "track.json"
    write_track_json(track, probe(scene.path), path)
    data = json.loads(path.read_text())
    assert data["video"]["width"] == 640 and data["video"]["fps"] == 25.0
    assert data["decode_error"] == {"code": "VIDEO_DECODE_ERROR", "message": "broken", "frame_index": 75}
    assert data["columns"] == ["frame_index", "time_sec", "x1", "y1", "x2", "y2", "confidence"]
    assert len(data["points"]) == len(track.points)
    assert data["points"][45][2:6] == [None] * 4
    assert data["points"][0][2:6] == pytest.approx(list(track.points[0].xyxy), abs=0.06)


@pytest.mark.parametrize("with_background", [True, False])
def test_heatmap_is_a_png_hot_where_the_player_stood(scene, tmp_path, with_background):
    info = probe(scene.path)
    track = truth_track(scene)
    background = next(iter_frames(scene.path)).image if with_background else None
    path = tmp_path / "heatmap.png"
    render_heatmap(track, info, path, background=background)
    assert path.read_bytes()[:8] == PNG_MAGIC
    image = cv2.imread(str(path))
    assert image.shape[:2] == (360, 640)
    feet = np.array([((p.xyxy[0] + p.xyxy[2]) / 2, p.xyxy[3]) for p in track.points if p.visible]).mean(axis=0)
    hot = image[int(feet[1]), int(feet[0])].astype(int)
    far = image[10, 630 - int(feet[0]) // 2].astype(int) if feet[0] < 320 else image[10, 10].astype(int)
    assert hot[2] > 150 and hot[2] > far[2] + 80  # red where the player spent the most time


def test_heatmap_of_an_empty_track_is_still_a_png(tmp_path, scene):
    path = tmp_path / "empty.png"
    render_heatmap(TargetTrack(), probe(scene.path), path)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_spotlight_is_browser_playable_and_lights_the_player(scene, tmp_path):
    info = probe(scene.path)
    track = truth_track(scene, stride=2)  # the lookup fills in the frames between
    path = tmp_path / "spotlight.mp4"
    progress = []
    render_spotlight(scene.path, track, path, info, max_width=480, progress=progress.append)
    assert progress[-1] == 1.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    data = path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # faststart
    out_info = probe(path)
    assert (out_info.width, out_info.height) == (480, 268)  # I420 wants a height divisible by 4
    assert out_info.frame_count == info.frame_count

    sx, sy = 480 / 640, 268 / 360
    source = {f.index: f.image for f in iter_frames(scene.path, size=(480, 268))}
    for frame in iter_frames(path):
        if frame.index not in (21, 47):  # visible (odd: interpolated), then not visible
            continue
        src = source[frame.index].astype(float)
        out = frame.image.astype(float)
        if frame.index == 21:
            x1, y1, x2, y2 = (np.array(scene.truth[21][1]) * [sx, sy, sx, sy]).astype(int)
            inside = out[y1 + 4:y2 - 4, x1 + 2:x2 - 2].mean() / src[y1 + 4:y2 - 4, x1 + 2:x2 - 2].mean()
            assert inside > 0.9, inside   # the player keeps full brightness
            corner = out[:60, -120:].mean() / src[:60, -120:].mean()
            assert corner < 0.5, corner   # the rest is dimmed
        else:
            ratio = out[:, 240:].mean() / src[:, 240:].mean()
            assert 0.5 < ratio < 0.7, ratio  # not visible: the whole frame dimmed, no spotlight


def test_spotlight_of_a_50_fps_video_keeps_every_second_frame(tmp_path):
    scene = render_scene(default_scene(n_players=2, seconds=1.0, fps=50.0), tmp_path / "fast.mp4")
    info = probe(scene.path)
    path = tmp_path / "spotlight.mp4"
    render_spotlight(scene.path, truth_track(scene, hidden=()), path, info, max_width=320)
    out = probe(path)
    assert out.fps == pytest.approx(25.0) and out.frame_count == 25
    assert out.duration_sec == pytest.approx(1.0, abs=0.05)


def test_spotlight_parts_written_unlike_are_joined_by_encoding_them_again(scene, tmp_path, caplog):
    info = probe(scene.path)
    clip = SpotlightClip(tmp_path / "spotlight.mp4", info, max_width=320, stride=1)
    frames = list(iter_frames(scene.path, size=clip.size, pixel_format="yuv420p"))[:20]
    for first, crf in ((0, 20), (10, 30)):  # another crf: other parameter sets, so no remux
        clip.crf = crf
        part = clip.part(first)
        for frame in frames[first:first + 10]:
            part.add_frame(frame.index, frame.time_sec, frame.image)
        part.add_point(TrackPoint(first + 9, 0.0, None, 0.0))
        part.close()
    clip.finish()
    assert "re-encoding" in caplog.text
    assert [f.index for f in iter_frames(tmp_path / "spotlight.mp4")] == list(range(20))
    assert [p.name for p in tmp_path.iterdir()] == ["spotlight.mp4"]  # the parts are gone


def _feed(clip: SpotlightClip, frames, track: TargetTrack, boxes_after: int) -> None:
    """One part of ``clip``: the first ``boxes_after`` frames before any box (they all wait), then
    frames and boxes in time order, interleaved; closed and joined."""
    part = clip.part(0)
    points = iter(track.points)
    upcoming = next(points, None)
    for frame in frames:
        part.add_frame(frame.index, frame.time_sec, frame.image.copy())
        while frame.index >= boxes_after and upcoming is not None and upcoming.frame_index <= frame.index:
            part.add_point(upcoming)
            upcoming = next(points, None)
    while upcoming is not None:
        part.add_point(upcoming)
        upcoming = next(points, None)
    part.close()


def test_a_drawer_process_draws_the_clip_the_walk_would_and_frames_beyond_its_slots_come_through_the_pipe(
        scene, tmp_path):
    # 50 frames wait for their first box: 32 in the memory shared with the drawer, the rest must
    # come through the pipe (a drawer that waited for a slot would wait for ever)
    info = probe(scene.path)
    track = truth_track(scene, stride=2)
    frames = list(iter_frames(scene.path, size=(320, 180), pixel_format="yuv420p"))
    assert DRAWER_SLOTS < 50 < len(frames)
    here = SpotlightClip(tmp_path / "here.mp4", info, max_width=320, stride=2)
    _feed(here, frames, track, boxes_after=50)
    here.finish()
    there = SpotlightClip(tmp_path / "there.mp4", info, max_width=320, stride=2)
    drawer = SpotlightDrawer(there)
    try:
        there.draw_in(drawer)
        assert in_time(lambda: (_feed(there, frames, track, boxes_after=50), drawer.finish()), 60) == (None, None)
    finally:
        drawer.close()
    there.finish()
    drawn_here, drawn_there = list(iter_frames(tmp_path / "here.mp4")), list(iter_frames(tmp_path / "there.mp4"))
    assert [f.index for f in drawn_there] == list(range(len(frames)))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(drawn_here, drawn_there))
    with pytest.raises(ChildProcessError):
        os.waitpid(drawer.pid, os.WNOHANG)  # ended and reaped


def test_a_drawer_that_fails_says_why_in_the_walk_and_ends(scene, tmp_path):
    info = probe(scene.path)
    clip = SpotlightClip(tmp_path / "clip.mp4", info, max_width=320, stride=1)
    frames = list(iter_frames(scene.path, size=clip.size, pixel_format="yuv420p"))
    drawer = SpotlightDrawer(clip)
    try:
        clip.draw_in(drawer)
        part = clip.part(0)
        clip.discard()  # the parts' folder is gone: the drawer cannot write the part
        with pytest.raises(Exception, match="No such file or directory") as raised:
            for frame in frames:
                part.add_frame(frame.index, frame.time_sec, frame.image)
                part.add_point(TrackPoint(frame.index, frame.time_sec, None, 0.0))
            part.close()
            drawer.finish()
        assert "spotlight" not in str(raised.value)  # the drawer's own error, not "it ended without a word"
        part.close(drawn=False)  # after an error, dropping what waits raises nothing more
    finally:
        drawer.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(drawer.pid, os.WNOHANG)


def test_a_drawer_lends_its_slots_only_when_told_and_a_slot_not_used_comes_back(scene, tmp_path):
    # the backward walk decodes its chunks into its drawer's slots; a frame converted elsewhere (a
    # turned video) or a chunk that failed gives its slots back, else they would run out for good
    info = probe(scene.path)
    clip = SpotlightClip(tmp_path / "clip.mp4", info, max_width=320, stride=1)
    few, lending = SpotlightDrawer(clip), SpotlightDrawer(clip, slots=4, lends=True)
    try:
        assert few.lend() is None
        lent = [lending.lend() for _ in range(4)]
        assert all(image is not None and lending.lent(image) for image in lent)
        assert lending.lend() is None  # all four out, none waiting to be drawn
        for image in lent:
            lending.unlend(image)
        again = [lending.lend() for _ in range(4)]
        assert {image.ctypes.data for image in again} == {image.ctypes.data for image in lent}
        assert not lending.lent(np.empty_like(again[0]))
    finally:
        few.close()
        lending.close()
