"""Sealing secrets: round trip, rotation, and nothing readable without a key of the ring."""

from __future__ import annotations

import pytest

from npo_integration.errors import SecretError
from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.registry.config_input import read_config
from npo_integration.registry.sealed_config import reseal_config, seal_config
from npo_integration.sealing import SecretBox


def test_seal_and_open_round_trip_without_the_clear_text_in_the_token() -> None:
    box = SecretBox([SecretBox.generate_key()])
    sealed = box.seal("s3cret-value")
    assert sealed.startswith("sealed:") and "s3cret-value" not in sealed
    assert box.open(sealed) == "s3cret-value"


def test_rotation_keeps_old_records_readable_and_reseals_with_the_new_key() -> None:
    old, new = SecretBox.generate_key(), SecretBox.generate_key()
    sealed_with_old = SecretBox([old]).seal("s3cret")
    ring = SecretBox([new, old])
    assert ring.open(sealed_with_old) == "s3cret"
    resealed = ring.reseal(sealed_with_old)
    assert SecretBox([new]).open(resealed) == "s3cret"
    with pytest.raises(SecretError):
        SecretBox([old]).open(resealed)


def test_a_value_sealed_with_a_key_no_longer_in_the_ring_fails_clearly() -> None:
    sealed = SecretBox([SecretBox.generate_key()]).seal("s3cret")
    with pytest.raises(SecretError, match="cannot be opened"):
        SecretBox([SecretBox.generate_key()]).open(sealed)


def test_a_bad_key_is_refused() -> None:
    with pytest.raises(SecretError, match="not a valid Fernet key"):
        SecretBox(["short"])


def test_a_sealed_config_serialises_without_the_secret_and_reseals() -> None:
    key1, key2 = SecretBox.generate_key(), SecretBox.generate_key()
    config = read_config(
        {
            "npo_id": "n1",
            "display_name": "N",
            "base_url": "https://n.example",
            "auth": {"kind": "basic", "username": "u", "password": "pa55word"},
            "transform": {"kind": "plugin", "name": "simple"},
        }
    )
    sealed = seal_config(config, SecretBox([key1]))
    text = sealed.model_dump_json()
    assert "pa55word" not in text and "sealed:" in text
    again = NpoIntegrationConfig.model_validate_json(text)
    rotated = reseal_config(again, SecretBox([key2, key1]))
    assert SecretBox([key2]).open(rotated.sources[0].auth.password.get_secret_value()) == "pa55word"  # type: ignore[union-attr]
