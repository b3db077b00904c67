"""analyze_video end to end on generated clips, with the real default detector and tracker."""
from __future__ import annotations

import ctypes
import ctypes.util
import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from footy.vision.analysis import ARTEFACT_NAMES, SPOTLIGHT_MAX_WIDTH, AnalysisOutput, analyze_video, default_stride
from footy.vision.score import AXES, PARTIAL_COVERAGE
from footy.vision.synthetic import PlayerSpec, SceneSpec, default_scene, render_scene
from footy.vision.types import NormBox, TargetTrack, TrackPoint, VisionError
from footy.vision.video import H264Writer, iter_frames, probe

from .spotlight import render_spotlight

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return render_scene(default_scene(n_players=6, seconds=5.0, seed=3), tmp_path_factory.mktemp("an") / "clip.mp4")


def target_box(scene, frame_index: int, player_id: int) -> NormBox:
    return NormBox.from_xyxy(scene.truth[frame_index][player_id], scene.spec.width, scene.spec.height)


def test_analysis_produces_result_and_all_artefacts(scene, tmp_path):
    steps = []
    out = analyze_video(scene.path, 2.0, target_box(scene, 50, 2), tmp_path / "job", role="midfielder",
                        progress=lambda fraction, step: steps.append((fraction, step)))
    assert isinstance(out, AnalysisOutput)
    assert out.status == "COMPLETED"
    result = json.loads(json.dumps(out.result))
    assert set(result["radar"]) == set(AXES) and 0 <= result["overallScore"] <= 100
    assert result["role"] == "midfielder" and 0 <= result["roleScore"] <= 100
    assert result["coverage"] >= 0.9  # an unoccluded player on a clean clip is held all the way
    assert result["frames_analysed"] == pytest.approx(125 / result["stride"], abs=1)

    assert set(out.artefacts) == set(ARTEFACT_NAMES)
    for key, name in ARTEFACT_NAMES.items():
        assert out.artefacts[key] == tmp_path / "job" / name and out.artefacts[key].stat().st_size > 0
    assert out.artefacts["heatmap"].read_bytes()[:8] == PNG_MAGIC
    spotlight = probe(out.artefacts["spotlight"])
    assert spotlight.codec == "h264" and spotlight.frame_count == 125
    assert out.artefacts["track_csv"].read_text().splitlines()[0] == "frame_index,time_sec,x,y,w,h,confidence,visible"
    assert len(json.loads(out.artefacts["track_json"].read_text())["points"]) == result["frames_analysed"]

    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"tracking", "rendering"} <= {s for _, s in steps}


def test_the_followed_box_stays_on_the_chosen_player(scene, tmp_path):
    out = analyze_video(scene.path, 2.0, target_box(scene, 50, 2), tmp_path / "job", stride=1)
    rows = [line.split(",") for line in out.artefacts["track_csv"].read_text().splitlines()[1:]]
    hits = 0
    for row in rows:
        index, visible = int(row[0]), row[7] == "1"
        truth = scene.truth[index].get(2)
        if visible and truth:
            x, y, w, h = (float(v) for v in row[2:6])
            cx, cy = x + w / 2, y + h / 2
            hits += truth[0] <= cx <= truth[2] and truth[1] <= cy <= truth[3]
    assert hits >= 0.9 * len(rows)


def test_invalid_video_propagates(tmp_path):
    path = tmp_path / "x.mp4"
    path.write_bytes(b"not a video" * 1000)
    with pytest.raises(VisionError) as err:
        analyze_video(path, 0.0, NormBox(0.1, 0.1, 0.1, 0.2), tmp_path / "job")
    assert err.value.code == "INVALID_VIDEO"


def test_unknown_role_fails_before_the_work(scene, tmp_path):
    with pytest.raises(ValueError):
        analyze_video(scene.path, 0.0, target_box(scene, 0, 1), tmp_path / "job", role="sweeper-keeper")
    assert not (tmp_path / "job").exists()


def test_video_broken_late_ends_partial_with_the_error(scene, tmp_path):
    data = scene.path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.75)])
    out = analyze_video(cut, 1.0, target_box(scene, 25, 2), tmp_path / "job")
    assert out.status == "PARTIAL"
    assert "VIDEO_DECODE_ERROR" in out.result["partial_reasons"]
    error = out.result["error"]
    assert error["code"] == "VIDEO_DECODE_ERROR" and 40 < error["frame_index"] < 120 and error["message"]
    assert set(out.result["radar"]) == set(AXES)
    assert all(path.exists() for path in out.artefacts.values())


def test_video_broken_early_raises_decode_error(scene, tmp_path):
    data = scene.path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.2)])
    with pytest.raises(VisionError) as err:
        analyze_video(cut, 0.2, target_box(scene, 5, 2), tmp_path / "job")
    assert err.value.code == "VIDEO_DECODE_ERROR"


def test_player_leaving_the_picture_ends_partial_for_low_coverage(tmp_path):
    # the camera pans right past a standing player: they are out of the picture after ~1 s of 5 s
    # (nobody else wears their kit: a team-mate coming in would be a fair re-identification mistake)
    spec = SceneSpec(seconds=5.0, pan_px_per_frame=6.0, players=[
        PlayerSpec(1, "red", start=(150, 250), velocity=(0, 0), height=60),
        PlayerSpec(2, "blue", start=(600, 230), velocity=(1.0, 0.2), height=58),
        PlayerSpec(3, "yellow", start=(900, 300), velocity=(-0.5, 0), height=62),
    ])
    scene = render_scene(spec, tmp_path / "pan.mp4")
    out = analyze_video(scene.path, 0.0, target_box(scene, 0, 1), tmp_path / "job")
    assert out.result["coverage"] < PARTIAL_COVERAGE
    assert out.status == "PARTIAL" and out.result["partial_reasons"] == ["LOW_COVERAGE"]
    assert out.result["lost_segments"] and out.result["lost_segments"][-1]["end_sec"] == pytest.approx(5.0, abs=0.2)


def test_default_stride_keeps_analysis_at_or_under_the_cap():
    assert default_stride(25.0) >= 1 and default_stride(60.0) >= default_stride(30.0) >= default_stride(25.0)
    assert default_stride(0) == 1
    for fps in (10, 15, 24, 25, 29.97, 30, 50, 59.94, 60, 120):  # "at most 15 analysed frames a second"
        assert fps / default_stride(fps) <= 15.0 + 1e-6, fps
        assert default_stride(fps) == 1 or fps / (default_stride(fps) - 1) > 15.0, fps  # and no coarser


def test_the_spotlight_drawn_while_following_matches_one_drawn_afterwards(scene, tmp_path):
    # keyframes every second: the backward walk goes in several chunks, so the clip is joined from parts
    short_gop = tmp_path / "gop.mp4"
    with H264Writer(short_gop, 25, 640, 360, crf=18, keyint=25) as writer:
        for frame in iter_frames(scene.path):
            writer.write(frame.image)
    out = analyze_video(short_gop, 3.0, target_box(scene, 75, 2), tmp_path / "job", stride=2)
    assert [p.name for p in (tmp_path / "job").iterdir() if p.name.startswith(".")] == []  # parts cleaned up
    with av.open(str(out.artefacts["spotlight"])) as container:
        keyframes = sum(packet.is_keyframe for packet in container.demux(container.streams.video[0]))
    assert keyframes >= 4  # three backward chunks and the forward walk

    # the same track drawn in a pass of its own, from the track file the analysis wrote
    rows = json.loads(out.artefacts["track_json"].read_text())["points"]
    track = TargetTrack(points=[TrackPoint(i, t, None if x1 is None else (x1, y1, x2, y2), c)
                                for i, t, x1, y1, x2, y2, c in rows])
    again = tmp_path / "again.mp4"
    render_spotlight(short_gop, track, again, probe(short_gop), max_width=SPOTLIGHT_MAX_WIDTH)
    drawn, redrawn = list(iter_frames(out.artefacts["spotlight"])), list(iter_frames(again))
    assert [f.index for f in drawn] == [f.index for f in redrawn] == list(range(125))  # no frame twice or lost
    # equal but for the encoder's noise (a frame drawn one frame off differs by ~160 levels here)
    worst = max(np.percentile(np.abs(a.image.astype(int) - b.image.astype(int)), 99.9)
                for a, b in zip(drawn, redrawn))
    assert worst < 40, worst


def test_a_50_fps_video_analysed_from_its_middle_gives_a_25_fps_clip_of_every_second_frame(tmp_path):
    scene = render_scene(default_scene(n_players=3, seconds=2.0, fps=50.0), tmp_path / "fast.mp4")
    out = analyze_video(scene.path, 1.0, target_box(scene, 50, 1), tmp_path / "job")
    assert out.result["stride"] == 4  # at most 15 analysed frames a second
    clip = probe(out.artefacts["spotlight"])
    assert clip.fps == pytest.approx(25.0) and clip.frame_count == 50
    assert clip.duration_sec == pytest.approx(2.0, abs=0.05)


HEAP = """
import ctypes, sys
sys.path.insert(0, {root!r})
from footy.vision.analysis import steady_heap


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
print(steady_heap() if sys.argv[1] == "steady" else None)
before = libc.mallinfo2()
block = libc.malloc(3 << 20)  # a 720p frame's planes, twice over
during = libc.mallinfo2()
libc.free(block)
print(during.hblks - before.hblks, libc.mallinfo2().arena >= during.arena > before.arena)  # grown, and kept
"""


@pytest.mark.skipif(not hasattr(ctypes.CDLL(ctypes.util.find_library("c")), "mallinfo2"), reason="not glibc >= 2.33")
def test_the_analysis_keeps_frame_sized_blocks_on_the_heap_and_the_heap_kept():
    # by default glibc hands a block this size fresh pages from the kernel (mmap) and gives them
    # back when it is freed: every frame then costs page faults. steady_heap keeps it on the heap,
    # and the heap does not shrink back after it
    root = str(Path(__file__).resolve().parents[2])
    runs = {how: subprocess.run([sys.executable, "-c", HEAP.format(root=root), how], capture_output=True,
                                text=True, check=True).stdout.split("\n")
            for how in ("default", "steady")}
    assert runs["default"][:2] == ["None", "1 False"]
    assert runs["steady"][:2] == ["True", "0 True"]
