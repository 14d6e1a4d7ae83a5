"""Filling a stream's path and params: ``{cursor}`` and, for child streams, ``{parent.FIELD}``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from npo_integration.errors import ConfigError, SkippableError
from npo_integration.http.records import MISSING, format_cursor, lookup
from npo_integration.models.npo_config import StreamConfig

_PLACEHOLDER = re.compile(r"\{(cursor|parent\.[^{}]+)\}")


class Template:
    """Values for one walk over one stream."""

    def __init__(self, *, cursor: str | None, parent: Mapping[str, Any] | None) -> None:
        self.cursor = cursor
        self.parent = parent

    def _value(self, name: str) -> str:
        if name == "cursor":
            if self.cursor is None:
                raise ConfigError(
                    "the stream uses {cursor} but there is no cursor "
                    "and incremental.initial is unset"
                )
            return self.cursor
        if self.parent is None:
            raise ConfigError(
                f"the stream uses {{{name}}} but has no parent record (set parent_stream)"
            )
        value = lookup(self.parent, name.removeprefix("parent."))
        if value is MISSING or value is None or isinstance(value, (dict, list)):
            raise SkippableError(f"parent record has no usable value for {{{name}}}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return format_cursor(value)
        return str(value)

    def render(self, text: str, *, encode: Callable[[str], str] = lambda value: value) -> str:
        return _PLACEHOLDER.sub(lambda match: encode(self._value(match[1])), text)


def stream_request(
    stream: StreamConfig, *, cursor: str | None, parent: Mapping[str, Any] | None
) -> tuple[str, dict[str, str]]:
    """The first page's path (placeholders URL-quoted) and params (left for aiohttp to encode).

    The incremental ``param`` carries the committed cursor, or ``initial`` on
    the very first pull; ``{cursor}`` is filled the same way.
    """
    incremental = stream.incremental
    effective = cursor if cursor is not None else (incremental.initial if incremental else None)
    template = Template(cursor=effective, parent=parent)
    path = template.render(stream.path, encode=lambda value: quote(value, safe=""))
    params = {name: template.render(value) for name, value in stream.params.items()}
    if incremental is not None and incremental.param and effective is not None:
        params[incremental.param] = effective
    return path, params
