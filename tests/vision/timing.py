"""A guard for tests of code that could hang: waiting on a process, a pipe or a thread."""
from __future__ import annotations

import threading


def in_time(call, seconds: float = 60):
    """What ``call()`` returned or raised, on a thread given ``seconds``: a test that would hang
    fails instead."""
    outcome = []

    def run():
        try:
            outcome.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=seconds)
    assert not worker.is_alive(), f"still running after {seconds} s"
    return outcome[0]
