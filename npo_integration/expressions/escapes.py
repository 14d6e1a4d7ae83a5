"""How a template's values are escaped for where the rendered text goes.

A value from an assignment (an email, an NPO's id) is data; once written into a
URL path or a query language it must stay data, whatever characters it holds.
Each escaper is given to :meth:`.templates.Template.render` as its ``escape``:
it sees the values only, never the template's own text. Query *parameters*
need none of the URL kind: the HTTP client (yarl) encodes each value whole, so
encoding here would encode twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import quote

if TYPE_CHECKING:
    from npo_integration.expressions.templates import Template

Escape = Callable[[str], str]
QuoteKind = Literal["soql", "json"]
"""The query languages a config may name as a value's ``quote``."""

_DOT_SEGMENTS = frozenset({"", ".", ".."})
_SOQL_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class EscapeError(ValueError):
    """A value has no safe form where it goes (``..`` as a path segment)."""


def url_path_segment(value: str) -> str:
    """``value`` percent-encoded as (part of) one path segment: ``/``, ``?``, ``#``, ``%`` too.

    An empty value and the dot segments are refused: URL normalisation would
    turn ``/users/../admin`` into ``/admin``, and ``/users//e`` names another path.
    """
    if value in _DOT_SEGMENTS:
        raise EscapeError(f"{value!r} is not a usable URL path segment")
    return quote(value, safe="")


def soql_literal(value: str) -> str:
    """``value`` as a whole SOQL string literal, quotes included: ``O'Brien`` -> ``'O\\'Brien'``.

    The escape sequences of Salesforce's "Quoted String Escape Sequences":
    backslash, both quotes, newline, carriage return and tab by name, any other
    control character as ``\\uXXXX``. ``%`` and ``_`` are left as they are: they
    are wildcards only in LIKE, where a value is not meant to go.
    """
    out = []
    for char in value:
        escaped = _SOQL_ESCAPES.get(char)
        if escaped is None and (char < " " or char == "\x7f"):
            escaped = f"\\u{ord(char):04x}"
        out.append(char if escaped is None else escaped)
    return "'" + "".join(out) + "'"


def json_literal(value: str) -> str:
    """``value`` as a whole JSON string literal, quotes included (CiviCRM APIv4's ``params``)."""
    return json.dumps(value, ensure_ascii=False)


QUOTES: Final[dict[QuoteKind, Escape]] = {"soql": soql_literal, "json": json_literal}
_QUOTE_CHARS: Final[dict[QuoteKind, str]] = {"soql": "'", "json": '"'}


def check_quoted_template(template: Template, kind: QuoteKind) -> None:
    """Refuse a template whose placeholders the ``kind`` quote would not leave whole literals.

    A quoted value is written with its own quotes, so ``= {candidate.email}``
    is right and ``= '{candidate.email}'`` (a literal in a literal) is a
    ``ValueError`` saying so; so is a quote left open in the template's text.
    """
    mark = _QUOTE_CHARS[kind]  # both quote strings with one character and escape with \
    in_string = escaped = False
    for part in template.parts:
        if not isinstance(part, str):
            if in_string:
                raise ValueError(
                    f"{{{part.text}}} is inside a quoted string: a {kind}-quoted value is "
                    "written as a whole literal, quotes included; remove the quotes around it"
                )
            continue
        for char in part:
            if escaped:
                escaped = False
            elif in_string and char == "\\":
                escaped = True
            elif char == mark:
                in_string = not in_string
    if in_string:
        raise ValueError(f"template {template.text!r} leaves a quote open")
