"""A secret field type that refuses to be written anywhere in clear, and what a secret looks like.

Secrets travel as ``SecretStr`` (redacted in repr and logs). When a model is
serialised, a sealed value (see :mod:`npo_integration.sealing`) is written as is;
a clear value raises, so a config cannot reach a topic or table unsealed by
mistake. With the serialisation context ``{"redact": True}`` every secret is
written as ``"***"``: that is the form views and the CLI show, and so it is refused
as a secret's value (a config read back and sent again must not store stars).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, PlainSerializer, SecretStr, SerializationInfo

from npo_integration.sealing import is_sealed

REDACTED = "***"

CREDENTIAL_PARTS = (
    "authorization",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "apikey",
    "cookie",
    "credential",
)
"""A name holding one of these (case and punctuation aside) names a credential:
``Authorization``, ``Proxy-Authorization``, ``wstoken``, ``client_secret``, ``X-API-Key``."""

_BRACKETED_KEY = re.compile(r"\[key\]", re.IGNORECASE)
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


class PlaintextSecretError(ValueError):
    """Raised when a clear secret is about to be serialised."""


def looks_like_credential(name: str) -> bool:
    """Whether a header, parameter or field name looks like it carries a credential.

    Besides :data:`CREDENTIAL_PARTS`, a word ``key`` or ending in ``key`` (``X-Api-Key``,
    ``subscriptionKey``, ``accesskey``; not ``keyword``). A bracketed ``[key]`` is a field
    name in PHP-style parameters (Moodle's ``criteria[0][key]=email``), not a credential.
    """
    compact = re.sub(r"[^a-z0-9]", "", name.lower())
    if any(part in compact for part in CREDENTIAL_PARTS):
        return True
    words = _WORDS.findall(_BRACKETED_KEY.sub(" ", name))
    return any(word.lower().endswith("key") for word in words)


def _not_a_placeholder(value: SecretStr) -> SecretStr:
    raw = value.get_secret_value()
    if raw and raw.strip("*") == "":
        raise ValueError(
            f"{raw!r} is the placeholder a redacted view shows, not a secret: "
            "send the real secret (a stored one is never shown, so it must be sent again)"
        )
    return value


def _serialize_secret(value: SecretStr, info: SerializationInfo) -> str:
    context: dict[str, Any] = info.context or {}
    if context.get("redact"):
        return REDACTED
    raw = value.get_secret_value()
    if is_sealed(raw):
        return raw
    raise PlaintextSecretError("refusing to serialise a clear secret: seal the config first")


Secret = Annotated[
    SecretStr,
    AfterValidator(_not_a_placeholder),
    PlainSerializer(_serialize_secret, return_type=str, when_used="always"),
]
