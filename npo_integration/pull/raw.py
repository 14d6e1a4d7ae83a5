"""Wrapping fetched NPO records, unchanged, as raw pages: stable keys, content
hashes, bounded message sizes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from npo_integration.models.internal import RawItem, RawPage, RawRecord
from npo_integration.models.npo_config import StreamName

MAX_PAGE_BYTES = 512 * 1024
"""A page's records go out in messages of at most about this size
(Kafka's default limit is 1 MB)."""


def canonical(record: Any) -> bytes:
    """The record as canonical JSON: equal content, equal bytes (what the content hash is of)."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def content_hash(record: Any) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def record_key(npo_id: str, stream: StreamName, record_id: str) -> str:
    return f"{npo_id}/{stream}/{record_id}"


def raw_item(npo_id: str, stream: StreamName, record_id: str, record: Any) -> tuple[RawItem, int]:
    """The record as a page item, and its approximate size in bytes."""
    text = canonical(record)
    item = RawItem(
        record_key=record_key(npo_id, stream, record_id),
        content_hash=hashlib.sha256(text).hexdigest(),
        payload=record,
    )
    return item, len(text) + len(item.record_key) + 96


def raw_pages(
    npo_id: str,
    stream: StreamName,
    items: Sequence[tuple[RawItem, int]],
    trace_id: str,
    *,
    max_bytes: int = MAX_PAGE_BYTES,
) -> list[RawPage]:
    """The items as pages in order, each at most ``max_bytes`` (a larger single
    record is a page of its own)."""
    pages: list[RawPage] = []
    chunk: list[RawItem] = []
    size = 0
    for item, item_size in items:
        if chunk and size + item_size > max_bytes:
            pages.append(RawPage(npo_id=npo_id, stream=stream, trace_id=trace_id, records=chunk))
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        pages.append(RawPage(npo_id=npo_id, stream=stream, trace_id=trace_id, records=chunk))
    return pages


def raw_record(
    npo_id: str, stream: StreamName, record_id: str, record: Any, trace_id: str
) -> RawRecord:
    """One record as a ``RawRecord`` (the unit the ingestion path works on)."""
    item, _ = raw_item(npo_id, stream, record_id, record)
    return RawRecord(
        npo_id=npo_id,
        stream=stream,
        record_key=item.record_key,
        content_hash=item.content_hash,
        trace_id=trace_id,
        payload=record,
    )
