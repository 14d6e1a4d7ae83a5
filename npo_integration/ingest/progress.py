"""Progress records -> ``candidate_assignment.updated`` events, tied
to the platform's assignment."""

from __future__ import annotations

from npo_integration.ingest.identity import change_event_id
from npo_integration.models.events import CandidateAssignmentUpdated, Progress
from npo_integration.models.internal import EnrolmentLink, RawRecord
from npo_integration.models.state import RecordState

EVENT_TYPE = "candidate_assignment.updated"


def progress_event(
    raw: RawRecord, progress: Progress, link: EnrolmentLink, change: int
) -> CandidateAssignmentUpdated:
    """``change`` numbers the event among the record's (``processed_flag.next_change``)."""
    return CandidateAssignmentUpdated(
        event_id=change_event_id(raw.record_key, change, raw.content_hash, EVENT_TYPE),
        assignment_id=link.assignment_id,
        npo_id=raw.npo_id,
        status=progress.status,
        progress=progress.progress,
        score=progress.score,
        npo_updated_at=progress.updated_at,
    )


def progress_withdrawn(
    raw: RawRecord, state: RecordState, change: int
) -> CandidateAssignmentUpdated:
    """A live enrolment gone at the NPO (``state.published_key`` is its assignment id)."""
    assert state.published_key is not None
    return CandidateAssignmentUpdated(
        event_id=change_event_id(raw.record_key, change, raw.content_hash, EVENT_TYPE),
        assignment_id=state.published_key,
        npo_id=raw.npo_id,
        status="withdrawn",
        npo_updated_at=raw.fetched_at,
    )
