"""Seal an NPO config's secrets before it goes anywhere; reseal on key rotation."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from npo_integration.models.npo_config import (
    SECRET_FIELDS,
    NoAuth,
    NpoIntegrationConfig,
    SourceConfig,
)
from npo_integration.sealing import SecretBox


def _map_secrets(config: NpoIntegrationConfig, fn: Callable[[str], str]) -> NpoIntegrationConfig:
    """``fn`` applied to the secrets of every source's auth."""
    if not any(SECRET_FIELDS[source.auth.kind] for source in config.sources):
        return config
    sources = [_map_source(source, fn) for source in config.sources]
    return config.model_copy(update={"sources": sources})


def _map_source(source: SourceConfig, fn: Callable[[str], str]) -> SourceConfig:
    fields = SECRET_FIELDS[source.auth.kind]
    if not fields:
        return source
    update = {
        name: SecretStr(fn(secret.get_secret_value()))
        for name in fields
        if (secret := getattr(source.auth, name)) is not None
    }
    return source.model_copy(update={"auth": source.auth.model_copy(update=update)})


def seal_config(config: NpoIntegrationConfig, box: SecretBox) -> NpoIntegrationConfig:
    """Every secret of ``config`` sealed (already sealed ones are kept)."""
    return _map_secrets(config, box.seal)


def reseal_config(config: NpoIntegrationConfig, box: SecretBox) -> NpoIntegrationConfig:
    """Every secret re-encrypted with the primary key (rotation)."""
    return _map_secrets(config, box.reseal)


def without_secrets(config: NpoIntegrationConfig) -> NpoIntegrationConfig:
    """``config`` with every source's auth that holds a secret replaced by ``none`` (an erased
    NPO keeps no credentials; the rest of its config stays, to show what it was)."""
    if not any(SECRET_FIELDS[source.auth.kind] for source in config.sources):
        return config
    sources = [
        source.model_copy(update={"auth": NoAuth()}) if SECRET_FIELDS[source.auth.kind] else source
        for source in config.sources
    ]
    return config.model_copy(update={"sources": sources})
