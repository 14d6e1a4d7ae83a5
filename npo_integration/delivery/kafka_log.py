"""The output log as a plain Kafka consumer sees it: partition counts, end offsets, a bounded scan.

One consumer per worker (no consumer group, manual assignment, no commits) and
one admin client (partition counts), started and stopped with the app
(``runtime.OutputLogService``). Scans are rare
(only after a crash) and serialised by a lock; end-offset look-ups are one
``ListOffsets`` request each.

Isolation level: with ``at_least_once`` our sends are not transactional, so the
scan reads ``read_uncommitted`` up to the high watermark, where an acknowledged
send is visible at once and no other producer's open transaction can hide it.
Under ``exactly_once`` our sends are transactional and an aborted one must not
count as delivered, so the scan reads ``read_committed`` (up to the last stable
offset). Either end offset is a lower bound of where the next send lands.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from npo_integration.errors import RetriableError

log = logging.getLogger(__name__)

IsolationLevel = Literal["read_committed", "read_uncommitted"]


class OutputScanError(RetriableError):
    """The output partition could not be read to its end in time: whether an event was sent is unknown."""


def isolation_for(processing_guarantee: str) -> IsolationLevel:
    return "read_committed" if processing_guarantee == "exactly_once" else "read_uncommitted"


def carries_event_id(value: bytes | None, event_id: str) -> bool:
    """Whether a message value is a JSON event with ``event_id`` (cheap substring test first)."""
    if value is None or event_id.encode() not in value:
        return False
    try:
        document = json.loads(value)
    except ValueError:
        return False
    return isinstance(document, dict) and document.get("event_id") == event_id


class KafkaOutputLog:
    """``OutputLog`` over aiokafka; starts lazily if used before the app started it."""

    def __init__(
        self,
        bootstrap_servers: list[str],
        *,
        isolation_level: IsolationLevel,
        client_id: str,
        scan_timeout: float = 30.0,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._isolation = isolation_level
        self._client_id = client_id
        self._scan_timeout = scan_timeout
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._start_lock = asyncio.Lock()
        self._scan_lock = asyncio.Lock()
        self._partitions: dict[str, int] = {}

    async def start(self) -> None:
        await self._started()

    async def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        admin, self._admin = self._admin, None
        if consumer is not None:
            await consumer.stop()
        if admin is not None:
            await admin.close()

    async def _started(self) -> AIOKafkaConsumer:
        async with self._start_lock:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self._bootstrap,
                    client_id=self._client_id,
                    group_id=None,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    isolation_level=self._isolation,
                )
                admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
                try:
                    await asyncio.wait_for(consumer.start(), self._scan_timeout)
                    await asyncio.wait_for(admin.start(), self._scan_timeout)
                except Exception as exc:  # noqa: BLE001 - closed again; the next call tries anew
                    await consumer.stop()
                    await admin.close()
                    raise OutputScanError(f"could not connect to the output topics: {exc!r}") from None
                self._consumer, self._admin = consumer, admin
                log.info("output log connected (%s)", self._isolation)
            return self._consumer

    async def partitions(self, topic: str) -> int:
        """Partition count from the cluster's metadata (cached: a topic's partitions never shrink)."""
        known = self._partitions.get(topic)
        if known is not None:
            return known
        await self._started()
        assert self._admin is not None
        described = await self._admin.describe_topics([topic])
        found = [t for t in described if t.get("topic") == topic and not t.get("error_code")]
        count = len(found[0].get("partitions") or []) if found else 0
        if count == 0:
            raise OutputScanError(f"topic {topic!r} is not in the cluster metadata (not declared yet?)")
        self._partitions[topic] = count
        return count

    async def end_offset(self, topic: str, partition: int) -> int:
        consumer = await self._started()
        tp = TopicPartition(topic, partition)
        offsets = await consumer.end_offsets([tp])
        return int(offsets[tp])

    async def contains(self, topic: str, partition: int, start: int, event_id: str) -> bool:
        consumer = await self._started()
        tp = TopicPartition(topic, partition)
        async with self._scan_lock:
            end = await self.end_offset(topic, partition)
            if start >= end:  # empty partition, or nothing written since the intent
                return False
            consumer.assign([tp])
            try:
                consumer.seek(tp, start)  # below the log start (retention): reset to the earliest offset
                return await self._scan(consumer, tp, end, event_id)
            finally:
                consumer.unsubscribe()

    async def _scan(self, consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, event_id: str) -> bool:
        deadline = time.monotonic() + self._scan_timeout
        scanned = 0
        while await asyncio.wait_for(consumer.position(tp), self._scan_timeout) < end:
            if time.monotonic() > deadline:
                raise OutputScanError(
                    f"could not read {tp.topic}[{tp.partition}] to offset {end} within {self._scan_timeout:g}s"
                )
            batch = await consumer.getmany(tp, timeout_ms=200, max_records=500)
            for record in batch.get(tp, []):
                if record.offset >= end:
                    return False
                scanned += 1
                if carries_event_id(record.value, event_id):
                    log.info(
                        "event %s found on %s[%d] at offset %d (%d scanned)",
                        event_id, tp.topic, tp.partition, record.offset, scanned,
                    )
                    return True
        return False
