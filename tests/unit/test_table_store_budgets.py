"""The table stores of a worker share one memtable budget (faust_patches, patch 5) without a
write flushing a memtable: a hundred stores holding a few keys each stay in their memtables."""

from pathlib import Path

from faust.stores.rocksdb import RocksDBOptions

from npo_integration.faust_patches import bound_table_stores

STORES = 112  # about what one worker opens: a store per table partition
KEYS = 20


def test_small_stores_under_a_shared_budget_keep_their_writes_in_memtables(tmp_path: Path) -> None:
    bound_table_stores(memtable_bytes=64 * 1024 * 1024, block_cache_bytes=8 * 1024 * 1024)
    options = RocksDBOptions(use_rocksdict=True)
    stores = [options.open(tmp_path / f"table-{n}.db") for n in range(STORES)]
    try:
        for key in range(KEYS):
            for store in stores:
                store[f"key-{key}".encode()] = b"x" * 200
        in_memtables = [
            store.property_int_value("rocksdb.num-entries-active-mem-table") for store in stores
        ]
        flushed = [store.property_int_value("rocksdb.num-immutable-mem-table") for store in stores]
    finally:
        for store in stores:
            store.close()
    # a memtable charged by 1 MB arena blocks would put 112 stores past 64 MB: writes flush
    assert in_memtables == [KEYS] * STORES
    assert flushed == [0] * STORES
