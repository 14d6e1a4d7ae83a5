"""Enrolment-links agent: keeps each link (or cancellation) the push path
publishes, for progress ingestion.

The topic is keyed by npo_id with the raw-records topic's partition count, so a
link is stored on its NPO's partition, where the ingestion agent reads it. Links
are taken in batches: a batch's writes are acknowledged by the broker before its
messages are, so a link the topic has forgotten is in the table's changelog.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from faust import StreamT
from faust.types import EventT

from npo_integration.agents.batches import apply_in_batches
from npo_integration.agents.dead_letters import dead_letter, payload_of
from npo_integration.app import app
from npo_integration.models.codec import DecodeError, decode, key_of
from npo_integration.models.internal import EnrolmentLink
from npo_integration.tables import enrolment_links as links_table
from npo_integration.tables import erased_candidates
from npo_integration.topics import enrolment_links

log = logging.getLogger(__name__)

BATCH = 500
"""Links taken together (one wait for their changelog)."""


def _store(event: EventT[bytes]) -> Awaitable[None] | None:
    """Store one link (in its partition's context); one that cannot be stored returns its dead
    letter to send."""
    key = key_of(event.key)
    try:
        link = decode(EnrolmentLink, event.value)
    except DecodeError as exc:
        return _dead_letter(str(exc), payload_of(event.value), key, None)
    reason: str | None = None
    if key != link.npo_id:
        reason = (
            f"key {key!r} is not the link's npo_id {link.npo_id!r}: "
            "it would sit on the wrong partition"
        )
    elif not link.npo_enrolment_ref and not link.npo_user_ref:
        reason = "a link needs npo_enrolment_ref or npo_user_ref to be found by progress"
    if reason is not None:
        return _dead_letter(reason, link.model_dump(mode="json"), key, link.npo_id)
    if erased_candidates.is_erased(link.candidate_id):
        # sent before the erasure reached this partition: its data must not come back
        log.info(
            "%s of assignment %s dropped: its candidate was erased",
            link.event_type,
            link.assignment_id,
        )
        return None
    keys = links_table.apply(link)
    log.info(
        "%s %s -> assignment %s (%s)",
        link.event_type,
        link.npo_id,
        link.assignment_id,
        ", ".join(keys),
    )
    return None


def _dead_letter(
    reason: str, payload: object, key: str | None, npo_id: str | None
) -> Awaitable[None]:
    return dead_letter(
        source_topic=enrolment_links.get_topic_name(),
        reason=reason,
        payload=payload,
        key=key,
        npo_id=npo_id,
    )


@app.agent(enrolment_links)
async def store_enrolment_links(stream: StreamT[bytes]) -> None:
    # the links are durable before their messages are acknowledged
    await apply_in_batches(app, stream, size=BATCH, apply=_store, durable=links_table.wait_acked)
