"""Offering records -> ``npo_offering.created`` / ``npo_offering.updated`` events."""

from __future__ import annotations

from npo_integration.ingest.identity import event_id_for
from npo_integration.models.events import Offering, OfferingEvent
from npo_integration.models.internal import RawRecord
from npo_integration.models.state import RecordState


def offering_event(raw: RawRecord, offering: Offering, state: RecordState | None) -> OfferingEvent:
    """Created the first time an offering becomes an event, updated
    when its content changed since."""
    first = state is None or state.processed_hash is None
    event_type = "npo_offering.created" if first else "npo_offering.updated"
    return OfferingEvent(
        event_id=event_id_for(raw.record_key, raw.content_hash, event_type),
        event_type=event_type,
        npo_id=raw.npo_id,
        offering=offering,
    )


def offering_key(npo_id: str, offering: Offering) -> str:
    return f"{npo_id}/{offering.npo_offering_ref}"
