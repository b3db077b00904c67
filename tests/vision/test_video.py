"""video.py against real generated H.264 files: probing, seeking, broken files, the writer."""
from __future__ import annotations

import struct
import threading
import wave

import av
import cv2
import numpy as np
import pytest

from footy.vision.synthetic import default_scene, render_scene
from footy.vision.types import VisionError
from footy.vision.video import (H264Writer, concat_mp4, frame_at, iter_decoded, iter_frames, probe, to_bgr,
                                to_i420)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    render_scene(default_scene(n_players=4, seconds=4.0), path)  # 640x360, 25 fps, 100 frames
    return path


def top_level_atoms(path) -> list[str]:
    data = open(path, "rb").read()
    atoms, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        atoms.append(kind.decode("latin-1"))
        if size == 0:
            break
        offset += size
    return atoms


def test_probe_reads_the_generated_clip(clip):
    info = probe(clip)
    assert (info.width, info.height) == (640, 360)
    assert info.fps == pytest.approx(25.0)
    assert info.frame_count == 100
    assert info.duration_sec == pytest.approx(4.0, abs=0.05)
    assert info.codec == "h264"


@pytest.mark.parametrize("content", [
    np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes(),
    b"this is not a video, just a text file\n" * 100,
    b"",
])
def test_not_a_video_is_invalid(tmp_path, content):
    path = tmp_path / "upload.mp4"
    path.write_bytes(content)
    with pytest.raises(VisionError) as err:
        probe(path)
    assert err.value.code == "INVALID_VIDEO"
    with pytest.raises(VisionError) as err:
        list(iter_frames(path))
    assert err.value.code == "INVALID_VIDEO"


def test_audio_only_file_is_invalid(tmp_path):
    path = tmp_path / "sound.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(8000, np.int16).tobytes())
    with pytest.raises(VisionError) as err:
        probe(path)
    assert err.value.code == "INVALID_VIDEO"
    assert "no video stream" in err.value.message


def test_iter_frames_yields_every_frame_in_order(clip):
    indexes = [f.index for f in iter_frames(clip)]
    assert indexes == list(range(100))


def test_iter_frames_seeks_to_start_and_stops_at_end(clip):
    frames = list(iter_frames(clip, start_sec=2.0, end_sec=2.4))
    assert [f.index for f in frames] == list(range(50, 61))
    assert frames[0].time_sec == pytest.approx(2.0)
    # seeking lands on the very same picture as decoding from the start
    sequential = next(f for f in iter_frames(clip) if f.index == 50)
    assert np.array_equal(frames[0].image, sequential.image)


def test_iter_frames_step_and_size(clip):
    frames = list(iter_frames(clip, start_sec=1.0, end_sec=2.0, step=5, size=(320, 180)))
    assert [f.index for f in frames] == [25, 30, 35, 40, 45, 50]
    assert all(f.image.shape == (180, 320, 3) and f.image.dtype == np.uint8 for f in frames)


def test_frame_at_matches_sequential_decoding(clip):
    sequential = {f.index: f.image for f in iter_frames(clip)}
    for time_sec, index in [(0.0, 0), (1.5, 37), (3.96, 99)]:
        frame = frame_at(clip, time_sec)
        assert frame.index == pytest.approx(index, abs=1)
        assert np.array_equal(frame.image, sequential[frame.index])
    assert frame_at(clip, 60.0).index == 99  # past the end: the last frame


def test_truncated_file_yields_frames_then_decode_error(clip, tmp_path):
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # faststart: the index survives, half the frames do not
    assert probe(cut).frame_count == 100  # the container still promises all frames
    seen = []
    with pytest.raises(VisionError) as err:
        for frame in iter_frames(cut):
            seen.append(frame.index)
    assert err.value.code == "VIDEO_DECODE_ERROR"
    assert 10 < len(seen) < 95
    assert seen == list(range(len(seen)))
    assert err.value.details["frame_index"] == seen[-1] + 1


def test_writer_output_is_browser_playable_h264(tmp_path):
    path = tmp_path / "out.mp4"
    rng = np.random.default_rng(1)
    with H264Writer(path, fps=30, width=321, height=181) as writer:  # odd sizes are cropped to even
        for _ in range(45):
            writer.write(rng.integers(0, 256, (181, 321, 3), dtype=np.uint8))
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (320, 180)
    atoms = top_level_atoms(path)
    assert "moov" in atoms and "mdat" in atoms
    assert atoms.index("moov") < atoms.index("mdat"), atoms  # faststart
    info = probe(path)
    assert info.frame_count == 45 and info.fps == pytest.approx(30.0)


def test_keyframe_before_is_where_decoding_starts(clip):
    from footy.vision.track import _backward_chunk_start
    from footy.vision.video import keyframe_before

    path = clip
    duration = probe(path).duration_sec
    for t in (0.0, duration / 2, duration - 0.1):
        key = keyframe_before(path, t)
        assert key is not None and 0.0 <= key <= t + 1e-6
        first = next(iter_frames(path, start_sec=key))
        assert first.time_sec == pytest.approx(key, abs=0.05)
    # a backward chunk starts at a keyframe (no frame decoded twice) or a few seconds back
    start = _backward_chunk_start(path, duration, probe(path).fps, 2)
    assert 0.0 <= start < duration
    assert keyframe_before("/nonexistent.mp4", 1.0) is None


def _flat_part(path, level: int, frames: int, size=(320, 180), crf: int = 20) -> None:
    with H264Writer(path, 25, *size, crf=crf, preset="ultrafast", threads=1) as writer:
        image = np.full((size[1] * 3 // 2, size[0]), 128, np.uint8)  # grey: U = V = 128
        image[:size[1]] = level
        for _ in range(frames):
            writer.write_i420(image)


def test_concat_joins_parts_in_order_as_one_faststart_clip(tmp_path):
    parts = []
    for n, (level, frames) in enumerate([(40, 7), (120, 30), (200, 13)]):
        parts.append(tmp_path / f"part{n}.mp4")
        _flat_part(parts[-1], level, frames)
    out = tmp_path / "joined.mp4"
    concat_mp4(parts, out)
    atoms = top_level_atoms(out)
    assert atoms.index("moov") < atoms.index("mdat")  # faststart
    info = probe(out)
    assert info.frame_count == 50 and info.duration_sec == pytest.approx(2.0, abs=0.05)
    frames = list(iter_frames(out))
    assert [f.index for f in frames] == list(range(50))
    # each frame comes from its part, in order (grey: BGR levels follow the luma's)
    levels = [int(np.median(f.image)) for f in frames]
    expected = [(y - 16) * 255 // 219 for y in [40] * 7 + [120] * 30 + [200] * 13]  # limited -> full range
    assert all(abs(a - b) <= 8 for a, b in zip(levels, expected)), levels
    assert levels[6] < levels[7] and levels[36] < levels[37]  # the seams fall where the parts meet


def test_concat_refuses_parts_written_differently(tmp_path):
    _flat_part(tmp_path / "a.mp4", 50, 5)
    _flat_part(tmp_path / "b.mp4", 50, 5, size=(640, 360))
    with pytest.raises(ValueError):
        concat_mp4([tmp_path / "a.mp4", tmp_path / "b.mp4"], tmp_path / "out.mp4")
    with pytest.raises(ValueError):
        concat_mp4([], tmp_path / "out.mp4")


def test_prefetched_decoding_gives_the_same_frames_and_stops_cleanly(clip, tmp_path):
    plain = [(d.index, d.time_sec) for d in iter_decoded(clip, start_sec=1.0, end_sec=3.0)]
    ahead = [(d.index, d.time_sec) for d in iter_decoded(clip, start_sec=1.0, end_sec=3.0, prefetch=3)]
    assert plain == ahead and plain[0][0] == 25 and plain[-1][0] == 75
    frames = iter_decoded(clip, prefetch=2)
    first = next(frames)
    assert first.index == 0 and to_bgr(first.frame, (320, 180)).shape == (180, 320, 3)
    frames.close()  # a caller that stops early: the decoding thread goes with it
    assert not [t for t in threading.enumerate() if t.name == "footy-decode"]
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VisionError) as err:
        for _ in iter_decoded(cut, prefetch=2):
            pass
    assert err.value.code == "VIDEO_DECODE_ERROR" and err.value.details["frame_index"] > 10


def _phone_clip(path, rotation: int, frames: int = 12) -> np.ndarray:
    """A clip stored 64x32 as a sensor sees it (a white band on the left third, a grey band on the
    top quarter) with a display matrix turning it ``rotation`` degrees counterclockwise, as a phone
    writes it. Returns the stored picture."""
    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:, :20] = 255
    stored[:8, 20:] = 128
    with H264Writer(path, 25, 64, 32, crf=10, rotation=rotation) as writer:
        for _ in range(frames):
            writer.write(stored)
    return stored


@pytest.mark.parametrize("rotation,turned", [(90, np.rot90), (270, lambda a: np.rot90(a, -1)),
                                             (180, lambda a: np.rot90(a, 2))])
def test_a_phone_clip_is_read_the_way_it_is_shown(tmp_path, rotation, turned):
    # a phone filming upright (or upside down) stores the picture sideways plus a display matrix:
    # footy reads, previews and analyses the picture as a player shows it, never sideways
    path = tmp_path / "phone.mp4"
    shown = turned(_phone_clip(path, rotation))  # np.rot90 turns counterclockwise, as the matrix says
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (shown.shape[1], shown.shape[0], rotation)
    for image in (next(iter_frames(path)).image, frame_at(path, 0.2).image):
        assert image.shape == shown.shape
        assert np.abs(image.astype(int) - shown).mean() < 6
    # scaled on the way (the analysis size), and as I420 for the spotlight clip: turned the same way
    half = (info.width // 2, info.height // 2)
    small = next(iter_frames(path, size=half)).image
    assert np.abs(small.astype(int) - cv2.resize(shown, half, interpolation=cv2.INTER_AREA)).mean() < 8
    i420 = next(iter_frames(path, pixel_format="yuv420p")).image
    assert np.abs(cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420).astype(int) - shown).mean() < 8


def test_a_clip_without_a_display_matrix_is_not_turned(clip):
    assert probe(clip).rotation == 0


def test_to_i420_writes_into_the_array_it_is_given_when_it_fits(clip):
    # the backward walk hands a chunk's frame arrays on to the next chunk (track._FramePool)
    decoded = next(iter_decoded(clip))
    fresh = to_i420(decoded.frame, (320, 180))
    reused = np.full((270, 320), 7, np.uint8)
    assert to_i420(decoded.frame, (320, 180), out=reused) is reused and np.array_equal(reused, fresh)
    other = to_i420(decoded.frame, (320, 180), out=np.zeros((10, 10), np.uint8))  # not its shape: a new one
    assert other.shape == (270, 320) and np.array_equal(other, fresh)


def test_decoding_without_deblocking_gives_the_same_frames_nearly_alike_at_half_size(tmp_path):
    """A grainy panned clip at a low bitrate blocks; without the deblocking filter the frames are
    the same frames, differ (the option is taken), and at half size stay close to the filtered ones."""
    path = tmp_path / "grainy.mp4"
    rng = np.random.default_rng(3)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (180, 480), np.uint8), (0, 0), 2.0)
    with H264Writer(path, 25, 320, 180, crf=38) as writer:
        for i in range(50):
            grass = np.dstack([texture[:, 2 * i:2 * i + 320] // 3, texture[:, 2 * i:2 * i + 320] // 2 + 60,
                               texture[:, 2 * i:2 * i + 320] // 4])
            writer.write(np.ascontiguousarray(grass))
    filtered = list(iter_decoded(path, prefetch=2))
    unfiltered = list(iter_decoded(path, prefetch=2, deblock=False))
    assert [d.index for d in filtered] == [d.index for d in unfiltered] == list(range(50))

    def differences(size):  # mean absolute difference of each frame pair, in grey levels
        return [float(np.abs(to_bgr(a.frame, size).astype(np.int16) - to_bgr(b.frame, size)).mean())
                for a, b in zip(filtered, unfiltered)]

    assert min(differences(None)) > 0.5  # every frame, the keyframe too: the filter was skipped
    assert max(differences((160, 90))) < 2.0  # drifting over the keyframe interval, but no more
