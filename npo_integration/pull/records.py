"""Reading NPO bodies by path: the record list, a record's id, and the incremental cursor.

Paths are in the one path language (:mod:`npo_integration.expressions`), read
with :meth:`~npo_integration.expressions.Path.get`: a JSON null is a value here.
Callers parse a path once per walk, not per record.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from npo_integration.expressions import MISSING, Path
from npo_integration.http.errors import NpoResponseError


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


def max_cursor(records: Iterable[Any], cursor_field: Path) -> str | None:
    """The largest ``cursor_field`` among ``records``: numbers numerically, strings as given.

    ISO-8601 timestamps in one format compare correctly as strings; epoch
    numbers compare as numbers. Records without the field are ignored; a mix of
    numbers and strings is an error since no order between them is meaningful.
    """
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
