"""Wrapping a fetched NPO record, unchanged, as a raw record with a stable key and a content hash."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from npo_integration.models.internal import RawRecord
from npo_integration.models.npo_config import StreamName


def content_hash(record: Any) -> str:
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_key(npo_id: str, stream: StreamName, record_id: str) -> str:
    return f"{npo_id}/{stream}/{record_id}"


def raw_record(npo_id: str, stream: StreamName, record_id: str, record: Any, trace_id: str) -> RawRecord:
    return RawRecord(
        npo_id=npo_id,
        stream=stream,
        record_key=record_key(npo_id, stream, record_id),
        content_hash=content_hash(record),
        trace_id=trace_id,
        payload=record,
    )
