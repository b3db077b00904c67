"""Helper processes of one analysis, forked from it: the backward walk (``track._BackwardProcess``),
the spotlight clip's drawers (``render.SpotlightDrawer``) and the forward walk's observer
(``observing.ObserverProcess``).

Forking copies the vision modules already imported and the objects they work on as they are, so
a child starts in milliseconds. A child never returns into the caller: it ends with ``os._exit``
(no atexit hooks, no finalizers on sockets or database connections it inherited), and ends itself
when the process that forked it is gone (a stopped or timed-out job's work horse is killed).
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

import cv2

try:
    import fcntl
    F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only: elsewhere pipes keep their size
except ImportError:  # (no fcntl, and no fork either: no helper process)
    F_SETPIPE_SZ = None

CAN_FORK = hasattr(os, "fork")


def fork_child(run: Callable[[], None], in_parent: Callable[[int], None] | None = None) -> int:
    """Fork a child that runs ``run()`` and then ends; return its pid. ``in_parent(pid)`` runs in
    this process before any signal is handled again (the caller's setup of the child's pipes):
    should it raise, the child is ended and reaped. An ``OSError`` of the fork itself (out of
    memory, a process limit) is raised here, with no child left."""
    parent = os.getpid()
    # no signal handler may run the caller's code in the child before it is in its ``try`` (RQ's
    # job timeout raises from one); nor may the child's garbage collector finalise the parent's
    # objects it inherited (a pooled database connection would roll back on the parent's socket):
    # both are held over the fork
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    gc.freeze()
    # OpenCV's thread pool is not safe to fork: a worker of it that holds the pool's lock at the
    # fork leaves the lock held in the child for good, and the child's first OpenCV call waits on
    # it for ever (a bench's walk, forked beside a pool of two, hung so). One thread stops the
    # workers; the child keeps one, this process gets its pool back after the fork
    opencv_threads = cv2.getNumThreads()
    if opencv_threads > 1:
        cv2.setNumThreads(1)
    try:
        pid = os.fork()
    except BaseException:
        gc.unfreeze()
        cv2.setNumThreads(opencv_threads)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        raise
    if pid == 0:
        try:
            for number in (signal.SIGINT, signal.SIGTERM):  # as any process, not the caller's way
                signal.signal(number, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            threading.Thread(target=_end_when_orphaned, args=(parent,), name="footy-orphan-watch",
                             daemon=True).start()
            run()
        finally:
            os._exit(0)
    try:
        gc.unfreeze()
        cv2.setNumThreads(opencv_threads)
        if in_parent is not None:
            in_parent(pid)
    except BaseException:
        end_child(pid)
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return pid


PIPE_BYTES = 1 << 20  # Linux's most for an unprivileged pipe (~3 frames of 640 x 360; the default is 64 KB)


def fork_piped(serve: Callable[[Connection, Connection], None],
               in_parent: Callable[[int, Connection, Connection], None], widen: str | None = None) -> None:
    """Fork a child that runs ``serve(requests, replies)``: the ends of two one-way pipes it reads what
    this process sends it from and writes what it sends back to. ``in_parent(pid, requests, replies)``
    gets this process's ends (to send on, to receive on) before any signal is handled again (see
    ``fork_child``); should the fork fail, every end is closed. ``widen``: the pipe ("requests" or
    "replies") made ``PIPE_BYTES`` large where the system allows it, so its writer rarely waits."""
    requests_in, requests = multiprocessing.Pipe(duplex=False)
    replies, replies_out = multiprocessing.Pipe(duplex=False)
    wide = {"requests": requests, "replies": replies_out}.get(widen or "")
    if wide is not None and F_SETPIPE_SZ is not None:
        try:
            fcntl.fcntl(wide.fileno(), F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:  # a smaller system limit: the default works, with more waiting
            pass

    def in_child() -> None:
        requests.close()
        replies.close()
        serve(requests_in, replies_out)

    def parent_side(pid: int) -> None:
        requests_in.close()
        replies_out.close()
        in_parent(pid, requests, replies)

    try:
        fork_child(in_child, parent_side)
    except BaseException:
        for end in (requests, replies, requests_in, replies_out):
            end.close()
        raise


def end_child(pid: int) -> None:
    """Kill a forked child, whatever it is doing, and reap it (if it is this process's child)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # reaped already, or another process's child
        pass


def _end_when_orphaned(parent: int, every_sec: float = 0.25) -> None:
    """End this process once ``parent`` is gone, whatever it is doing: decoding, walking, drawing or
    waiting on a pipe."""
    while os.getppid() == parent:
        time.sleep(every_sec)
    os._exit(1)
