"""Reading NPO bodies by path: the record list, a record's id, and the incremental cursor.

Paths are dotted with optional list indexes: ``data``, ``a.b``, ``a[0].b``,
``items[-1]``; the empty path is the body itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from npo_integration.http.errors import NpoResponseError

MISSING: Final = object()
"""Returned by :func:`lookup` when the path does not exist (distinct from a JSON null)."""

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


def _segments(path: str) -> list[str | int]:
    segments: list[str | int] = []
    for part in path.split("."):
        if not part:
            continue
        position = 0
        for match in _SEGMENT.finditer(part):
            if match.start() != position:
                raise ValueError(f"malformed path {path!r}")
            segments.append(match[1] if match[1] is not None else int(match[2]))
            position = match.end()
        if position != len(part):
            raise ValueError(f"malformed path {path!r}")
    return segments


def lookup(data: Any, path: str) -> Any:
    """The value at ``path`` in ``data``, or :data:`MISSING`."""
    current = data
    for segment in _segments(path):
        if isinstance(segment, int):
            if not isinstance(current, list) or not -len(current) <= segment < len(current):
                return MISSING
            current = current[segment]
        elif isinstance(current, dict) and segment in current:
            current = current[segment]
        else:
            return MISSING
    return current


def type_name(value: Any) -> str:
    """JSON type names for messages: ``got str`` reads better than ``got <class 'str'>``."""
    if value is MISSING:
        return "nothing (path not found)"
    if value is None:
        return "null"
    return type(value).__name__


def extract_records(body: Any, records_path: str) -> list[Any]:
    """The record list at ``records_path``; anything else is an error, never a silent empty page.

    A wrong path that yielded ``[]`` would read as "the NPO has no records".
    """
    found = lookup(body, records_path)
    if not isinstance(found, list):
        shown = records_path or "(the body)"
        raise NpoResponseError(f"records_path {shown!r} is not a list: got {type_name(found)}")
    return found


def record_id(record: Any, record_id_path: str) -> str | None:
    """The record's id as text, or ``None`` if it has none (the caller decides to skip it)."""
    value = lookup(record, record_id_path)
    if value is MISSING or value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def format_cursor(value: int | float | str) -> str:
    """Cursor text as an NPO expects it back: ``1700000000`` rather than ``1700000000.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def max_cursor(records: Iterable[Any], cursor_field: str) -> str | None:
    """The largest ``cursor_field`` among ``records``: numbers numerically, strings as given.

    ISO-8601 timestamps in one format compare correctly as strings; epoch
    numbers compare as numbers. Records without the field are ignored; a mix of
    numbers and strings is an error since no order between them is meaningful.
    """
    numbers: list[int | float] = []
    strings: list[str] = []
    for record in records:
        value = lookup(record, cursor_field)
        if isinstance(value, bool) or value is MISSING or value is None:
            continue
        if isinstance(value, (int, float)):
            numbers.append(value)
        elif isinstance(value, str):
            if value:
                strings.append(value)
        else:
            raise NpoResponseError(
                f"cursor_field {cursor_field!r} holds {type_name(value)}, not a number or string"
            )
    if numbers and strings:
        raise NpoResponseError(f"cursor_field {cursor_field!r} mixes numbers and strings")
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
