"""Config field types whose text is parsed when the config is validated, not when it is used.

A malformed path or template is then a validation error naming the field.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from npo_integration.expressions.paths import parse_path
from npo_integration.expressions.templates import parse_template


def _path(text: str) -> str:
    parse_path(text)
    return text


def _path_or_root(text: str) -> str:
    parse_path(text, empty_is_root=True)
    return text


def _template(text: str) -> str:
    parse_template(text)
    return text


PathText = Annotated[str, AfterValidator(_path)]
"""A path: ``a.b[0].c``."""
PathOrRootText = Annotated[str, AfterValidator(_path_or_root)]
"""A path, or ``""`` for the data itself (a body that is the record list)."""
TemplateText = Annotated[str, AfterValidator(_template)]
"""Text with ``{path}`` placeholders."""
