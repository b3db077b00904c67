"""What the coach sees: the spotlight clip, the heatmap, and the track as CSV/JSON.

The maths (where is the player on frame f, density of positions) is kept apart from the drawing.
Everything streams: ``SpotlightClip`` is drawn from the frames the tracking decodes anyway, each
frame as soon as the analysed frames around it are decided.
"""
from __future__ import annotations

import collections
import csv
import json
import logging
import math
import mmap
import os
import pickle
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from .forking import end_child, fork_piped
from .types import TargetTrack, TrackPoint, VideoInfo, VisionError
from .video import H264Writer, concat_mp4, i420_planes, iter_frames

log = logging.getLogger(__name__)

SPOTLIGHT_DIM = 0.38          # brightness kept outside the spotlight
SPOTLIGHT_LOST_DIM = 0.6      # brightness of the whole frame while the player is not visible
RING_COLOUR = (0, 215, 255)   # BGR amber: visible on grass and on both common kit colours
LOST_COLOUR = (60, 60, 230)
SPOTLIGHT_PRESET = "ultrafast"  # the clip is re-encoded on every analysis: speed over file size
SPOTLIGHT_CRF = 28             # 360p, most of it dimmed: ~1.5 Mbit/s on grainy broadcast footage
# one encoder thread per part: the parts of the two walks encode side by side already, and x264's
# frame threads cost ~20 % more CPU at this size
SPOTLIGHT_THREADS = 1
SPOTLIGHT_MAX_FPS = 30.0      # smoother adds nothing to following one player, and costs encode time


# ---------------------------------------------------------------------------------------------
# Where the player is on any frame
# ---------------------------------------------------------------------------------------------

Known = tuple  # (frame_index, xyxy ndarray or None, confidence): one analysed frame


def box_between(frame_index: int, before: Known | None, after: Known | None,
                max_gap: int) -> tuple[np.ndarray | None, float]:
    """The player's box on a frame from the analysed frames on either side of it (either may be
    unknown): interpolated between two sightings at most ``max_gap`` frames apart, else the
    nearer analysed frame decides (a tie goes to the sighting) when it is within ``max_gap // 2``."""
    if before is not None and before[0] == frame_index:
        return _copy(before)
    if before is not None and after is not None:
        (i, a, ca), (k, b, cb) = before, after
        if k - i <= max_gap and a is not None and b is not None:
            t = (frame_index - i) / (k - i)
            return a + (b - a) * t, float((1 - t) * ca + t * cb)
    near = [(abs(frame_index - known[0]), known[1] is None, n, known)
            for n, known in enumerate((before, after)) if known is not None]
    if not near:
        return None, 0.0
    distance, _, _, nearest = min(near)
    return _copy(nearest) if distance <= max_gap // 2 else (None, 0.0)


def _copy(known: Known) -> tuple[np.ndarray | None, float]:
    _, box, conf = known
    return (None, 0.0) if box is None else (np.array(box, float), float(conf))


# ---------------------------------------------------------------------------------------------
# Spotlight clip
# ---------------------------------------------------------------------------------------------

def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, colour, thickness: int = 1) -> None:
    """Text with a dark drop shadow; ``colour`` is BGR on a BGR image, a luma value on a Y plane.

    (A thicker dark copy as an outline would not line up: Hershey glyph advance grows with thickness.)
    """
    shadow = (0, 0, 0) if img.ndim == 3 else 16
    offset = max(1, thickness)
    cv2.putText(img, text, (org[0] + offset, org[1] + offset), cv2.FONT_HERSHEY_SIMPLEX, scale, shadow,
                thickness, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)


def bgr_to_yuv(bgr: tuple[int, int, int]) -> tuple[int, int, int]:
    """BT.601 limited-range Y, U, V of a BGR colour (what H.264 at SD/HD sizes carries)."""
    b, g, r = bgr
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return int(round(y)), int(round(u)), int(round(v))


RING_YUV = bgr_to_yuv(RING_COLOUR)
LOST_YUV = bgr_to_yuv(LOST_COLOUR)


def _dim(plane: np.ndarray, alpha: float, neutral: int) -> None:
    """Scale a plane towards its neutral value (16 for luma: black, 128 for chroma: grey), in place."""
    cv2.convertScaleAbs(plane, dst=plane, alpha=alpha, beta=neutral * (1 - alpha))


def draw_spotlight(image: np.ndarray, box: np.ndarray | None, confidence: float, time_sec: float,
                   lost_message: str = "not visible") -> None:
    """Draw the spotlight in place on an I420 frame (see ``video.i420_planes``).

    Everything but an ellipse around the player is dimmed, their feet ringed, the body boxed and
    labelled. Working on the YUV planes the encoder takes avoids two colour conversions per frame.
    ``box`` is xyxy in ``image`` coordinates, None when the player is not visible: the whole
    frame is dimmed less and ``lost_message`` shown.
    """
    y_plane, u_plane, v_plane = i420_planes(image)
    h, w = y_plane.shape
    scale = max(0.4, w / 1280)
    if box is None:
        for plane, neutral in ((y_plane, 16), (u_plane, 128), (v_plane, 128)):
            _dim(plane, SPOTLIGHT_LOST_DIM, neutral)
        badge_w, badge_h = int(170 * scale + 40), int(30 * scale + 10)
        for plane, value, k in ((y_plane, LOST_YUV[0], 1), (u_plane, LOST_YUV[1], 2), (v_plane, LOST_YUV[2], 2)):
            cv2.rectangle(plane, (8 // k, 8 // k), ((8 + badge_w) // k, (8 + badge_h) // k), value, -1)
        _text(y_plane, lost_message, (14, 8 + badge_h - int(9 * scale + 3)), 0.7 * scale + 0.15, 235, 1)
    else:
        x1, y1, x2, y2 = (float(v) for v in box)
        bw, bh = max(2.0, x2 - x1), max(2.0, y2 - y1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        # the lit ellipse: a generous margin around the body so the ball at the feet shows too
        ax, ay = bw * 0.5 + bh * 0.45, bh * 0.85
        rx1, ry1 = max(0, int(cx - ax)) // 2 * 2, max(0, int(cy - ay)) // 2 * 2  # even: chroma aligned
        rx2, ry2 = min(w, int(cx + ax) + 2) // 2 * 2, min(h, int(cy + ay) + 2) // 2 * 2
        lit = None
        if rx2 > rx1 and ry2 > ry1:
            mask = np.zeros((ry2 - ry1, rx2 - rx1), np.uint8)
            cv2.ellipse(mask, (int(cx - rx1), int(cy - ry1)), (int(ax), int(ay)), 0, 0, 360, 1, -1)
            half_mask = mask[::2, ::2].astype(bool)
            lit = [(y_plane[ry1:ry2, rx1:rx2], mask.astype(bool))] + [
                (p[ry1 // 2:ry2 // 2, rx1 // 2:rx2 // 2], half_mask) for p in (u_plane, v_plane)]
            lit = [(roi, roi.copy(), m) for roi, m in lit]
        for plane, neutral in ((y_plane, 16), (u_plane, 128), (v_plane, 128)):
            _dim(plane, SPOTLIGHT_DIM, neutral)
        for roi, original, m in lit or []:
            np.copyto(roi, original, where=m)
        t = max(1, int(round(2 * scale)))
        for plane, value, k in ((y_plane, RING_YUV[0], 1), (u_plane, RING_YUV[1], 2), (v_plane, RING_YUV[2], 2)):
            cv2.ellipse(plane, (int(cx / k), int(y2 / k)), (int((bw * 0.75 + 2) / k), max(1, int(bw * 0.25 / k))),
                        0, 0, 360, value, max(1, (t + 1) // k))
            cv2.rectangle(plane, (int(x1 / k), int(y1 / k)), (int(x2 / k), int(y2 / k)), value, max(1, t // k))
        label = f"player {int(round(confidence * 100))}%"
        _text(y_plane, label, (int(x1), max(12, int(y1) - 6)), 0.5 * scale + 0.15, 235, 1)
    minutes, seconds = divmod(max(0.0, time_sec), 60)
    _text(y_plane, f"{int(minutes):02d}:{seconds:05.2f}", (8, h - 10), 0.5 * scale + 0.1, 225, 1)


def spotlight_size(info: VideoInfo, max_width: int) -> tuple[int, int]:
    """Output (width, height): no wider than ``max_width``, aspect kept, sized for I420 (even x 4n)."""
    scale = min(1.0, max_width / info.width) if info.width else 1.0
    width = max(2, int(round(info.width * scale)) // 2 * 2)
    height = max(4, int(round(info.height * scale)) // 4 * 4)
    return width, height


class SpotlightClip:
    """The spotlight clip, drawn while the video is followed, so one decode feeds both.

    The follower walks forward from the confirmed frame and backward in chunks, so the clip is
    written in parts (``part``), each a stretch of frames in time order, joined by remuxing at
    the end (``finish``). Boxes are measured on frames of size ``boxes_in`` (width, height; the
    analysis size when drawn during tracking, the source size by default).
    """

    def __init__(self, out_path, info: VideoInfo, max_width: int, stride: int,
                 boxes_in: tuple[int, int] | None = None, preset: str = SPOTLIGHT_PRESET, crf: int = SPOTLIGHT_CRF):
        self.out_path = Path(out_path)
        self.size = spotlight_size(info, max_width)
        self.step = max(1, math.ceil(info.fps / SPOTLIGHT_MAX_FPS - 1e-6))  # 50/60 fps sources: every 2nd frame
        self.fps = info.fps / self.step
        box_w, box_h = boxes_in or (info.width, info.height)
        self.box_scale = np.array([self.size[0] / box_w, self.size[1] / box_h] * 2, float)
        self.max_gap = max(1, int(stride * 2.5))  # interpolate across one missed analysed frame, not more
        self.preset, self.crf = preset, crf
        self._dir = Path(tempfile.mkdtemp(prefix=".spotlight-", dir=self.out_path.parent))
        self._parts: list[tuple[int, Path]] = []
        self._lock = threading.Lock()  # the two walks open parts from two threads
        self._drawer: SpotlightDrawer | None = None

    def draw_in(self, drawer: SpotlightDrawer | None) -> None:
        """Draw the parts this process opens from now on in ``drawer`` (None: here, on the thread
        that feeds them)."""
        self._drawer = drawer

    def lend(self) -> np.ndarray | None:
        """An array for a frame, from the drawer's slots (see ``SpotlightDrawer.lend``), or None."""
        return self._drawer.lend() if self._drawer is not None else None

    def lent(self, image: np.ndarray) -> bool:
        """Whether ``image`` is a drawer's slot (not to be kept once it is added to a part)."""
        return self._drawer is not None and self._drawer.lent(image)

    def unlend(self, image: np.ndarray) -> None:
        if self._drawer is not None:
            self._drawer.unlend(image)

    def wants(self, frame_index: int) -> bool:
        return frame_index % self.step == 0

    def part(self, first_index: int) -> SpotlightPart | DrawnElsewhere:
        path = self._dir / f"{first_index:012d}.mp4"
        with self._lock:
            self._parts.append((first_index, path))
        return self._drawer.part(path) if self._drawer is not None else SpotlightPart(self, path)

    @property
    def parts(self) -> list[tuple[int, Path]]:
        """(first frame index, file) of each part opened so far."""
        with self._lock:
            return list(self._parts)

    def adopt(self, parts: list[tuple[int, Path]]) -> None:
        """Count parts another process wrote into this clip's folder (a fork of this clip: see
        ``track._BackwardProcess``)."""
        with self._lock:
            self._parts.extend(part for part in parts if part not in self._parts)

    def finish(self) -> None:
        """Join the parts, in time order, into ``out_path``; then the parts are gone."""
        try:
            parts = [path for _, path in sorted(self._parts) if path.exists()]
            if not parts:
                raise VisionError("VIDEO_DECODE_ERROR", "no frame of the video could be drawn")
            if len(parts) == 1:
                os.replace(parts[0], self.out_path)
                return
            try:
                concat_mp4(parts, self.out_path)
            except ValueError:  # cannot happen with one x264 build and one setting; should it, re-encode
                log.exception("spotlight parts could not be joined as they are: re-encoding them")
                self._reencode(parts)
        finally:
            self.discard()

    def _reencode(self, parts: list[Path]) -> None:
        """Join the parts by decoding them (small, 640 px) and encoding them again as one clip."""
        width, height = self.size
        with H264Writer(self.out_path, self.fps, width, height, crf=self.crf, preset=self.preset,
                        threads=SPOTLIGHT_THREADS) as writer:
            for part in parts:
                for frame in iter_frames(part, size=(width, height), pixel_format="yuv420p"):
                    writer.write_i420(frame.image)

    def discard(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


class SpotlightPart:
    """One stretch of the clip: frames (small I420) and the player's analysed boxes, each in time
    order, interleaved any way; a frame is drawn and encoded once the analysed frames on both
    sides of it are known (or at ``close``), so at most the frames since the last box wait."""

    def __init__(self, clip: SpotlightClip, path: Path, release: Callable[[np.ndarray], None] | None = None):
        self.clip, self.path, self._release = clip, path, release
        self._waiting: collections.deque = collections.deque()  # (index, time_sec, image)
        self._before: Known | None = None
        self._writer: H264Writer | None = None

    def add_frame(self, frame_index: int, time_sec: float, image: np.ndarray) -> None:
        self._waiting.append((frame_index, time_sec, image))

    def add_point(self, point: TrackPoint) -> None:
        box = None if point.xyxy is None else np.asarray(point.xyxy, float)
        known = (point.frame_index, box, point.confidence)
        while self._waiting and self._waiting[0][0] <= point.frame_index:
            self._draw(*self._waiting.popleft(), known)
        self._before = known

    def close(self, drawn: bool = True) -> None:
        """Draw what waits (the boxes after it are unknown: the video ended or broke) and close the
        part's file; ``drawn=False`` drops the waiting frames instead."""
        try:
            while drawn and self._waiting:
                self._draw(*self._waiting.popleft(), None)
        finally:
            if self._release is not None:
                for _, _, image in self._waiting:
                    self._release(image)
            self._waiting.clear()
            if self._writer is not None:
                writer, self._writer = self._writer, None
                writer.close()

    def _draw(self, frame_index: int, time_sec: float, image: np.ndarray, after: Known | None) -> None:
        box, conf = box_between(frame_index, self._before, after, self.clip.max_gap)
        # "not analysed" only past the last analysed frame (where the video broke off)
        analysed = after is not None or (self._before is not None
                                         and frame_index - self._before[0] <= self.clip.max_gap // 2)
        draw_spotlight(image, None if box is None else box * self.clip.box_scale, conf, time_sec,
                       "not visible" if analysed or box is not None else "not analysed")
        if self._writer is None:
            width, height = self.clip.size
            self._writer = H264Writer(self.path, self.clip.fps, width, height, crf=self.clip.crf,
                                      preset=self.clip.preset, threads=SPOTLIGHT_THREADS)
        self._writer.write_i420(image)
        if self._release is not None:
            self._release(image)


DRAWER_SLOTS = 16  # frames in memory shared with a drawer: ~5.5 MB at 640 x 360
DRAWER_BATCH = 8  # messages sent to a drawer at once: each write wakes it (~0.2 ms a write on this VM)


class SpotlightDrawer:
    """Draws and encodes a spotlight clip's parts in a process of its own, forked from the analysis
    (``forking.fork_child``) before its walks start: for the walks in the analysis's own process, or
    for the backward walk's process (``lends``: its chunks are decoded into the slots, see ``lend``).

    Drawn by the walk itself, the clip is ~20 % of the walk's time (x264 ~0.9 ms a 640 px frame, the
    drawing ~0.25 ms). Where the walk has a core to spare beside it (``track.follow_target`` says
    when), the drawer takes that work off it. The walk copies each small frame into one of
    ``DRAWER_SLOTS`` slots of memory it shares with the drawer and sends the slot's number; the
    drawer hands the slot back once the frame is encoded.
    When no slot is free and none will be without more boxes (the drawer waits for the box after
    its frames), the frame goes through the pipe itself: slower (~0.8 ms of CPU a frame on the two
    sides, against ~0.05 ms), never a wait for ever. A part is fed as ``SpotlightPart`` is, through
    ``part``; frames and boxes come in time order, interleaved, so that the drawer keeps only the
    frames since the last box. ``finish`` waits until every part is written (a part not closed by
    then is an error); an error of the drawer's is raised in the walk soon after it happened: at the
    next batch sent, or slot taken, once the drawer has ended, or at ``finish``. Messages go in
    batches of ``DRAWER_BATCH``, and the slots come back a batch's at once.
    """

    def __init__(self, clip: SpotlightClip, slots: int = DRAWER_SLOTS, lends: bool = False):
        width, height = clip.size
        self._shape = (height * 3 // 2, width)
        # shared with the child; pages are touched as slots are first used (the last freed is reused first)
        self._memory = mmap.mmap(-1, slots * self._shape[0] * self._shape[1])
        self._slots = np.frombuffer(self._memory, np.uint8).reshape(slots, *self._shape)
        self._free = list(range(slots))
        self._held: dict[int, tuple[int, int]] = {}  # slot -> (part number, frame index) of its frame
        self._lent: set[int] = set()  # slots handed to the walk to decode a frame into (``lend``)
        self.lends = lends
        self._last_box: dict[int, float] = {}  # part number -> the last box's frame index (inf: closed)
        self._parts = 0
        self._batch: list[tuple] = []
        self._lock = threading.Lock()  # walks on two threads (no process of their own) share one drawer

        def in_parent(pid: int, to_drawer, from_drawer) -> None:  # (no signal is handled until this is done)
            self.pid, self._to_drawer, self._from_drawer = pid, to_drawer, from_drawer

        # (the frames' pipe wide: ~3 frames of 640 x 360 when one goes through it, see add_frame)
        fork_piped(lambda frames, back: _draw_parts(clip, self._slots, frames, back), in_parent, widen="requests")

    def part(self, path: Path) -> DrawnElsewhere:
        with self._lock:
            self._parts += 1
            number = self._parts
            self._last_box[number] = -1
            self._send(("open", number, str(path)))
        return DrawnElsewhere(self, number)

    def lend(self) -> np.ndarray | None:
        """A free slot for the walk to put a frame in, so that ``add_frame`` sends it with no copy
        (the backward walk keeps a chunk's frames until it has walked the chunk: in slots, they
        are handed over at once); None when every slot holds a frame that waits for a box, or
        the drawer does not lend (it has slots for a few frames only)."""
        if not self.lends:
            return None
        with self._lock:
            slot = self._slot()
            if slot is not None:
                self._lent.add(slot)
                return self._slots[slot]
            return None

    def unlend(self, image: np.ndarray) -> None:
        """A lent slot that will not be added after all (the frame went elsewhere, or its chunk
        failed) is free again."""
        with self._lock:
            slot = self._slot_of(image)
            if slot in self._lent:
                self._lent.discard(slot)
                self._free.append(slot)

    def lent(self, image: np.ndarray) -> bool:
        """Whether ``image`` is one of this drawer's slots (comes back to it once it is encoded)."""
        return self._slot_of(image) is not None

    def _slot_of(self, image: np.ndarray) -> int | None:
        return _slot_index(self._slots, image)

    def add_frame(self, number: int, frame_index: int, time_sec: float, image: np.ndarray) -> None:
        with self._lock:
            slot = self._slot_of(image)
            if slot in self._lent:  # (filled in place)
                self._lent.discard(slot)
            else:
                slot = self._slot()
                if slot is None:
                    self._send(("frame", number, frame_index, time_sec, None), image)
                    return
                self._slots[slot] = image
            self._held[slot] = (number, frame_index)
            self._send(("frame", number, frame_index, time_sec, slot))

    def add_point(self, number: int, point: TrackPoint) -> None:
        with self._lock:
            self._last_box[number] = point.frame_index
            self._send(("point", number, point))

    def close_part(self, number: int, drawn: bool) -> None:
        with self._lock:
            self._last_box[number] = math.inf  # its frames are drawn, or dropped: their slots come back
            self._send(("close", number, drawn))
            self._flush()

    def _slot(self) -> int | None:
        """A free slot: handed back already, or as soon as a frame the drawer can draw is drawn;
        None when every slot holds a frame that waits for a box still to come."""
        while self._from_drawer.poll():
            self._take_back()
        while not self._free:
            if not any(index <= self._last_box[number] for number, index in self._held.values()):
                return None
            self._flush()  # (the boxes it needs may wait in the batch)
            self._take_back()
        return self._free.pop()

    def _take_back(self) -> None:
        try:
            message = self._from_drawer.recv()
        except (EOFError, OSError) as exc:
            self._raise_outcome(exc)
        if isinstance(message, list):
            for slot in message:
                del self._held[slot]
            self._free.extend(message)
        else:  # the drawer ended (an error) before it was told to
            self._raise_outcome(outcome=message)

    def _send(self, message: tuple, image: np.ndarray | None = None) -> None:
        """Queue ``message``; a frame that comes through the pipe ends its batch and follows it."""
        self._batch.append(message)
        if image is not None or len(self._batch) >= DRAWER_BATCH:
            self._flush(image)

    def _flush(self, image: np.ndarray | None = None) -> None:
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        try:
            self._to_drawer.send(batch)
            if image is not None:
                self._to_drawer.send_bytes(image.reshape(-1))  # (by rows it would count a row a byte)
        except OSError as exc:  # (a broken pipe: the drawer has ended, and said why)
            self._raise_outcome(exc)

    def finish(self) -> None:
        """Wait until every part is drawn, encoded and closed (one still open is an error, raised
        here); the drawer then ends."""
        with self._lock:
            self._send(("end",))
            self._flush()
            self._raise_outcome()

    def _raise_outcome(self, cause: BaseException | None = None, outcome: tuple | None = None) -> None:
        """The drawer's outcome, once it has ended: its error raised here (or, when sending to it
        failed, ``cause``'s)."""
        while outcome is None:
            try:
                message = self._from_drawer.recv()
            except (EOFError, OSError):
                outcome = (False, None)
                break
            outcome = None if isinstance(message, list) else message  # (slots handed back on its way)
        ok, error = outcome
        if ok and cause is None:
            return
        raise error or RuntimeError(f"the spotlight's drawing process {self.pid} ended without a word") from cause

    def forget(self) -> None:
        """Close this process's ends of the drawer's pipes (a process it was forked into does not
        feed it), leaving the drawer to the process that does."""
        self._to_drawer.close()
        self._from_drawer.close()

    def close(self) -> None:
        """End the drawer (done, or not needed any more: the walk failed) and reap it."""
        try:
            end_child(self.pid)
        finally:
            self.forget()


class DrawnElsewhere:
    """A part of the clip drawn by a ``SpotlightDrawer``: the same calls as ``SpotlightPart``."""

    def __init__(self, drawer: SpotlightDrawer, number: int):
        self._drawer, self._number, self._closed = drawer, number, False

    def add_frame(self, frame_index: int, time_sec: float, image: np.ndarray) -> None:
        self._drawer.add_frame(self._number, frame_index, time_sec, image)

    def add_point(self, point: TrackPoint) -> None:
        self._drawer.add_point(self._number, point)

    def close(self, drawn: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._drawer.close_part(self._number, drawn)
        except Exception:  # noqa: BLE001 - dropping the frames after another error: that one counts
            if drawn:
                raise


def _slot_index(slots: np.ndarray, image: np.ndarray) -> int | None:
    """Which of ``slots`` (one array of them, shared memory) ``image`` is, by its address; None
    when it is none of them."""
    slot, rest = divmod(image.ctypes.data - slots.ctypes.data, slots[0].nbytes)
    return slot if rest == 0 and 0 <= slot < len(slots) and image.shape == slots.shape[1:] else None


def _draw_parts(clip: SpotlightClip, slots: np.ndarray, frames, back) -> None:
    """The drawer's side: parts opened, fed and closed as the walk sent them, each slot handed back
    (its number sent ``back``) once its frame is encoded or dropped, until "end"; then the outcome,
    (True, None) or (False, the error), goes ``back``."""
    released: list[int] = []

    def release(image: np.ndarray) -> None:
        slot = _slot_index(slots, image)
        if slot is not None:  # (not a frame that came through the pipe)
            released.append(slot)

    parts: dict[int, SpotlightPart] = {}
    ended = False
    try:
        while not ended:
            for message in frames.recv():
                kind = message[0]
                if kind == "frame":
                    _, number, frame_index, time_sec, slot = message
                    if slot is None:  # (the last of its batch)
                        image = np.empty(slots.shape[1:], np.uint8)
                        frames.recv_bytes_into(image.reshape(-1))
                    else:
                        image = slots[slot]
                    parts[number].add_frame(frame_index, time_sec, image)
                elif kind == "point":
                    parts[message[1]].add_point(message[2])
                elif kind == "open":
                    parts[message[1]] = SpotlightPart(clip, Path(message[2]), release)
                elif kind == "close":
                    parts.pop(message[1]).close(drawn=message[2])
                elif kind == "end":
                    if parts:
                        raise RuntimeError(f"the spotlight's parts {sorted(parts)} were not closed")
                    ended = True
                else:
                    raise ValueError(f"the spotlight's drawer was sent {kind!r}")
            if released:
                back.send(released)
                released = []
        result = (True, None)
    except BaseException as exc:  # noqa: BLE001 - raised in the walk that feeds this drawer
        result = (False, exc)
    finally:
        for part in parts.values():  # (after an error: what waits is dropped)
            try:
                part.close(drawn=False)
            except Exception:  # noqa: BLE001 - the error that ended the drawing counts
                log.debug("a spotlight part could not be closed", exc_info=True)
    try:
        pickle.loads(pickle.dumps(result))  # (one that pickles but cannot be read back would hide it)
        back.send(result)
    except Exception as exc:  # noqa: BLE001 - an error that does not pickle: its text does
        back.send((False, RuntimeError(f"the spotlight's drawing failed: {result[1]!r} ({exc})")))


# ---------------------------------------------------------------------------------------------
# Heatmap
# ---------------------------------------------------------------------------------------------

HEATMAP_MAX_WIDTH = 960


def position_density(track: TargetTrack, info: VideoInfo, width: int, height: int) -> np.ndarray:
    """Gaussian-blurred density of the player's feet points on a ``width`` x ``height`` grid, 0..1."""
    density = np.zeros((height, width), np.float32)
    feet = np.array([((p.xyxy[0] + p.xyxy[2]) / 2, p.xyxy[3]) for p in track.points if p.visible], float)
    if len(feet) == 0:
        return density
    xs = np.clip((feet[:, 0] * width / info.width).astype(int), 0, width - 1)
    ys = np.clip((feet[:, 1] * height / info.height).astype(int), 0, height - 1)
    np.add.at(density, (ys, xs), 1.0)
    sigma = max(2.0, width * 0.025)
    density = cv2.GaussianBlur(density, (0, 0), sigmaX=sigma, sigmaY=sigma)
    peak = float(density.max())
    return density / peak if peak > 0 else density


def render_heatmap(track: TargetTrack, info: VideoInfo, out_path, background: np.ndarray | None = None) -> None:
    """PNG of where the player stood (feet points) over a faded frame of the video, if given.

    Positions are in image space: with a panning camera it shows where on screen, not on the pitch.
    """
    scale = min(1.0, HEATMAP_MAX_WIDTH / info.width) if info.width else 1.0
    width, height = max(2, int(round(info.width * scale))), max(2, int(round(info.height * scale)))
    if background is not None:
        base = cv2.resize(background, (width, height), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(cv2.cvtColor(base, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        base = cv2.addWeighted(base, 0.25, grey, 0.35, 0)  # faded, desaturated
    else:
        base = np.full((height, width, 3), (38, 70, 40), np.uint8)  # dark pitch green
    density = position_density(track, info, width, height)
    colours = cv2.applyColorMap((density * 255).astype(np.uint8), cv2.COLORMAP_JET)
    alpha = np.clip(density * 1.6, 0, 0.85)[..., None]
    out = (base * (1 - alpha) + colours * alpha).astype(np.uint8)
    if not density.any():
        _text(out, "player not visible", (12, 30), 0.7, LOST_COLOUR, 2)
    if not cv2.imwrite(str(out_path), out):
        raise OSError(f"could not write {out_path}")


# ---------------------------------------------------------------------------------------------
# Track files
# ---------------------------------------------------------------------------------------------

CSV_COLUMNS = ["frame_index", "time_sec", "x", "y", "w", "h", "confidence", "visible"]


def write_track_csv(track: TargetTrack, out_path) -> None:
    """One row per analysed frame; x, y (top-left), w, h in source pixels, empty when not visible."""
    with open(out_path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for p in track.points:
            if p.visible:
                x1, y1, x2, y2 = p.xyxy
                writer.writerow([p.frame_index, f"{p.time_sec:.3f}", f"{x1:.1f}", f"{y1:.1f}",
                                 f"{x2 - x1:.1f}", f"{y2 - y1:.1f}", f"{p.confidence:.3f}", 1])
            else:
                writer.writerow([p.frame_index, f"{p.time_sec:.3f}", "", "", "", "", f"{p.confidence:.3f}", 0])


def _plain(value):
    """numpy scalars (as error details may carry) as plain JSON numbers."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_track_json(track: TargetTrack, info: VideoInfo, out_path) -> None:
    """The track as JSON: video facts, then ``points`` as rows under ``columns`` (compact, streamed).

    ``{"video": {...}, "frames_total", "decode_error", "columns": [...], "points": [[...], ...]}``;
    ``x1..y2`` are null when the player is not visible.
    """
    error = track.decode_error
    head = {
        "video": {"fps": info.fps, "frame_count": info.frame_count, "width": info.width,
                  "height": info.height, "duration_sec": info.duration_sec, "codec": info.codec},
        "frames_total": track.frames_total,
        "decode_error": None if error is None else {"code": error.code, "message": error.message,
                                                    **{k: v for k, v in error.details.items()}},
        "columns": ["frame_index", "time_sec", "x1", "y1", "x2", "y2", "confidence"],
    }
    with open(out_path, "w") as fh:
        fh.write(json.dumps(head, default=_plain)[:-1] + ', "points": [')
        for i, p in enumerate(track.points):
            box = [round(float(v), 1) for v in p.xyxy] if p.visible else [None] * 4
            row = [int(p.frame_index), round(float(p.time_sec), 3), *box, round(float(p.confidence), 3)]
            fh.write(("," if i else "") + json.dumps(row))
        fh.write("]}\n")
