"""A tiny RFC 8288 ``Link`` header parser (Canvas LMS pagination).

aiohttp's ``response.links`` keys a link by its whole ``rel`` value, so
``rel="next last"`` would not be found as ``next``; this parser splits
relation types, accepts several header lines and resolves relative URLs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from yarl import URL

_LINK = re.compile(r"<(?P<url>[^>]*)>(?P<params>[^<]*)")
_PARAM = re.compile(
    r';\s*(?P<key>[^\s=;,]+)\s*(?:=\s*(?:"(?P<quoted>[^"]*)"|(?P<token>[^\s;,]*)))?'
)


def parse_link_header(values: Sequence[str], base_url: str) -> dict[str, str]:
    """Each relation type (lower case) → its absolute URL; the first link of a relation wins.
    A link whose URL does not parse is left out."""
    links: dict[str, str] = {}
    if not values:
        return links  # the common answer: no Link header, no base URL to parse
    base = URL(base_url)
    for value in values:
        for match in _LINK.finditer(value):
            rels: list[str] = []
            for param in _PARAM.finditer(match["params"]):
                if param["key"].lower() == "rel":
                    value = param["quoted"] if param["quoted"] is not None else param["token"]
                    rels = (value or "").split()
                    break
            try:
                target = str(base.join(URL(match["url"].strip())))
            except ValueError:  # not a URL (``<http://[::1>``): as if the NPO had not sent it
                continue
            for rel in rels:
                links.setdefault(rel.lower(), target)
    return links
