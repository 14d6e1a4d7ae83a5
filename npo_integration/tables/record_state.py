"""The integration store: per NPO record its processed flag (``states``), and what is still unprocessed.

Both tables are written while processing raw records (keyed by npo_id), so a
record's entries sit on its NPO's partition and the ingestion agent reads them
locally. ``states`` is an ``AckedTable``: the delivery intent written before a
publish is awaited until the changelog has it (``delivery/once.py``).

``unprocessed`` holds, per record that could not become an event, the original
raw record (the re-drive needs it: the raw-records topic's retention is not a
store), the reason and the next attempt. An entry is deleted once its record is
processed, so the re-drive timer reads only what is pending.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from npo_integration.app import app
from npo_integration.delivery.acked_table import acked_bytes_table
from npo_integration.models.codec import DecodeError, decode, encode
from npo_integration.models.state import RecordState, UnprocessedRecord
from npo_integration.tables.declare import bytes_table

log = logging.getLogger(__name__)

_states = acked_bytes_table(app, "npo-record-state", help="record_key -> RecordState")
_unprocessed = bytes_table(
    "npo-unprocessed-records", help="record_key -> UnprocessedRecord (the original, reason, next attempt)"
)
unprocessed_table = _unprocessed  # for table_route: keys are partitioned by npo_id


class RecordStates:
    """Processed flags. Write only while processing an event of the record's NPO partition."""

    def get(self, record_key: str) -> RecordState | None:
        raw = _states.get(record_key.encode())
        return None if raw is None else decode(RecordState, raw)

    def put(self, state: RecordState) -> None:
        _states[state.record_key.encode()] = encode(state)

    async def put_durably(self, state: RecordState) -> None:
        """Write and return once the changelog record is acknowledged by the broker."""
        await _states.put_acked(state.record_key.encode(), encode(state))

    def items(self) -> Iterator[RecordState]:
        """Every state on the partitions this worker actively owns."""
        for raw in _states.values():
            yield decode(RecordState, raw)


class UnprocessedRecords:
    """Records waiting for a re-drive. Write only while processing an event of the record's NPO partition."""

    def get(self, record_key: str) -> UnprocessedRecord | None:
        raw = _unprocessed.get(record_key.encode())
        return None if raw is None else decode(UnprocessedRecord, raw)

    def put(self, entry: UnprocessedRecord) -> None:
        _unprocessed[entry.raw.record_key.encode()] = encode(entry)

    def delete(self, record_key: str) -> None:
        _unprocessed.pop(record_key.encode(), None)

    def items(self) -> Iterator[UnprocessedRecord]:
        """Every entry on the partitions this worker actively owns (an unreadable one is logged and skipped)."""
        for key, raw in _unprocessed.items():
            try:
                yield decode(UnprocessedRecord, raw)
            except DecodeError as exc:
                log.warning("unprocessed record %r unreadable, skipped: %s", key, exc)

    def of_npo(self, npo_id: str) -> list[UnprocessedRecord]:
        return sorted((e for e in self.items() if e.raw.npo_id == npo_id), key=lambda e: e.raw.record_key)


states = RecordStates()
unprocessed = UnprocessedRecords()
