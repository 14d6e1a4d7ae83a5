"""Per NPO, its dead letters of the last 24 hours (``DeadLetterWindow``), keyed by npo_id.

Written by the agent that reads the dead-letters topic, whose messages are keyed by npo_id: the
window sits on the NPO's partition, with its pull state, so the status view reads it locally.
Reasons may quote an NPO's user id: the changelog is treated as personal data.
"""

from __future__ import annotations

from npo_integration.models.codec import decode, encode
from npo_integration.models.status import DeadLetterWindow
from npo_integration.tables.declare import bytes_table

table = bytes_table(
    "npo-dead-letter-window",
    help="npo_id -> DeadLetterWindow (dead letters per hour, last 24 h)",
    personal=True,
)


def get(npo_id: str) -> DeadLetterWindow:
    raw = table.get(npo_id.encode())
    return DeadLetterWindow(npo_id=npo_id) if raw is None else decode(DeadLetterWindow, raw)


def put(window: DeadLetterWindow) -> None:
    """Call only while processing a dead letter keyed by this npo_id."""
    table[window.npo_id.encode()] = encode(window)
