"""Counts each NPO's dead letters for the status views (``tables/dead_letter_window.py``).

Reads the dead-letters topic, which nothing else in the service consumes. A letter without an
npo_id (a message that did not parse far enough to say whose it is) is not any NPO's and is left
out; so is one that does not parse (logged: writing it back as a dead letter would loop).
"""

from __future__ import annotations

import logging

from faust import StreamT

from npo_integration.app import app
from npo_integration.models.codec import DecodeError, decode, key_of
from npo_integration.models.events import utc_now
from npo_integration.models.internal import DeadLetter
from npo_integration.models.status import REASON_CHARS, RecentDeadLetter
from npo_integration.tables import dead_letter_window
from npo_integration.topics import dead_letters

log = logging.getLogger(__name__)


def _clip(text: str) -> str:
    return text if len(text) <= REASON_CHARS else f"{text[:REASON_CHARS]}... ({len(text)} chars)"


@app.agent(dead_letters)
async def count_dead_letters(stream: StreamT[bytes]) -> None:
    async for event in stream.events():
        try:
            letter = decode(DeadLetter, event.value)
        except DecodeError as exc:
            log.warning(
                "unreadable dead letter at offset %s skipped: %s", event.message.offset, exc
            )
            continue
        if letter.npo_id is None or key_of(event.key) != letter.npo_id:
            continue  # not one NPO's, or not on its partition
        seen = RecentDeadLetter(
            event_id=letter.event_id,
            at=letter.occurred_at,
            source_topic=letter.source_topic,
            reason=_clip(letter.reason),
            record_key=letter.record_key,
        )
        window = dead_letter_window.get(letter.npo_id)
        dead_letter_window.put(window.with_letter(seen, utc_now()))
