"""Turning a config command into the next stored version of an NPO's config."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from npo_integration.errors import ConfigError
from npo_integration.models.internal import ConfigCommand
from npo_integration.models.npo_config import (
    SECRET_FIELDS,
    ConfigChange,
    NpoConfigVersion,
    NpoIntegrationConfig,
)
from npo_integration.registry.sealed_config import reseal_config, without_secrets
from npo_integration.sealing import SecretBox, is_sealed


class UnknownNpoError(ConfigError):
    """A command names an NPO the registry has never seen."""


class ErasedNpoError(ConfigError):
    """A command would make an erased NPO active again with the config it had: it has no
    credentials left; a new config (upsert) is how it comes back."""

    def __init__(self, npo_id: str) -> None:
        super().__init__(
            f"NPO {npo_id!r} is erased: it keeps no config to resume; "
            "register it again with a full config (upsert)"
        )


def assert_sealed(config: NpoIntegrationConfig) -> None:
    for source in config.all_sources():
        for name in SECRET_FIELDS[source.auth.kind]:
            secret = getattr(source.auth, name)
            if secret is not None and not is_sealed(secret.get_secret_value()):
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
                name: open_secret(secret.get_secret_value())
                for name in SECRET_FIELDS[source.auth.kind]
                if (secret := getattr(source.auth, name)) is not None
            }
        )
    return dumped


STATE_CHANGES: dict[str, tuple[ConfigChange, bool]] = {
    "npo_config.deactivate": ("deactivate", False),
    "npo_config.pause": ("pause", False),
    "npo_config.resume": ("resume", True),
}
"""Commands that change only ``active`` of the stored config (its secrets stay as sealed):
the change they record and the value they set."""


def next_version(
    current: NpoConfigVersion | None, command: ConfigCommand, now: datetime, box: SecretBox
) -> NpoConfigVersion | None:
    """The version the command produces, or None when it changes nothing (replays stay idempotent:
    pausing a paused NPO, resuming an active one).

    A reseal always makes a version: the point is new ciphertext under the primary key,
    so the old key can leave the ring.

    An erase makes an inactive version without any secret, marked ``erase`` (once: erasing an
    erased NPO changes nothing). An erased NPO stays erased until an upsert: pause and deactivate
    change nothing, a reseal has nothing to reseal, a resume is refused (``ErasedNpoError``).
    """
    change: ConfigChange
    if command.event_type != "npo_config.upsert":
        if current is None:
            raise UnknownNpoError(f"unknown npo_id {command.npo_id!r}")
        if current.change == "erase":
            if command.event_type == "npo_config.resume":
                raise ErasedNpoError(command.npo_id)
            return None
        if command.event_type == "npo_config.erase":
            config = without_secrets(current.config).model_copy(update={"active": False})
            return _version(current, command, now, "erase", config)
        if command.event_type == "npo_config.reseal":
            return _version(current, command, now, "reseal", reseal_config(current.config, box))
        change, active = STATE_CHANGES[command.event_type]
        if current.config.active == active:
            return None
        config = current.config.model_copy(update={"active": active})
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


def file_may_change(
    current: NpoConfigVersion | None, earlier: Callable[[int], NpoConfigVersion | None]
) -> bool:
    """Whether ``NPO_CONFIG_FILE`` may change the NPO: it is not registered, or the last change of
    its config (reseals aside, which only re-encrypt) was the file's own upsert.

    A config changed any other way (an upsert through the admin API, the CLI or npo-assessed; a
    pause, resume or deactivation) is no longer the file's: a restart must not undo what an
    operator did since. ``earlier(n)`` reads version ``n`` of the NPO's history.
    """
    version = current
    while version is not None and version.change == "reseal":
        version = earlier(version.version - 1) if version.version > 1 else None
        if version is None:
            return False  # history gone: do not guess
    return version is None or (version.source == "file" and version.change == "upsert")


def _version(
    current: NpoConfigVersion | None,
    command: ConfigCommand,
    now: datetime,
    change: ConfigChange,
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
