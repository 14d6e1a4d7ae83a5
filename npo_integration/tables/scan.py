"""Scanning a table for the values that mention something, without parsing the others.

A table of JSON values is scanned by a byte test first (``needle`` is how the wanted value is
written, e.g. ``"candidate_id":"c-1"``); only the values holding it are decoded. A value that no
longer decodes is logged and skipped: a scan must not stop on one bad entry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TypeVar

from pydantic import BaseModel

from npo_integration.models.codec import DecodeError, decode

M = TypeVar("M", bound=BaseModel)

log = logging.getLogger(__name__)


def matching(
    items: Iterable[tuple[bytes, bytes]], needle: bytes, model: type[M]
) -> Iterator[tuple[bytes, M]]:
    """``(key, decoded value)`` of the items whose value holds ``needle``; callers still check
    the decoded value (the needle may stand in another field)."""
    for key, raw in items:
        if needle not in raw:  # cheap pre-filter before parsing
            continue
        try:
            yield key, decode(model, raw)
        except DecodeError as exc:
            log.warning("unreadable %s %r skipped: %s", model.__name__, key, exc)
