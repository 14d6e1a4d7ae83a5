"""Publish an event for a record once, even when the record is processed again after a crash.

Faust runs with ``at_least_once``: a worker killed between publishing an event and
committing the source offset processes the record again. The protocol that keeps
that from producing a second event, for one record:

1. Before sending, write an *intent* into the record's state and wait until it is
   durable: the event id, the output topic and partition, and that partition's end
   offset read just before the send (the event, if sent, lands at or after it).
2. Send the event and wait for the broker's acknowledgement.
3. Mark the record processed (this write need not be durable at once).

A record whose state still holds an intent (the crash window between 1 and 3) is
checked with :meth:`OncePublisher.was_delivered`: the output partition is read from
the recorded offset to its end, looking for the event id. Found: mark processed,
publish nothing. Not found: publish as usual.

Faust-free on purpose: the output log, the send and the durable write are handed in.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from npo_integration.models.state import DeliveryIntent
from npo_integration.partitioning import partition_for

log = logging.getLogger(__name__)


class OutputLog(Protocol):
    """Read access to the output topics, as a plain Kafka consumer sees them."""

    async def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has."""

    async def end_offset(self, topic: str, partition: int) -> int:
        """The offset the next message on ``topic[partition]`` will get (0 for an empty partition)."""

    async def contains(self, topic: str, partition: int, start: int, event_id: str) -> bool:
        """Whether a message with ``event_id`` is on ``topic[partition]`` from ``start`` to the current end."""


Send = Callable[[str, int, bytes, bytes], Awaitable[None]]
"""``send(topic, partition, key, value)``: returns once the broker acknowledged the message."""

RecordIntent = Callable[[DeliveryIntent], Awaitable[None]]
"""Writes the intent and returns once it is durable (a recovering worker will see it)."""


@dataclass(frozen=True)
class Outgoing:
    """One event to publish: where, under which key, and its deterministic id."""

    event_id: str
    event_type: str
    content_hash: str
    topic: str
    key: str
    value: bytes


class OncePublisher:
    """Steps 1 and 2 of the protocol, and the crash-window check."""

    __slots__ = ("_log", "_send", "_clock")

    def __init__(self, output_log: OutputLog, send: Send, clock: Callable[[], datetime]) -> None:
        self._log = output_log
        self._send = send
        self._clock = clock

    async def was_delivered(self, intent: DeliveryIntent) -> bool:
        """True when the event of ``intent`` is on its partition (it was sent before a crash)."""
        return await self._log.contains(intent.topic, intent.partition, intent.offset, intent.event_id)

    async def publish(self, out: Outgoing, record_intent: RecordIntent) -> DeliveryIntent:
        """Record the intent durably, then send ``out`` to the partition its key hashes to."""
        partitions = await self._log.partitions(out.topic)
        partition = partition_for(out.key, partitions)
        offset = await self._log.end_offset(out.topic, partition)
        intent = DeliveryIntent(
            event_id=out.event_id,
            event_type=out.event_type,
            content_hash=out.content_hash,
            topic=out.topic,
            partition=partition,
            offset=offset,
            at=self._clock(),
        )
        await record_intent(intent)
        await self._send(out.topic, partition, out.key.encode(), out.value)
        return intent
