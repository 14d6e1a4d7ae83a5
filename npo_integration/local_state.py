"""A worker's data directory and the Kafka cluster its table state belongs to.

A table's RocksDB store is a cache of its changelog: Faust remembers in each
partition's store the offset of the last changelog message applied, and at
recovery reads the changelog on from there. When the data directory outlives its
cluster (a broker rebuilt or reset, a volume restored from a backup, a worker
pointed at another cluster), the stores are ahead of the changelogs and Faust
stops in the middle of recovery with a ``ConsistencyError`` traceback. So before
the consumer joins, the worker checks (``check``):

- the cluster id recorded in ``cluster.json`` at the first start against the
  broker's: another id means every store belongs to another cluster;
- each store's persisted offset against its changelog partition's end offset: a
  store at or past the end means the changelog lost data (a broker restored from
  a backup keeps its id).

On a mismatch the worker stops with one line naming the directory, the cluster
and the fix (``npo-integration reset-local-state``), or, when the directory is
from another cluster and ``NPO_RESET_LOCAL_STATE_ON_CLUSTER_CHANGE`` is set,
removes the stores itself and rebuilds them from the changelogs.

A worker holds ``worker.lock`` (``flock``, released by the kernel when the
process ends, even when killed) for as long as it runs, so ``reset-local-state``
never removes stores under a running worker. This module needs neither the app
nor the settings: the CLI command uses it on a stopped worker's directory.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from npo_integration.errors import NpoIntegrationError

log = logging.getLogger(__name__)

CLUSTER_FILE = "cluster.json"
LOCK_FILE = "worker.lock"
OFFSET_KEY = b"__faust\0offset__"
"""Where Faust's RocksDB store keeps a partition's persisted changelog offset
(``faust.stores.rocksdb.Store.offset_key``)."""
RESET_COMMAND = "npo-integration reset-local-state --data-dir {data_dir}"
AUTO_RESET_SETTING = "NPO_RESET_LOCAL_STATE_ON_CLUSTER_CHANGE"
DOCS = "docs/operations.md#local-table-state"


class DataDirInUse(NpoIntegrationError):
    """Another process (a running worker) holds the data directory's lock."""


class DataDirOwner(BaseModel):
    """``cluster.json``: the cluster whose changelogs this directory's stores were built from."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    cluster_id: str
    broker_url: str


def read_owner(data_dir: Path) -> DataDirOwner | None:
    """The recorded owner; ``None`` when there is none (a new directory, or one written before
    this check) or the file is unreadable (then the offset check still applies)."""
    path = data_dir / CLUSTER_FILE
    try:
        return DataDirOwner.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None


def write_owner(data_dir: Path, owner: DataDirOwner) -> None:
    """Atomically (a rename), so a worker stopped mid-write leaves the old file or the new."""
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / f".{CLUSTER_FILE}.tmp"
    tmp.write_text(owner.model_dump_json() + "\n")
    tmp.replace(data_dir / CLUSTER_FILE)


def lock(data_dir: Path) -> int:
    """Take the directory's lock for this process and return its descriptor (keep it open: closing
    it releases the lock). Raises ``DataDirInUse`` naming the holder's pid."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise DataDirInUse(
            f"data directory {data_dir} is in use by a running worker (pid {holder})"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def table_stores(data_dir: Path) -> list[Path]:
    """Faust's table stores under ``DATA_DIR/v<version>/tables/``: a RocksDB directory per table
    partition (``<table>-<partition>.db``) and the tables' backup directories (``<table>-backups``).
    Nothing else in the data directory is table state."""
    found = [
        entry
        for tables in data_dir.glob("v*/tables")
        for entry in tables.iterdir()
        if entry.is_dir() and (entry.name.endswith(".db") or entry.name.endswith("-backups"))
    ]
    return sorted(found)


def store_partition(store: Path) -> tuple[str, int] | None:
    """``(table, partition)`` of a partition store ``<table>-<partition>.db``, else ``None``."""
    if not store.name.endswith(".db"):
        return None
    table, _, partition = store.name.removesuffix(".db").rpartition("-")
    return (table, int(partition)) if table and partition.isdigit() else None


def remove_table_stores(data_dir: Path) -> list[Path]:
    """Remove every table store and the recorded owner; return what was removed. The next start
    rebuilds the stores from the changelogs of the cluster it runs against."""
    removed = []
    for store in table_stores(data_dir):
        shutil.rmtree(store)
        removed.append(store)
    owner = data_dir / CLUSTER_FILE
    if owner.exists():
        owner.unlink()
        removed.append(owner)
    return removed


def persisted_offset(store: Path) -> int | None:
    """The changelog offset a partition store was last written at, read without locking the store
    (read-only). ``None`` when it has none or cannot be read (Faust's recovery then decides)."""
    from rocksdict import AccessType, Options, Rdict

    try:
        db = Rdict(str(store), options=Options(raw_mode=True), access_type=AccessType.read_only())
    except Exception as exc:  # rocksdict raises plain Exception for I/O errors
        log.warning("cannot read the persisted offset of %s: %s", store, exc)
        return None
    try:
        raw = db.get(OFFSET_KEY)
    finally:
        db.close()
    return int(raw) if isinstance(raw, bytes) and raw.strip().isdigit() else None


@dataclass(frozen=True)
class Ahead:
    """A store whose persisted offset is at or past the end of its changelog partition."""

    store: Path
    topic: str
    partition: int
    persisted: int
    end: int


EndOffsets = Callable[[Sequence[tuple[str, int]]], Awaitable[dict[tuple[str, int], int]]]


async def stores_ahead(
    stores: Sequence[Path], changelogs: dict[str, str], end_offsets: EndOffsets
) -> list[Ahead]:
    """Stores past the end of their changelog partition (``changelogs``: table name -> changelog
    topic; stores of tables not in it are left to Faust)."""
    import asyncio

    persisted: dict[tuple[str, int], tuple[Path, int]] = {}
    for store in stores:
        located = store_partition(store)
        if located is None or located[0] not in changelogs:
            continue
        offset = await asyncio.to_thread(persisted_offset, store)
        if offset is not None:
            persisted[(changelogs[located[0]], located[1])] = (store, offset)
    ends = await end_offsets(list(persisted)) if persisted else {}
    return [
        Ahead(store, topic, partition, offset, ends[(topic, partition)])
        for (topic, partition), (store, offset) in sorted(persisted.items())
        if offset >= ends.get((topic, partition), offset + 1)
    ]


def other_cluster(data_dir: Path, owner: DataDirOwner, cluster_id: str, broker: str) -> str:
    return (
        f"data directory {data_dir} holds table state of Kafka cluster {owner.cluster_id} "
        f"({owner.broker_url}), but the broker at {broker} is cluster {cluster_id}"
    )


def changelog_behind(
    data_dir: Path, owner: DataDirOwner | None, cluster_id: str, ahead: Sequence[Ahead]
) -> str:
    first = ahead[0]
    belongs = (
        f"Kafka cluster {owner.cluster_id}"
        if owner is not None
        else f"an unrecorded Kafka cluster (no {CLUSTER_FILE})"
    )
    more = f" and {len(ahead) - 1} more store(s)" if len(ahead) > 1 else ""
    return (
        f"data directory {data_dir} holds table state of {belongs} up to offset "
        f"{first.persisted} of {first.topic}[{first.partition}]{more}, but that changelog ends at "
        f"offset {first.end} on cluster {cluster_id} (the changelog lost data, or the directory "
        f"belongs to another cluster)"
    )


@dataclass(frozen=True)
class Verdict:
    """What a start does with the data directory: go on (no ``reason``), remove the stores first
    (``reset``), or stop with ``stop_line``."""

    reason: str | None = None
    reset: bool = False
    data_dir: Path = Path()

    @property
    def stop_line(self) -> str | None:
        if self.reason is None or self.reset:
            return None
        return f"npo-integration: {self.reason}; {fix(self.data_dir)}"


def fix(data_dir: Path) -> str:
    """What an operator runs, once sure the changelogs are the truth."""
    return (
        f"to rebuild the tables from this cluster's changelogs, stop every worker on {data_dir} "
        f"and run: {RESET_COMMAND.format(data_dir=data_dir)} ({DOCS})"
    )


async def check(
    data_dir: Path,
    *,
    cluster_id: str,
    broker: str,
    changelogs: dict[str, str],
    end_offsets: EndOffsets,
    reset_on_cluster_change: bool,
) -> Verdict:
    """Decide whether the stores in ``data_dir`` belong to the cluster the worker runs against.

    The automatic reset applies only where the stores belong to another cluster (a recorded
    other id, or no record at all and stores past the changelogs' ends): when the recorded
    cluster is this one, it is the changelog that lost data and an operator must decide."""
    stores = table_stores(data_dir)
    if not stores:
        return Verdict()
    owner = read_owner(data_dir)
    if owner is not None and owner.cluster_id != cluster_id:
        reason = other_cluster(data_dir, owner, cluster_id, broker)
        return Verdict(reason, reset_on_cluster_change, data_dir)
    ahead = await stores_ahead(stores, changelogs, end_offsets)
    if not ahead:
        return Verdict()
    reason = changelog_behind(data_dir, owner, cluster_id, ahead)
    return Verdict(reason, owner is None and reset_on_cluster_change, data_dir)
