"""Progress records -> ``candidate_assignment.updated`` events, tied
to the platform's assignment."""

from __future__ import annotations

from npo_integration.ingest.identity import change_event_id
from npo_integration.models.events import CandidateAssignmentUpdated, Progress
from npo_integration.models.internal import EnrolmentLink, RawRecord

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
