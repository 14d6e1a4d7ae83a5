"""A Faust table whose changelog goes out in batches, and whose writes can
be awaited until acknowledged.

A plain Faust table sends one changelog record per write through Faust's
producer buffer, one future and several callbacks each. The ingestion path
writes a state per record, so that machinery was a large share of its cost.
``AckedTable`` keeps Faust's local store and semantics (a write lands in the
current event's partition, recovery and standbys read the same changelog) but
queues each write's changelog record and sends the queue as record batches,
one send at a time (what queues up meanwhile goes out together next), through
the worker's ``BatchProducer``:

- ``flush()`` hands what is queued to the producer (call it after a batch of writes;
  a write nobody flushes goes out within ``FLUSH_AFTER_SECONDS``);
- ``wait_acked()`` returns once every write made before it is acknowledged by the
  broker: a worker recovering the table from its changelog sees them.

A flush that fails is retried (with backoff) before any later write is sent, so
the changelog never holds a key's writes out of order. After each flush the
store's persisted offset moves on, as Faust's own write path does, so a restart
reads only the changelog written since.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import faust
import rocksdict
from faust.streams import current_event
from faust.types import TP, AppT

from npo_integration.delivery.once import Addressed
from npo_integration.delivery.producer import BatchProducer, MessageTooLargeError, oversized
from npo_integration.retry_policy import UNTIL_DONE, RetryPolicy

log = logging.getLogger(__name__)

DEFAULT_ACK_TIMEOUT_SECONDS = 30.0
SEND_RETRY = RetryPolicy(max_attempts=UNTIL_DONE, base_seconds=0.2, max_seconds=5.0, jitter="none")
"""A changelog batch is sent again until acknowledged; later writes wait behind it (see above)."""
FLUSH_AT = 5000
"""Queued changelog records that trigger a flush on their own."""
FLUSH_AFTER_SECONDS = 0.02
"""A write nobody flushes is handed to the producer after this long."""


if TYPE_CHECKING:
    _Table = faust.Table[bytes, bytes]
else:
    _Table = object


class BatchedChangelog(_Table):
    """The batched changelog, for a Faust table class of bytes: mix in before ``faust.Table`` or
    ``faust.GlobalTable`` (the hooks below replace theirs)."""

    producer: BatchProducer
    _queue: list[Addressed]
    _queue_acked: asyncio.Future[None]
    _sent_acked: asyncio.Future[None]
    _flusher: asyncio.Task[None]
    _flush_soon: asyncio.TimerHandle

    # data._get/_set/_del: the RocksDB store's own methods, which its StoreT interface does not
    # declare (the ignores below); called directly, as the hot paths' writes skip Faust's wrappers.
    def get_raw(self, key: bytes) -> bytes | None:
        """The stored value or ``None``, straight from the store (no sensors,
        no ``KeyError`` on a miss).

        In an event's scope, from that partition's database, as Faust reads it, but without
        updating the store's key index: that index is a cache of which partition holds a key
        (1,000 keys by default, an LRU under a lock, so it thrashes on a table of record states);
        a key it does not hold is looked for in every partition, as before."""
        partition_db = self._event_db()
        if partition_db is not None:
            found: bytes | None = partition_db.get(key)
            return found
        value: bytes | None = self.data._get(key)  # type: ignore[attr-defined]
        return value

    def put_raw(self, key: bytes, value: bytes) -> None:
        """``table[key] = value`` straight to the store and the changelog
        queue (no sensors, no wrappers); in an event's scope without touching the key index
        (``get_raw``), as Faust's own write would (the event's partition)."""
        partition_db = self._event_db()
        if partition_db is not None:
            partition_db.put(key, value)
        else:
            self.data._set(key, value)  # type: ignore[attr-defined]
        self._enqueue(key, value)

    def put_all_raw(self, items: Sequence[tuple[bytes, bytes]]) -> None:
        """``put_raw`` of each item, the store's part as one RocksDB write batch (one write call,
        one WAL append: about 2.5 times cheaper per key than a write each). All land in the
        current event's partition, atomically and in order (a repeated key keeps its last value)."""
        if not items:
            return
        partition = self.partition_for_key(items[0][0])
        assert partition is not None, "AckedTable does not use the partitioner"
        store: Any = self.data
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in items:
            batch.put(key, value)
        store._db_for_partition(partition).write(batch)  # the key index is left alone (get_raw)
        topic = self.changelog_topic_name
        self._enqueue_all([Addressed(topic, partition, key, value) for key, value in items])

    def delete_raw(self, key: bytes) -> None:
        """``del table[key]`` the same way; nothing happens when the key is not there."""
        partition_db = self._event_db()
        if partition_db is not None:
            if partition_db.get(key) is not None:
                partition_db.delete(key)
                self._enqueue(key, None)
        elif self.data._get(key) is not None:  # type: ignore[attr-defined]
            self.data._del(key)  # type: ignore[attr-defined]
            self._enqueue(key, None)

    def _event_db(self) -> Any:
        """The current event's partition database (a key of this table lives in its event's
        partition), or ``None`` outside an event's scope and for a global table."""
        event = current_event()
        if event is None or self.is_global:
            return None
        return self.data._db_for_partition(event.message.partition)  # type: ignore[attr-defined]

    def on_key_set(self, key: Any, value: Any) -> None:
        self._enqueue(key, value)

    def on_key_del(self, key: Any) -> None:
        self._enqueue(key, None)

    def _enqueue(self, key: bytes, value: bytes | None) -> None:
        partition = self.partition_for_key(key)  # the current event's partition, as Faust writes it
        assert partition is not None, "AckedTable does not use the partitioner"
        self._enqueue_all([Addressed(self.changelog_topic_name, partition, key, value)])

    def _enqueue_all(self, records: list[Addressed]) -> None:
        """Queue changelog records; flush when the queue is full, else soon."""
        queue = self._pending_queue()
        queue.extend(records)
        if len(queue) >= FLUSH_AT:
            self.flush()
        elif self.__dict__.get("_flush_soon") is None and not self._sending():
            self._flush_soon = asyncio.get_running_loop().call_later(
                FLUSH_AFTER_SECONDS, self.flush
            )

    def flush(self) -> None:
        """Hand the queued changelog records to the producer. One send is in flight at a time, in
        order; what is queued meanwhile goes out together as soon as it is acknowledged."""
        soon = self.__dict__.pop("_flush_soon", None)
        if soon is not None:
            soon.cancel()
        if self.__dict__.get("_queue") and not self._sending():
            self._flusher = asyncio.ensure_future(self._send_queued())

    async def wait_acked(self, *, timeout: float = DEFAULT_ACK_TIMEOUT_SECONDS) -> None:
        """Return once every write made before the call is acknowledged
        (``TimeoutError`` after ``timeout``)."""
        waiter: asyncio.Future[None] | None
        if self.__dict__.get("_queue"):
            waiter = self._queue_acked
            self.flush()
        else:
            waiter = self.__dict__.get("_sent_acked")
        if waiter is not None and not waiter.done():
            async with asyncio.timeout(timeout):  # cheaper than wait_for: no waiter future
                await asyncio.shield(waiter)

    async def put_acked(
        self, key: bytes, value: bytes, *, timeout: float = DEFAULT_ACK_TIMEOUT_SECONDS
    ) -> None:
        """Write, then wait until the broker has the changelog record (call in stream context)."""
        self[key] = value
        await self.wait_acked(timeout=timeout)

    async def on_stop(self) -> None:
        """A graceful stop sends what is queued (a crash loses it; the
        publishing protocol covers that)."""
        try:
            await self.wait_acked(timeout=10.0)
        except Exception as exc:
            log.warning("changelog of %s not flushed at stop: %r", self.name, exc)
        await super().on_stop()

    def _pending_queue(self) -> list[Addressed]:
        queue = self.__dict__.get("_queue")
        if queue is None:
            queue = self._queue = []
            self._queue_acked = asyncio.get_running_loop().create_future()
        return queue

    def _sending(self) -> bool:
        flusher = self.__dict__.get("_flusher")
        return flusher is not None and not flusher.done()

    async def _send_queued(self) -> None:
        while self.__dict__.get("_queue"):
            messages, acked = self._queue, self._queue_acked
            self._queue = []
            self._queue_acked = asyncio.get_running_loop().create_future()
            self._sent_acked = acked
            if await self._send(messages):
                acked.set_result(None)
            else:
                acked.set_exception(
                    RuntimeError(f"changelog of {self.name} not sent: the worker is stopping")
                )
                acked.exception()  # retrieved: nobody may be waiting

    async def _send(self, messages: list[Addressed]) -> bool:
        """Send until the broker has them all (later writes must not
        overtake these); False at shutdown."""
        attempt = 0
        while True:
            try:
                last = await self.producer.send_all_or_raise(messages)
                break
            except MessageTooLargeError:
                # Retrying cannot help, and every later write waits behind it: the value stays
                # in the local store only (lost from the changelog), loudly. Input limits keep
                # values far below this; this is the last guard.
                kept = [m for m in messages if oversized(m) is None]
                log.error(
                    "changelog of %s: %d record(s) over the message limit dropped, keys %s",
                    self.name,
                    len(messages) - len(kept),
                    [m.key[:100] for m in messages if oversized(m) is not None],
                )
                messages = kept
                if not messages:
                    return True
                continue
            except Exception as exc:
                if self.should_stop:
                    log.warning(
                        "changelog of %s: %d record(s) not sent at shutdown: %r",
                        self.name,
                        len(messages),
                        exc,
                    )
                    return False
                attempt += 1
                delay = SEND_RETRY.delay(attempt)
                log.warning(
                    "changelog of %s: %d record(s) not acknowledged (%r); retrying in %.1fs",
                    self.name,
                    len(messages),
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
        for (topic, partition), offset in last.items():
            self.data.set_persisted_offset(TP(topic, partition), offset)
        return True


class AckedTable(BatchedChangelog, faust.Table[bytes, bytes]):
    """``faust.Table`` of bytes with a batched changelog, ``flush`` and ``wait_acked``."""


class AckedGlobalTable(BatchedChangelog, faust.GlobalTable):
    """``faust.GlobalTable`` of bytes with a batched changelog, ``flush`` and ``wait_acked``."""


def acked_bytes_table(
    app: AppT,
    name: str,
    *,
    help: str,
    producer: BatchProducer,
    options: Mapping[str, Any],
    extra_topic_configs: Mapping[str, Any] | None = None,
) -> AckedTable:
    """Like ``tables.declare.bytes_table``, as an ``AckedTable`` whose
    changelog ``producer`` sends."""
    table = AckedTable(
        app,
        name=name,
        key_type=bytes,
        value_type=bytes,
        beacon=app.tables.beacon,
        options=options,
        help=help,
        extra_topic_configs=extra_topic_configs,
    )
    table.producer = producer
    return cast(AckedTable, app.tables.add(table))
