"""Repeated failed sign-ins are slowed down, per account and per address.

After ``ACCOUNT_FREE`` failures on one account (or ``ADDRESS_FREE`` from one address, a little more
since a club's coaches may share one), each further try must wait 2, 4, 8 ... seconds (at most
``MAX_WAIT_SEC``) after the last failure; a correct password does not help meanwhile. Failures are
forgotten after ``WINDOW_SEC``, and a successful sign-in forgets the account's (not the address's).

The counts live in Redis, shared by every web process; if Redis cannot be reached, each process
counts in its own memory until it can.
"""
from __future__ import annotations

import logging
import threading
import time

import redis
from flask import current_app, has_app_context

log = logging.getLogger(__name__)

ACCOUNT_FREE = 5        # failures allowed on one account before any wait
ADDRESS_FREE = 20       # failures allowed from one address before any wait
WINDOW_SEC = 15 * 60    # failures are forgotten after this
MAX_WAIT_SEC = 300
KEEP = 64               # failures remembered per key (enough to reach MAX_WAIT_SEC)

_memory: dict[str, list[float]] = {}
_lock = threading.Lock()
_redis_down_until = 0.0


def _keys(email: str, address: str) -> list[tuple[str, int]]:
    prefix = current_app.config.get("FOOTY_QUEUE_PREFIX", "footy") if has_app_context() else "footy"
    return [(f"{prefix}:signin:acct:{email[:254]}", ACCOUNT_FREE),
            (f"{prefix}:signin:addr:{address[:64]}", ADDRESS_FREE)]


def _redis():
    """The shared Redis, or None while it is unreachable (then memory is used for 30 s)."""
    if not has_app_context() or time.monotonic() < _redis_down_until:
        return None
    from ..queue import get_redis

    try:
        return get_redis()
    except Exception as exc:  # noqa: BLE001 - QueueUnavailable, RedisError, OSError
        _mark_down(exc)
        return None


def _mark_down(exc: Exception) -> None:
    global _redis_down_until
    log.warning("sign-in throttle falls back to memory: %s", exc)
    _redis_down_until = time.monotonic() + 30


def _failures(key: str, now: float) -> list[float]:
    conn = _redis()
    if conn is not None:
        try:
            return sorted(t for t in (float(v) for v in conn.lrange(key, 0, -1)) if now - t < WINDOW_SEC)
        except (redis.RedisError, OSError, ValueError) as exc:
            _mark_down(exc)
    with _lock:
        times = [t for t in _memory.get(key, []) if now - t < WINDOW_SEC]
        _memory[key] = times
        return list(times)


def throttle_failed_sign_in(email: str, address: str) -> int | None:
    """Seconds the caller must still wait, or None when a sign-in may be tried now."""
    now = time.time()
    wait = 0.0
    for key, free in _keys(email, address):
        times = _failures(key, now)
        extra = len(times) - free
        if extra >= 0 and times:
            delay = min(MAX_WAIT_SEC, 2 ** min(extra + 1, 10))
            wait = max(wait, times[-1] + delay - now)
    return int(wait) + 1 if wait > 0 else None


def record_failed_sign_in(email: str, address: str) -> None:
    now = time.time()
    conn = _redis()
    if conn is not None:
        try:
            with conn.pipeline() as pipe:
                for key, _free in _keys(email, address):
                    pipe.rpush(key, repr(now)).ltrim(key, -KEEP, -1).expire(key, WINDOW_SEC)
                pipe.execute()
            return
        except (redis.RedisError, OSError) as exc:
            _mark_down(exc)
    with _lock:
        for key, _free in _keys(email, address):
            _memory.setdefault(key, []).append(now)
            del _memory[key][:-KEEP]


def clear_failed_sign_ins(email: str, address: str) -> None:
    key = _keys(email, address)[0][0]
    conn = _redis()
    if conn is not None:
        try:
            conn.delete(key)
        except (redis.RedisError, OSError) as exc:
            _mark_down(exc)
    with _lock:
        _memory.pop(key, None)
