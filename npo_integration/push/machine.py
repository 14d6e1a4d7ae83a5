"""The states of one enrolment and the moves between them; pure functions, no I/O.

Enrol:   pending -begin-> sending -answer-> confirmed
                  ^          | transient: retry_later (back to pending, due_at set)
                  |          | refused, or out of attempts -> failed -re-drive-> pending
                             | outcome unknown, NPO neither replays nor can be asked -> unknown
         unknown -operator confirms-> confirmed;  unknown -operator re-sends-> pending
Unenrol: confirmed -cancel-> cancel_pending -begin-> cancelling -answer-> cancelled
         (no unenrol endpoint: cancel_not_supported; refused/out of attempts: cancel_failed)
A cancel before any created is stored as ``cancelled`` (a tombstone): a late created sends nothing.

``sending``/``cancelling`` are written *before* the NPO call, so finding one
later means a crash mid-call: the outcome is unknown and must be resolved
(``resumed``) before anything is sent again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from npo_integration.models.enrolment import (
    IN_FLIGHT,
    REDRIVABLE,
    WAITING,
    EnrolmentState,
)
from npo_integration.models.events import CandidateAssignmentEvent
from npo_integration.push.outcomes import Unavailable

WATCHDOG_CALLS = 3
WATCHDOG_GRACE = timedelta(seconds=10)
"""A call in flight longer than ``WATCHDOG_CALLS`` timeouts (a token fetch, the call, its resend
after a 401) plus this grace is presumed lost with its worker, and is resolved by the retry
timer. This does not rely on the interrupted event being redelivered."""


def new(assignment: CandidateAssignmentEvent, partition: int, now: datetime) -> EnrolmentState:
    return EnrolmentState(
        assignment_id=assignment.assignment_id,
        npo_id=assignment.offering.npo_id,
        partition=partition,
        assignment=assignment,
        status="pending",
        created_at=now,
        updated_at=now,
    )


def cancelled_first(
    cancel: CandidateAssignmentEvent, partition: int, now: datetime
) -> EnrolmentState:
    """The tombstone of an assignment cancelled before its created arrived: nothing to enrol."""
    reason = "cancelled before its created event arrived; nothing was sent to the NPO"
    return cancelled(new(cancel, partition, now), reason, now)


def is_due(state: EnrolmentState, now: datetime) -> bool:
    """Work is waiting and its time has come (a retry, or the watchdog of a lost call)."""
    waiting = state.status in WAITING or state.status in IN_FLIGHT
    return waiting and (state.due_at is None or state.due_at <= now)


def resumed(state: EnrolmentState) -> EnrolmentState:
    """A call found in flight was interrupted: it may have taken effect."""
    if state.status not in IN_FLIGHT:
        return state
    return state.model_copy(update={"maybe_applied": True})


def begin(state: EnrolmentState, now: datetime, call_timeout: float) -> EnrolmentState:
    """Written before the call: the attempt number, and a watchdog in case
    the call is never answered."""
    status = "sending" if state.operation == "enrol" else "cancelling"
    return state.model_copy(
        update={
            "status": status,
            "attempts": state.attempts + 1,
            "due_at": now + timedelta(seconds=WATCHDOG_CALLS * call_timeout) + WATCHDOG_GRACE,
            "updated_at": now,
        }
    )


def not_applied(state: EnrolmentState) -> EnrolmentState:
    """The NPO says the enrolment does not exist: sending again cannot duplicate it."""
    return state.model_copy(update={"maybe_applied": False})


def confirmed(
    state: EnrolmentState, npo_enrolment_ref: str | None, now: datetime
) -> EnrolmentState:
    return state.model_copy(
        update={
            "status": "confirmed",
            "npo_enrolment_ref": npo_enrolment_ref,
            "maybe_applied": False,
            "due_at": None,
            "reason": None,
            "updated_at": now,
        }
    )


def failed(state: EnrolmentState, reason: str, now: datetime) -> EnrolmentState:
    """Final failure of the current operation (``failed`` or ``cancel_failed``)."""
    status = "failed" if state.operation == "enrol" else "cancel_failed"
    return state.model_copy(
        update={"status": status, "reason": reason, "due_at": None, "updated_at": now}
    )


def unknown(state: EnrolmentState, reason: str, now: datetime) -> EnrolmentState:
    """The enrol call may have taken effect and nothing can tell: an operator decides."""
    return state.model_copy(
        update={
            "status": "unknown",
            "maybe_applied": True,
            "reason": reason,
            "due_at": None,
            "updated_at": now,
        }
    )


def resent_by_operator(state: EnrolmentState, now: datetime) -> EnrolmentState:
    """An operator found the NPO has no such enrolment: send again, with fresh attempts."""
    return state.model_copy(
        update={
            "status": "pending",
            "attempts": 0,
            "maybe_applied": False,
            "reason": None,
            "due_at": now,
            "redrives": state.redrives + 1,
            "updated_at": now,
        }
    )


def retry_later(
    state: EnrolmentState, outcome: Unavailable, due_at: datetime, now: datetime
) -> EnrolmentState:
    """Back to waiting after a transient failure; a call that never left is not an attempt."""
    status = "pending" if state.operation == "enrol" else "cancel_pending"
    attempts = state.attempts if outcome.counted else max(state.attempts - 1, 0)
    return state.model_copy(
        update={
            "status": status,
            "attempts": attempts,
            "maybe_applied": state.maybe_applied or outcome.outcome_unknown,
            "reason": outcome.reason,
            "due_at": due_at,
            "updated_at": now,
        }
    )


def request_cancel(state: EnrolmentState, now: datetime) -> EnrolmentState:
    """Cancelled while the enrolment is unresolved: finish resolving it, then undo it."""
    return state.model_copy(update={"cancel_requested": True, "updated_at": now})


def start_unenrol(state: EnrolmentState, now: datetime) -> EnrolmentState:
    return state.model_copy(
        update={
            "status": "cancel_pending",
            "attempts": 0,
            "maybe_applied": False,
            "reason": None,
            "due_at": None,
            "updated_at": now,
        }
    )


def cancelled(state: EnrolmentState, reason: str | None, now: datetime) -> EnrolmentState:
    return state.model_copy(
        update={"status": "cancelled", "reason": reason, "due_at": None, "updated_at": now}
    )


def cancel_not_supported(state: EnrolmentState, now: datetime) -> EnrolmentState:
    return state.model_copy(
        update={
            "status": "cancel_not_supported",
            "reason": (
                "the NPO's config has no unenrol endpoint; the candidate stays enrolled there"
            ),
            "due_at": None,
            "updated_at": now,
        }
    )


def redriven(state: EnrolmentState, now: datetime) -> EnrolmentState | None:
    """A failed operation made due again with fresh attempts; ``None``
    if there is nothing to re-drive.

    ``maybe_applied`` is kept: a failure after an unknown outcome is resolved first.
    """
    if state.status not in REDRIVABLE:
        return None
    status = "pending" if state.status == "failed" else "cancel_pending"
    return state.model_copy(
        update={
            "status": status,
            "attempts": 0,
            "due_at": now,
            "redrives": state.redrives + 1,
            "updated_at": now,
        }
    )
