"""Turning a config command into the next stored version of an NPO's config."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from npo_integration.errors import ConfigError
from npo_integration.models.internal import ConfigCommand
from npo_integration.models.npo_config import SECRET_FIELDS, NpoConfigVersion, NpoIntegrationConfig
from npo_integration.registry.sealed_config import reseal_config
from npo_integration.sealing import SecretBox, is_sealed


class UnknownNpoError(ConfigError):
    """A command names an NPO the registry has never seen."""


def assert_sealed(config: NpoIntegrationConfig) -> None:
    for source in config.all_sources():
        for name in SECRET_FIELDS[source.auth.kind]:
            if not is_sealed(getattr(source.auth, name).get_secret_value()):
                raise ConfigError(
                    f"{source.where(f'auth.{name}')}: secret is not sealed; "
                    "configs must be sealed before they are sent"
                )


def comparable(config: NpoIntegrationConfig, open_secret: Callable[[str], str]) -> dict[str, Any]:
    """The config with secrets opened: sealing the same secret twice gives different ciphertexts."""
    dumped = config.model_dump(mode="json", context={"redact": True})
    for source, shown in zip(config.sources, dumped["sources"], strict=True):
        shown["auth"].update(
            {
                name: open_secret(getattr(source.auth, name).get_secret_value())
                for name in SECRET_FIELDS[source.auth.kind]
            }
        )
    return dumped


def next_version(
    current: NpoConfigVersion | None, command: ConfigCommand, now: datetime, box: SecretBox
) -> NpoConfigVersion | None:
    """The version the command produces, or None when it changes nothing (replays stay idempotent).

    A reseal always makes a version: the point is new ciphertext under the primary key,
    so the old key can leave the ring.
    """
    change: Literal["upsert", "deactivate", "reseal"]
    if command.event_type in ("npo_config.deactivate", "npo_config.reseal"):
        if current is None:
            raise UnknownNpoError(f"unknown npo_id {command.npo_id!r}")
        if command.event_type == "npo_config.reseal":
            return _version(current, command, now, "reseal", reseal_config(current.config, box))
        config = current.config.model_copy(update={"active": False})
        change = "deactivate"
    else:
        if command.config is None:
            raise ConfigError("config: required for an upsert")
        if command.config.npo_id != command.npo_id:
            raise ConfigError(
                f"config.npo_id {command.config.npo_id!r} "
                f"does not match the command's npo_id {command.npo_id!r}"
            )
        assert_sealed(command.config)
        config = command.config
        change = "upsert"
    if current is not None and comparable(current.config, box.open) == comparable(config, box.open):
        return None
    return _version(current, command, now, change, config)


def _version(
    current: NpoConfigVersion | None,
    command: ConfigCommand,
    now: datetime,
    change: Literal["upsert", "deactivate", "reseal"],
    config: NpoIntegrationConfig,
) -> NpoConfigVersion:
    return NpoConfigVersion(
        npo_id=command.npo_id,
        version=1 if current is None else current.version + 1,
        updated_at=now,
        source=command.source,
        change=change,
        config=config,
    )
