"""Paths into NPO records: ``a.b[0].c``, ``items[-1]``, ``["key.with.dots"].x``.

A path is parsed once (when the mapping is validated) into steps: ``str`` keys
and ``int`` list indexes. This module imports nothing from the models, so the
spec can use it while the models are still loading.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final

Step = str | int


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
"""The value at a path that is absent (key not there, index out of range, null on the way)."""


class PathSyntaxError(ValueError):
    """The path text is malformed."""


class PathError(LookupError):
    """The record's shape does not fit the path (a key looked up in a list...)."""


_STEP = re.compile(
    r"""(?P<key>[^.\[\]"'{}]+)
      | \[(?P<index>-?\d+)\]
      | \[(?P<q>["'])(?P<qkey>(?:(?!(?P=q)).)+)(?P=q)\]""",
    re.X,
)


@lru_cache(maxsize=4096)
def parse_path(text: str) -> tuple[Step, ...]:
    """Parse ``text`` into steps, or raise ``PathSyntaxError`` saying where it is wrong."""
    if not text or text != text.strip():
        raise PathSyntaxError(f"path {text!r} is empty or has surrounding spaces")
    steps: list[Step] = []
    pos = 0
    after_dot = True
    while pos < len(text):
        if text[pos] == "." and not after_dot:
            pos += 1
            after_dot = True
            if pos == len(text):
                break
        match = _STEP.match(text, pos)
        if match is None or (match.group("key") is not None and not after_dot):
            raise PathSyntaxError(f"path {text!r} is malformed at character {pos + 1}")
        if match.group("key") is not None:
            steps.append(match.group("key"))
        elif match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            steps.append(match.group("qkey"))
        pos = match.end()
        after_dot = False
    if after_dot:
        raise PathSyntaxError(f"path {text!r} ends with '.'")
    return tuple(steps)


def kind_of(value: Any) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def format_steps(steps: tuple[Step, ...]) -> str:
    out = ""
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif re.fullmatch(r"[^.\[\]\"'{}]+", step):
            out += f".{step}" if out else step
        else:
            out += f'["{step}"]'
    return out or "<record>"


def resolve(data: Any, steps: tuple[Step, ...]) -> Any:
    """The value at ``steps`` in ``data``; ``MISSING`` if absent; ``PathError`` on a misfit."""
    current = data
    for position, step in enumerate(steps):
        if current is None:
            return MISSING
        if isinstance(step, int):
            if not isinstance(current, list):
                raise PathError(
                    f"expected a list at {format_steps(steps[:position])!r} to take [{step}], "
                    f"found {kind_of(current)}"
                )
            if not -len(current) <= step < len(current):
                return MISSING
            current = current[step]
        else:
            if not isinstance(current, dict):
                where = format_steps(steps[:position])
                raise PathError(
                    f"expected an object at {where!r} to look up {step!r}, "
                    f"found {kind_of(current)}"
                )
            if step not in current:
                return MISSING
            current = current[step]
    return MISSING if current is None else current
