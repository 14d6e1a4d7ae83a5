"""The output log as a plain Kafka consumer sees it: partition counts, end offsets, a bounded scan.

One consumer per worker (no consumer group, manual assignment, no commits) and
one admin client (partition counts), started and stopped with the app
(``worker_resources.OutputLogService``). Scans are rare
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
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from npo_integration.errors import RetriableError

log = logging.getLogger(__name__)

IsolationLevel = Literal["read_committed", "read_uncommitted"]


class OutputScanError(RetriableError):
    """The output partition could not be read to its end in time: whether
    an event was sent is unknown."""


def isolation_for(processing_guarantee: str) -> IsolationLevel:
    return "read_committed" if processing_guarantee == "exactly_once" else "read_uncommitted"


def event_id_of(value: bytes | None) -> str | None:
    """The ``event_id`` of a message value that is a JSON event, else ``None``."""
    if value is None or b'"event_id"' not in value:
        return None
    try:
        document = json.loads(value)
    except ValueError:
        return None
    event_id = document.get("event_id") if isinstance(document, dict) else None
    return event_id if isinstance(event_id, str) else None


class KafkaOutputLog:
    """``OutputLog`` over aiokafka; starts lazily if used before the app started it."""

    def __init__(
        self,
        bootstrap_servers: list[str],
        *,
        isolation_level: IsolationLevel,
        client_id: str,
        client_options: Mapping[str, Any] | None = None,
        scan_timeout: float = 30.0,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._client_options = dict(client_options or {})  # TLS/SASL (kafka_auth)
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
                    **self._client_options,
                )
                admin = AIOKafkaAdminClient(
                    bootstrap_servers=self._bootstrap,
                    client_id=self._client_id,
                    **self._client_options,
                )
                try:
                    await asyncio.wait_for(consumer.start(), self._scan_timeout)
                    await asyncio.wait_for(admin.start(), self._scan_timeout)
                except Exception as exc:
                    await consumer.stop()
                    await admin.close()
                    raise OutputScanError(
                        f"could not connect to the output topics: {exc!r}"
                    ) from None
                self._consumer, self._admin = consumer, admin
                log.info("output log connected (%s)", self._isolation)
            return self._consumer

    async def partitions(self, topic: str) -> int:
        """Partition count from the cluster's metadata (cached: a
        topic's partitions never shrink)."""
        known = self._partitions.get(topic)
        if known is not None:
            return known
        await self._started()
        assert self._admin is not None
        described = await self._admin.describe_topics([topic])
        found = [t for t in described if t.get("topic") == topic and not t.get("error_code")]
        count = len(found[0].get("partitions") or []) if found else 0
        if count == 0:
            raise OutputScanError(
                f"topic {topic!r} is not in the cluster metadata (not declared yet?)"
            )
        self._partitions[topic] = count
        return count

    async def end_offsets(
        self, partitions: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        """End offsets of many partitions in one ``ListOffsets`` request (per broker)."""
        if not partitions:
            return {}
        consumer = await self._started()
        tps = [TopicPartition(topic, partition) for topic, partition in partitions]
        offsets = await consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): int(offsets[tp]) for tp in tps}

    async def find(self, topic: str, partition: int, wanted: dict[str, int]) -> set[str]:
        if not wanted:
            return set()
        consumer = await self._started()
        tp = TopicPartition(topic, partition)
        async with self._scan_lock:
            end = (await self.end_offsets([(topic, partition)]))[(topic, partition)]
            start = min(wanted.values())
            if start >= end:  # empty partition, or nothing written since the intents
                return set()
            consumer.assign([tp])
            try:
                # below the log start (retention): reset to the earliest offset
                consumer.seek(tp, start)
                return await self._scan(consumer, tp, end, wanted)
            finally:
                consumer.unsubscribe()

    async def value_of(self, topic: str, partition: int, event_id: str, start: int) -> bytes | None:
        """The value of the event ``event_id`` on ``topic[partition]`` at or after ``start`` (read
        to the current end once), or ``None``."""
        consumer = await self._started()
        tp = TopicPartition(topic, partition)
        async with self._scan_lock:
            end = (await self.end_offsets([(topic, partition)]))[(topic, partition)]
            if start >= end:
                return None
            consumer.assign([tp])
            try:
                consumer.seek(tp, start)
                deadline = time.monotonic() + self._scan_timeout
                while await consumer.position(tp) < end and time.monotonic() < deadline:
                    batch = await consumer.getmany(tp, timeout_ms=200, max_records=500)
                    for record in batch.get(tp, []):
                        if record.offset < end and event_id_of(record.value) == event_id:
                            value: bytes = record.value
                            return value
                return None
            finally:
                consumer.unsubscribe()

    async def _scan(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, wanted: dict[str, int]
    ) -> set[str]:
        deadline = time.monotonic() + self._scan_timeout
        found: set[str] = set()
        scanned = 0
        while await asyncio.wait_for(consumer.position(tp), self._scan_timeout) < end:
            if time.monotonic() > deadline:
                raise OutputScanError(
                    f"could not read {tp.topic}[{tp.partition}] to offset {end} "
                    f"within {self._scan_timeout:g}s"
                )
            batch = await consumer.getmany(tp, timeout_ms=200, max_records=500)
            for record in batch.get(tp, []):
                if record.offset >= end:
                    return found
                scanned += 1
                event_id = event_id_of(record.value)
                if event_id is not None and record.offset >= wanted.get(event_id, end):
                    found.add(event_id)
                    if len(found) == len(wanted):
                        log.info(
                            "%d event(s) found on %s[%d] (%d scanned)",
                            len(found),
                            tp.topic,
                            tp.partition,
                            scanned,
                        )
                        return found
        return found
