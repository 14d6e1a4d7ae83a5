"""The Faust patches refuse a Faust release they were not written for, instead of misbehaving."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable
from types import SimpleNamespace

import faust
import pytest
from aiokafka import TopicPartition
from faust.stores.rocksdb import Store as RocksDBStore
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP

from npo_integration import faust_patches
from npo_integration.faust_patches import WRITTEN_FOR, check_faust_version, seek_to_committed
from npo_integration.settings import Settings


def test_the_installed_faust_is_the_release_the_patches_were_written_for() -> None:
    check_faust_version(faust.__version__)


@pytest.mark.parametrize("other", ["0.16.0", "0.14.9", "1.0.0"])
def test_another_faust_release_is_refused_with_both_versions_named(other: str) -> None:
    with pytest.raises(RuntimeError) as refused:
        check_faust_version(other)
    assert other in str(refused.value) and WRITTEN_FOR in str(refused.value)


class _ConsumerThread:
    """Faust's consumer thread, as far as the seek patch uses it: ``call_thread`` runs a function
    on another thread, as mode's does; aiokafka's consumer records the thread of each seek."""

    def __init__(self, committed: dict[TopicPartition, int | None]) -> None:
        self.committed = committed
        self.seeks: list[tuple[TopicPartition, int, int]] = []

    async def seek_to_committed(self) -> dict[TopicPartition, int | None]:
        return self.committed

    async def call_thread(self, fun: Callable[..., object], *args: object) -> object:
        return await asyncio.to_thread(fun, *args)

    def _ensure_consumer(self) -> _ConsumerThread:
        return self

    def seek(self, tp: TopicPartition, offset: int) -> None:  # aiokafka's, and Faust's sync one
        self.seeks.append((tp, offset, threading.get_ident()))


async def test_partitions_without_a_committed_offset_are_sought_on_the_consumer_thread() -> None:
    """A seek from the event loop's thread races the consumer thread over aiokafka's fetched
    batches (a KeyError that stopped a restarted worker); the read mark goes back as well."""
    fresh, never, done = (TopicPartition("raw", p) for p in (0, 1, 2))
    thread = _ConsumerThread({fresh: 0, never: None, done: 7})

    async def faust_seek(
        tp: TopicPartition, offset: int
    ) -> None:  # Faust's: on the caller's thread
        thread.seek(tp, offset)

    consumer = SimpleNamespace(
        _thread=thread,
        seek=faust_seek,
        _read_offset={fresh: 40, never: 12, done: 7},
        app=SimpleNamespace(
            conf=SimpleNamespace(consumer_auto_offset_reset="earliest"),
            tables=SimpleNamespace(changelog_topics=set()),
        ),
    )
    committed = await seek_to_committed(consumer)
    assert committed == {fresh: 0, never: None, done: 7}
    assert sorted((tp.partition, offset) for tp, offset, _ in thread.seeks) == [(0, 0), (1, 0)]
    assert {ident for *_, ident in thread.seeks} != {threading.get_ident()}
    assert consumer._read_offset == {fresh: None, never: None, done: 7}


def _store(partitions: set[int]) -> SimpleNamespace:
    """A RocksDB store's state as ``revoke_partitions`` reads it: its open partition stores."""
    dbs = {partition: object() for partition in partitions}
    return SimpleNamespace(_dbs=dbs, logger=SimpleNamespace(info=print))


def test_a_table_that_loses_no_partition_does_not_collect_garbage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A full collection per table per rebalance took seconds of every start; a table that closes
    a store still collects (its RocksDB lock is released by the collector)."""
    collections: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda *_: collections.append(1) or 0)
    table = SimpleNamespace(changelog_topic=SimpleNamespace(topics={"t-changelog"}))
    store = _store({0, 1})
    revoke = RocksDBStore.revoke_partitions

    revoke(store, table, {TP("t-changelog", 2), TP("other-changelog", 0)})
    assert (sorted(store._dbs), collections) == ([0, 1], [])

    revoke(store, table, {TP("t-changelog", 1)})
    assert (sorted(store._dbs), collections) == ([0], [1])


def test_the_workers_consumer_waits_at_the_broker_as_long_as_the_setting_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Faust's 1.5 s fetch wait held every offset lookup of table recovery behind it."""
    built = SimpleNamespace(_fetch_max_wait_ms=1500)  # what Faust builds
    monkeypatch.setattr(faust_patches, "_create_worker_consumer", lambda thread, transport: built)
    monkeypatch.setattr(faust_patches._fetch_wait, "milliseconds", None)
    create = AIOKafkaConsumerThread._create_worker_consumer

    assert create(object(), object())._fetch_max_wait_ms == 1500  # not bounded: Faust's
    faust_patches.bound_fetch_wait(Settings.model_fields["consumer_fetch_wait_ms"].default)
    assert create(object(), object())._fetch_max_wait_ms == 500
