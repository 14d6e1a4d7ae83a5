"""A secret field type that refuses to be written anywhere in clear.

Secrets travel as ``SecretStr`` (redacted in repr and logs). When a model is
serialised, a sealed value (see :mod:`npo_integration.sealing`) is written as is;
a clear value raises, so a config cannot reach a topic or table unsealed by
mistake. With the serialisation context ``{"redact": True}`` every secret is
written as ``"***"``: that is the form views and the CLI show.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainSerializer, SecretStr, SerializationInfo

from npo_integration.sealing import is_sealed

REDACTED = "***"


class PlaintextSecretError(ValueError):
    """Raised when a clear secret is about to be serialised."""


def _serialize_secret(value: SecretStr, info: SerializationInfo) -> str:
    context: dict[str, Any] = info.context or {}
    if context.get("redact"):
        return REDACTED
    raw = value.get_secret_value()
    if is_sealed(raw):
        return raw
    raise PlaintextSecretError("refusing to serialise a clear secret: seal the config first")


Secret = Annotated[
    SecretStr, PlainSerializer(_serialize_secret, return_type=str, when_used="always")
]
