"""Config commands become versions: numbered, idempotent on replay, with reseal and deactivate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from npo_integration.errors import ConfigError
from npo_integration.models.internal import ConfigCommand
from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.registry.sealed_config import seal_config
from npo_integration.registry.versioning import UnknownNpoError, next_version
from npo_integration.sealing import SecretBox

NOW = datetime(2026, 11, 28, tzinfo=UTC)
KEY = SecretBox.generate_key()
BOX = SecretBox([KEY])


def config(name: str = "N", token: str = "t") -> NpoIntegrationConfig:
    plain = NpoIntegrationConfig.model_validate(
        {
            "npo_id": "n1",
            "display_name": name,
            "base_url": "https://n.example",
            "auth": {"kind": "bearer", "token": token},
            "transform": {"kind": "plugin", "name": "simple"},
        }
    )
    return seal_config(plain, BOX)


def upsert(c: NpoIntegrationConfig) -> ConfigCommand:
    return ConfigCommand(
        event_type="npo_config.upsert", npo_id=c.npo_id, source="admin-api", config=c
    )


def test_versions_count_up_and_a_replay_changes_nothing() -> None:
    v1 = next_version(None, upsert(config()), NOW, BOX)
    assert v1 is not None and (v1.version, v1.change) == (1, "upsert")
    # The same secret sealed again is a different ciphertext, but the same config.
    assert next_version(v1, upsert(config()), NOW, BOX) is None
    v2 = next_version(v1, upsert(config(name="Renamed")), NOW, BOX)
    assert v2 is not None and v2.version == 2 and v2.config.display_name == "Renamed"
    assert next_version(v2, upsert(config(name="Renamed", token="new")), NOW, BOX) is not None


def test_deactivate_and_reseal_need_a_known_npo() -> None:
    for kind in ("npo_config.deactivate", "npo_config.reseal"):
        with pytest.raises(UnknownNpoError):
            next_version(None, ConfigCommand(event_type=kind, npo_id="n1", source="cli"), NOW, BOX)


def test_reseal_moves_secrets_to_the_primary_key() -> None:
    v1 = next_version(None, upsert(config()), NOW, BOX)
    assert v1 is not None
    new_key = SecretBox.generate_key()
    ring = SecretBox([new_key, KEY])
    v2 = next_version(
        v1, ConfigCommand(event_type="npo_config.reseal", npo_id="n1", source="cli"), NOW, ring
    )
    assert v2 is not None and v2.change == "reseal" and v2.version == 2
    assert SecretBox([new_key]).open(v2.config.sources[0].auth.token.get_secret_value()) == "t"  # type: ignore[union-attr]


def test_an_unsealed_secret_is_refused() -> None:
    plain = NpoIntegrationConfig.model_validate(
        {
            "npo_id": "n1",
            "display_name": "N",
            "base_url": "https://n.example",
            "auth": {"kind": "bearer", "token": "clear"},
            "transform": {"kind": "plugin", "name": "simple"},
        }
    )
    with pytest.raises(ConfigError, match="not sealed"):
        next_version(None, upsert(plain), NOW, BOX)
