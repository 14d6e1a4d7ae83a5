"""Publish each event once, even when its source records are processed again after a crash.

Faust runs with ``at_least_once``: a worker killed between publishing events and
committing the source offsets processes those records again. The protocol that
keeps that from producing second events works on a batch:

1. Read the end offset of every output partition the batch goes to (one request),
   and write the batch's *intents* (event id, output topic and partition, that end
   offset) durably: the caller's ``record_intents`` returns once the broker has them.
2. Send every event (pipelined) and wait for all the acknowledgements at once.
3. The caller marks the records processed (those writes need not be durable at once).

Intents left by a crash (between 1 and 3) are checked with :meth:`OncePublisher.delivered`:
each output partition is read once, from the lowest recorded offset, for the
intents' event ids. Found: that record is processed. Not found: publish as usual.

Faust-free on purpose: the output log, the send and the durable write are handed in.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

from npo_integration.models.state import DeliveryIntent, IntentValues
from npo_integration.partitioning import partition_for

log = logging.getLogger(__name__)

TopicPartition = tuple[str, int]


class OutputLog(Protocol):
    """Read access to the output topics, as a plain Kafka consumer sees them."""

    async def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has."""

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """The offset the next message on each partition will get (0 for an
        empty one), in one request."""

    async def find(self, topic: str, partition: int, wanted: dict[str, int]) -> set[str]:
        """Which of the event ids in ``wanted`` are on ``topic[partition]`` at or after the offset
        given for each, up to the current end (one read from the lowest of those offsets)."""


class Outgoing(NamedTuple):
    """One event to publish: where, under which key, and its deterministic id.

    A named tuple, not a frozen dataclass: as immutable, and made in a third of the time (a frozen
    dataclass sets each field through ``object.__setattr__``); one is made per event."""

    event_id: str
    event_type: str
    content_hash: str
    change: int
    topic: str
    key: str
    value: bytes
    re_emit: str | None = None
    """The re-emit (its trace id) the event answers: kept in its intent, so a crash's recovery
    knows that re-emit is done."""
    headers: tuple[tuple[str, bytes], ...] = ()
    """Kafka headers of the message (``traceparent``)."""


class Addressed(NamedTuple):
    """An event with the partition its key hashes to: what is sent (a named tuple, as
    ``Outgoing``: one is made per event and per changelog record)."""

    topic: str
    partition: int
    key: bytes
    value: bytes | None  # None: a tombstone
    headers: tuple[tuple[str, bytes], ...] = ()


SendAll = Callable[[Sequence[Addressed]], Awaitable[list[BaseException | None]]]
"""Sends every message, waits for every acknowledgement; per message ``None`` or the error."""

RecordIntents = Callable[[list[IntentValues]], Awaitable[None]]
"""Writes the intents and returns once they are durable (a recovering worker will see them)."""


class OncePublisher:
    """Steps 1 and 2 of the protocol, and the crash-window check."""

    __slots__ = ("_clock", "_log", "_send_all")

    def __init__(
        self, output_log: OutputLog, send_all: SendAll, clock: Callable[[], datetime]
    ) -> None:
        self._log = output_log
        self._send_all = send_all
        self._clock = clock

    async def intents(self, batch: Sequence[Outgoing]) -> list[IntentValues]:
        """Step 1's look-up: each event's partition and that
        partition's end offset (one request); values of our own making, not validated again."""
        counts = {
            topic: await self._log.partitions(topic) for topic in {out.topic for out in batch}
        }
        partitions = [partition_for(out.key, counts[out.topic]) for out in batch]
        ends = await self._log.end_offsets(
            sorted({(out.topic, p) for out, p in zip(batch, partitions, strict=True)})
        )
        at = self._clock()
        return [
            {
                "event_id": out.event_id,
                "event_type": out.event_type,
                "content_hash": out.content_hash,
                "topic": out.topic,
                "partition": partition,
                "offset": ends[(out.topic, partition)],
                "at": at,
                "change": out.change,
                "re_emit": out.re_emit,
            }
            for out, partition in zip(batch, partitions, strict=True)
        ]

    async def publish(
        self, batch: Sequence[Outgoing], record_intents: RecordIntents
    ) -> list[BaseException | None]:
        """Record the batch's intents durably, then send it; per event
        ``None`` (acknowledged) or the error.

        A failed event's outcome is unknown (the broker may have it): keep its intent and
        check it with :meth:`delivered` before publishing it again.
        """
        if not batch:
            return []
        intents = await self.intents(batch)
        await record_intents(intents)
        return await self._send_all(
            [
                Addressed(out.topic, i["partition"], out.key.encode(), out.value, out.headers)
                for out, i in zip(batch, intents, strict=True)
            ]
        )

    async def delivered(self, intents: Sequence[DeliveryIntent]) -> set[str]:
        """The event ids of ``intents`` that are on their partitions (sent before a crash).

        Each output partition is read once, from the lowest offset recorded for it; an
        event counts only at or after its own intent's offset.
        """
        wanted: dict[TopicPartition, dict[str, int]] = defaultdict(dict)
        for intent in intents:
            offsets = wanted[(intent.topic, intent.partition)]
            offsets[intent.event_id] = min(
                intent.offset, offsets.get(intent.event_id, intent.offset)
            )
        found: set[str] = set()
        for (topic, partition), offsets in wanted.items():
            found |= await self._log.find(topic, partition, offsets)
        return found
