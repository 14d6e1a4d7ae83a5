"""Turning a config command into the next stored version of an NPO's config."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from npo_integration.errors import ConfigError
from npo_integration.models.internal import ConfigCommand
from npo_integration.models.npo_config import SECRET_FIELDS, NpoConfigVersion, NpoIntegrationConfig
from npo_integration.sealing import is_sealed


class UnknownNpoError(ConfigError):
    """A command names an NPO the registry has never seen."""


def assert_sealed(config: NpoIntegrationConfig) -> None:
    for name in SECRET_FIELDS[config.auth.kind]:
        if not is_sealed(getattr(config.auth, name).get_secret_value()):
            raise ConfigError(f"auth.{name}: secret is not sealed; configs must be sealed before they are sent")


def comparable(config: NpoIntegrationConfig, open_secret: Callable[[str], str]) -> dict[str, Any]:
    """The config with secrets opened: sealing the same secret twice gives different ciphertexts."""
    dumped = config.model_dump(mode="json", context={"redact": True})
    dumped["auth"].update(
        {name: open_secret(getattr(config.auth, name).get_secret_value()) for name in SECRET_FIELDS[config.auth.kind]}
    )
    return dumped


def next_version(
    current: NpoConfigVersion | None,
    command: ConfigCommand,
    now: datetime,
    open_secret: Callable[[str], str],
) -> NpoConfigVersion | None:
    """The version the command produces, or None when it changes nothing (replays stay idempotent)."""
    if command.event_type == "npo_config.deactivate":
        if current is None:
            raise UnknownNpoError(f"unknown npo_id {command.npo_id!r}")
        config = current.config.model_copy(update={"active": False})
        change = "deactivate"
    else:
        if command.config is None:
            raise ConfigError("config: required for an upsert")
        if command.config.npo_id != command.npo_id:
            raise ConfigError(
                f"config.npo_id {command.config.npo_id!r} does not match the command's npo_id {command.npo_id!r}"
            )
        assert_sealed(command.config)
        config = command.config
        change = "upsert"
    if current is not None and comparable(current.config, open_secret) == comparable(config, open_secret):
        return None
    return NpoConfigVersion(
        npo_id=command.npo_id,
        version=1 if current is None else current.version + 1,
        updated_at=now,
        source=command.source,
        change=change,
        config=config,
    )
