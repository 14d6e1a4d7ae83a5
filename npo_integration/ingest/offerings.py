"""Offering records -> ``npo_offering.created`` / ``npo_offering.updated`` events."""

from __future__ import annotations

from typing import Literal

from npo_integration.ingest.identity import change_event_id
from npo_integration.models.codec import validated
from npo_integration.models.events import Offering, OfferingEvent, OfferingRemoved, utc_now
from npo_integration.models.internal import RawRecord
from npo_integration.models.state import RecordState

REMOVED_TYPE = "npo_offering.removed"


def offering_event(
    raw: RawRecord, offering: Offering, state: RecordState | None, change: int
) -> OfferingEvent:
    """Created the first time an offering becomes an event (and when it comes back after its
    removal), updated when its content changed since; ``change`` numbers it
    (``processed_flag.next_change``)."""
    first = state is None or state.processed_hash is None or state.removed_at is not None
    event_type = "npo_offering.created" if first else "npo_offering.updated"
    # The offering is a validated model (a plug-in's result is checked), which pydantic takes as
    # is: validating the envelope costs its few fields.
    return validated(
        OfferingEvent,
        {
            "event_id": change_event_id(raw.record_key, change, raw.content_hash, event_type),
            "event_type": event_type,
            "occurred_at": utc_now(),
            "npo_id": raw.npo_id,
            "offering": offering,
        },
    )


def offering_key(npo_id: str, offering: Offering) -> str:
    return f"{npo_id}/{offering.npo_offering_ref}"


def offering_removed(
    raw: RawRecord, state: RecordState, change: int, reason: Literal["absent", "filtered"]
) -> OfferingRemoved:
    """The removal of a live offering (``state.published_key`` is its event key)."""
    assert state.published_key is not None
    return OfferingRemoved(
        event_id=change_event_id(raw.record_key, change, raw.content_hash, REMOVED_TYPE),
        npo_id=raw.npo_id,
        npo_offering_ref=state.published_key.removeprefix(f"{raw.npo_id}/"),
        removed_at=raw.fetched_at,
        reason=reason,
    )
