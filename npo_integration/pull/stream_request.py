"""Filling a stream's path and params: ``{cursor}`` and, for child streams, ``{parent.FIELD}``.

The templates are in the one template language (:mod:`npo_integration.expressions`)
and were checked when the config was validated; here they only get their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from npo_integration.errors import ConfigError, SkippableError
from npo_integration.expressions import MISSING, Escape, Path, parse_template
from npo_integration.models.npo_config import StreamConfig
from npo_integration.pull.records import format_cursor


class _StreamValues:
    """Values for one page of one walk over one stream: the cursor, the parent record and the
    page's numbers (``{page.offset}``: digits, so a JSON param needs no quoting of them)."""

    __slots__ = ("cursor", "page", "parent")

    def __init__(
        self,
        *,
        cursor: str | None,
        parent: Mapping[str, Any] | None,
        page: Mapping[str, int] | None = None,
    ) -> None:
        self.cursor = cursor
        self.parent = parent
        self.page = page or {}

    def value_of(self, placeholder: Path) -> str:
        if placeholder.steps[0] == "page":
            number = self.page.get(str(placeholder.steps[-1]))
            if number is None:  # the config validator allows only the style's own names
                raise ConfigError(f"the stream's pagination gives no {{{placeholder.text}}}")
            return str(number)
        if placeholder.text == "cursor":
            if self.cursor is None:
                raise ConfigError(
                    "the stream uses {cursor} but there is no cursor "
                    "and incremental.initial is unset"
                )
            return self.cursor
        if self.parent is None:
            raise ConfigError(
                f"the stream uses {{{placeholder.text}}} but has no parent record "
                "(set parent_stream)"
            )
        value = placeholder.get({"parent": self.parent})
        if value is MISSING or value is None or isinstance(value, (dict, list)):
            raise SkippableError(f"parent record has no usable value for {{{placeholder.text}}}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return format_cursor(value)
        return str(value)

    def render(self, text: str, *, escape: Escape | None = None) -> str:
        return parse_template(text).render(self.value_of, escape=escape)


def stream_request(
    stream: StreamConfig,
    *,
    cursor: str | None,
    parent: Mapping[str, Any] | None,
    page: Mapping[str, int] | None = None,
) -> tuple[str, dict[str, str]]:
    """A page's path (placeholders URL-quoted) and params (left for aiohttp to encode).

    The incremental ``param`` carries the committed cursor, or ``initial`` on
    the very first pull; ``{cursor}`` is filled the same way; ``{page.NAME}``
    from ``page`` (the paginator's :attr:`PageRequest.values`).
    """
    incremental = stream.incremental
    effective = cursor if cursor is not None else (incremental.initial if incremental else None)
    values = _StreamValues(cursor=effective, parent=parent, page=page)
    path = values.render(stream.path, escape=lambda value: quote(value, safe=""))
    params = {name: values.render(value) for name, value in stream.params.items()}
    if incremental is not None and incremental.param and effective is not None:
        params[incremental.param] = effective
    return path, params
