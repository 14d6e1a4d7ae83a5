"""What the push path tells others: the outcome of each enrolment, and the link ingestion needs.

Event ids are derived from the state, so a decision re-published after a crash
carries the same id and consumers can drop the repeat.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from npo_integration.models.enrolment import EnrolmentState
from npo_integration.models.internal import EnrolmentLink, EnrolmentResult
from npo_integration.push.identity import link_event_id, result_event_id

ResultStatus = Literal["confirmed", "failed", "cancelled", "cancel_not_supported", "unknown"]
RESULT_STATUS: dict[str, ResultStatus] = {
    "confirmed": "confirmed",
    "unknown": "unknown",  # not final: an operator's confirm or re-send follows
    "failed": "failed",
    "cancelled": "cancelled",
    "cancel_not_supported": "cancel_not_supported",
    "cancel_failed": "failed",  # the reason says the unenrol failed; the candidate stays enrolled
}


def result_of(state: EnrolmentState, now: datetime) -> EnrolmentResult:
    """The ``enrolment.result`` of a state that is final (see :data:`RESULT_STATUS`)."""
    status = RESULT_STATUS[state.status]
    return EnrolmentResult(
        event_id=result_event_id(state.assignment_id, state.status, state.redrives),
        occurred_at=now,
        assignment_id=state.assignment_id,
        npo_id=state.npo_id,
        status=status,
        npo_enrolment_ref=state.npo_enrolment_ref,
        reason=state.reason,
        attempts=state.attempts,
        decided_at=now,
    )


def link_of(
    state: EnrolmentState, *, linked: bool, now: datetime, ref_prefix: str = ""
) -> EnrolmentLink:
    """``enrolment.linked`` once confirmed, ``enrolment.unlinked`` once unenrolled (key npo_id).

    ``ref_prefix``: the offering's source's (``crm:``), which its progress records' enrolment
    references carry too (``transforms.sources``), so they find this link."""
    ref = state.npo_enrolment_ref
    event_type: Literal["enrolment.linked", "enrolment.unlinked"] = (
        "enrolment.linked" if linked else "enrolment.unlinked"
    )
    assignment = state.assignment
    return EnrolmentLink(
        event_id=link_event_id(state.assignment_id, event_type, state.npo_enrolment_ref),
        event_type=event_type,
        occurred_at=now,
        npo_id=state.npo_id,
        assignment_id=state.assignment_id,
        candidate_id=assignment.candidate.candidate_id,
        npo_enrolment_ref=ref_prefix + ref if ref else ref,
        npo_user_ref=assignment.candidate.npo_user_ref,
        npo_offering_ref=assignment.offering.npo_offering_ref,
    )
