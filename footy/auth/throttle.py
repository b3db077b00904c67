"""Repeated failed sign-ins are slowed down, per account and per address.

Counts live in this process's memory: each web process slows its own callers down.
"""
from __future__ import annotations

import threading
import time

FREE_ATTEMPTS = 5       # failures allowed before any wait
WINDOW_SEC = 15 * 60    # failures are forgotten after this
MAX_WAIT_SEC = 300

_memory: dict[str, list[float]] = {}
_lock = threading.Lock()


def _keys(email: str, address: str) -> list[str]:
    return [f"footy:signin:acct:{email}", f"footy:signin:addr:{address}"]


def _failures(key: str, now: float) -> list[float]:
    with _lock:
        times = [t for t in _memory.get(key, []) if now - t < WINDOW_SEC]
        _memory[key] = times
        return list(times)


def throttle_failed_sign_in(email: str, address: str) -> int | None:
    """Seconds the caller must still wait, or None when a sign-in may be tried now."""
    now = time.time()
    wait = 0.0
    for key in _keys(email, address):
        times = _failures(key, now)
        extra = len(times) - FREE_ATTEMPTS
        if extra >= 0 and times:
            delay = min(MAX_WAIT_SEC, 2 ** min(extra, 10))
            wait = max(wait, times[-1] + delay - now)
    return int(wait) + 1 if wait > 0 else None


def record_failed_sign_in(email: str, address: str) -> None:
    now = time.time()
    with _lock:
        for key in _keys(email, address):
            _memory.setdefault(key, []).append(now)


def clear_failed_sign_ins(email: str, address: str) -> None:
    with _lock:
        _memory.pop(_keys(email, address)[0], None)
