"""The template language: text with ``{path}`` placeholders; ``{{`` and ``}}`` are literal braces.

No expressions and no eval: a placeholder is a path (see :mod:`.paths`), nothing
more. A template is parsed once into a :class:`Template`; where each
placeholder's value comes from and what a missing value means is the caller's,
given to :meth:`Template.render` as one function; how a value is escaped for
where the text goes (a URL path segment, a SOQL literal: :mod:`.escapes`) is
the render's ``escape``, applied to values only, never to the template's own text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import overload

from npo_integration.expressions.escapes import Escape, EscapeError
from npo_integration.expressions.missing import MISSING, Missing
from npo_integration.expressions.paths import Path, PathSyntaxError, parse_path


class TemplateSyntaxError(ValueError):
    """The template text is malformed (unbalanced braces, empty or malformed placeholder)."""


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and placeholder paths, in order."""

    text: str
    parts: tuple[str | Path, ...]

    @property
    def placeholders(self) -> tuple[Path, ...]:
        return tuple(part for part in self.parts if isinstance(part, Path))

    @property
    def names(self) -> tuple[str, ...]:
        """The placeholders as written: the names a flat mapping (endpoint path_vars) must hold."""
        return tuple(part.text for part in self.parts if isinstance(part, Path))

    @overload
    def render(self, value_of: Callable[[Path], str], *, escape: Escape | None = None) -> str: ...

    @overload
    def render(
        self, value_of: Callable[[Path], str | Missing], *, escape: Escape | None = None
    ) -> str | Missing: ...

    def render(
        self, value_of: Callable[[Path], str | Missing], *, escape: Escape | None = None
    ) -> str | Missing:
        """The text with each placeholder replaced by ``escape(value_of(placeholder))``.

        ``value_of`` raises its caller's error for a value it cannot give, or
        returns :data:`MISSING` to make the whole text ``MISSING``; ``escape``
        (none: as is) may raise :class:`~.escapes.EscapeError` for a value that
        has no safe form where the text goes.
        """
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = value_of(part)
            if isinstance(value, Missing):
                return MISSING
            if escape is not None:
                try:
                    value = escape(value)
                except EscapeError as exc:
                    raise EscapeError(f"{{{part.text}}}: {exc}") from None
            out.append(value)
        return "".join(out)


@lru_cache(maxsize=4096)
def parse_template(text: str) -> Template:
    """Parse ``text`` once, or raise :class:`TemplateSyntaxError` saying where it is wrong."""
    parts: list[str | Path] = []
    literal = ""
    pos = 0
    while pos < len(text):
        char = text[pos]
        if text.startswith("{{", pos) or text.startswith("}}", pos):
            literal += char
            pos += 2
        elif char == "}":
            raise TemplateSyntaxError(f"template {text!r}: unmatched '}}' at character {pos + 1}")
        elif char == "{":
            end = text.find("}", pos)
            if end < 0:
                raise TemplateSyntaxError(
                    f"template {text!r}: unclosed '{{' at character {pos + 1}"
                )
            try:
                placeholder = parse_path(text[pos + 1 : end])
            except PathSyntaxError as exc:
                raise TemplateSyntaxError(f"template {text!r}: {exc}") from None
            if literal:
                parts.append(literal)
                literal = ""
            parts.append(placeholder)
            pos = end + 1
        else:
            literal += char
            pos += 1
    if literal:
        parts.append(literal)
    return Template(text, tuple(parts))
