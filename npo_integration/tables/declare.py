"""Declaring a table of bytes: values are pydantic models encoded by the table's own module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from faust.types import EventT, TableT

from npo_integration.app import app, settings
from npo_integration.delivery.acked_table import AckedGlobalTable
from npo_integration.delivery.producer import BatchProducer

ROCKSDB_OPTIONS = {
    "write_buffer_size": 4 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "target_file_size_base": 16 * 1024 * 1024,
}
"""Per partition store (Faust's defaults are 64 MB write buffers, 3 of them, and a 2 GB
block cache, for each partition of each table): a worker holds about a hundred table
partitions. All of them together share one write-buffer budget and one block cache
(``NPO_ROCKSDB_MEMTABLE_MB``, ``NPO_ROCKSDB_BLOCK_CACHE_MB``; ``faust_patches``, 5)."""


PERSONAL_CHANGELOG = {
    "max.compaction.lag.ms": str(int(settings.erasure_compaction_hours * 3600 * 1000)),
}
"""Changelog topic config of tables holding candidates' personal data (set when the service creates
the topic): a value replaced or deleted (an erasure's tombstone) is compacted away within
``NPO_ERASURE_COMPACTION_HOURS``, not whenever the log cleaner gets to it (docs/security.md)."""


def bytes_table(name: str, *, help: str, personal: bool = False) -> TableT[bytes, bytes]:
    return app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        options=ROCKSDB_OPTIONS,
        help=help,
        extra_topic_configs=PERSONAL_CHANGELOG if personal else None,
    )


def global_bytes_table(
    name: str,
    *,
    help: str,
    producer: BatchProducer,
    on_changelog_event: Callable[[EventT[bytes]], Awaitable[None]] | None = None,
) -> AckedGlobalTable:
    """Every worker holds every partition, including the ones other workers write
    (``synchronize_all_active_partitions``; plain GlobalTables miss those, faust-streaming #283),
    and applies each change read from the changelog at once (both buffer sizes 1, see below).
    ``on_changelog_event`` sees each change read from the changelog (other workers' writes).
    The changelog is batched (``delivery/acked_table.py``): writers ``wait_acked`` before their
    source messages are acknowledged."""
    table = AckedGlobalTable(
        app,
        name=name,
        key_type=bytes,
        value_type=bytes,
        beacon=app.tables.beacon,
        standby_buffer_size=1,  # as app.GlobalTable: apply other workers' changes as they come
        # ... and so must the active buffer: with synchronize_all_active_partitions every
        # changelog partition is active *and* standby here, and Faust's recovery loop handles
        # an event of an active partition with recovery_buffer_size (1000 by default), even
        # after recovery: another worker's writes then sat unapplied until 1000 of them came
        # (a 2-worker fleet lost the assignments of half its NPOs: "no config").
        recovery_buffer_size=1,
        is_global=True,
        synchronize_all_active_partitions=True,
        on_changelog_event=on_changelog_event,
        options=ROCKSDB_OPTIONS,
        help=help,
    )
    table.producer = producer
    return cast(AckedGlobalTable, app.tables.add(table))
