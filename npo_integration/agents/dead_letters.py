"""Publishing what could not be handled, so nothing is lost and the stream goes on.

A dead letter can always be written: its payload, reason and key are capped
(:func:`dead_letter`), so a 2 MB record or a document nested thousands of levels deep
becomes a letter that says so, never a send that fails or an agent that crashes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from npo_integration import metrics
from npo_integration.json_input import nesting_depth
from npo_integration.models.codec import encode
from npo_integration.models.internal import DeadLetter
from npo_integration.registry.redaction import describe_unparsed
from npo_integration.topics import dead_letters

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 64 * 1024
"""A larger payload is replaced by its size and sha256 (the producer's limit is 1 MB)."""
MAX_PAYLOAD_DEPTH = 64
"""A payload nested deeper is kept as text: recursive code (the encoder too) stops near 1000."""
MAX_REASON_CHARS = 2_000
MAX_KEY_CHARS = 500


def payload_of(raw: bytes | None) -> Any:
    """What a dead letter keeps of a message that did not parse: its length, sha256 and a masked
    prefix, never the message (a secret or a candidate's email could be anywhere in it)."""
    return None if raw is None else describe_unparsed(raw)


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def capped_payload(payload: Any) -> Any:
    """``payload`` when it is small enough to travel in a dead letter, else what identifies it:
    its size and sha256."""
    if nesting_depth(payload, stop_above=MAX_PAYLOAD_DEPTH) > MAX_PAYLOAD_DEPTH:
        return {"omitted": f"payload nested more than {MAX_PAYLOAD_DEPTH} levels deep"}
    try:
        text = json.dumps(payload, ensure_ascii=False, default=str).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        return {"omitted": f"payload not serialisable as JSON: {type(exc).__name__}"}
    if len(text) <= MAX_PAYLOAD_BYTES:
        return payload
    return {
        "omitted": f"payload of {len(text)} bytes, more than the {MAX_PAYLOAD_BYTES} a dead "
        "letter keeps",
        "bytes": len(text),
        "sha256": hashlib.sha256(text).hexdigest(),
    }


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
        reason=_clip(reason, MAX_REASON_CHARS) or "",
        payload=capped_payload(payload),
        key=_clip(key, MAX_KEY_CHARS),
        npo_id=_clip(npo_id, MAX_KEY_CHARS),
        record_key=_clip(record_key, MAX_KEY_CHARS),
    )
    log.warning("dead letter from %s key=%s: %s", source_topic, letter.key, letter.reason)
    metrics.dead_letters.labels(source_topic).inc()
    message_key = (letter.npo_id or letter.key or "").encode()
    await dead_letters.send(key=message_key, value=encode(letter))
