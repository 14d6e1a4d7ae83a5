"""``BatchedChangelog``'s direct store access: ``put_all_raw`` lands the keys in the current
partition's store and each in the changelog queue, in order; ``get_raw`` in an event's scope reads
that partition's store. Neither touches Faust's key index (a cache)."""

from __future__ import annotations

import weakref
from pathlib import Path
from types import SimpleNamespace

import rocksdict
from faust.streams import _current_event

from npo_integration.delivery.acked_table import BatchedChangelog
from npo_integration.delivery.once import Addressed

PARTITION = 2


class _Store:
    """Faust's RocksDB store, as far as the batched write uses it."""

    def __init__(self, path: Path) -> None:
        self.db = rocksdict.Rdict(str(path), options=rocksdict.Options(raw_mode=True))
        self._key_index: dict[bytes, int] = {}
        self.opened: list[int] = []

    def _db_for_partition(self, partition: int) -> rocksdict.Rdict:
        self.opened.append(partition)
        return self.db


TOPIC = "app-npo-record-state-changelog"


class _Event:
    """A Faust event, as far as a read in its scope uses it (weakly referenced, like Faust's)."""

    def __init__(self, message: SimpleNamespace) -> None:
        self.message = message


def _table(store: _Store) -> SimpleNamespace:
    queued: list[Addressed] = []
    return SimpleNamespace(
        data=store,
        queued=queued,
        changelog_topic_name=TOPIC,
        partition_for_key=lambda key: PARTITION,
        _enqueue_all=queued.extend,
    )


def test_a_batch_of_writes_lands_in_the_partitions_store_and_the_changelog_queue(
    tmp_path: Path,
) -> None:
    store = _Store(tmp_path / "table-2.db")
    table = _table(store)
    items = [(f"npo-1/offerings/off-{n:03d}".encode(), f"state {n}".encode()) for n in range(50)]
    try:
        BatchedChangelog.put_all_raw(table, items)  # type: ignore[arg-type]
        assert [store.db.get(key) for key, _ in items] == [value for _, value in items]
    finally:
        store.db.close()
    assert store.opened == [PARTITION]
    assert store._key_index == {}  # a cache of where keys are, left alone (see get_raw)
    assert table.queued == [Addressed(TOPIC, PARTITION, key, value) for key, value in items]


def test_no_writes_touch_nothing(tmp_path: Path) -> None:
    store = _Store(tmp_path / "table-2.db")
    table = _table(store)
    try:
        BatchedChangelog.put_all_raw(table, [])  # type: ignore[arg-type]
    finally:
        store.db.close()
    assert store.opened == [] and table.queued == []


def test_a_read_in_an_events_scope_looks_in_that_partitions_store_only(tmp_path: Path) -> None:
    store = _Store(tmp_path / "table-2.db")
    table = SimpleNamespace(data=store, is_global=False)
    event = _Event(SimpleNamespace(partition=PARTITION))
    try:
        store.db[b"npo-1/offerings/off-001"] = b"state"
        token = _current_event.set(weakref.ref(event))  # as agents/batches.py's in_partition
        try:
            found = BatchedChangelog.get_raw(table, b"npo-1/offerings/off-001")  # type: ignore[arg-type]
            missing = BatchedChangelog.get_raw(table, b"npo-1/offerings/off-002")  # type: ignore[arg-type]
        finally:
            _current_event.reset(token)
    finally:
        store.db.close()
    assert (found, missing) == (b"state", None)
    assert store.opened == [PARTITION, PARTITION] and store._key_index == {}
