"""Enrolment-links agent: keeps each link (or cancellation) the push path
publishes, for progress ingestion.

The topic is keyed by npo_id with the raw-records topic's partition count, so a
link is stored on its NPO's partition, where the ingestion agent reads it.
"""

from __future__ import annotations

import logging

from faust import StreamT
from faust.streams import current_event

from npo_integration.agents.dead_letters import dead_letter
from npo_integration.agents.parsed_stream import parsed
from npo_integration.app import app
from npo_integration.models.codec import key_of
from npo_integration.models.internal import EnrolmentLink
from npo_integration.tables import enrolment_links as links_table
from npo_integration.tables import erased_candidates
from npo_integration.topics import enrolment_links

log = logging.getLogger(__name__)


@app.agent(enrolment_links)
async def store_enrolment_links(stream: StreamT[bytes]) -> None:
    async for link in parsed(stream, EnrolmentLink, enrolment_links):
        event = current_event()
        key = key_of(event.key) if event is not None else None
        reason: str | None = None
        if key != link.npo_id:
            reason = (
                f"key {key!r} is not the link's npo_id {link.npo_id!r}: "
                "it would sit on the wrong partition"
            )
        elif not link.npo_enrolment_ref and not link.npo_user_ref:
            reason = "a link needs npo_enrolment_ref or npo_user_ref to be found by progress"
        if reason is None and erased_candidates.is_erased(link.candidate_id):
            # sent before the erasure reached this partition: its data must not come back
            log.info(
                "%s of assignment %s dropped: its candidate was erased",
                link.event_type,
                link.assignment_id,
            )
            continue
        if reason is not None:
            await dead_letter(
                source_topic=enrolment_links.get_topic_name(),
                reason=reason,
                payload=link.model_dump(mode="json"),
                key=key,
                npo_id=link.npo_id,
            )
            continue
        keys = links_table.apply(link)
        log.info(
            "%s %s -> assignment %s (%s)",
            link.event_type,
            link.npo_id,
            link.assignment_id,
            ", ".join(keys),
        )
