"""``BatchedChangelog``'s direct store access: ``put_all_raw`` and, in an event's scope,
``put_raw`` and ``delete_raw`` land the keys in the current partition's store and each in the
changelog queue, in order; ``get_raw`` in an event's scope reads that partition's store. None of
them touches Faust's key index (a cache)."""

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
    table = SimpleNamespace(
        data=store,
        is_global=False,
        queued=queued,
        changelog_topic_name=TOPIC,
        partition_for_key=lambda key: PARTITION,
        _enqueue_all=queued.extend,
    )
    table._event_db = lambda: BatchedChangelog._event_db(table)  # type: ignore[arg-type]
    table._enqueue = lambda key, value: BatchedChangelog._enqueue(table, key, value)  # type: ignore[arg-type]
    return table


class _in_event:
    """The scope of an event of ``PARTITION``, as agents/batches.py's in_partition sets it."""

    def __enter__(self) -> None:
        self._event = _Event(SimpleNamespace(partition=PARTITION))  # referenced while in scope
        self._token = _current_event.set(weakref.ref(self._event))  # type: ignore[arg-type]

    def __exit__(self, *exc: object) -> None:
        _current_event.reset(self._token)


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
    table = _table(store)
    try:
        store.db[b"npo-1/offerings/off-001"] = b"state"
        with _in_event():
            found = BatchedChangelog.get_raw(table, b"npo-1/offerings/off-001")  # type: ignore[arg-type]
            missing = BatchedChangelog.get_raw(table, b"npo-1/offerings/off-002")  # type: ignore[arg-type]
    finally:
        store.db.close()
    assert (found, missing) == (b"state", None)
    assert store.opened == [PARTITION, PARTITION] and store._key_index == {}


def test_a_write_and_a_delete_in_an_events_scope_go_to_that_partitions_store_and_the_changelog(
    tmp_path: Path,
) -> None:
    store = _Store(tmp_path / "table-2.db")
    table = _table(store)
    kept, gone, never = b"asg-1", b"asg-2", b"asg-3"
    try:
        with _in_event():
            BatchedChangelog.put_raw(table, kept, b"confirmed")  # type: ignore[arg-type]
            BatchedChangelog.put_raw(table, gone, b"sending")  # type: ignore[arg-type]
            BatchedChangelog.delete_raw(table, gone)  # type: ignore[arg-type]
            BatchedChangelog.delete_raw(table, never)  # type: ignore[arg-type]
        stored = {key: store.db.get(key) for key in (kept, gone, never)}
    finally:
        store.db.close()
    assert stored == {kept: b"confirmed", gone: None, never: None}
    assert set(store.opened) == {PARTITION} and store._key_index == {}
    # A key that was never there sends no tombstone.
    assert table.queued == [
        Addressed(TOPIC, PARTITION, kept, b"confirmed"),
        Addressed(TOPIC, PARTITION, gone, b"sending"),
        Addressed(TOPIC, PARTITION, gone, None),
    ]
