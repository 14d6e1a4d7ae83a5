"""Plain aiokafka clients (not Faust): what any consumer of the platform would see."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.integration.support.polling import scaled

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", f"127.0.0.1:{os.environ.get('KAFKA_PORT', '19092')}")


@dataclass(frozen=True)
class Broker:
    """Where a plain client connects, and how: aiokafka's security arguments (TLS, SASL)."""

    bootstrap: str
    security: Mapping[str, Any] = field(default_factory=dict)


SHARED = Broker(BOOTSTRAP)
"""The plaintext broker every integration test shares (``scripts/kafka.sh start``)."""


@dataclass(frozen=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: Any
    headers: tuple[tuple[str, bytes], ...] = ()

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (as text), or ``None``."""
        return next((v.decode() for n, v in self.headers if n == name), None)


def _decode(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


async def read_all(topic: str, *, settle: float = 0.5, broker: Broker = SHARED) -> list[Message]:
    """Every message currently on ``topic`` (all partitions, from the
    beginning, up to the end offsets)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        **broker.security,
    )
    await consumer.start()
    try:
        # consumer.topics() lists names but does not load partitions;
        # fetch the cluster metadata itself.
        metadata = await consumer._client.fetch_all_metadata()
        partitions = metadata.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        messages: list[Message] = []
        deadline = time.monotonic() + scaled(10) + settle
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end offsets")
            batch = await consumer.getmany(*tps, timeout_ms=200)
            for records in batch.values():
                for r in records:
                    messages.append(
                        Message(
                            r.topic,
                            r.partition,
                            r.offset,
                            r.key.decode() if r.key else None,
                            _decode(r.value),
                            tuple(r.headers or ()),
                        )
                    )
        return messages
    finally:
        await consumer.stop()


async def produce(
    topic: str,
    key: str,
    value: Any,
    *,
    broker: Broker = SHARED,
    headers: list[tuple[str, bytes]] | None = None,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, **broker.security)
    await producer.start()
    try:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        await producer.send_and_wait(topic, key=key.encode(), value=raw, headers=headers)
    finally:
        await producer.stop()


async def produce_many(
    topic: str, messages: Iterable[tuple[bytes, bytes]], *, broker: Broker = SHARED
) -> int:
    """Send every ``(key, value)`` in large batches and wait for all acknowledgements."""
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap,
        linger_ms=20,
        max_batch_size=512 * 1024,
        **broker.security,
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, key=k, value=v) for k, v in messages]
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await producer.stop()


async def offset_ranges(
    topics: Iterable[str], *, broker: Broker = SHARED
) -> dict[tuple[str, int], tuple[int, int]]:
    """``(topic, partition) -> (beginning, end)`` offsets of every partition of ``topics``: the
    messages a reader from the beginning would read there (before compaction catches up)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, **broker.security)
    await consumer.start()
    try:
        metadata = await consumer._client.fetch_all_metadata()
        tps = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(metadata.partitions_for_topic(topic) or ())
        ]
        if not tps:
            return {}
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        return {(tp.topic, tp.partition): (begin[tp], end[tp]) for tp in tps}
    finally:
        await consumer.stop()


DELETE_ATTEMPTS = 3


async def delete_topics(prefixes: tuple[str, ...], *, broker: Broker = SHARED) -> list[str]:
    """Delete every topic whose name starts with one of ``prefixes``; the names deleted. A topic
    the broker refuses (its answer carries an error code per topic, no exception: a busy broker
    times some out) is asked again, up to ``DELETE_ATTEMPTS`` times; what is still refused is
    printed. A broker that does not answer is left as it is (the test's own outcome matters more
    than the cleanup)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, **broker.security)
    try:
        await admin.start()
        names = [t for t in await admin.list_topics() if t.startswith(prefixes)]
        left = names
        for _ in range(DELETE_ATTEMPTS):
            if not left:
                break
            response = await admin.delete_topics(left)
            left = [topic for topic, code, *_ in response.topic_error_codes if code != 0]
        if left:
            print(f"delete_topics: the broker kept {len(left)} topic(s): {', '.join(left[:5])}")
        return names
    except (KafkaError, OSError):
        return []
    finally:
        await admin.close()
