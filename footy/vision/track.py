"""Tracking: candidate tracks around a preview frame, and the chosen player through the video.

``candidate_tracks`` runs ByteTrack (Roboflow ``trackers``) over a short window of frames and
returns the players alive on the preview frame. ``follow_target`` follows one confirmed player
forward to the end and backward to the start, streaming: each frame becomes a small
``follower.Observation`` (detections, their kit-colour descriptors, the camera motion since the
previous frame), and one ``follower.TargetFollower`` walks observations in either direction.
Backward, a chunk of a few seconds is decoded forward into observations (no images but a small
grey frame kept) and then walked in reverse. This module runs the walks: the two directions side
by side (the backward one in a process of its own), their chunks and hand-overs, and the spotlight
clip drawn from the same decoded frames.
"""
from __future__ import annotations

import copy
import functools
import itertools
import logging
import math
import mmap
import multiprocessing
import pickle
import queue
import struct
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, NamedTuple

import cv2
import numpy as np
import supervision as sv
from trackers import ByteTrackTracker

from .camera import CameraMotion, estimate_motion, invert_motion
from .detect import Detector, guessed
from .follower import (FollowerSettings, Observation, StartMotion, TargetFollower, clearer_motion, new_follower,
                       observe, snap)
from .forking import CAN_FORK, end_child, fork_child
from .kits import kit_descriptor
from .observing import ObserverProcess
from .render import DRAWER_SLOTS, SpotlightDrawer
from .types import CandidateTrack, TargetTrack, TrackPoint, VideoInfo, VisionError
from .video import DecodedFrame, iter_decoded, iter_frames, keyframe_before, probe, to_bgr, to_i420

if TYPE_CHECKING:
    from .render import SpotlightClip

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Candidate tracks
# --------------------------------------------------------------------------------------------


ANALYSIS_WIDTH = 640  # frames are decoded straight to this width; detectors work at ~this scale anyway


def analysis_size(info: VideoInfo) -> tuple[int, int] | None:
    """(width, height) to decode at for analysis, or None to keep the source size."""
    if info.width <= ANALYSIS_WIDTH:
        return None
    height = int(round(info.height * ANALYSIS_WIDTH / info.width / 2)) * 2
    return ANALYSIS_WIDTH, max(2, height)


def analysis_scaling(info: VideoInfo) -> tuple[tuple[int, int] | None, float, float]:
    """Decode size for analysis and the x/y factors from analysis pixels back to source pixels."""
    size = analysis_size(info)
    if size is None:
        return None, 1.0, 1.0
    return size, info.width / size[0], info.height / size[1]


def new_candidate_tracker(fps: float) -> ByteTrackTracker:
    """The ByteTrack configuration candidate tracks use (the accuracy benchmark scores this)."""
    return ByteTrackTracker(lost_track_buffer=int(round(30 * 0.8)), frame_rate=fps,
                            track_activation_threshold=0.5, minimum_consecutive_frames=2,
                            minimum_iou_threshold=0.15, high_conf_det_threshold=0.5)


def detect_scaled(detector: Detector, image: np.ndarray, sx: float, sy: float) -> sv.Detections:
    """Detections on an analysis-size image, boxes back in source pixels."""
    detections = detector.detect(image)
    if len(detections) and (sx != 1.0 or sy != 1.0):
        detections.xyxy = (detections.xyxy * np.array([sx, sy, sx, sy])).astype(np.float32)
    return detections


def candidate_tracks(path, time_sec: float, detector: Detector, first_track_id: int = 1,
                     window_sec: float = 1.0, info: VideoInfo | None = None) -> list[CandidateTrack]:
    """Players on the frame at ``time_sec``, tracked by ByteTrack over the preceding window.

    Ids are the tracker's own, shifted so every id is ``>= first_track_id``; players first seen
    on the preview frame itself get fresh ids after those. Boxes are source-video pixels.
    """
    info = info or probe(path)
    time_sec = float(min(max(0.0, time_sec), max(0.0, info.duration_sec - 0.5 / info.fps)))
    size, sx, sy = analysis_scaling(info)
    tracker = new_candidate_tracker(info.fps)
    last: sv.Detections | None = None
    for frame in iter_frames(path, start_sec=max(0.0, time_sec - window_sec), end_sec=time_sec, size=size):
        last = tracker.update(detect_scaled(detector, frame.image, sx, sy))
    if last is None or len(last) == 0:
        return []
    # the coach picks among the players the detector saw: a guess (a player inferred from a
    # crowd's blob) helps the tracker through the crowd, but is no box to start a follow from
    last = last[~guessed(last)]
    if len(last) == 0:
        return []
    confidences = last.confidence if last.confidence is not None else np.ones(len(last))
    tracker_ids = np.asarray(last.tracker_id, dtype=int)
    tracked = tracker_ids >= 0  # the tracker counts from 0; -1 is a detection it has not confirmed
    base = first_track_id  # tracker id 0 is first_track_id
    next_id = base + (int(tracker_ids[tracked].max()) if tracked.any() else -1) + 1
    out: list[CandidateTrack] = []
    for box, conf, tid in zip(last.xyxy, confidences, tracker_ids):
        if tid >= 0:
            track_id = base + int(tid)
        else:  # seen only on this frame: still clickable, with an id of its own
            track_id, next_id = next_id, next_id + 1
        out.append(CandidateTrack(track_id=track_id, xyxy=tuple(float(v) for v in box),
                                  confidence=float(conf)))
    out.sort(key=lambda c: c.track_id)
    return out


# --------------------------------------------------------------------------------------------
# follow_target
# --------------------------------------------------------------------------------------------

_BACKWARD_CHUNK_SEC = 4.0
_MAX_BACKWARD_CHUNK_SEC = 12.0
_PREFETCH = 4  # frames each walk's decoder thread may run ahead (720p: ~1.4 MB each)


def _backward_chunk_start(path, end_sec: float, fps: float, stride: int = 1) -> float:
    """Where the backward chunk ending at ``end_sec`` starts: at the keyframe before it when that is
    at most ``_MAX_BACKWARD_CHUNK_SEC`` back (decoding starts there anyway, so each frame is decoded
    once), else ``_BACKWARD_CHUNK_SEC`` back. Observations are small, so a chunk of a GOP fits."""
    key = keyframe_before(path, max(0.0, end_sec - 1.5 / fps))
    # (a keyframe just before the end would make a chunk with no analysed frame in it)
    if key is not None and end_sec - _MAX_BACKWARD_CHUNK_SEC <= key < end_sec - (stride + 0.5) / fps:
        return max(0.0, key)
    return max(0.0, end_sec - _BACKWARD_CHUNK_SEC)


class _FramePool:
    """Arrays for the spotlight frames of backward chunks, handed back once a chunk is drawn and
    taken again by the next. A chunk holds up to a GOP of frames (~350 KB each at 640 px) until it
    is walked and drawn; freed and allocated anew from chunk to chunk, they fragmented glibc's heap,
    whose holes the next chunk reused only in part: a 10-minute match clicked 25 s before its end
    peaked at 519 MB (the two processes together) instead of ~420 MB. Used by one walk only; a
    backward walk with a drawer of its own takes the drawer's slots instead (``chunk_frame``)."""

    def __init__(self):
        self._free: list[np.ndarray] = []

    def take(self) -> np.ndarray | None:
        """A free array (of whatever shape the frames had), or None: then the frame gets a new one."""
        return self._free.pop() if self._free else None

    def give_back(self, images: Iterable[np.ndarray]) -> None:
        self._free.extend(images)


@dataclass
class _Chunk:
    """A backward chunk, decoded: its observations and spotlight frames, in time order."""

    start_sec: float
    first_index: int | None = None
    observations: list[Observation] = field(default_factory=list)
    frames: list[tuple[int, float, np.ndarray]] = field(default_factory=list)  # (index, time_sec, I420)


_EARLY_DONE = object()


class _Slot:
    """One value passed between the walks' threads: the first given counts, ``take`` waits for it.
    Each slot has one writing thread (its side gives the value, then None on its way out)."""

    def __init__(self):
        self._given = threading.Event()
        self._value = None

    def give(self, value) -> None:
        if not self._given.is_set():
            self._value = value
            self._given.set()

    def take(self):
        self._given.wait()
        return self._value

    @property
    def given(self) -> bool:
        return self._given.is_set()


class _Handoff:
    """What the two walks pass each other: first the frames the forward walk decodes before the
    confirmed frame (the backward walk's first chunk), then the start of the follow (the confirmed
    frame's observation, box, kit, ...; None when there is none), then each walk's motion at the
    start as a follower of its own saw it (``ahead``: forward's; ``behind``: backward's; None when
    it saw none). Each side gives None on its way out, so the other never waits for nothing."""

    def __init__(self):
        self._early: queue.Queue = queue.Queue(maxsize=2 * _PREFETCH)
        self._early_closed = threading.Event()  # no more early frames are sent or taken
        self._early_ended = False  # the forward walk's side
        self.start, self.ahead, self.behind = _Slot(), _Slot(), _Slot()

    def end_early(self) -> None:
        """No more early frames (the forward walk reached the confirmed frame, or stopped)."""
        if not self._early_ended:
            self._early_ended = True
            self.send_early(_EARLY_DONE)

    def send_early(self, item: DecodedFrame | object) -> None:
        while not self._early_closed.is_set():  # once the backward walk takes no more, drop it
            try:
                self._early.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def early_frames(self) -> Iterator[DecodedFrame]:
        while True:
            item = self._early.get()
            if item is _EARLY_DONE:
                return
            yield item

    def early_done(self) -> None:
        """The backward walk takes no more early frames (the forward walk must not wait on it)."""
        self._early_closed.set()


class _Channel:
    """One end of the pipe between the forward walk's process and the backward walk's: named
    values, each given once by one of the two ends (the first given counts) and read at both, in
    any order. When the other end is gone (its process died), every value not read yet is None."""

    def __init__(self, conn: Connection, theirs: Iterable[str]):
        self.conn = conn
        self.theirs = frozenset(theirs)  # the names the other end gives
        self._values: dict[str, object] = {}  # given here, or read from the other end
        self.closed = False

    def give(self, name: str, value) -> None:
        """Send ``value`` as ``name``, unless that was sent already. A value that does not pickle
        raises here, and is not sent."""
        if name in self._values:
            return
        data = pickle.dumps((name, value), protocol=pickle.HIGHEST_PROTOCOL)
        self._values[name] = value
        try:
            self.conn.send_bytes(data)
        except (BrokenPipeError, ConnectionResetError):  # the other side is gone: nobody waits for it
            pass

    def given(self, name: str) -> bool:
        """Whether ``name`` was given here or has come from the other end (without waiting); a name
        the other end gives counts as given (None) once that end is gone."""
        while name not in self._values and not self.closed and self.conn.poll():
            self._read()
        return name in self._values or (self.closed and name in self.theirs)

    def _read(self) -> None:
        try:
            data = self.conn.recv_bytes()
        except (EOFError, ConnectionResetError):
            self.closed = True
            return
        try:
            name, value = pickle.loads(data)
        except Exception as exc:  # noqa: BLE001 - a value the other end could pickle but not this one
            self.closed = True  # (nothing after it can be trusted to be in order)
            raise RuntimeError(f"a value from the other walk's process could not be read: {exc!r}") from exc
        self._values[name] = value

    def take(self, name: str, timeout: float | None = None):
        """The value ``name`` from the other end, waiting for it (at most ``timeout`` seconds, then
        ``FuturesTimeout``); None if the other end went away without sending it."""
        while name not in self._values and not self.closed:
            if timeout is not None and not self.conn.poll(timeout):
                raise FuturesTimeout
            self._read()
        return self._values.get(name)


class _ChannelSlot:
    """A ``_Slot`` over a ``_Channel``: the same handoff, between processes."""

    def __init__(self, channel: _Channel, name: str):
        self._channel, self._name = channel, name

    def give(self, value) -> None:
        self._channel.give(self._name, value)

    def take(self):
        return self._channel.take(self._name)

    @property
    def given(self) -> bool:
        return self._channel.given(self._name)


class _ProcessHandoff:
    """``_Handoff`` between the forward walk's process and the backward walk's. No decoded frame
    crosses: the backward walk decodes the frames before the confirmed one itself
    (``early_frames``, on its side only), as the forward walk decodes them on its way too."""

    def __init__(self, channel: _Channel, early_frames: Callable[[], Iterator[DecodedFrame]] | None = None):
        self.start, self.ahead, self.behind = (_ChannelSlot(channel, n) for n in ("start", "ahead", "behind"))
        self._early_frames = early_frames

    def end_early(self) -> None:
        pass

    def send_early(self, item) -> None:
        pass

    def early_frames(self) -> Iterator[DecodedFrame]:
        return self._early_frames()

    def early_done(self) -> None:
        pass


class _BackwardProcess:
    """The backward walk in a process of its own, forked from this one, beside the forward walk.

    Each walk's Python (the detector's blob loop, the follower's steps) holds the interpreter's
    lock, so on threads the two walks took as long as one after the other (measured: 3.7-4.0 s
    against 3.5-3.8 s for one walk over the same frames); in two processes they share the cores.
    Forked (see ``forking``), it has the detector and the spotlight clip as they are. The walk's
    values cross a pipe (pickled), its spotlight parts are files in the clip's folder (drawn by a
    drawer of its own, when it was given one), its progress a shared counter.
    Use as the ``Future`` of a thread: ``result(timeout)``."""

    def __init__(self, walk: Callable[[_ProcessHandoff, Callable[[], None]], tuple],
                 early_frames: Callable[[], Iterator[DecodedFrame]], spotlight: SpotlightClip | None):
        ours, theirs = multiprocessing.Pipe()
        self._done = mmap.mmap(-1, 8)  # shared with the child: how many frames it has walked
        self._spotlight = spotlight

        def in_child() -> None:  # walk, send what came of it, and end
            ours.close()
            self._run(walk, _Channel(theirs, ("start", "ahead")), early_frames)

        def in_parent(pid: int) -> None:
            theirs.close()
            self.channel = _Channel(ours, ("behind", "outcome"))
            self.handoff = _ProcessHandoff(self.channel)

        try:
            self.pid = fork_child(in_child, in_parent)
        except BaseException:
            for end in (ours, theirs):
                end.close()
            self._done.close()
            raise

    def _run(self, walk, channel: _Channel, early_frames) -> None:
        walked = [0]

        def tick() -> None:
            walked[0] += 1
            struct.pack_into("q", self._done, 0, walked[0])

        try:
            backward, error = walk(_ProcessHandoff(channel, early_frames), tick)
            parts = list(self._spotlight.parts) if self._spotlight is not None else []
            outcome = (True, (backward, error, parts))
        except BaseException as exc:  # noqa: BLE001 - raised in the forward walk's process
            exc.add_note("in the backward walk's process:\n" + "".join(traceback.format_exception(exc)))
            outcome = (False, exc)
        try:
            channel.give("outcome", outcome)
        except Exception as exc:  # noqa: BLE001 - an error that does not pickle: its text does
            channel.give("outcome", (False, RuntimeError(f"the backward walk failed: {outcome[1]!r} ({exc})")))

    def done(self) -> int:
        """How many frames the backward walk has walked so far."""
        return struct.unpack_from("q", self._done, 0)[0]

    def result(self, timeout: float | None = None) -> tuple[list[TrackPoint], VisionError | None]:
        """The backward walk's points and decode error, once it has ended; its exception raised here."""
        outcome = self.channel.take("outcome", timeout)
        if outcome is None:
            raise RuntimeError(f"the backward walk's process {self.pid} ended without a result")
        ok, value = outcome
        if not ok:
            raise value
        backward, error, parts = value
        if self._spotlight is not None:
            self._spotlight.adopt(parts)
        return backward, error

    def close(self) -> None:
        """End the child (still walking when the forward walk failed; else ending anyway) and reap it."""
        try:
            end_child(self.pid)
        finally:
            self.channel.conn.close()
            self._done.close()


@dataclass
class _Progress:
    callback: Callable[[float], None] | None
    total: int
    done: int = 0
    _last: float = field(default=-1.0)

    def tick(self, n: int = 1) -> None:
        self.done += n
        if self.callback is None or self.total <= 0:
            return
        fraction = min(1.0, self.done / self.total)
        if fraction - self._last >= 0.01 or fraction >= 1.0:
            self._last = fraction
            self.callback(fraction)


class _Start(NamedTuple):
    """The confirmed frame, as the forward walk hands it to the backward walk."""

    obs: Observation
    box: np.ndarray  # the confirmed box, snapped (analysis pixels)
    kit: np.ndarray | None
    det: int | None  # the detection it is on
    index: int  # its frame index
    later_grey: tuple[np.ndarray, float] | None  # its small grey image, for the motion across the seam
    later_point: TrackPoint  # its point, which the spotlight interpolates to after the first chunk


def start_motion(start: _Start, fps: float, steps: Iterable[tuple[Observation, np.ndarray]]) -> StartMotion | None:
    """The player's motion over the first ``steps`` (observation, camera motion from the frame
    before it in walking order) of a walk from ``start``, by a follower of its own; None when it
    never saw the player on its own."""
    follower = new_follower(start.obs, start.box, start.kit, start.det, fps)
    for step_obs, motion in steps:
        follower.step(step_obs, motion)
    if not follower.trusted_count:
        return None
    return StartMotion(follower.velocity.copy(), follower.trusted_count)


def _reversed_steps(observations: list[Observation], later_grey: tuple[np.ndarray, float] | None
                    ) -> Iterator[tuple[Observation, np.ndarray]]:
    """A backward chunk's observations in reverse, each with the camera motion to it from the
    frame after it: the inverse of the forward motion stored on that frame, and across the seam
    (from ``later_grey``, the small grey frame after the chunk) measured between the two."""
    last = observations[-1]
    if later_grey is not None and last.grey is not None and later_grey[0].shape == last.grey.shape:
        motion_back = invert_motion(estimate_motion(last.grey, later_grey[0], last.grey_scale))
    else:
        motion_back = np.eye(2, 3)
    for k in range(len(observations) - 1, -1, -1):
        yield observations[k], motion_back
        motion_back = invert_motion(observations[k].motion)


def _to_source(points: list[TrackPoint], sx: float, sy: float, info: VideoInfo) -> list[TrackPoint]:
    if sx == 1.0 and sy == 1.0:
        return points
    out = []
    for p in points:
        if p.xyxy is None:
            out.append(p)
            continue
        x1, y1, x2, y2 = p.xyxy
        out.append(TrackPoint(p.frame_index, p.time_sec,
                              (min(x1 * sx, info.width), min(y1 * sy, info.height),
                               min(x2 * sx, info.width), min(y2 * sy, info.height)), p.confidence))
    return out


def _detector_copy(detector: Detector) -> Detector | None:
    """An independent copy of a stateful detector for the backward walk (in a process, on a thread or in
    turn), or None if it cannot be copied."""
    from .detect import PitchDetector

    if isinstance(detector, PitchDetector):
        return copy.deepcopy(detector)
    return None


def _convert(decoded: DecodedFrame, analysed: bool, size: tuple[int, int] | None,
             clip_size: tuple[int, int] | None, out: np.ndarray | None = None
             ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(analysis BGR image or None, spotlight I420 image or None) of one decoded frame. When both
    are wanted at the same scaled size the BGR image is converted from the I420 one (``to_bgr``
    takes that same path), so the frame is scaled once. ``out``: an array for the I420 image."""
    small = to_i420(decoded.frame, clip_size, out) if clip_size is not None else None
    if not analysed:
        return None, small
    if small is not None and size is not None and tuple(size) == tuple(clip_size):
        return cv2.cvtColor(small, cv2.COLOR_YUV2BGR_I420), small
    return to_bgr(decoded.frame, size), small


def follow_target(path, time_sec: float, xyxy, detector: Detector, info: VideoInfo | None = None,
                  progress: Callable[[float], None] | None = None, stride: int = 1,
                  parallel: bool = True, spotlight: SpotlightClip | None = None, fork: bool = True) -> TargetTrack:
    """Follow the player confirmed at ``time_sec`` (box ``xyxy``, source pixels) to both ends.

    One point per analysed frame (every ``stride``-th), in time order. Forward is streamed;
    backward decodes chunks of a few seconds into observations and walks them in reverse. A video
    that stops decoding part-way keeps what was tracked and sets ``decode_error``.
    ``parallel``: walk backward beside the forward walk (when the detector can be copied:
    ``PitchDetector`` can, an ONNX session is not copied and runs the passes in turn): in a
    forked process of its own (``fork``, where the system can fork; see ``_BackwardProcess``),
    else on a second thread. All three ways give the same track.
    ``spotlight``: the clip to draw from the same decoded frames (boxes in analysis pixels, see
    ``analysis_scaling``): the forward walk is one part, each backward chunk another; the caller
    joins them with ``spotlight.finish()``.
    """
    info = info or probe(path)
    stride = max(1, int(stride))
    fps_analysed = info.fps / stride
    frames_total = max(1, math.ceil(info.frame_count / stride))
    result = TargetTrack(frames_total=frames_total)
    prog = _Progress(progress, frames_total)
    size, sx, sy = analysis_scaling(info)
    target = np.asarray(xyxy, dtype=np.float64) / np.array([sx, sy, sx, sy])

    # the walks use every frame at half the source's width or less (720p and up): they skip the
    # deblocking filter, whose effect that scaling averages away (see iter_decoded)
    widest_used = max(size[0] if size else info.width, spotlight.size[0] if spotlight else 0)
    deblock = 2 * widest_used > info.width

    def clip_size(frame_index: int) -> tuple[int, int] | None:
        return spotlight.size if spotlight is not None and spotlight.wants(frame_index) else None

    chunk_frames = _FramePool()  # the backward chunks' spotlight frames, one chunk's after another's

    def chunk_frame() -> np.ndarray | None:
        """An array for a backward chunk's spotlight frame: a drawer's slot (sent with no copy)
        when the walk has a drawer with one free, else one from the pool (None: a new one)."""
        lent = spotlight.lend()
        return lent if lent is not None else chunk_frames.take()

    def observe_chunk(det: Detector, frames: Iterable[DecodedFrame], start_sec: float,
                      end_index: int | None = None) -> _Chunk | None:
        """Decoded frames of a backward chunk (those before ``end_index``) as observations and
        spotlight frames, in time order; None when it has no analysed frame."""
        chunk = _Chunk(start_sec)
        camera = CameraMotion()
        kept = False
        try:
            for decoded in frames:
                if end_index is not None and decoded.index >= end_index:
                    break
                chunk.first_index = decoded.index if chunk.first_index is None else chunk.first_index
                analysed = decoded.index % stride == 0
                wanted = clip_size(decoded.index)  # (a frame the clip skips takes no array: none is lost)
                out = chunk_frame() if wanted else None
                image, small = _convert(decoded, analysed, size, wanted, out)
                if out is not None and small is not out:  # (a turned frame: converted anew)
                    spotlight.unlend(out)
                if small is not None:
                    chunk.frames.append((decoded.index, decoded.time_sec, small))
                if analysed:
                    chunk.observations.append(observe(image, decoded.index, decoded.time_sec, det, camera))
            kept = bool(chunk.observations)
        finally:
            if not kept:  # (failed, or nothing to walk: a drawer's slots lent for its frames are free again)
                for _, _, small in chunk.frames:
                    spotlight.unlend(small)
        return chunk if kept else None

    def decode_chunk(det: Detector, end_index: int, start_sec: float | None = None) -> _Chunk | None:
        if start_sec is None:
            start_sec = _backward_chunk_start(path, end_index / info.fps, info.fps, stride)
        frames = iter_decoded(path, start_sec=start_sec, end_sec=end_index / info.fps, prefetch=_PREFETCH,
                              deblock=deblock)
        try:
            return observe_chunk(det, frames, start_sec, end_index)
        finally:
            frames.close()

    warm_steps = max(2, int(round(FollowerSettings.start_motion_sec * fps_analysed)))
    min_sightings = max(2, int(round(FollowerSettings.start_motion_sightings * warm_steps)))

    def walk_backward(det: Detector, handoff: _Handoff, early: bool, tick: Callable[[], None],
                      chunk: _Chunk | None = None) -> tuple[list[TrackPoint], VisionError | None]:
        """Chunks of a few seconds ending at the confirmed frame, each walked in reverse; the first
        starts at ``first_chunk_sec``, as the forward walk's decoding does.

        Beside the forward walk (``early``), the first chunk is the frames from the keyframe to the
        confirmed frame, observed here as soon as they are decoded (nothing in a chunk's
        observations depends on the follower): on a thread, the frames the forward walk decodes on
        its way (so none is decoded twice); in a process, decoded here (``frames_before_start``).
        The follower itself starts once the forward walk hands over the confirmed frame, and
        walks once the two walks have told each other the player's motion on their side of it.
        ``chunk``: the first chunk, when the forward walk in turn decoded it already for that."""
        try:
            try:
                if early:
                    try:
                        chunk = observe_chunk(det, handoff.early_frames(), first_chunk_sec)
                    except VisionError as exc:  # (decoded on this side: in a process of its own)
                        if exc.code != "VIDEO_DECODE_ERROR":
                            raise
                        chunk = None  # decoded again below, which meets the same error and keeps it
            finally:
                handoff.early_done()  # whatever happens here, the forward walk's decoder must not wait
            return walk_back_from(det, handoff, chunk, tick)
        finally:
            handoff.behind.give(None)  # no-op once given: nor must the forward walk's warm-up

    def motion_behind(start: _Start, chunk: _Chunk | None) -> StartMotion | None:
        if chunk is None:
            return None
        steps = itertools.islice(_reversed_steps(chunk.observations, start.later_grey), warm_steps)
        return start_motion(start, fps_analysed, steps)

    def walk_back_from(det: Detector, handoff: _Handoff, chunk: _Chunk | None,
                       tick: Callable[[], None]) -> tuple[list[TrackPoint], VisionError | None]:
        start = handoff.start.take()
        if start is None:  # the forward walk found no start frame: nothing to walk back from
            return [], None
        start_obs, start_box, kit, start_det, start_index, later_grey, later_point = start
        backward: list[TrackPoint] = []
        chunk_end_index = start_index  # frames before this one are still to do
        # later_grey: the frame just after the chunk, for the motion across the seam;
        # later_point: the box the spotlight interpolates to after the chunk's last analysed frame
        try:
            if chunk is None and chunk_end_index > 0:  # it starts where the forward walk's decoding did
                chunk = decode_chunk(det, chunk_end_index, first_chunk_sec)
            if not handoff.behind.given:  # (the forward walk in turn worked it out already)
                handoff.behind.give(motion_behind(start, chunk))
            motion = clearer_motion(handoff.behind.take(), handoff.ahead.take(), min_sightings)
            follower = new_follower(start_obs, start_box, kit, start_det, fps_analysed, motion)
            while chunk_end_index > 0:
                if chunk is None:
                    chunk = decode_chunk(det, chunk_end_index)
                if chunk is None:
                    break
                observations = chunk.observations
                for obs, motion_back in _reversed_steps(observations, later_grey):
                    backward.append(follower.step(obs, motion_back))
                    tick()
                if chunk.frames:
                    part = spotlight.part(chunk.frames[0][0])
                    try:
                        # in time order, each box after the frames up to its own (a drawer in a
                        # process of its own then keeps only the frames since the last box)
                        frames = iter(chunk.frames)
                        frame = next(frames, None)
                        for point in itertools.chain(reversed(backward[-len(observations):]), [later_point]):
                            while frame is not None and frame[0] <= point.frame_index:
                                part.add_frame(*frame)
                                frame = next(frames, None)
                            part.add_point(point)
                        while frame is not None:
                            part.add_frame(*frame)
                            frame = next(frames, None)
                    except BaseException:
                        part.close(drawn=False)
                        raise
                    part.close()
                    # (drawn and written; a drawer's slot comes back to it once its frame is encoded)
                    chunk_frames.give_back(image for _, _, image in chunk.frames if not spotlight.lent(image))
                first = observations[0]
                later_grey, later_point = (first.grey, first.grey_scale), backward[-1]
                chunk_end_index = chunk.first_index  # the next chunk ends where this one's frames begin
                if chunk.start_sec <= 0:
                    break
                chunk = None
        except VisionError as exc:
            if exc.code != "VIDEO_DECODE_ERROR":
                raise
            return backward, exc
        return backward, None

    def before_start(decoded: DecodedFrame) -> bool:
        """Whether a decoded frame comes before the confirmed one: before the confirmed time (as
        ``iter_decoded`` tells it), or not analysed (the confirmed frame is the first analysed
        frame from that time on). Both walks tell the backward walk's first chunk by this rule."""
        return decoded.index % stride != 0 or decoded.stamp_sec + 0.5 / info.fps < time_sec

    def frames_before_start() -> Iterator[DecodedFrame]:
        """The backward walk's first chunk, decoded on its own side (in a process of its own)."""
        frames = iter_decoded(path, start_sec=first_chunk_sec, prefetch=_PREFETCH, deblock=deblock)
        try:
            yield from itertools.takewhile(before_start, frames)
        finally:
            frames.close()

    # forward: from the confirmed frame to the end, on this thread. The backward walk runs beside
    # it from the start, in a process (or on a thread) of its own with a copy of the detector;
    # progress is reported from this thread only
    forward: list[TrackPoint] = []
    camera = CameraMotion()
    start: _Start | None = None  # handed to the backward walk on the confirmed frame
    follower: TargetFollower | None = None  # ...and on the forward walk once the motions are told
    ahead: list[Observation] = []  # the forward walk's first frames, walked once that is done
    handoff = _Handoff()
    backward_done = [0]
    pool = future = process = part = None
    # the backward walk has a detector of its own, a copy taken before anything was seen, in a
    # process, on a thread or in turn alike (so all give the same track); an ONNX session is not copied
    twin = _detector_copy(detector)
    time_sec = max(0.0, time_sec)
    # both walks decode from where the backward walk's first chunk starts, when that is the keyframe
    # the forward walk must decode from anyway (else from the confirmed time: then a broken frame
    # before it would stop the forward walk too); beside it on a thread, the backward walk is handed
    # the frames before the confirmed one, in a process or in turn it decodes them itself
    first_chunk_sec = _backward_chunk_start(path, time_sec, info.fps, stride) if time_sec > 0 else 0.0
    key = keyframe_before(path, time_sec) if time_sec > 0 else None
    forward_from = first_chunk_sec if key is not None and first_chunk_sec >= key else time_sec
    early = parallel and twin is not None and forward_from < time_sec
    first_chunk: _Chunk | None = None  # in turn: decoded by the forward walk, walked back after it

    def walked_back() -> int:
        return process.done() if process is not None else backward_done[0]

    def tell_ahead() -> None:
        """The forward walk's side: the motion over its first ``warm_steps`` frames (or all there are)."""
        if not handoff.ahead.given:
            steps = ((obs, obs.motion) for obs in ahead[:warm_steps])
            handoff.ahead.give(start_motion(start, fps_analysed, steps))

    def start_forward() -> TargetFollower:
        """The forward follower, once the walks have told each other the motion on their side."""
        nonlocal first_chunk
        tell_ahead()
        if future is None:
            # in turn: the backward walk's side is worked out here, and its first chunk kept for it
            # (the frames a parallel backward walk would hold now; an ONNX detector would take long
            # to see them twice)
            try:
                first_chunk = decode_chunk(twin or detector, start.index, first_chunk_sec) if start.index > 0 else None
            except VisionError as exc:
                if exc.code != "VIDEO_DECODE_ERROR":
                    raise
            handoff.behind.give(motion_behind(start, first_chunk))
        motion = clearer_motion(handoff.ahead.take(), handoff.behind.take(), min_sightings)
        return new_follower(start.obs, start.box, start.kit, start.det, fps_analysed, motion)

    def walk_ahead(points: list[TrackPoint]) -> None:
        forward.extend(points)
        if part is not None:
            for point in points:
                part.add_point(point)

    def walk_backward_in_process(side: _ProcessHandoff, tick: Callable[[], None]):
        """The backward walk in its process; its spotlight drawn by the drawer forked for it, if any."""
        if drawer is not None:
            drawer.forget()  # the forward walk's to feed
        if backward_drawer is not None:
            spotlight.draw_in(backward_drawer)
        try:
            outcome = walk_backward(twin, side, True, tick)
            if backward_drawer is not None:
                backward_drawer.finish()  # every part written before the walk's parts are counted
            return outcome
        finally:
            if backward_drawer is not None:
                backward_drawer.forget()  # (it is this process's sibling: the analysis ends and reaps it)

    # the spotlight is drawn and encoded in a process of its own (render.SpotlightDrawer) by a walk
    # that leaves a core to spare: the walks in turn in this process; with the backward walk in a
    # process of its own, the one at least twice as long as the other (a click near one end). From
    # the middle each walk keeps a core busy, and drawers beside them made the analysis ~4 % slower.
    # The backward walk keeps a chunk's frames until it has walked it, then hands them over at once:
    # its drawer has slots for a whole chunk, which the chunk is decoded into (its frame pool).
    # Drawers are forked now, before any decoder thread runs
    backward_forks = parallel and twin is not None and fork and CAN_FORK and time_sec > 0
    frames_behind = time_sec * info.fps
    frames_ahead = max(0.0, info.frame_count - frames_behind)
    # the forward walk, at least twice as long as the backward one (clicked near the start, or at
    # 0 s: it is the only walk), has its frames observed in a process of its own (ObserverProcess),
    # forked before its decoder runs: 0.45-0.49 -> 0.49-0.55 of the plain decode's speed clicked at
    # 10 %. The backward walk's chunks are observed, then walked: with an observer of its own, its
    # decoding and observing overlapped, not its walking, and the pipe cost more (0.49-0.53 -> 0.45)
    observe_ahead = parallel and twin is not None and fork and CAN_FORK and \
        (not backward_forks or frames_ahead >= 2 * frames_behind)
    observer: ObserverProcess | None = None
    drawer = backward_drawer = None  # this process's walks', and the backward walk's process's
    try:
        try:
            if spotlight is not None and fork and CAN_FORK:
                if not backward_forks or frames_ahead >= 2 * frames_behind:
                    drawer = SpotlightDrawer(spotlight)
                elif frames_behind >= 2 * frames_ahead:
                    chunk_slots = math.ceil(_MAX_BACKWARD_CHUNK_SEC * info.fps / spotlight.step) + 2
                    backward_drawer = SpotlightDrawer(spotlight, slots=chunk_slots + DRAWER_SLOTS, lends=True)
        except OSError:
            log.warning("the spotlight's drawer could not fork: the walks draw it", exc_info=True)
        if backward_forks:
            try:
                process = future = _BackwardProcess(walk_backward_in_process, frames_before_start, spotlight)
                handoff = process.handoff
                early = False  # the backward walk decodes its first chunk itself, in its process
            except OSError:  # no fork (out of memory, a process limit): on a thread, as before
                log.warning("the backward walk could not fork: it runs on a thread", exc_info=True)
        if backward_drawer is not None:  # that process's to feed (or, if it could not fork, not needed)
            if process is None:
                backward_drawer.close()
                backward_drawer = None
            else:
                backward_drawer.forget()
        if observe_ahead:  # (before a backward walk's thread runs: no fork beside it)
            analysed_w, analysed_h = size or (info.width, info.height)
            try:  # (its copies of the detector and the camera, unused here, are the walk's own)
                observer = ObserverProcess(functools.partial(observe, detector=detector, camera=camera),
                                           slot_bytes=analysed_w * analysed_h * 3)  # a BGR frame, turned or not
            except OSError:  # no fork: this walk observes its frames itself
                log.warning("the forward walk's observer could not fork: the walk observes", exc_info=True)
        if drawer is not None:
            spotlight.draw_in(drawer)
        if parallel and twin is not None and process is None:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="footy-backward")
            future = pool.submit(walk_backward, twin, handoff, early,
                                 lambda: backward_done.__setitem__(0, backward_done[0] + 1))
        started, start_kit = False, None  # the confirmed frame decoded; the kit in its box

        def walk_on(obs: Observation) -> None:
            """The forward walk's next observation: the start, the warm-up's, or a step."""
            nonlocal start, follower
            if start is None:
                start_box, conf, start_det = snap(obs, target)
                walk_ahead([TargetFollower._point(obs, start_box, conf)])
                start = _Start(obs, start_box, start_kit, start_det, obs.frame_index, (obs.grey, obs.grey_scale),
                               forward[0])
                handoff.start.give(start)
            elif follower is None:
                ahead.append(obs)
                if len(ahead) >= warm_steps:
                    tell_ahead()
                    # beside the backward walk, frames are analysed on (not walked) until it has
                    # told its side: it may have a whole chunk to decode first
                    if future is None or handoff.behind.given:
                        follower = start_forward()
                        walk_ahead([follower.step(o, o.motion) for o in ahead])
                        ahead.clear()
            else:
                walk_ahead([follower.step(obs, obs.motion)])
            prog.done = len(forward) + len(ahead) + walked_back() - 1
            prog.tick()

        try:
            for decoded in iter_decoded(path, start_sec=forward_from, prefetch=_PREFETCH, deblock=deblock):
                analysed = decoded.index % stride == 0
                if not started and before_start(decoded):  # the backward walk's
                    if early:
                        handoff.send_early(decoded)
                    continue
                if not started and spotlight is not None:  # (the confirmed frame: analysed)
                    part = spotlight.part(decoded.index)
                image, small = _convert(decoded, analysed, size, clip_size(decoded.index))
                if small is not None:
                    part.add_frame(decoded.index, decoded.time_sec, small)
                if not analysed:
                    continue
                if not started:
                    started = True
                    handoff.end_early()
                    result.start_image = to_bgr(decoded.frame, None)  # the heatmap's backdrop, for free
                    start_kit = kit_descriptor(image, target)
                if observer is not None:
                    for obs in observer.send(image, decoded.index, decoded.time_sec):
                        walk_on(obs)
                else:
                    walk_on(observe(image, decoded.index, decoded.time_sec, detector, camera))
        except VisionError as exc:
            if exc.code != "VIDEO_DECODE_ERROR":
                raise
            result.decode_error = exc
        if observer is not None:  # (the frames decoded before the end, or before it broke)
            for obs in observer.rest():
                walk_on(obs)
        if start is not None and follower is None:  # the clip ended (or broke) within the warm-up
            follower = start_forward()
            walk_ahead([follower.step(o, o.motion) for o in ahead])
        if part is not None:
            part.close()  # the frames after the last analysed one (the end, or where it broke)
        if follower is None:  # nothing decodes from the confirmed frame on
            if result.decode_error is None:
                raise VisionError("VIDEO_DECODE_ERROR", f"no frame decodes at {time_sec:.3f}s")
            return result
        if future is not None:
            while True:
                try:
                    backward, backward_error = future.result(timeout=0.5)
                    break
                except FuturesTimeout:
                    prog.done = len(forward) + walked_back() - 1
                    prog.tick()
        else:
            def tick() -> None:
                prog.tick()
            backward, backward_error = walk_backward(twin or detector, handoff, False, tick, first_chunk)
        if drawer is not None:
            drawer.finish()
    finally:
        handoff.end_early()  # no-op once ended; all release a backward walk still waiting
        handoff.start.give(None)
        handoff.ahead.give(None)
        try:
            if process is not None:
                process.close()  # first: whatever fails below, the child must not walk on
        finally:
            if observer is not None:
                observer.close()
            try:
                if part is not None:
                    part.close(drawn=False)  # no-op after the close above; drops the frames on an error
                if pool is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
            finally:
                if drawer is not None:
                    drawer.close()
                    spotlight.draw_in(None)
                if backward_drawer is not None:
                    backward_drawer.close()  # (ended by the backward walk: reaped here, its parent)
    result.decode_error = result.decode_error or backward_error

    result.points = _to_source(list(reversed(backward)) + forward, sx, sy, info)
    if progress is not None:
        progress(1.0)
    return result
