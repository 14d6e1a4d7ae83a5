"""The integration store's processed flags: per NPO record, its latest hash and whether it became an event.

Written while processing raw records (keyed by npo_id), so a record's flag sits
on its NPO's partition and the ingestion agent reads it locally.
"""

from __future__ import annotations

from npo_integration.models.codec import decode, encode
from npo_integration.tables.declare import bytes_table
from npo_integration.models.state import RecordState

_table = bytes_table("npo-record-state", help="record_key -> RecordState")


def get(record_key: str) -> RecordState | None:
    raw = _table.get(record_key.encode())
    return None if raw is None else decode(RecordState, raw)


def put(state: RecordState) -> None:
    _table[state.record_key.encode()] = encode(state)


def items() -> list[RecordState]:
    return [decode(RecordState, raw) for raw in _table.values()]
