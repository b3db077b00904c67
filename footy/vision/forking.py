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
import os
import signal
import threading
import time
from collections.abc import Callable

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
    try:
        pid = os.fork()
    except BaseException:
        gc.unfreeze()
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
        if in_parent is not None:
            in_parent(pid)
    except BaseException:
        end_child(pid)
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return pid


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
