"""JSON from outside (an NPO's body, an admin request, a topic message): parsed with errors that
say what was wrong, never an exception that takes an agent or a view down.

``json.loads`` raises ``RecursionError`` (not ``ValueError``) on a document nested about a
thousand levels deep, and ``UnicodeDecodeError`` on bytes that are not UTF-8; both become
:class:`JsonInputError` here. :func:`nesting_depth` measures a parsed value without recursion, so
a deep value can be refused before recursive code (``json.dumps``, pydantic) meets it.
"""

from __future__ import annotations

import json
from typing import Any

from npo_integration.errors import SkippableError


class JsonInputError(SkippableError, ValueError):
    """Input that is not a JSON document we can hold: the message says why."""


class JsonTooDeepError(JsonInputError):
    """Valid JSON perhaps, but nested deeper than the parser goes (about 1000 levels)."""


def loads(data: bytes | str) -> Any:
    """``data`` as JSON, or :class:`JsonInputError` (not UTF-8, not JSON, nested too deeply)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"not UTF-8: invalid byte at position {exc.start}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonInputError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise JsonTooDeepError("JSON nested too deeply to parse") from None


def nesting_depth(value: Any, *, stop_above: int | None = None) -> int:
    """How deeply ``value``'s lists and objects nest (a scalar is 0, ``[]`` is 1).

    Iterative, so any depth is measured without ``RecursionError``; with ``stop_above`` it returns
    as soon as the depth exceeds that (the caller only needs to know it is too deep). It walks one
    level at a time, with no per-child bookkeeping: it runs on every fetched record.
    """
    deepest = 0
    level: list[Any] = [value]
    while True:
        below: list[Any] = []
        found = False
        for item in level:
            if isinstance(item, dict):
                below.extend(item.values())
                found = True
            elif isinstance(item, list | tuple):
                below.extend(item)
                found = True
        if not found:
            return deepest
        deepest += 1
        if stop_above is not None and deepest > stop_above:
            return deepest
        level = below
