"""The processed flag of a raw record: when it needs work, and what its state becomes after.

A record's state moves through: (new or changed) -> intent (an event is being
published) -> processed; or -> failed (unprocessed, with the reason and attempts).
Each content that becomes an event is the record's next numbered change
(``changes``): only a sent event moves the number on, so the same change
published again after a crash or on a re-drive has the same number (and event id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from npo_integration.ingest.removals import REMOVED_HASH
from npo_integration.models.codec import trusted_json, validated
from npo_integration.models.internal import RawRecord
from npo_integration.models.state import DeliveryIntent, PendingDelivery, RecordState


def is_stale(state: RecordState | None, raw: RawRecord) -> bool:
    """Other content fetched before the content the state holds (a re-drive
    overtaken by a newer fetch)."""
    return (
        state is not None
        and state.content_hash != raw.content_hash
        and state.fetched_at is not None
        and raw.fetched_at < state.fetched_at
    )


def needs_processing(state: RecordState | None, raw: RawRecord) -> bool:
    """False when this exact content already became an event (a re-fetch), or the record is
    stale; true for a re-emit's record not yet processed for that re-emit, unchanged or not."""
    if state is None:
        return True
    if is_stale(state, raw):
        return False
    if raw.re_emit and state.re_emitted != raw.trace_id:
        return True
    return not state.processed or state.processed_hash != raw.content_hash


def _re_emitted(state: RecordState | None, raw: RawRecord) -> str | None:
    """The last re-emit the record was processed for, ``raw`` now done."""
    if raw.re_emit:
        return raw.trace_id
    return state.re_emitted if state is not None else None


def next_change(state: RecordState | None) -> int:
    """The number of the record's next event (its event id is made from it)."""
    return 1 if state is None else state.changes + 1


def _fresh(state: RecordState | None, raw: RawRecord, now: datetime) -> RecordState:
    if state is not None:
        return state
    return RecordState(
        record_key=raw.record_key,
        npo_id=raw.npo_id,
        stream=raw.stream,
        content_hash=raw.content_hash,
        first_seen_at=now,
    )


def with_intent(
    state: RecordState | None, raw: RawRecord, intent: DeliveryIntent, now: datetime
) -> RecordState:
    """About to publish ``intent`` for this content: unprocessed until the send is acknowledged."""
    return _fresh(state, raw, now).model_copy(
        update={
            "content_hash": raw.content_hash,
            "fetched_at": raw.fetched_at,
            "processed": False,
            "intent": intent,
            "updated_at": now,
        }
    )


def processed(
    state: RecordState | None,
    raw: RawRecord,
    now: datetime,
    change: int | None = None,
    *,
    key: str | None = None,
    removal: bool = False,
) -> RecordState:
    """This content is done: it became the event numbered ``change`` (published under ``key``,
    or the record's removal), or no event (``None``)."""
    return validated(RecordState, _processed(state, raw, now, change, key, removal))


def processed_json(
    state: RecordState | None,
    raw: RawRecord,
    now: datetime,
    change: int | None = None,
    *,
    key: str | None = None,
    removal: bool = False,
) -> bytes:
    """``processed``, encoded as stored, without making the model (the hot path of ingestion:
    the state is only written)."""
    return trusted_json(RecordState, _processed(state, raw, now, change, key, removal))


def _processed(
    state: RecordState | None,
    raw: RawRecord,
    now: datetime,
    change: int | None,
    key: str | None,
    removal: bool,
) -> dict[str, Any]:
    """The fields of a processed state, in ``RecordState``'s order. Every value is already
    checked: the hot path of ingestion skips validating them."""
    published_key = state.published_key if state is not None else None
    removed_at = state.removed_at if state is not None else None
    if change is None:
        change = state.changes if state is not None else 0
    elif removal:
        removed_at = now
    else:
        published_key, removed_at = key, None
    return {
        "record_key": raw.record_key,
        "npo_id": raw.npo_id,
        "stream": raw.stream,
        "content_hash": raw.content_hash,
        "processed": True,
        "processed_hash": raw.content_hash,
        "attempts": 0,
        "last_error": None,
        "first_seen_at": state.first_seen_at if state else now,
        "updated_at": now,
        "fetched_at": raw.fetched_at,
        "intent": None,
        "changes": change,
        "published_key": published_key,
        "removed_at": removed_at,
        "re_emitted": _re_emitted(state, raw),
    }


def _is_removal(intent: DeliveryIntent) -> bool:
    """An absence's removal is known by its content, an offering's by its type; a filtered
    enrolment's ``withdrawn`` is not told from other progress (residual: documented)."""
    return intent.content_hash == REMOVED_HASH or intent.event_type == "npo_offering.removed"


def delivered(state: RecordState, intent: DeliveryIntent, now: datetime) -> RecordState:
    """The intent's event was found on its topic (sent before a
    crash): that content is processed."""
    return state.model_copy(
        update={
            "content_hash": intent.content_hash,
            "processed": True,
            "processed_hash": intent.content_hash,
            "attempts": 0,
            "last_error": None,
            "intent": None,
            "updated_at": now,
            "changes": max(state.changes, intent.change),
            "removed_at": now if _is_removal(intent) else state.removed_at,
            "re_emitted": intent.re_emit or state.re_emitted,
        }
    )


def delivered_pending(
    state: RecordState | None, item: PendingDelivery, now: datetime
) -> RecordState:
    """An unfinished batch's event was found on its topic: that content is processed."""
    base = state or RecordState(
        record_key=item.record_key,
        npo_id=item.npo_id,
        stream=item.stream,
        content_hash=item.intent.content_hash,
        first_seen_at=now,
    )
    return delivered(base, item.intent, now).model_copy(update={"fetched_at": item.fetched_at})


def without_intent(state: RecordState) -> RecordState:
    """The intent's event was not sent: forget it (the record is processed again from scratch)."""
    return state.model_copy(update={"intent": None})


def failed(state: RecordState | None, raw: RawRecord, reason: str, now: datetime) -> RecordState:
    """Unprocessed, with the reason; the previous processed hash is kept so a
    later success is an update."""
    same_content = (
        state is not None and not state.processed and state.content_hash == raw.content_hash
    )
    return RecordState(
        record_key=raw.record_key,
        npo_id=raw.npo_id,
        stream=raw.stream,
        content_hash=raw.content_hash,
        processed=False,
        processed_hash=state.processed_hash if state else None,
        attempts=(state.attempts if state is not None and same_content else 0) + 1,
        last_error=reason,
        first_seen_at=state.first_seen_at if state else now,
        updated_at=now,
        fetched_at=raw.fetched_at,
        intent=state.intent if state else None,  # an unresolved intent stays until it is checked
        changes=state.changes if state else 0,
        published_key=state.published_key if state else None,
        removed_at=state.removed_at if state else None,
        re_emitted=state.re_emitted if state else None,
    )


def is_new_failure(state: RecordState | None, raw: RawRecord, reason: str) -> bool:
    """The first failure of this content, or a different reason: worth a
    dead letter (repeats are not)."""
    return (
        state is None
        or state.processed
        or state.content_hash != raw.content_hash
        or state.last_error != reason
    )
