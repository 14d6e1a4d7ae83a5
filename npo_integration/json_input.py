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
    as soon as the depth exceeds that (the caller only needs to know it is too deep).
    """
    deepest = 0
    todo: list[tuple[Any, int]] = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if stop_above is not None and deepest > stop_above:
                return deepest
        todo.extend((child, depth) for child in children)
    return deepest
