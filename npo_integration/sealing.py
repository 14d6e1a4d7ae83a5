"""Secrets sealed at rest with Fernet; a key ring (MultiFernet) makes rotation safe.

A sealed value is a text ``sealed:<fernet token>``. It is what every table and
topic holds; the clear value exists only in memory while a request is signed.
The first key of the ring seals; every key of the ring opens, so an operator
rotates by putting a new key first and re-sealing at leisure.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from npo_integration.errors import SecretError

SEALED_PREFIX = "sealed:"


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)


class SecretBox:
    """Seals and opens secret values with a ring of Fernet keys (first key is primary)."""

    __slots__ = ("_ring",)

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretError("at least one secrets key is required")
        try:
            self._ring = MultiFernet([Fernet(k.strip().encode()) for k in keys])
        except (ValueError, TypeError) as exc:
            raise SecretError(
                "a secrets key is not a valid Fernet key (32 url-safe base64 bytes)"
            ) from exc

    @classmethod
    def from_setting(cls, value: SecretStr) -> SecretBox:
        """Build from the comma-separated key list of the ``NPO_SECRETS_KEYS`` setting."""
        return cls([k for k in value.get_secret_value().split(",") if k.strip()])

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def seal(self, clear: str) -> str:
        if is_sealed(clear):
            return clear
        return SEALED_PREFIX + self._ring.encrypt(clear.encode()).decode()

    def open(self, sealed: str) -> str:
        if not is_sealed(sealed):
            raise SecretError("value is not sealed")
        try:
            return self._ring.decrypt(sealed[len(SEALED_PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretError(
                "sealed value cannot be opened with any key of the ring (rotated out or tampered)"
            ) from None

    def reseal(self, sealed: str) -> str:
        """Re-encrypt with the primary key, for rotation."""
        if not is_sealed(sealed):
            raise SecretError("value is not sealed")
        try:
            return SEALED_PREFIX + self._ring.rotate(sealed[len(SEALED_PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretError("sealed value cannot be opened with any key of the ring") from None
