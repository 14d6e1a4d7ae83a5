"""Reading NPO bodies by path: the record list, a record's id, and the incremental cursor.

Paths are in the one path language (:mod:`npo_integration.expressions`), read
with :meth:`~npo_integration.expressions.Path.get`: a JSON null is a value here.
Callers parse a path once per walk, not per record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from npo_integration.expressions import MISSING, Path
from npo_integration.http.errors import NpoResponseError

log = logging.getLogger(__name__)

CURSOR_SKEW_SECONDS = 300.0
"""How far past this worker's clock a cursor may go: NPO clocks run a little ahead, a record
dated in 2099 is an NPO bug. A cursor taken from such a record would ask "changed since 2099"
forever and freeze the stream, so values later than now plus this are never taken as cursor."""

_MILLIS_FROM = 1e11
"""Epoch numbers above this are milliseconds (1e11 seconds is the year 5138)."""


def type_name(value: Any) -> str:
    """JSON type names for messages: ``got str`` reads better than ``got <class 'str'>``."""
    if value is MISSING:
        return "nothing (path not found)"
    if value is None:
        return "null"
    return type(value).__name__


def extract_records(body: Any, records_path: Path) -> list[Any]:
    """The record list at ``records_path``; anything else is an error, never a silent empty page.

    A wrong path that yielded ``[]`` would read as "the NPO has no records".
    """
    found = records_path.get(body)
    if not isinstance(found, list):
        shown = records_path.text or "(the body)"
        raise NpoResponseError(f"records_path {shown!r} is not a list: got {type_name(found)}")
    return found


def record_id(record: Any, record_id_path: Path) -> str | None:
    """The record's id as text, or ``None`` if it has none (the caller decides to skip it)."""
    value = record_id_path.get(record)
    if value is MISSING or value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def format_cursor(value: int | float | str) -> str:
    """Cursor text as an NPO expects it back: ``1700000000`` rather than ``1700000000.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _beyond(value: int | float | str, limit: float) -> bool:
    """Whether a cursor value (epoch seconds or milliseconds, or an ISO-8601 text) is later than
    ``limit`` (epoch seconds); texts that are no timestamp are opaque and never beyond."""
    if isinstance(value, (int, float)):
        return value > (limit * 1000 if value > _MILLIS_FROM else limit)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp() > limit


def max_cursor(
    records: Iterable[Any], cursor_field: Path, *, now: float | None = None
) -> str | None:
    """The largest ``cursor_field`` among ``records``: numbers numerically, strings as given.

    ISO-8601 timestamps in one format compare correctly as strings; epoch
    numbers compare as numbers. Records without the field are ignored; a mix of
    numbers and strings is an error since no order between them is meaningful.
    Values later than ``now`` (epoch seconds, default the clock) plus
    :data:`CURSOR_SKEW_SECONDS` are not taken (the record itself is still published), so the
    cursor is capped and a future-dated record cannot freeze the stream.
    """
    limit = (time.time() if now is None else now) + CURSOR_SKEW_SECONDS
    numbers: list[int | float] = []
    strings: list[str] = []
    for record in records:
        value = cursor_field.get(record)
        if isinstance(value, bool) or value is MISSING or value is None:
            continue
        if isinstance(value, (int, float)):
            numbers.append(value)
        elif isinstance(value, str):
            if value:
                strings.append(value)
        else:
            raise NpoResponseError(
                f"cursor_field {cursor_field.text!r} holds {type_name(value)}, "
                "not a number or string"
            )
    if numbers and strings:
        raise NpoResponseError(f"cursor_field {cursor_field.text!r} mixes numbers and strings")
    kept_numbers = [n for n in numbers if not _beyond(n, limit)]
    kept_strings = [t for t in strings if not _beyond(t, limit)]
    future = len(numbers) + len(strings) - len(kept_numbers) - len(kept_strings)
    if future:
        log.warning(
            "%d record(s) with %s later than now + %.0f s: not taken as the cursor",
            future,
            cursor_field.text,
            CURSOR_SKEW_SECONDS,
        )
    numbers, strings = kept_numbers, kept_strings
    if numbers:
        return format_cursor(max(numbers))
    return max(strings) if strings else None


def newer_cursor(current: str | None, candidate: str | None) -> str | None:
    """The later of two cursor texts: numerically when both are numbers, else as strings."""
    if current is None or candidate is None:
        return candidate if current is None else current
    try:
        return candidate if float(candidate) > float(current) else current
    except ValueError:
        return max(current, candidate)
