"""What is a candidate's personal data in the service's records, and those records without it.

Personal: the candidate's name, email and id at the NPO (``npo_user_ref``, often an email), and
free text that may quote them (an NPO's error message in ``reason``). Kept: the platform's
pseudonymous ids (``candidate_id``, ``assignment_id``), the NPO's id of the enrolment, the
offering, the status and the dates, which the bookkeeping of enrolments needs and which name
nobody outside the platform and the NPO.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from npo_integration.models.enrolment import EnrolmentState
from npo_integration.models.events import Candidate

ERASED_TEXT = "(erased)"
"""What stands for free text that was erased."""


def blanked_candidate(candidate: Candidate) -> Candidate:
    """Only the pseudonymous platform id is left."""
    return Candidate(candidate_id=candidate.candidate_id)


def blanked_state(state: EnrolmentState, erasure_id: str, now: datetime) -> EnrolmentState:
    """The enrolment for bookkeeping (status, NPO enrolment id, offering, dates) with its
    personal fields blanked; never acted on again (no ``due_at``: no retry, no watchdog)."""
    assignment = state.assignment.model_copy(
        update={"candidate": blanked_candidate(state.assignment.candidate)}
    )
    return state.model_copy(
        update={
            "assignment": assignment,
            "reason": None if state.reason is None else ERASED_TEXT,
            "due_at": None,
            "erased_at": now,
            "erasure_id": erasure_id,
            "updated_at": now,
        }
    )


def is_blank(state: EnrolmentState) -> bool:
    candidate = state.assignment.candidate
    return (
        candidate == blanked_candidate(candidate)
        and state.reason in (None, ERASED_TEXT)
        and state.erased_at is not None
    )


def link_marker_key(npo_id: str, link_key: str) -> str:
    """Where the marker of an erased link key is kept: under the NPO (same partition as the link),
    the key itself hashed, since it may hold the candidate's email (``user:<npo_user_ref>``)."""
    digest = hashlib.sha256(link_key.encode()).hexdigest()
    return f"{npo_id}/erased:{digest}"
