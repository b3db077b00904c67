"""The job state machine (seed 002) and the progress steps (seeds 001/002), in one place."""
from __future__ import annotations

from enum import Enum


class JobStatus(str, Enum):
    WAITING_FOR_SELECTION = "WAITING_FOR_SELECTION"
    WAITING_FOR_TARGET = "WAITING_FOR_TARGET"
    WAITING_FOR_PLAYER = "WAITING_FOR_PLAYER"
    READY_TO_ENQUEUE = "READY_TO_ENQUEUE"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return self.value


class Step(str, Enum):
    UPLOADED = "UPLOADED"
    EXTRACTING_PREVIEWS = "EXTRACTING_PREVIEWS"
    PREVIEWS_READY = "PREVIEWS_READY"
    TRACKING_CANDIDATES = "TRACKING_CANDIDATES"
    CANDIDATES_READY = "CANDIDATES_READY"
    WAITING_FOR_TARGET = "WAITING_FOR_TARGET"
    WAITING_FOR_TARGET_CONFIRMATION = "WAITING_FOR_TARGET_CONFIRMATION"
    WAITING_FOR_PLAYER = "WAITING_FOR_PLAYER"
    READY_TO_ENQUEUE = "READY_TO_ENQUEUE"
    QUEUED = "QUEUED"
    TRACKING = "TRACKING"
    SCORING = "SCORING"
    RENDERING = "RENDERING"
    DONE = "DONE"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return self.value


S = JobStatus
FINISHED = frozenset({S.COMPLETED, S.PARTIAL, S.FAILED})
WITH_RESULT = frozenset({S.COMPLETED, S.PARTIAL})
# The coach may change the player or the target while nothing is queued (FAILED: fix and retry)
SELECTABLE = frozenset({S.WAITING_FOR_SELECTION, S.WAITING_FOR_TARGET, S.WAITING_FOR_PLAYER,
                        S.READY_TO_ENQUEUE, S.FAILED})
ENQUEUEABLE = frozenset({S.READY_TO_ENQUEUE, S.FAILED})
BUSY = frozenset({S.QUEUED, S.RUNNING})
REQUEUEABLE = frozenset({S.QUEUED, S.RUNNING, S.COMPLETED, S.PARTIAL, S.FAILED})

TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    S.WAITING_FOR_SELECTION: frozenset({S.WAITING_FOR_TARGET, S.WAITING_FOR_PLAYER, S.FAILED}),
    S.WAITING_FOR_TARGET: frozenset({S.WAITING_FOR_TARGET, S.READY_TO_ENQUEUE, S.FAILED}),
    S.WAITING_FOR_PLAYER: frozenset({S.WAITING_FOR_TARGET, S.WAITING_FOR_PLAYER, S.READY_TO_ENQUEUE, S.FAILED}),
    S.READY_TO_ENQUEUE: frozenset({S.WAITING_FOR_TARGET, S.READY_TO_ENQUEUE, S.QUEUED, S.FAILED}),
    # QUEUED -> READY_TO_ENQUEUE: the queue was down, the click is undone and the selections kept
    S.QUEUED: frozenset({S.RUNNING, S.READY_TO_ENQUEUE, S.FAILED, S.QUEUED}),
    S.RUNNING: frozenset({S.COMPLETED, S.PARTIAL, S.FAILED, S.QUEUED}),
    # finished analyses are re-run only by an admin's `flask footy requeue`
    S.COMPLETED: frozenset({S.QUEUED}),
    S.PARTIAL: frozenset({S.QUEUED}),
    S.FAILED: frozenset({S.WAITING_FOR_TARGET, S.WAITING_FOR_PLAYER, S.READY_TO_ENQUEUE, S.QUEUED}),
}


def can_transition(current: JobStatus, new: JobStatus) -> bool:
    return new in TRANSITIONS[JobStatus(current)]
