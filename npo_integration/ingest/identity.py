"""Deterministic event ids.

An ingested record's event is its n-th change: the id derives from the record key,
that change number, the content and the event type. Content that comes back
(A -> B -> A) is a new change with a new id, so a consumer that deduplicates by id
drops no real change; the same change published again after a crash has the same
number (kept in the record's state and its delivery intent), hence the same id.
"""

from __future__ import annotations

import hashlib
import uuid

_NAMESPACE = uuid.UUID("6f1c1a52-5d0e-4f0e-9a37-0e4e7f0e2a11")
_CHANGES = uuid.UUID("6c6fd213-ed13-40ed-b2b3-dab2c4a51df8")
"""Ids of numbered changes: apart from ``event_id_for``'s, which ingestion used before."""


def event_id_for(record_key: str, content_hash: str, event_type: str) -> str:
    """An id derived from a key and a content: the same pair, the same id."""
    return name_uuid(_NAMESPACE_BYTES, f"{event_type}|{record_key}|{content_hash}")


def change_event_id(record_key: str, change: int, content_hash: str, event_type: str) -> str:
    """The id of the ``change``-th change of a record that became an event."""
    return name_uuid(_CHANGES_BYTES, f"{event_type}|{record_key}|{change}|{content_hash}")


_NAMESPACE_BYTES = _NAMESPACE.bytes
_CHANGES_BYTES = _CHANGES.bytes


def name_uuid(namespace: bytes, name: str) -> str:
    """``str(uuid.uuid5(UUID(bytes=namespace), name))``, the same text (ids already published
    must not change), made without the ``UUID`` object: every changed record's event needs
    one, and building and printing that object cost more than the hash."""
    digest = bytearray(hashlib.sha1(namespace + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
