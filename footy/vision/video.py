"""Video in and out, streamed: probing, frame iteration, seeking, browser-playable H.264 writing.

Nothing here holds more than one decoded frame (a prefetching decoder: the few it runs ahead);
callers keep whatever window they need.
"""
from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from .types import Frame, VideoInfo, VisionError


def _open(path: str | Path, frame_threads: bool = True, deblock: bool = True):
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise VisionError("INVALID_VIDEO", f"not a readable video file: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise VisionError("INVALID_VIDEO", "the file has no video stream")
    stream = container.streams.video[0]
    if frame_threads:
        stream.thread_type = "AUTO"  # frame + slice threads: decode is the pipeline's physical limit
    else:  # the caller runs the decoder on a thread of its own, beside other work (see iter_decoded)
        stream.thread_type, stream.thread_count = "NONE", 1
    if not deblock:  # see iter_decoded
        stream.codec_context.options = {"skip_loop_filter": "all"}
    return container, stream


def _fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    return fps if math.isfinite(fps) and 0 < fps <= 1000 else 25.0


def probe(path: str | Path) -> VideoInfo:
    """Read the container's metadata and decode one frame to prove the file is really a video."""
    container, stream = _open(path)
    try:
        fps = _fps(stream)
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        frame_count = int(stream.frames or 0) or int(round(duration * fps))
        try:
            first = next(container.decode(stream), None)
        except (av.error.FFmpegError, ValueError) as exc:
            raise VisionError("INVALID_VIDEO", f"the video stream cannot be decoded: {exc}") from exc
        if first is None:
            raise VisionError("INVALID_VIDEO", "the video stream has no frames")
        rotation = turn(first)
        width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
        if frame_count <= 0:
            frame_count = 1
        if duration <= 0:
            duration = frame_count / fps
        codec = stream.codec_context.name or "unknown"
        return VideoInfo(fps=fps, frame_count=frame_count, width=width, height=height,
                         duration_sec=duration, codec=codec, rotation=rotation)
    finally:
        container.close()


def _frame_time(frame, stream, fps: float, fallback_index: int) -> float:
    if frame.pts is not None and stream.time_base:
        start = stream.start_time or 0
        return float((frame.pts - start) * stream.time_base)
    return fallback_index / fps


# Colour conversion, measured at 720p on the 2-core target: swscale to full-size BGR on one thread
# ~0.8 ms (two threads win a little when idle, lose 2-3x when the cores are busy); scaled BGR through
# swscale ~2-4 ms, against ~0.8 ms for scaling the I420 planes with OpenCV and converting after.
# a stream that stops this many frames short of the container's frame count was cut off
_TRUNCATION_TOLERANCE_FRAMES = 3
_TRUNCATION_TOLERANCE_SHARE = 0.01


def turn(frame) -> int:
    """Degrees (0, 90, 180 or 270) a decoded frame is turned counterclockwise to be shown: a phone
    filming upside down or upright stores the picture as its sensor saw it, plus a display matrix."""
    return int(round((getattr(frame, "rotation", 0) or 0) / 90.0)) % 4 * 90


_CV_TURN = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


def to_bgr(frame, size: tuple[int, int] | None) -> np.ndarray:
    """A decoded frame as a BGR array, as shown (turned by its display matrix), scaled to ``size``
    (width, height) on the way when given."""
    rotation = turn(frame)
    if rotation:
        stored = None if size is None else ((size[1], size[0]) if rotation in (90, 270) else tuple(size))
        return cv2.rotate(_stored_bgr(frame, stored), _CV_TURN[rotation])
    return _stored_bgr(frame, size)


def _stored_bgr(frame, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or (frame.width, frame.height) == tuple(size):
        return frame.to_ndarray(format="bgr24", threads=1)
    width, height = int(size[0]), int(size[1])
    if width % 2 == 0 and height % 4 == 0:  # scale the planes with OpenCV, then convert the small image
        return cv2.cvtColor(_stored_i420(frame, (width, height)), cv2.COLOR_YUV2BGR_I420)
    return frame.to_ndarray(format="bgr24", width=width, height=height, interpolation="BILINEAR", threads=1)


def i420_planes(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views on the Y, U and V planes of an I420 image of shape (height * 3 / 2, width)."""
    height, width = image.shape[0] * 2 // 3, image.shape[1]
    quarter = height // 4
    y = image[:height]
    u = image[height:height + quarter].reshape(height // 2, width // 2)
    v = image[height + quarter:height + 2 * quarter].reshape(height // 2, width // 2)
    return y, u, v


def check_i420_size(width: int, height: int) -> None:
    if width % 2 or height % 4:
        raise ValueError(f"I420 images need an even width and a height divisible by 4, not {width}x{height}")


def to_i420(frame, size: tuple[int, int] | None, out: np.ndarray | None = None) -> np.ndarray:
    """The frame as one I420 array, planes scaled with OpenCV: 5-10x cheaper than swscale to BGR.
    A turned frame (see ``turn``) goes through BGR: rare, and its planes' sizes need not fit I420.
    ``out``: an array to write it into, when it has the frame's I420 shape (else a new one)."""
    if turn(frame):
        image = to_bgr(frame, size)
        check_i420_size(image.shape[1], image.shape[0])
        return cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
    return _stored_i420(frame, size, out)


def _stored_i420(frame, size: tuple[int, int] | None, out: np.ndarray | None = None) -> np.ndarray:
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        frame = frame.reformat(format="yuv420p")
    width, height = (int(size[0]), int(size[1])) if size is not None else (frame.width, frame.height)
    check_i420_size(width, height)
    if out is None or out.shape != (height * 3 // 2, width) or out.dtype != np.uint8:
        out = np.empty((height * 3 // 2, width), np.uint8)
    for plane, dst in zip(frame.planes, i420_planes(out)):
        src = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width]
        if src.shape == dst.shape:
            dst[...] = src
        else:
            exact = src.shape[0] % dst.shape[0] == 0 and src.shape[1] % dst.shape[1] == 0
            # INTER_AREA has a fast path for integer factors (1280->640) and does not alias
            dst[...] = cv2.resize(src, (dst.shape[1], dst.shape[0]),
                                  interpolation=cv2.INTER_AREA if exact else cv2.INTER_LINEAR)
    return out


def iter_frames(path: str | Path, start_sec: float = 0.0, end_sec: float | None = None,
                step: int = 1, size: tuple[int, int] | None = None, pixel_format: str = "bgr24") -> Iterator[Frame]:
    """Yield frames from ``start_sec`` (seeking, not decoding from the start) until ``end_sec``.

    ``step`` keeps every n-th frame by index (the others are decoded but never converted).
    ``size`` (width, height) scales the images while converting them, cheaper than resizing after.
    ``pixel_format="yuv420p"`` yields I420 arrays (see ``i420_planes``) instead of BGR, for
    re-encoding without any colour conversion.
    A stream that breaks part-way, or stops well short of the frame count its container
    declares (a truncated upload), raises ``VisionError("VIDEO_DECODE_ERROR", frame_index=...)``
    after the frames that did decode; ``frame_index`` is the first frame that did not.
    """
    if pixel_format not in ("bgr24", "yuv420p"):
        raise ValueError(f"pixel_format must be bgr24 or yuv420p, not {pixel_format!r}")
    convert = to_i420 if pixel_format == "yuv420p" else to_bgr
    for decoded in iter_decoded(path, start_sec, end_sec):
        if decoded.index % step == 0:
            yield Frame(index=decoded.index, time_sec=decoded.time_sec, image=convert(decoded.frame, size))


@dataclass
class DecodedFrame:
    """A decoded frame before any conversion (``to_bgr`` / ``to_i420`` make arrays of it), so one
    decode can feed several consumers at their own sizes: the analysis and the spotlight clip."""

    index: int
    time_sec: float  # index / fps
    frame: av.VideoFrame
    stamp_sec: float | None = None  # the frame's own timestamp, which ``start_sec`` is compared with


def iter_decoded(path: str | Path, start_sec: float = 0.0, end_sec: float | None = None,
                 prefetch: int = 0, deblock: bool = True) -> Iterator[DecodedFrame]:
    """Every frame from ``start_sec`` until ``end_sec``, unconverted; errors as ``iter_frames``.

    ``prefetch`` > 0 decodes on a thread of its own, with one decoder thread, up to that many
    frames ahead. For a caller that does real work per frame this is faster than ffmpeg's frame
    threads, which cost ~30 % more CPU for a decode only ~10 % quicker (measured at 720p on 2
    cores): the decoding and the caller's work share the cores instead.
    ``deblock=False`` skips the codec's in-loop deblocking filter (H.264, HEVC): ~15-20 % less
    decode CPU at 720p. Its blocking is a fraction of a pixel once the frames are scaled to half
    size or less (at 720p, 3 Mbit/s, a 640 px frame stays 46 dB and more from the filtered one
    over a 10 s keyframe interval), so it is for callers that only use them so scaled.
    """
    if prefetch > 0:
        yield from _prefetched(lambda: _decode(path, start_sec, end_sec, frame_threads=False, deblock=deblock),
                               prefetch)
    else:
        yield from _decode(path, start_sec, end_sec, deblock=deblock)


def _decode(path: str | Path, start_sec: float, end_sec: float | None,
            frame_threads: bool = True, deblock: bool = True) -> Iterator[DecodedFrame]:
    container, stream = _open(path, frame_threads, deblock)
    fps = _fps(stream)
    expected_frames = int(stream.frames or 0)  # exact for MP4/MOV, 0 when the container does not say
    try:
        if start_sec > 0:
            _seek(container, stream, start_sec)
        produced = 0
        last_index = int(start_sec * fps) - 1  # until a frame decodes, errors point at the seek target
        decoder = container.decode(stream)
        while True:
            try:
                frame = next(decoder)
            except StopIteration:
                _check_complete(last_index, expected_frames, fps, end_sec)
                return
            except (av.error.FFmpegError, ValueError) as exc:
                raise VisionError("VIDEO_DECODE_ERROR", f"the video stops decoding after frame {last_index}: {exc}",
                                  frame_index=last_index + 1) from exc
            time_sec = _frame_time(frame, stream, fps, produced)
            index = int(round(time_sec * fps))
            produced += 1
            if produced > 1 and index <= last_index:  # duplicated timestamps: keep indexes increasing
                index = last_index + 1
            if end_sec is not None and time_sec > end_sec + 0.5 / fps:
                return
            last_index = index
            if time_sec + 0.5 / fps < start_sec:
                continue
            yield DecodedFrame(index=index, time_sec=index / fps, frame=frame, stamp_sec=time_sec)
    finally:
        container.close()


_END = object()


def _prefetched(make: Callable[[], Iterator], depth: int) -> Iterator:
    """The items of ``make()``, produced on a thread of its own at most ``depth`` ahead. Its
    exceptions are raised here; stopping early (``close``) stops the thread and closes ``make()``."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = make()
        try:
            for item in source:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put((_END, exc))
        finally:
            source.close()

    producer = threading.Thread(target=produce, name="footy-decode", daemon=True)
    producer.start()
    try:
        while True:
            item, error = items.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while producer.is_alive():  # make room, so a producer waiting to put sees the stop at once
            try:
                items.get(timeout=0.01)
            except queue.Empty:
                pass
        producer.join()


def _check_complete(last_index: int, expected_frames: int, fps: float, end_sec: float | None) -> None:
    """Raise VIDEO_DECODE_ERROR when the stream ended well before the frames it should have."""
    if expected_frames <= 0:
        return
    wanted = expected_frames if end_sec is None else min(expected_frames, int(end_sec * fps))
    tolerance = max(_TRUNCATION_TOLERANCE_FRAMES, int(expected_frames * _TRUNCATION_TOLERANCE_SHARE))
    if last_index + 1 < wanted - tolerance:
        raise VisionError("VIDEO_DECODE_ERROR",
                          f"the video ends at frame {last_index + 1} of {expected_frames}: the file looks truncated",
                          frame_index=last_index + 1)


def _seek(container, stream, time_sec: float) -> None:
    if not stream.time_base:
        return
    target = int(time_sec / stream.time_base) + (stream.start_time or 0)
    try:
        container.seek(target, stream=stream, backward=True, any_frame=False)
    except av.error.FFmpegError:
        container.seek(0, stream=stream)


def keyframe_before(path: str | Path, time_sec: float) -> float | None:
    """Time of the keyframe a seek to ``time_sec`` lands on (demuxed, nothing decoded); None if unknown."""
    try:
        container, stream = _open(path)
    except VisionError:
        return None
    try:
        if not stream.time_base:
            return None
        start = stream.start_time or 0
        try:
            container.seek(int(time_sec / stream.time_base) + start, stream=stream, backward=True, any_frame=False)
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                return float((packet.pts - start) * stream.time_base) if packet.is_keyframe else None
        except (av.error.FFmpegError, ValueError):
            return None
        return None
    finally:
        container.close()


def frame_at(path: str | Path, time_sec: float) -> Frame:
    """The frame shown at ``time_sec``, found by seeking to the keyframe before it."""
    best = None
    for frame in iter_frames(path, start_sec=max(0.0, time_sec)):
        best = frame
        break
    if best is None:  # past the end: the last frame
        info = probe(path)
        for frame in iter_frames(path, start_sec=max(0.0, info.duration_sec - 2.0)):
            best = frame
    if best is None:
        raise VisionError("INVALID_VIDEO", f"no frame at {time_sec:.3f}s")
    return best


class H264Writer:
    """MP4 with H.264 in yuv420p and the moov atom up front (faststart): plays in Chromium's <video>."""

    def __init__(self, path: str | Path, fps: float, width: int, height: int, crf: int = 23,
                 preset: str = "veryfast", threads: int | None = None, keyint: int | None = None,
                 rotation: int = 0):
        """``rotation``: a display matrix turning the picture that many degrees counterclockwise to
        be shown, as a phone writes it (see ``turn``); the images written are the stored picture."""
        self.path = str(path)
        # yuv420p needs even dimensions
        self.width, self.height = width - width % 2, height - height % 2
        self._container = av.open(self.path, mode="w", options={"movflags": "+faststart"})
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        if rotation:
            self._stream.set_display_rotation(rotation)
        if keyint:  # frames between keyframes (x264's default is 250)
            self._stream.codec_context.gop_size = int(keyint)
        options = {"crf": str(crf), "preset": preset}
        if threads is not None:  # 0: x264 decides; unset: FFmpeg's default for the codec context
            options["threads"] = str(threads)
        self._stream.options = options
        self._stream.codec_context.options = options

    def write(self, image: np.ndarray) -> None:
        if image.shape[1] != self.width or image.shape[0] != self.height:
            image = image[: self.height, : self.width]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def write_i420(self, image: np.ndarray) -> None:
        """Write an I420 array of exactly (height * 3 / 2, width): no colour conversion at all."""
        if image.shape != (self.height * 3 // 2, self.width):
            raise ValueError(f"I420 image of shape {image.shape} does not fit {self.width}x{self.height}")
        frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> "H264Writer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def concat_mp4(parts: list, out_path: str | Path) -> None:
    """Join MP4 files of one H.264 stream each, written by ``H264Writer`` with the same size, rate
    and settings, into one faststart MP4, by remuxing: nothing is decoded or encoded again.

    Every part starts with a keyframe, so the joined stream is valid where the parameter sets
    agree; parts whose parameter sets or time base differ raise ``ValueError``.
    """
    if not parts:
        raise ValueError("nothing to join")
    with av.open(str(parts[0])) as first:
        template = first.streams.video[0]
        extradata = template.codec_context.extradata
        with av.open(str(out_path), mode="w", options={"movflags": "+faststart"}) as out:
            stream = out.add_stream_from_template(template)
            offset = 0  # in the parts' time base: where the next part starts
            for part in parts:
                with av.open(str(part)) as container:
                    source = container.streams.video[0]
                    if source.codec_context.extradata != extradata or source.time_base != template.time_base:
                        raise ValueError(f"{Path(part).name} was not written with the same settings")
                    end = offset
                    for packet in container.demux(source):
                        if packet.dts is None:  # the demuxer's flush packet
                            continue
                        packet.pts += offset
                        packet.dts += offset
                        end = max(end, packet.pts + (packet.duration or 0))
                        packet.stream = stream
                        out.mux(packet)
                    offset = end
