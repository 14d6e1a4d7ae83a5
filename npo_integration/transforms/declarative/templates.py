"""String templates with ``{path}`` placeholders; ``{{`` and ``}}`` are literal braces.

No expressions and no eval: a placeholder is a path (see :mod:`.paths`), nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from npo_integration.transforms.declarative.paths import PathSyntaxError, Step, parse_path


@dataclass(frozen=True, slots=True)
class Placeholder:
    text: str
    steps: tuple[Step, ...]


Part = str | Placeholder


class TemplateSyntaxError(ValueError):
    """The template text is malformed (unbalanced braces, empty or malformed placeholder)."""


@lru_cache(maxsize=4096)
def parse_template(text: str) -> tuple[Part, ...]:
    parts: list[Part] = []
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
            inner = text[pos + 1 : end]
            try:
                steps = parse_path(inner)
            except PathSyntaxError as exc:
                raise TemplateSyntaxError(f"template {text!r}: {exc}") from None
            if literal:
                parts.append(literal)
                literal = ""
            parts.append(Placeholder(inner, steps))
            pos = end + 1
        else:
            literal += char
            pos += 1
    if literal:
        parts.append(literal)
    return tuple(parts)


def placeholders(text: str) -> list[Placeholder]:
    return [part for part in parse_template(text) if isinstance(part, Placeholder)]
