"""The processed flag of a raw record: when it needs work, and what it becomes after."""

from __future__ import annotations

from datetime import datetime

from npo_integration.models.internal import RawRecord
from npo_integration.models.state import RecordState


def needs_processing(state: RecordState | None, raw: RawRecord) -> bool:
    """False when this exact content was already turned into an event (a re-fetch of the same record)."""
    return state is None or not state.processed or state.processed_hash != raw.content_hash


def processed(state: RecordState | None, raw: RawRecord, now: datetime) -> RecordState:
    return RecordState(
        record_key=raw.record_key,
        npo_id=raw.npo_id,
        stream=raw.stream,
        content_hash=raw.content_hash,
        processed=True,
        processed_hash=raw.content_hash,
        attempts=0,
        last_error=None,
        first_seen_at=state.first_seen_at if state else now,
        updated_at=now,
    )


def failed(state: RecordState | None, raw: RawRecord, reason: str, now: datetime) -> RecordState:
    """Unprocessed, with the reason; the previous processed hash is kept so a later success is an update."""
    return RecordState(
        record_key=raw.record_key,
        npo_id=raw.npo_id,
        stream=raw.stream,
        content_hash=raw.content_hash,
        processed=False,
        processed_hash=state.processed_hash if state else None,
        attempts=(state.attempts if state and state.content_hash == raw.content_hash else 0) + 1,
        last_error=reason,
        first_seen_at=state.first_seen_at if state else now,
        updated_at=now,
    )
