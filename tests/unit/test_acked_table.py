"""``BatchedChangelog.put_all_raw``: the keys land in the current partition's store, readable one
by one as ``put_raw`` leaves them, and each goes to the changelog queue in order."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import rocksdict

from npo_integration.delivery.acked_table import BatchedChangelog

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


def _table(store: _Store) -> SimpleNamespace:
    queued: list[tuple[bytes, bytes | None]] = []
    return SimpleNamespace(
        data=store,
        queued=queued,
        partition_for_key=lambda key: PARTITION,
        _enqueue=lambda key, value: queued.append((key, value)),
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
    assert store._key_index == {key: PARTITION for key, _ in items}
    assert table.queued == items


def test_no_writes_touch_nothing(tmp_path: Path) -> None:
    store = _Store(tmp_path / "table-2.db")
    table = _table(store)
    try:
        BatchedChangelog.put_all_raw(table, [])  # type: ignore[arg-type]
    finally:
        store.db.close()
    assert store.opened == [] and table.queued == []
