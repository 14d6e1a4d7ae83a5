"""The producer of the hot paths: many messages sent as one record batch per partition.

Platform events and raw records go out in batches (a batch of ingested records,
a page of fetched ones) and are waited for all at once. Sending each through
Faust's producer costs a future, a buffer hand-over and sensor calls per
message; aiokafka's ``create_batch``/``send_batch`` cost one of each per
partition. A handful of messages for a partition join the producer's open batch
instead (many concurrent pulls each send one page). The producer is idempotent
(``acks=all``, sequence numbers), so its own retries never write a message twice.

A message over the request limit fails alone, with :class:`MessageTooLargeError`, before
anything is sent: the other messages of the call still go (one oversized event must not hold a
batch, and with it a stream, forever).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    UnknownProducerId,
)
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from npo_integration.delivery.once import Addressed
from npo_integration.errors import FatalError
from npo_integration.retry_policy import UNTIL_DONE, RetryPolicy

log = logging.getLogger(__name__)

MAX_BATCH_BYTES = 512 * 1024
SHARED_BATCH_AT_MOST = 8
"""Messages for one partition up to which a send joins the producer's open
batch instead of making its own."""
DEFAULT_TIMEOUT_SECONDS = 30.0
UNTIL_ACKED = RetryPolicy(max_attempts=UNTIL_DONE, base_seconds=0.5, max_seconds=5.0, jitter="none")
"""Waits between tries of a send that must reach the broker however long it is away."""
MAX_REQUEST_BYTES = 1024 * 1024
"""aiokafka's default request limit, under the broker's default ``message.max.bytes``."""


BROKEN_SEQUENCE = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch)
"""Errors after which an idempotent producer never sends again (a broker restarted and lost or
moved its producer state): every later send fails the same way until a new producer, with a new
producer id, replaces it. Found by the chaos suite's broker outage (issue 14)."""


class MessageTooLargeError(FatalError):
    """A message over the producer's request limit: never sent, and sending it again will not
    help (the record it carries is failed, dead-lettered with this reason)."""


def oversized(message: Addressed, limit: int = MAX_REQUEST_BYTES) -> MessageTooLargeError | None:
    """The error of a message too large to send, or ``None`` (aiokafka's own estimate)."""
    size = DefaultRecordBatchBuilder.estimate_size_in_bytes(
        message.key, message.value, list(message.headers)
    )
    if size <= limit:
        return None
    return MessageTooLargeError(
        f"a message to {message.topic} of {size} bytes is over the {limit}-byte limit"
    )


class BatchProducer:
    """``send_all``: every message to its explicit partition, one wait for every acknowledgement."""

    def __init__(
        self, bootstrap_servers: list[str], *, client_id: str, **client_options: Any
    ) -> None:
        self._options = dict(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=1,
            max_batch_size=MAX_BATCH_BYTES,
            max_request_size=MAX_REQUEST_BYTES,
            **client_options,
        )
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await self._started()

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(**self._options)
                try:
                    await producer.start()
                except Exception:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def _renew_if_broken(
        self, producer: AIOKafkaProducer, errors: Sequence[BaseException | None]
    ) -> None:
        """Replace ``producer`` (if still the current one) when a send failed with a broken
        sequence; the callers' own retries then go through the new one."""
        broken = next((e for e in errors if isinstance(e, BROKEN_SEQUENCE)), None)
        if broken is None:
            return
        async with self._lock:
            if id(self._producer) != id(producer):
                return  # already replaced by another caller
            self._producer = None
        log.warning("producer sequence broken (%r): a new producer takes over", broken)
        try:
            await asyncio.wait_for(producer.stop(), DEFAULT_TIMEOUT_SECONDS)
        except Exception as exc:  # its pending sends fail; their callers try again
            log.warning("stopping the broken producer: %r", exc)

    async def send_one(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        *,
        headers: Sequence[tuple[str, bytes]] = (),
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        """One message to the partition its key hashes to; returns once acknowledged.
        Messages sent at the same moment by concurrent callers travel in one request (the
        producer lingers a moment)."""
        too_large = oversized(Addressed(topic, -1, key, value, tuple(headers)))
        if too_large is not None:
            raise too_large
        producer = await self._started()
        future = await producer.send(topic, value=value, key=key, headers=list(headers) or None)
        try:
            async with asyncio.timeout(timeout):  # cheaper than wait_for: no waiter future
                await future
        except BROKEN_SEQUENCE as exc:
            await self._renew_if_broken(producer, [exc])
            raise

    async def send_until_acked(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        *,
        headers: Sequence[tuple[str, bytes]] = (),
        before_each: Callable[[], None] = lambda: None,
    ) -> None:
        """``send_one`` tried again until the broker acknowledges it, however long it is away (a
        broker restart): for what must not be dropped once an NPO has acted, such as an
        enrolment's outcome. The same bytes each time, so a try that reached the broker
        unacknowledged is at worst a second copy with the same event id. ``before_each`` may
        raise to stop (the partition was revoked: its new owner resumes)."""
        attempt = 0
        while True:
            before_each()
            try:
                await self.send_one(topic, key, value, headers=headers)
                return
            except (KafkaError, TimeoutError) as exc:
                attempt += 1
                delay = UNTIL_ACKED.delay(attempt)
                log.warning(
                    "a message to %s not acknowledged (%r); again in %.1fs", topic, exc, delay
                )
                await asyncio.sleep(delay)

    async def send_all(
        self, messages: Sequence[Addressed], *, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> list[BaseException | None]:
        """Send, then wait for every acknowledgement; per message ``None`` or the error (a message
        not acknowledged within ``timeout`` gets ``TimeoutError``: the broker may still have it)."""
        if not messages:
            return []
        outcome: list[BaseException | None] = [oversized(m) for m in messages]
        sendable = [i for i, error in enumerate(outcome) if error is None]
        if len(sendable) < len(messages):
            log.warning(
                "%d of %d message(s) too large to send: %s",
                len(messages) - len(sendable),
                len(messages),
                next(e for e in outcome if e is not None),
            )
        if not sendable:
            return outcome
        producer = await self._started()
        try:
            batches = await self._hand_over([messages[i] for i in sendable])
        except Exception as exc:
            log.warning("sending %d message(s) failed: %r", len(sendable), exc)
            for index in sendable:
                outcome[index] = exc
            return outcome
        futures = [batch.future for batch in batches]
        done, _ = await asyncio.wait(futures, timeout=timeout)
        for batch in batches:
            future = batch.future
            if future not in done:
                error: BaseException | None = TimeoutError(f"not acknowledged within {timeout:g}s")
            elif future.cancelled():
                error = asyncio.CancelledError()
            else:
                error = future.exception()
            for index in batch.members:
                outcome[sendable[index]] = error
        await self._renew_if_broken(producer, outcome)
        return outcome

    async def send_all_or_raise(self, messages: Sequence[Addressed]) -> dict[tuple[str, int], int]:
        """Send and wait for every acknowledgement; the last offset written per partition.
        Raises the first error (the broker may still have some of the messages)."""
        if not messages:
            return {}
        too_large = next((e for e in map(oversized, messages) if e is not None), None)
        if too_large is not None:
            raise too_large
        producer = await self._started()
        batches = await self._hand_over(messages)
        try:
            await asyncio.gather(*(batch.future for batch in batches))
        except BROKEN_SEQUENCE as exc:
            await self._renew_if_broken(producer, [exc])
            raise
        last: dict[tuple[str, int], int] = {}
        for batch in batches:
            metadata = batch.future.result()
            end = metadata.offset + len(batch.members) - 1
            last[batch.tp] = max(end, last.get(batch.tp, end))
        return last

    async def _hand_over(self, messages: Sequence[Addressed]) -> list[_Sent]:
        """Every message into record batches, one (or more, when full) per partition, in order."""
        producer = await self._started()
        by_partition: dict[tuple[str, int], list[int]] = defaultdict(list)
        for index, message in enumerate(messages):
            by_partition[(message.topic, message.partition)].append(index)
        sent: list[_Sent] = []
        for (topic, partition), indexes in by_partition.items():
            if len(indexes) <= SHARED_BATCH_AT_MOST:
                # A few messages join the partition's open batch, shared with other
                # senders: a batch of their own would wait for the one before it to be sent
                # (one pending batch a partition).
                for index in indexes:
                    message = messages[index]
                    future = await producer.send(
                        topic,
                        value=message.value,
                        key=message.key,
                        partition=partition,
                        headers=list(message.headers) or None,
                    )
                    sent.append(_Sent((topic, partition), future, [index]))
                continue
            batch = producer.create_batch()
            members: list[int] = []
            for index in indexes:
                message = messages[index]
                if not _append(batch, message):
                    future = await producer.send_batch(batch, topic, partition=partition)
                    sent.append(_Sent((topic, partition), future, members))
                    batch, members = producer.create_batch(), []
                    if not _append(batch, message):
                        raise ValueError(
                            f"a message for {topic}[{partition}] is larger than a record batch"
                        )
                members.append(index)
            future = await producer.send_batch(batch, topic, partition=partition)
            sent.append(_Sent((topic, partition), future, members))
        return sent


@dataclass(frozen=True, slots=True)
class _Sent:
    """A record batch handed to the producer: its partition, its delivery
    future, the messages in it."""

    tp: tuple[str, int]
    future: asyncio.Future[Any]
    members: list[int]


def _append(batch: Any, message: Addressed) -> bool:
    return (
        batch.append(
            key=message.key, value=message.value, timestamp=None, headers=list(message.headers)
        )
        is not None
    )
