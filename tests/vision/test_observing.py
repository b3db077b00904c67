"""ObserverProcess on its own: a forked process that looks at the frames a walk sends it."""
from __future__ import annotations

import os
import re
import signal
import time

import numpy as np
import pytest

from footy.vision.observing import OBSERVER_SLOTS, ObserverProcess

from .test_track import children


def frame(i: int, shape=(36, 64, 3)) -> np.ndarray:
    return np.full(shape, i % 256, np.uint8)


def seen(image: np.ndarray, frame_index: int, time_sec: float) -> tuple:
    """What the observer saw: the frame's number, its time, its mean value (the slot's content)."""
    return frame_index, time_sec, float(image.mean()), image.shape


def test_each_frame_s_observation_comes_back_in_order_whatever_the_slots():
    before = children()
    observer = ObserverProcess(seen, slot_bytes=36 * 64 * 3)
    try:
        back = []
        for i in range(5 * OBSERVER_SLOTS):  # more frames than slots: slots are reused
            back += observer.send(frame(i), i, i / 25)
        back += observer.rest()
        big = frame(7, (72, 64, 3))  # larger than a slot: through the pipe
        back += observer.send(big, 99, 4.0) + observer.rest()
    finally:
        observer.close()
    in_slots = [(i, i / 25, float(i), (36, 64, 3)) for i in range(5 * OBSERVER_SLOTS)]
    assert back == in_slots + [(99, 4.0, 7.0, (72, 64, 3))]
    assert children() == before


def failing_at(k: int):
    def observe(image, frame_index, time_sec):
        if frame_index == k:
            time.sleep(0.3)  # (the walk sends the next frames meanwhile: they wait in the slots)
            raise ValueError(f"the detector broke on frame {k}")
        return frame_index
    return observe


def test_an_error_of_the_observer_is_raised_in_the_walk_and_nothing_waits_after_it():
    observer = ObserverProcess(failing_at(1), slot_bytes=36 * 64 * 3)
    try:
        back = []
        with pytest.raises(ValueError, match="the detector broke on frame 1"):
            for i in range(10):
                back += observer.send(frame(i), i, i / 25)
            back += observer.rest()
        assert back == [0]  # the frame before it
        assert observer.rest() == []  # it has ended: the frames sent after it are not waited for
    finally:
        observer.close()


def test_an_observer_killed_is_an_error_not_a_wait():
    observer = ObserverProcess(seen, slot_bytes=36 * 64 * 3)
    try:
        observer.send(frame(0), 0, 0.0)
        os.kill(observer.pid, signal.SIGKILL)
        with pytest.raises(RuntimeError) as error:
            for i in range(1, 10):
                observer.send(frame(i), i, i / 25)
            observer.rest()
        assert re.match(r"the observer process \d+ ended without a word", str(error.value))
    finally:
        observer.close()


def test_a_child_is_forked_with_opencv_s_thread_pool_stopped_and_the_parent_gets_its_pool_back():
    # a worker of OpenCV's pool holding the pool's lock at the fork would leave it held in the
    # child for good: the child forks with no workers (one thread) and keeps it so
    import cv2

    from footy.vision.forking import fork_child

    before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    try:
        cv2.GaussianBlur(np.zeros((720, 1280, 3), np.uint8), (9, 9), 2)  # the pool's workers started
        read, write = os.pipe()

        def in_child() -> None:
            os.write(write, str(cv2.getNumThreads()).encode())
            cv2.GaussianBlur(np.zeros((720, 1280, 3), np.uint8), (9, 9), 2)  # and OpenCV works there

        pid = fork_child(in_child)
        os.close(write)
        told = os.read(read, 16)
        os.close(read)
        _, status = os.waitpid(pid, 0)
        assert told == b"1" and os.waitstatus_to_exitcode(status) == 0
        assert cv2.getNumThreads() == 2
    finally:
        cv2.setNumThreads(before)
