"""The integration store: per NPO record its processed flag (``states``),
and what is still unprocessed.

The tables are written while processing raw records (keyed by npo_id), so a
record's entries sit on its NPO's partition and the ingestion agent reads them
locally. ``pending`` holds, per raw-records partition, the intents of the batch
being published, awaited until the changelog has them (``delivery/once.py``);
``states`` can be awaited the same way before a later batch replaces them.

``unprocessed`` holds, per record that could not become an event, the original
raw record (the re-drive needs it: the raw-records topic's retention is not a
store), the reason and the next attempt. An entry is deleted once its record is
processed, so the re-drive timer reads only what is pending.

``payloads`` holds the last processed content of each offering record (not of progress records:
those quote candidates), which ``npos diff`` replays a mapping change over.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Iterator, Sequence

from npo_integration.app import app
from npo_integration.delivery.acked_table import acked_bytes_table
from npo_integration.models.codec import DecodeError, decode, encode
from npo_integration.models.internal import RawRecord
from npo_integration.models.state import (
    KeptPayload,
    PendingBatch,
    RecordState,
    RemovalHold,
    UnprocessedRecord,
    kept_bytes,
    live_in_bytes,
)
from npo_integration.tables import ordered
from npo_integration.tables.declare import PERSONAL_CHANGELOG, ROCKSDB_OPTIONS, bytes_table
from npo_integration.worker_resources import batch_producer

log = logging.getLogger(__name__)

_states = acked_bytes_table(
    app,
    "npo-record-state",
    help="record_key -> RecordState",
    producer=batch_producer,
    options=ROCKSDB_OPTIONS,
    extra_topic_configs=PERSONAL_CHANGELOG,  # last_error may quote an NPO user id
)
_unprocessed = bytes_table(
    "npo-unprocessed-records",
    help="record_key -> UnprocessedRecord (the original, reason, next attempt)",
    personal=True,
)
_pending = acked_bytes_table(
    app,
    "npo-delivery-intents",
    help="raw-records partition -> PendingBatch (intents of the batch being published)",
    producer=batch_producer,
    options=ROCKSDB_OPTIONS,
)
_holds = bytes_table(
    "npo-removal-holds",
    help="npo_id/stream -> RemovalHold (a mass removal waiting for an operator)",
)
_payloads = acked_bytes_table(
    app,
    "npo-record-payloads",
    help="record_key -> KeptPayload (an offering record's last processed content)",
    producer=batch_producer,  # written beside the states, its changelog batched with theirs
    options=ROCKSDB_OPTIONS,
)
unprocessed_table = _unprocessed  # for table_route: keys are partitioned by npo_id
holds_table = _holds  # for table_route: keys start with npo_id, partitioned by it


class RecordStates:
    """Processed flags. Write only while processing an event of the record's NPO partition."""

    def get(self, record_key: str) -> RecordState | None:
        raw = _states.get_raw(record_key.encode())
        return None if raw is None else decode(RecordState, raw)

    def put(self, state: RecordState) -> None:
        _states.put_raw(state.record_key.encode(), encode(state))

    def put_all_encoded(self, states: Sequence[tuple[str, bytes]]) -> None:
        """States already encoded, by record key, as one store write (records of the current
        partition)."""
        _states.put_all_raw([(key.encode(), value) for key, value in states])

    def flush(self) -> None:
        """Hand the queued changelog records to the producer (after a batch of writes)."""
        _states.flush()

    async def wait_acked(self) -> None:
        """Return once every write so far is acknowledged by the broker."""
        await _states.wait_acked()

    def items(self) -> Iterator[RecordState]:
        """Every state on the partitions this worker actively owns."""
        for raw in _states.values():
            yield decode(RecordState, raw)

    def live(self, npo_id: str, stream: str, seen: Container[str]) -> tuple[int, list[RecordState]]:
        """How many of the stream's records are published on the platform and not removed, and
        those of them not in ``seen`` (decoded): one ordered scan of the keys ``npo_id/stream/``
        (``tables/ordered.py``). A seen record is only counted, from its bytes where they say
        it plainly (a steady sweep sees them all: nothing to decode)."""
        prefix = f"{npo_id}/{stream}/".encode()
        count = 0
        absent: list[RecordState] = []
        # Called while ingesting the NPO's raw-records partition: its states are written there.
        for key, raw in ordered.items_after(_states, prefix, partition=ordered.event_partition()):
            if not key.startswith(prefix):
                break
            if key.decode() in seen:
                live = live_in_bytes(raw)
                count += decode(RecordState, raw).live if live is None else live
                continue
            state = decode(RecordState, raw)
            if state.live:
                count += 1
                absent.append(state)
        return count, absent


class UnprocessedRecords:
    """Records waiting for a re-drive. Write only while processing an event of
    the record's NPO partition."""

    def get(self, record_key: str) -> UnprocessedRecord | None:
        raw = _unprocessed.get(record_key.encode())
        return None if raw is None else decode(UnprocessedRecord, raw)

    def put(self, entry: UnprocessedRecord) -> None:
        _unprocessed[entry.raw.record_key.encode()] = encode(entry)

    def delete(self, record_key: str) -> None:
        _unprocessed.pop(record_key.encode(), None)

    def items(self) -> Iterator[UnprocessedRecord]:
        """Every entry on the partitions this worker actively owns (an unreadable
        one is logged and skipped)."""
        for key, raw in _unprocessed.items():
            try:
                yield decode(UnprocessedRecord, raw)
            except DecodeError as exc:
                log.warning("unprocessed record %r unreadable, skipped: %s", key, exc)

    def of_npo(self, npo_id: str) -> list[UnprocessedRecord]:
        return sorted(
            (e for e in self.items() if e.raw.npo_id == npo_id), key=lambda e: e.raw.record_key
        )


class RecordPayloads:
    """The last processed content of each offering record, for replaying a mapping change.
    Write only while processing an event of the record's NPO partition; written only when a
    record's content changed (the hot path of unchanged records does not touch it), straight to
    the store and the batched changelog: a Faust table write per changed record cost ingestion a
    fifth of its throughput. Losing the last writes in a crash costs nothing but a replay that
    shows the record's previous content until it next changes."""

    def put_all(self, records: Sequence[RawRecord]) -> None:
        """Keep each record's content, as one store write (records of the current partition)."""
        _payloads.put_all_raw(
            [
                (raw.record_key.encode(), kept_bytes(raw.content_hash, raw.fetched_at, raw.payload))
                for raw in records
            ]
        )

    def delete(self, record_key: str) -> None:
        _payloads.delete_raw(record_key.encode())

    def flush(self) -> None:
        """Hand the queued changelog records to the producer (after a batch of writes)."""
        _payloads.flush()

    def of_stream(self, npo_id: str, stream: str) -> Iterator[tuple[str, KeptPayload]]:
        """``(record_key, payload)`` of the stream's records on this worker's partitions, in key
        order: one ordered scan of the keys ``npo_id/stream/``."""
        prefix = f"{npo_id}/{stream}/".encode()
        for key, raw in ordered.items_after(_payloads, prefix):
            if not key.startswith(prefix):
                break
            yield key.decode(), decode(KeptPayload, raw)


class RemovalHolds:
    """Held mass removals, per NPO stream. Write only while processing an event of the NPO's
    raw-records partition."""

    def get(self, npo_id: str, stream: str) -> RemovalHold | None:
        raw = _holds.get(f"{npo_id}/{stream}".encode())
        return None if raw is None else decode(RemovalHold, raw)

    def put(self, hold: RemovalHold) -> None:
        _holds[f"{hold.npo_id}/{hold.stream}".encode()] = encode(hold)

    def delete(self, npo_id: str, stream: str) -> None:
        _holds.pop(f"{npo_id}/{stream}".encode(), None)


class PendingBatches:
    """The intents of each partition's last published batch. Use while
    processing that partition's records.

    Remembers what this process wrote last per partition, so asking whether that
    batch is unfinished costs a comparison of bytes, not a decoding.
    """

    def __init__(self) -> None:
        self._written: dict[int, tuple[str, bytes]] = {}

    def unfinished(self, partition: int, finished_batch_id: str | None) -> PendingBatch | None:
        raw = _pending.get(str(partition).encode())
        if raw is None:
            return None
        written = self._written.get(partition)
        if written is not None and written[0] == finished_batch_id and written[1] == raw:
            return None
        try:
            batch = decode(PendingBatch, raw)
        except (
            DecodeError
        ) as exc:  # written by this service only: worth an error, not a stopped partition
            log.error("pending batch of partition %d unreadable, ignored: %s", partition, exc)
            return None
        return None if batch.batch_id == finished_batch_id else batch

    def put_encoded(self, partition: int, batch_id: str, value: bytes) -> None:
        """Write an encoded ``PendingBatch`` (in the partition's context); ``wait_acked`` returns
        once the broker has it."""
        self._written[partition] = (batch_id, value)
        _pending[str(partition).encode()] = value

    async def wait_acked(self) -> None:
        await _pending.wait_acked()


def purge_npo(npo_id: str, limit: int) -> dict[str, int]:
    """Delete up to ``limit`` entries of the NPO's record states, kept payloads, unprocessed
    records and removal holds (each a changelog tombstone); per table, how many. Call while
    processing an event of the NPO's raw-records partition, with no batch of that NPO in flight."""
    prefix = f"{npo_id}/".encode()
    deleted: dict[str, int] = {}
    for name, table in (
        ("npo-record-state", _states),
        ("npo-record-payloads", _payloads),
        ("npo-unprocessed-records", _unprocessed),
        ("npo-removal-holds", _holds),
    ):
        keys = ordered.keys_with_prefix(table, prefix, limit - sum(deleted.values()))
        for key in keys:
            table.pop(key, None)
        if keys:
            deleted[name] = len(keys)
    _states.flush()
    _payloads.flush()
    return deleted


def holds_npo_state(npo_id: str) -> bool:
    """Whether any record state, unprocessed record or hold of the NPO is on this worker."""
    prefix = f"{npo_id}/".encode()
    return any(
        ordered.keys_with_prefix(t, prefix, 1) for t in (_states, _payloads, _unprocessed, _holds)
    )


states = RecordStates()
payloads = RecordPayloads()
holds = RemovalHolds()
unprocessed = UnprocessedRecords()
pending = PendingBatches()
