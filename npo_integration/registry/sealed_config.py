"""Seal an NPO config's secrets before it goes anywhere; reseal on key rotation."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from npo_integration.models.npo_config import SECRET_FIELDS, NpoIntegrationConfig
from npo_integration.sealing import SecretBox


def _map_secrets(config: NpoIntegrationConfig, fn: Callable[[str], str]) -> NpoIntegrationConfig:
    fields = SECRET_FIELDS[config.auth.kind]
    if not fields:
        return config
    update = {name: SecretStr(fn(getattr(config.auth, name).get_secret_value())) for name in fields}
    return config.model_copy(update={"auth": config.auth.model_copy(update=update)})


def seal_config(config: NpoIntegrationConfig, box: SecretBox) -> NpoIntegrationConfig:
    """Every secret of ``config`` sealed (already sealed ones are kept)."""
    return _map_secrets(config, box.seal)


def reseal_config(config: NpoIntegrationConfig, box: SecretBox) -> NpoIntegrationConfig:
    """Every secret re-encrypted with the primary key (rotation)."""
    return _map_secrets(config, box.reseal)
