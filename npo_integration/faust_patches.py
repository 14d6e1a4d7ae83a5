"""Every change this service makes to Faust (and its aiokafka consumer), in one place: two fixes
without which a restarted worker skips records (found by the SIGKILL test), a cheaper hand-over
of each message to the streams (3, below), records expired before they were read reported
instead of skipped in silence (4, below), table stores whose memory and disk are bounded
together (5, below), and a rebalance without seconds of idle waiting (6 and 7, below).

Table recovery resumes the flow before the stream partitions are resumed, so
stream records are fetched, queued for the agents and marked read while the
worker is still starting. When recovery completes, Faust seeks each stream
partition back to its *committed* offset and then resumes the flow, which
clears the agents' queues. Two ways to lose records follow:

1. A partition with no committed offset (or 0: aiokafka seeks only to a
   positive one) is not sought back, so what was queued and cleared is never
   fetched again. ``seek_to_committed`` (called by Faust's ``perform_seek``)
   now seeks it to its start, as ``consumer_auto_offset_reset = "earliest"``
   promises, on the consumer's thread (aiokafka's fetcher is not thread-safe).
2. A fetched batch still being delivered after the seek marks its later
   offsets read, so the re-fetched copies of the records cleared from the queue
   are dropped as already read. Resuming the flow no longer clears the agents'
   queues (only the table changelog queue, as before): what was queued is
   processed, what the seek re-fetches below the read mark is dropped, nothing
   is lost. Queues are still cleared on a revocation (``_on_partitions_revoked``
   suspends the flow, then clears), and messages of an older generation are
   skipped by the stream itself.

Processing a record twice is safe: every agent is idempotent per record.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, NamedTuple

import faust
import rocksdict
from aiokafka.consumer.fetcher import Fetcher as AIOKafkaFetcher
from faust.stores.rocksdb import RocksDBOptions
from faust.stores.rocksdb import Store as RocksDBStore
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.consumer import ensure_TP
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP, AppT
from mode.services import WaitResults

log = logging.getLogger(__name__)

WRITTEN_FOR = "0.15."
"""The Faust release line these patches were written and tested for (the SIGKILL tests prove them).
They replace private methods: on another release they may silently do the wrong thing, so the
worker refuses to start instead (check the patches against the new release, then move this)."""


def check_faust_version(version: str) -> None:
    """Refuse a Faust these patches were not written for, naming both versions."""
    if not version.startswith(WRITTEN_FOR):
        raise RuntimeError(
            f"npo_integration.faust_patches was written for faust-streaming {WRITTEN_FOR}x, "
            f"but {version} is installed: review each patch in this module against it first"
        )


check_faust_version(faust.__version__)

_seek_to_committed = AIOKafkaConsumer.seek_to_committed


async def seek_to_committed(self: Any) -> Mapping[TP, int]:
    committed = await _seek_to_committed(self)
    if self.app.conf.consumer_auto_offset_reset != "earliest":
        return committed
    changelogs = self.app.tables.changelog_topics
    rewound = [
        tp
        for tp, offset in committed.items()
        if tp.topic not in changelogs and (offset is None or offset <= 0)
    ]
    if rewound:
        await self._thread.call_thread(_seek_to_start, self._thread, rewound)
        for tp in rewound:
            self._read_offset[ensure_TP(tp)] = None  # as Consumer.seek: read again from the start
        log.info(
            "no committed offset, reading from the start: %s",
            ", ".join(f"{t}[{p}]" for t, p in sorted(rewound)),
        )
    return committed


def _seek_to_start(consumer_thread: Any, partitions: list[Any]) -> None:
    """Runs on the consumer's own thread, never the event loop's: aiokafka's fetcher is not
    thread-safe, and Faust's ``Consumer.seek`` calls it from the caller's thread. A seek there
    deleted a fetched batch the consumer thread was iterating over: a KeyError that crashed the
    Fetcher and stopped the worker (one restart in five in the SIGKILL test). Offset 0 below the
    log start (retention) resets to the earliest offset."""
    consumer = consumer_thread._ensure_consumer()
    for tp in partitions:
        consumer.seek(tp, 0)


AIOKafkaConsumer.seek_to_committed = seek_to_committed  # type: ignore[method-assign]  # the patch


def keep_queues_on_resume(app: AppT) -> None:
    """Patch ``app``'s flow control (fix 2): called by ``app.py`` once the app is built."""
    flow_control = app.flow_control
    clear_all = flow_control.clear

    def clear() -> None:
        """``resume()`` clears with the flow active: then only the changelog queue; a suspended
        flow: everything."""
        if flow_control.is_active():
            changelog_queue = getattr(app.tables, "_changelog_queue", None)
            if changelog_queue is not None:
                changelog_queue.clear()
            return
        clear_all()

    flow_control.clear = clear  # type: ignore[method-assign]  # the patch


# --- 3. One message handed to the streams without four tasks ------------------------------------
#
# Faust's consumer hands each fetched message to the streams with
# ``wait_first(callback(message), suspend_flow.wait())``: four tasks and an
# ``asyncio.wait`` per message, so that a hand-over blocked on a full stream
# buffer is abandoned when the flow is suspended for a rebalance. Profiled on
# the registry and enrolment benches it was the largest single cost per message.
# When the flow is not suspended, the hand-over is awaited directly: a full
# buffer still waits (its queue is cleared on a revocation, which frees it) and
# stopping still cancels it. Any other ``wait_first`` is Faust's own.

_wait_first = FaustConsumer.wait_first
_suspend_wait_code = asyncio.Event.wait.__code__


async def wait_first(self: Any, *coros: Any, timeout: Any = None) -> WaitResults:
    if len(coros) == 2 and timeout is None and not self.suspend_flow.is_set():
        hand_over, suspended = coros
        frame = getattr(suspended, "cr_frame", None)
        if (
            getattr(suspended, "cr_code", None) is _suspend_wait_code
            and frame is not None
            and (frame.f_locals.get("self") is self.suspend_flow)
        ):
            suspended.close()  # never started: nothing to cancel
            result = await hand_over
            return WaitResults([hand_over], [result], False)
    return await _wait_first(self, *coros, timeout=timeout)


FaustConsumer.wait_first = wait_first  # type: ignore[method-assign]  # the patch


# --- 4. Records expired before they were read: reported, not silently skipped --------------------
#
# A fetch at an offset below the partition's log start (retention deleted what this consumer had
# not read yet, while ingestion was down or behind) is answered OFFSET_OUT_OF_RANGE; aiokafka then
# moves the partition to its earliest offset (``auto_offset_reset``) with an info line and nothing
# else, so the records in between are skipped without a trace. This wraps the fetcher's handling
# of one fetch response: a watched partition that had a position before the response and awaits a
# reset after it went out of range at that position. Its log start is asked of the broker (a
# seek or an offset past the end lands here too: no gap then), and the listener is awaited on
# the app's loop before the fetcher goes on, so nothing of the partition is consumed (nor its
# offset committed past the gap) before the listener has acted on the gap.


class OutOfRange(NamedTuple):
    """A watched partition the consumer was reset on: read up to ``position``, the broker's log
    starting at ``log_start`` (``log_start > position``: the records in between expired unread)."""

    topic: str
    partition: int
    position: int
    log_start: int


OutOfRangeListener = Callable[[list[OutOfRange]], Coroutine[Any, Any, None]]

_watched: dict[str, tuple[OutOfRangeListener, Callable[[], asyncio.AbstractEventLoop]]] = {}
LISTENER_TIMEOUT = 60.0
"""How long a fetch waits for the listener (it sends a few commands, then the fetch goes on)."""


def watch_out_of_range(
    topic: str, listener: OutOfRangeListener, loop: Callable[[], asyncio.AbstractEventLoop]
) -> None:
    """Call ``listener`` (on ``loop()``, the app's loop: Faust's consumer runs in a thread of its
    own) when the consumer is reset on a partition of ``topic`` after an out-of-range fetch."""
    _watched[topic] = (listener, loop)


def reset_positions(before: Mapping[Any, int], assignment: Any) -> dict[Any, int]:
    """Of the partitions with a position ``before`` a fetch response, those that await a reset
    after it (their fetch went out of range), with the position they had."""
    reset = {}
    for tp, position in before.items():
        state = assignment.state_value(tp)
        if state is not None and state.awaiting_reset:
            reset[tp] = position
    return reset


_proc_fetch_request = getattr(AIOKafkaFetcher, "_proc_fetch_request", None)


async def proc_fetch_request(self: Any, assignment: Any, node_id: Any, request: Any) -> Any:
    assert _proc_fetch_request is not None
    if not _watched:
        return await _proc_fetch_request(self, assignment, node_id, request)
    before = {}
    for tp in assignment.tps:
        if tp.topic in _watched:
            state = assignment.state_value(tp)
            if state is not None and state.has_valid_position:
                before[tp] = state.position
    needs_wakeup = await _proc_fetch_request(self, assignment, node_id, request)
    reset = reset_positions(before, assignment) if before else {}
    if reset:
        await _report_out_of_range(self, reset)
    return needs_wakeup


async def _report_out_of_range(fetcher: Any, reset: Mapping[Any, int]) -> None:
    try:
        starts = await fetcher.beginning_offsets(list(reset), int(LISTENER_TIMEOUT * 1000))
    except Exception:
        log.exception("log start of %s not read: an expired gap may go unnoticed", sorted(reset))
        return
    by_topic: dict[str, list[OutOfRange]] = {}
    for tp, position in reset.items():
        found = OutOfRange(tp.topic, tp.partition, position, starts.get(tp, position))
        by_topic.setdefault(tp.topic, []).append(found)
    for topic, found_here in by_topic.items():
        listener, loop = _watched[topic]
        future: concurrent.futures.Future[None] = asyncio.run_coroutine_threadsafe(
            listener(found_here), loop()
        )
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), LISTENER_TIMEOUT)
        except Exception:
            log.exception("out-of-range listener of %s failed: %s", topic, found_here)


if _proc_fetch_request is None:  # pragma: no cover - an aiokafka without it: nothing reported
    log.warning("aiokafka's Fetcher has no _proc_fetch_request: expired records go unreported")
else:
    AIOKafkaFetcher._proc_fetch_request = proc_fetch_request


# --- 5. Table stores bounded together ------------------------------------------------------------
#
# Faust opens one RocksDB per table partition (a worker holds about a hundred) and gives each its
# own write buffers and block cache. Write buffers flush at their size only, so with many small
# stores the data of a long-running worker sat in memtables and write-ahead logs that grew for
# hours (bench/soak.py: +2 MB a minute, no SST written); and each store's info LOG grew without
# limit. Every store now shares one write buffer manager (past its budget, a store that writes
# flushes its memtable) and one block cache, and keeps at most two info logs of 256 KB (a worker
# may hold hundreds of stores).
#
# A memtable is charged to the manager by arena block, and RocksDB's default block is 1 MB
# (write_buffer_size / 8, at most 1 MB): a hundred stores holding a few bytes each were charged
# over 100 MB, past the default 64 MB budget, so every write flushed a memtable (measured: 10,000
# flushes in 20 s over 112 stores, an info log growing 3 MB/s, a MANIFEST edit per flush, and the
# writes a third slower). Blocks of 64 KB make the charge follow what the memtables hold. A
# MANIFEST is rolled over past 256 KB, as its edits accumulate until then.

LOG_FILE_BYTES = 256 * 1024
LOG_FILES_KEPT = 2
ARENA_BLOCK_BYTES = 64 * 1024
MANIFEST_BYTES = 256 * 1024


class _SharedStoreMemory:
    write_buffers: Any = None
    block_cache: Any = None


_shared = _SharedStoreMemory()
_as_options = RocksDBOptions.as_options


def _bounded_options(self: RocksDBOptions) -> Any:
    options = _as_options(self)
    if not self.use_rocksdict or _shared.write_buffers is None:
        return options
    options.set_write_buffer_manager(_shared.write_buffers)
    options.set_max_log_file_size(LOG_FILE_BYTES)
    options.set_keep_log_file_num(LOG_FILES_KEPT)
    options.set_arena_block_size(ARENA_BLOCK_BYTES)
    options.set_max_manifest_file_size(MANIFEST_BYTES)
    table = rocksdict.BlockBasedOptions()  # as Faust's, with the shared cache
    table.set_bloom_filter(self.bloom_filter_size, block_based=True)
    table.set_block_cache(_shared.block_cache)
    table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
    options.set_block_based_table_factory(table)
    return options


def bound_table_stores(memtable_bytes: int, block_cache_bytes: int) -> None:
    """Every table store opened from now on shares these budgets (call before the worker
    opens its tables)."""
    _shared.write_buffers = rocksdict.WriteBufferManager(memtable_bytes, False)
    _shared.block_cache = rocksdict.Cache(block_cache_bytes)


RocksDBOptions.as_options = _bounded_options  # type: ignore[method-assign]  # the patch


# --- 6. A rebalance without a full garbage collection per table ---------------------------------
#
# Faust's RocksDB store runs ``gc.collect()`` in every table's ``revoke_partitions``, on every
# rebalance, whether or not the table lost a partition (closing a store is left to the collector,
# which releases its RocksDB lock). A full collection of a worker's heap takes 100-200 ms here,
# and grows with it (a worker holding 100,000 configs has many more objects), so a worker's first
# assignment spent about 2 s of its start collecting for its 13 tables with nothing to release. A
# table that closes a store still collects, as before.

_revoke_partitions = RocksDBStore.revoke_partitions


def revoke_partitions(self: Any, table: Any, tps: Any) -> None:
    topics = table.changelog_topic.topics
    if any(tp.topic in topics and tp.partition in self._dbs for tp in tps):
        _revoke_partitions(self, table, tps)


RocksDBStore.revoke_partitions = revoke_partitions  # type: ignore[method-assign]  # the patch


# --- 7. Offsets asked of the broker without waiting behind an idle fetch -------------------------
#
# Faust builds its consumer with ``fetch_max_wait_ms=1500``: a fetch on partitions with nothing new
# waits 1.5 s at the broker. The broker answers one connection's requests in order, and aiokafka
# sends the offset lookups of table recovery (end and earliest offsets, four per rebalance) on the
# fetch's connection, so each waited behind it: up to 6 s of every start and rebalance spent idle.
# The wait is a setting now (``NPO_CONSUMER_FETCH_WAIT_MS``, Kafka's own default of 500 ms: an
# idle worker's CPU measured 3.4% of a core at 1,500 ms, 3.5-3.9% at 500, 5% at 200). A fetch
# still returns as soon as a record arrives: this bounds only how long an idle one waits.


class _FetchWait:
    milliseconds: int | None = None


_fetch_wait = _FetchWait()
_create_worker_consumer = AIOKafkaConsumerThread._create_worker_consumer


def _worker_consumer(self: Any, transport: Any) -> Any:
    consumer = _create_worker_consumer(self, transport)
    if _fetch_wait.milliseconds is not None:
        consumer._fetch_max_wait_ms = _fetch_wait.milliseconds  # read by its fetcher at start
    return consumer


def bound_fetch_wait(milliseconds: int) -> None:
    """The worker's consumer waits at most this long for records at the broker (call before the
    worker starts its consumer)."""
    _fetch_wait.milliseconds = milliseconds


AIOKafkaConsumerThread._create_worker_consumer = _worker_consumer  # type: ignore[method-assign]
