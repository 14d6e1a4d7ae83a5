"""Progress records -> ``candidate_assignment.updated`` events, tied
to the platform's assignment."""

from __future__ import annotations

from npo_integration.ingest.identity import event_id_for
from npo_integration.models.events import CandidateAssignmentUpdated, Progress
from npo_integration.models.internal import EnrolmentLink, RawRecord

EVENT_TYPE = "candidate_assignment.updated"


def progress_event(
    raw: RawRecord, progress: Progress, link: EnrolmentLink
) -> CandidateAssignmentUpdated:
    return CandidateAssignmentUpdated(
        event_id=event_id_for(raw.record_key, raw.content_hash, EVENT_TYPE),
        assignment_id=link.assignment_id,
        npo_id=raw.npo_id,
        status=progress.status,
        progress=progress.progress,
        score=progress.score,
        npo_updated_at=progress.updated_at,
    )
