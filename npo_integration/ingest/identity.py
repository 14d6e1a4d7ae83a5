"""Deterministic event ids, so a record re-processed after a crash yields the same event id.

Consumers (and our own tests) can then recognise a redelivered event as the same event.
"""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("6f1c1a52-5d0e-4f0e-9a37-0e4e7f0e2a11")


def event_id_for(record_key: str, content_hash: str, event_type: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{event_type}|{record_key}|{content_hash}"))
