"""Wrapping fetched NPO records, unchanged, as raw pages: stable keys, content
hashes, bounded message sizes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from npo_integration.errors import SkippableError
from npo_integration.json_input import nesting_depth
from npo_integration.models.codec import validated
from npo_integration.models.internal import RawItem, RawPage, RawRecord
from npo_integration.models.npo_config import StreamName
from npo_integration.settings import MAX_PAGE_BYTES


class RecordRefusedError(SkippableError):
    """A fetched record larger or more deeply nested than a record may be: it is dead-lettered
    with this reason and the pull goes on with the next one."""


@dataclass(frozen=True, slots=True)
class RecordLimits:
    """What one fetched record may be (``NPO_MAX_RECORD_BYTES``, ``NPO_MAX_RECORD_DEPTH``).

    A record over ``MAX_PAGE_BYTES`` travels in a message of its own, which must stay under the
    producer's 1 MiB request limit: the setting allows at most 900,000 bytes."""

    max_bytes: int = 768 * 1024
    max_depth: int = 64

    def check_depth(self, record: Any) -> None:
        """Before anything recursive (hashing, encoding, plug-ins) meets the record."""
        if nesting_depth(record, stop_above=self.max_depth) > self.max_depth:
            raise RecordRefusedError(
                f"record nested more than {self.max_depth} levels deep (NPO_MAX_RECORD_DEPTH)"
            )

    def check_size(self, canonical_bytes: int) -> None:
        if canonical_bytes > self.max_bytes:
            raise RecordRefusedError(
                f"record of {canonical_bytes} bytes, more than {self.max_bytes} "
                "(NPO_MAX_RECORD_BYTES)"
            )


def canonical(record: Any) -> bytes:
    """The record as canonical JSON: equal content, equal bytes (what the content hash is of)."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def content_hash(record: Any) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def record_key(npo_id: str, stream: StreamName, record_id: str) -> str:
    return f"{npo_id}/{stream}/{record_id}"


def raw_item(
    npo_id: str,
    stream: StreamName,
    record_id: str,
    record: Any,
    limits: RecordLimits | None = None,
) -> tuple[RawItem, int]:
    """The record as a page item, and its approximate size in bytes; ``RecordRefusedError`` when
    it is over ``limits`` (checked by the caller for depth, here for size)."""
    text = canonical(record)
    if limits is not None:
        limits.check_size(len(text))
    item = validated(  # the record as parsed: ``payload`` is ``Any``, kept as is (not copied)
        RawItem,
        {
            "record_key": record_key(npo_id, stream, record_id),
            "content_hash": hashlib.sha256(text).hexdigest(),
            "payload": record,
        },
    )
    return item, len(text) + len(item.record_key) + 96


def raw_pages(
    npo_id: str,
    stream: StreamName,
    items: Sequence[tuple[RawItem, int]],
    trace_id: str,
    *,
    max_bytes: int = MAX_PAGE_BYTES,
    re_emit: bool = False,
    sweep_records: int | None = None,
    in_sweep: bool | None = None,
) -> list[RawPage]:
    """The items as pages in order, each at most ``max_bytes`` (a larger single
    record is a page of its own); ``re_emit``: fetched by a re-emit (``RawPage.re_emit``);
    ``sweep_records``: the last page ends a complete sweep (``RawPage.sweep_records``);
    ``in_sweep``: the pages are of a full sweep (``RawPage.in_sweep``)."""
    pages: list[RawPage] = []
    chunk: list[RawItem] = []
    size = 0

    def page(sweep: int | None = None) -> RawPage:
        return RawPage(
            npo_id=npo_id,
            stream=stream,
            trace_id=trace_id,
            records=chunk,
            re_emit=re_emit,
            sweep_records=sweep,
            in_sweep=in_sweep,
        )

    for item, item_size in items:
        if chunk and size + item_size > max_bytes:
            pages.append(page())
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        pages.append(page(sweep_records))  # the last page
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
