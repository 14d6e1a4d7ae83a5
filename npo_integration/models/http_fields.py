"""Header names and values in NPO configs, checked when the config is validated.

aiohttp refuses a header with CR or LF only when the request is made, as a ``ValueError``
that no retry or classification expects; a config holding one is refused here instead, naming
the field. (A CR/LF could also split the request: header injection.)
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _header_name(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise ValueError("not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~)")
    return value


def _header_value(value: str) -> str:
    found = _FORBIDDEN.search(value)
    if found:
        raise ValueError(
            f"control character {found.group()!r} (CR, LF, NUL...) not allowed in a header value"
        )
    return value


HeaderName = Annotated[str, AfterValidator(_header_name)]
HeaderValue = Annotated[str, AfterValidator(_header_value)]
