"""Value conversions used by field rules: HTML to text, dates, types, scaling.

Each function takes one value and returns the converted value or raises
``CoercionError`` with a reason that the mapper prefixes with the field and path.
"""

from __future__ import annotations

import html
import math
import re
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Any

from npo_integration.expressions import kind_of

DATE_FORMATS = ("iso8601", "epoch_seconds", "epoch_millis")
_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
_SKIP_TAGS = frozenset({"script", "style", "template"})


class CoercionError(ValueError):
    """A value cannot be converted as the rule asks."""


def text_key(value: Any) -> str:
    """The text form compared with ``map`` keys and filter operands (``1`` ~ ``"1"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- HTML ---------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.chunks.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.chunks.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.chunks.append(data)


_PLAIN_TAG = re.compile(
    r"</?([a-zA-Z][a-zA-Z0-9]*)"
    r"""(?:[ \t\n\r\f]+[^ \t\n\r\f"'<>/=]+"""
    r"""(?:[ \t\n\r\f]*=[ \t\n\r\f]*(?:"[^"<>]*"|'[^'<>]*'|[^ \t\n\r\f"'<>=`]+))?)*"""
    r"[ \t\n\r\f]*/?>"
)
"""A start, end or self-closing tag with plain attributes (no ``<`` or ``>`` in their values)."""


def strip_html(value: Any) -> str:
    """Text of an HTML fragment: tags removed, entities unescaped, whitespace collapsed."""
    if not isinstance(value, str):
        raise CoercionError(f"strip_html needs a string, found {kind_of(value)}")
    text = _plain_fragment_text(value)
    if text is None:
        text = _parsed_text(value)
    return " ".join(text.split())


def _plain_fragment_text(value: str) -> str | None:
    """The text of a fragment made only of plain tags and text (what most NPO descriptions
    are), without the parser: it was a tenth of ingesting a record (bench/ingest.py). ``None``
    when the fragment has anything else (a comment, a stray ``<``, script or style), for the
    parser, whose answer this one equals (a hypothesis test compares them)."""
    chunks: list[str] = []
    at = 0
    for tag in _PLAIN_TAG.finditer(value):
        text = value[at : tag.start()]
        if "<" in text:
            return None
        name = tag[1].lower()
        if name in _SKIP_TAGS or name in HTMLParser.CDATA_CONTENT_ELEMENTS:
            return None
        chunks.append(html.unescape(text) if "&" in text else text)
        if name in _BLOCK_TAGS:
            chunks.append(" ")
        at = tag.end()
    tail = value[at:]
    if "<" in tail:
        return None
    chunks.append(html.unescape(tail) if "&" in tail else tail)
    return "".join(chunks)


def _parsed_text(value: str) -> str:
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    return "".join(parser.chunks)


# --- types --------------------------------------------------------------------


def to_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    number = to_float(value) if isinstance(value, str | float) else None
    if number is None:
        raise CoercionError(f"expected an integer, found {kind_of(value)} {value!r}")
    if not number.is_integer():
        raise CoercionError(f"expected an integer, found {value!r}")
    return int(number)


def to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CoercionError(f"expected a number, found {kind_of(value)} {value!r}")
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise CoercionError(f"expected a number, found {value!r}") from None
    if not math.isfinite(number):
        raise CoercionError(f"expected a finite number, found {value!r}")
    return number


def to_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return text_key(value)
    raise CoercionError(f"expected text, found {kind_of(value)}")


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | str):
        key = text_key(value).strip().lower()
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
    raise CoercionError(f"expected a boolean (true/false, 1/0, yes/no), found {value!r}")


CONVERTERS = {"int": to_int, "float": to_float, "str": to_str, "bool": to_bool}


def scale(value: Any, factor: float) -> float:
    """``value * factor`` in decimal: 45 * 0.01 is 0.45, not 0.45000000000000007."""
    number = to_float(value)
    try:
        return float(Decimal(repr(number)) * Decimal(repr(factor)))
    except InvalidOperation:  # pragma: no cover - finite inputs only
        raise CoercionError(f"cannot scale {value!r}") from None


# --- dates --------------------------------------------------------------------


def parse_date(value: Any, fmt: str, naive_tz: tzinfo = UTC) -> datetime:
    """An aware UTC datetime from ``value`` read as ``fmt`` (iso8601, epoch_*, strptime)."""
    if fmt in ("epoch_seconds", "epoch_millis"):
        seconds = to_float(value)
        if fmt == "epoch_millis":
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise CoercionError(f"epoch {value!r} is out of range") from None
    if not isinstance(value, str):
        raise CoercionError(f"expected a date string ({fmt}), found {kind_of(value)} {value!r}")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text) if fmt == "iso8601" else datetime.strptime(text, fmt)
    except ValueError:
        shown = "an ISO-8601 date" if fmt == "iso8601" else f"a date in format {fmt!r}"
        raise CoercionError(f"cannot parse {value!r} as {shown}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=naive_tz)
    return parsed.astimezone(UTC)
