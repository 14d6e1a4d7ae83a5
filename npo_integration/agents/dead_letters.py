"""Publishing what could not be handled, so nothing is lost and the stream goes on."""

from __future__ import annotations

import json
import logging
from typing import Any

from npo_integration import metrics
from npo_integration.models.codec import encode
from npo_integration.models.internal import DeadLetter
from npo_integration.topics import dead_letters

log = logging.getLogger(__name__)


def payload_of(raw: bytes | None) -> Any:
    """The original message as JSON when it is JSON, else as text, so the
    dead letter stays readable."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


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
