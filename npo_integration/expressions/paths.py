"""The path language: ``a.b[0].c``, ``items[-1]``, ``["key.with.dots"].x``.

A path is parsed once into a :class:`Path` (cached by text), whose ``steps`` are
``str`` keys and ``int`` list indexes, so a lookup is a plain loop with no
parsing. Two readings, chosen by the caller by name, because responses and
mappings treat a JSON null differently:

* :meth:`Path.get` reads an NPO response: null is a value (``None``); a key
  that is absent, an index out of range or a shape that does not fit is
  :data:`MISSING`.
* :meth:`Path.get_strict` reads a record for a mapping: null counts as absent
  (:data:`MISSING`), and a shape that does not fit (a key looked up in a list)
  is a :class:`PathError` saying where.

Nothing here evaluates code; this module imports nothing of the project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from npo_integration.expressions.missing import MISSING

Step = str | int

_PLAIN_KEY = r"[^.\[\]\"'{}]+"
_STEP = re.compile(
    rf"""(?P<key>{_PLAIN_KEY})
      | \[(?P<index>-?\d+)\]
      | \[(?P<q>["'])(?P<qkey>(?:(?!(?P=q)).)+)(?P=q)\]""",
    re.VERBOSE,
)
_PLAIN = re.compile(_PLAIN_KEY)


class PathSyntaxError(ValueError):
    """The path text is malformed."""


class PathError(LookupError):
    """The data's shape does not fit the path (a key looked up in a list...)."""


@dataclass(frozen=True, slots=True)
class Path:
    """A parsed path: its ``text`` as written (for messages) and its ``steps``.

    The empty path (no steps) is the data itself; only callers that allow it
    (``parse_path(text, empty_is_root=True)``) get one.
    """

    text: str
    steps: tuple[Step, ...]

    def get(self, data: Any) -> Any:
        """The value at this path; ``None`` for a JSON null; :data:`MISSING` if absent or misfit."""
        current = data
        for step in self.steps:
            if isinstance(step, int):
                if not isinstance(current, list) or not -len(current) <= step < len(current):
                    return MISSING
                current = current[step]
            elif isinstance(current, dict):
                current = current.get(step, MISSING)
                if current is MISSING:
                    return MISSING
            else:
                return MISSING
        return current

    def get_strict(self, data: Any) -> Any:
        """The value at this path; :data:`MISSING` if absent or null;
        :class:`PathError` on a misfit."""
        steps = self.steps
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


@lru_cache(maxsize=4096)
def parse_path(text: str, *, empty_is_root: bool = False) -> Path:
    """Parse ``text`` once, or raise :class:`PathSyntaxError` saying where it is wrong.

    ``empty_is_root`` lets ``""`` mean the data itself (a ``records_path`` whose
    body is the list); everywhere else an empty path is a mistake.
    """
    if empty_is_root and text == "":
        return Path("", ())
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
    return Path(text, tuple(steps))


def format_steps(steps: tuple[Step, ...]) -> str:
    """Steps written back as a path (keys that need it quoted); ``<record>`` for none."""
    out = ""
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _PLAIN.fullmatch(step):
            out += f".{step}" if out else step
        else:
            out += f'["{step}"]'
    return out or "<record>"


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
