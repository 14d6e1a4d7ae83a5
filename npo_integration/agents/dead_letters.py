"""Publishing what could not be handled, so nothing is lost and the stream goes on."""

from __future__ import annotations

import logging
from typing import Any

from npo_integration import metrics
from npo_integration.models.codec import encode
from npo_integration.models.internal import DeadLetter
from npo_integration.registry.redaction import describe_unparsed
from npo_integration.topics import dead_letters

log = logging.getLogger(__name__)


def payload_of(raw: bytes | None) -> Any:
    """What a dead letter keeps of a message that did not parse: its length, sha256 and a masked
    prefix, never the message (a secret or a candidate's email could be anywhere in it)."""
    return None if raw is None else describe_unparsed(raw)


async def dead_letter(
    *,
    source_topic: str,
    reason: str,
    payload: Any,
    key: str | None = None,
    npo_id: str | None = None,
    record_key: str | None = None,
) -> None:
    letter = DeadLetter(
        source_topic=source_topic,
        reason=reason,
        payload=payload,
        key=key,
        npo_id=npo_id,
        record_key=record_key,
    )
    log.warning("dead letter from %s key=%s: %s", source_topic, key, reason)
    metrics.dead_letters.labels(source_topic).inc()
    await dead_letters.send(key=(npo_id or key or "").encode(), value=encode(letter))
