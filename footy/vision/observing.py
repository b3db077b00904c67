"""A walk's observations made in a process of its own, forked from the walk (``forking.fork_piped``).

An observation (the detector's boxes, their kit colours, the camera's motion) needs nothing of the
follower, only the frames in order: so the walk can hand each analysed frame to an observer and go
on decoding, converting, drawing and following while the observer looks at it. Where the forward
walk has a core to spare beside it (clicked near the start: the backward walk is short),
``track.follow_target`` gives it one, and the two halves of its work share the cores.

The walk copies each frame into one of ``OBSERVER_SLOTS`` slots of memory it shares with the
observer and sends the slot's number; the observation comes back pickled (it is small: boxes,
histograms and a 320 px grey frame) and frees the slot. Observations come back in the order the
frames went, each after its frame; the walk waits only when every slot holds a frame still looked at.
"""
from __future__ import annotations

import collections
import mmap
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from .forking import end_child, fork_piped

# frames the walk may be ahead of its observer: enough to ride out a slow frame (a crowd's blobs),
# few enough that the spotlight's frames waiting for their boxes fit its drawer's slots
OBSERVER_SLOTS = 4

# observe(image, frame index, time in seconds): the observation of one frame, the frames in order
Observe = Callable[[np.ndarray, int, float], Any]


class ObserverProcess:
    """Observes the frames a walk sends it, in a process forked now (before the walk's decoder
    thread runs), with the state ``observe`` has now (a detector not used yet in this process).

    ``send`` a frame and handle the observations it gives back; ``rest`` once the frames are sent.
    An error of ``observe``'s ends the observer and is raised in the walk, at the next ``send`` or
    ``rest``; an observer that died with no word is a ``RuntimeError`` there."""

    def __init__(self, observe: Observe, slot_bytes: int, slots: int = OBSERVER_SLOTS):
        self._slot_bytes = max(1, int(slot_bytes))
        self._memory = mmap.mmap(-1, slots * self._slot_bytes)  # shared with the child
        self._free = list(range(slots))
        self._sent: collections.deque = collections.deque()  # slots whose frames are being looked at, in order

        def in_parent(pid: int, requests, replies) -> None:  # (no signal is handled until this is done)
            self.pid, self._requests, self._replies = pid, requests, replies

        try:  # (the replies' pipe wide: room for a few observations, their grey frame ~60 KB each)
            fork_piped(lambda requests, replies: _serve(observe, self._memory, self._slot_bytes, requests, replies),
                       in_parent, widen="replies")
        except BaseException:
            self._memory.close()
            raise

    def send(self, image: np.ndarray, frame_index: int, time_sec: float) -> list:
        """Hand the observer a frame; the observations of earlier frames that are back already (in
        order), waiting for the oldest only when no slot is free."""
        back = self._ready()
        if not self._free:
            back.append(self._receive())
        image = np.ascontiguousarray(image, np.uint8)
        if image.nbytes <= self._slot_bytes:
            slot = self._free.pop()
            self._slot(slot, image.shape)[...] = image
            message: tuple = (slot, image.shape, frame_index, time_sec)
        else:  # (cannot happen with one analysis size; should it, the frame goes through the pipe)
            slot = None
            message = (image, image.shape, frame_index, time_sec)
        try:
            self._requests.send(message)
        except OSError as exc:  # (a broken pipe: the observer has ended, and said why)
            while True:
                self._receive(cause=exc)  # its error (or its end with no word) is raised here
        self._sent.append(slot)
        return back

    def rest(self) -> list:
        """The observations of every frame sent and not yet given back, in order (waits for them)."""
        return [self._receive() for _ in range(len(self._sent))]

    def _ready(self) -> list:
        back = []
        while self._sent and self._replies.poll():
            back.append(self._receive())
        return back

    def _receive(self, cause: BaseException | None = None) -> Any:
        """The oldest frame's observation; its slot is free again."""
        try:
            ok, value = self._replies.recv()
        except (EOFError, OSError) as exc:
            raise RuntimeError(f"the observer process {self.pid} ended without a word") from (cause or exc)
        slot = self._sent.popleft()
        if slot is not None:
            self._free.append(slot)
        if not ok:  # it has ended: nothing else comes back
            self._free.extend(slot for slot in self._sent if slot is not None)
            self._sent.clear()
            raise value
        return value

    def _slot(self, slot: int, shape: tuple) -> np.ndarray:
        return np.ndarray(shape, np.uint8, buffer=self._memory, offset=slot * self._slot_bytes)

    def close(self) -> None:
        """End the observer (done, or not needed any more: the walk failed) and reap it."""
        try:
            end_child(self.pid)
        finally:
            self._requests.close()
            self._replies.close()


def _serve(observe: Observe, memory: mmap.mmap, slot_bytes: int, requests, replies) -> None:
    """The observer's side: each frame sent observed and its observation sent back, (True,
    observation), until the walk closes its end or ends this process; an error of ``observe``'s is
    sent back instead, (False, error), and ends it."""
    try:
        while True:
            try:
                slot, shape, frame_index, time_sec = requests.recv()
            except EOFError:  # the walk closed its end: nothing more to do
                return
            image = slot if isinstance(slot, np.ndarray) else \
                np.ndarray(shape, np.uint8, buffer=memory, offset=slot * slot_bytes)
            replies.send((True, observe(image, frame_index, time_sec)))
    except Exception as exc:  # noqa: BLE001 - raised in the walk that feeds this observer
        exc.add_note("in the observer's process:\n" + "".join(traceback.format_exception(exc)))
        try:
            replies.send((False, exc))
        except Exception as failed:  # noqa: BLE001 - an error that does not pickle: its text does
            replies.send((False, RuntimeError(f"the observer failed: {exc!r} ({failed})")))
