"""Keeping secrets and personal data out of what is dead-lettered or logged.

Two cases. A document that parsed but was refused (an NPO config that failed a
check) is kept with every value under a credential-looking key replaced. Input
that did not parse at all is never kept: its fields are unknown, so a secret or
a candidate's email could sit anywhere in it. What is kept of it is its length,
its sha256 (to find the original at its source) and a short prefix that shows
its shape, field names and punctuation, with every value masked.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from npo_integration.models.secret import REDACTED, looks_like_credential

PREFIX_CHARS = 64
"""Characters of unparsed input looked at for its prefix (before masking)."""
_KEY_CHARS = 40
"""A field name longer than this is masked like a value."""
_TOKENS = re.compile(
    r'(?P<string>"(?:[^"\\]|\\.)*(?:"|\\?$))(?P<colon>\s*:)?'  # a string, maybe unterminated
    r"|(?P<word>[^\s\"{}\[\],:]+)"  # anything else that is not JSON punctuation
)
_KEEP_WORDS = frozenset({"true", "false", "null"})
_NAME = re.compile(r"[\w.\-\[\]$]*")
_NUMBER = re.compile(r"-?\d{1,6}(?:\.\d+)?")


def redact_document(document: Any) -> Any:
    """A copy of ``document`` with every value under a credential-looking key replaced,
    at any depth (``token``, ``client_secret``, an ``Authorization`` or ``X-Api-Key`` header)."""
    if isinstance(document, dict):
        return {
            k: REDACTED if looks_like_credential(str(k)) else redact_document(v)
            for k, v in document.items()
        }
    if isinstance(document, list):
        return [redact_document(item) for item in document]
    return document


def describe_unparsed(raw: bytes) -> dict[str, Any]:
    """What a dead letter keeps of input that does not parse: never the input itself.

    ``{"length": 1234, "sha256": "...", "prefix": '{"npo_id": "***", "integration": {"a'}``:
    the prefix is the first :data:`PREFIX_CHARS` characters with every string value
    and every bare word masked (``true``, ``false``, ``null`` and short numbers kept),
    so it says "JSON cut short after integration" or "not JSON" without a secret.
    """
    text = raw[: PREFIX_CHARS * 4].decode("utf-8", errors="replace")[:PREFIX_CHARS]
    return {
        "length": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "prefix": _TOKENS.sub(_mask, text),
    }


def _mask(match: re.Match[str]) -> str:
    string, colon, word = match["string"], match["colon"], match["word"]
    if string is not None:
        name = string[1:-1] if len(string) > 1 and string.endswith('"') else None
        if colon is not None and name is not None and _is_field_name(name):
            return string + colon  # a field name: the shape of the input
        closing = '"' if name is not None else ""
        return f'"{REDACTED}{closing}' + (colon or "")
    if word in _KEEP_WORDS or (_NUMBER.fullmatch(word) and len(word) <= 6):
        return word
    return REDACTED


def _is_field_name(name: str) -> bool:
    return len(name) <= _KEY_CHARS and _NAME.fullmatch(name) is not None
