"""Reading NPO configs from a JSON file (one object or a list), for start-up seeding and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from npo_integration.catalogue import resolve_config_input
from npo_integration.errors import ConfigError
from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.validation_errors import describe_validation_error

_many = TypeAdapter(list[NpoIntegrationConfig])


def parse_configs(text: str, *, origin: str = "input") -> list[NpoIntegrationConfig]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{origin}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    items = document if isinstance(document, list) else [document]
    try:
        return _many.validate_python([resolve_config_input(item) for item in items])
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {describe_validation_error(exc)}") from None
    except ConfigError as exc:  # a template input that does not resolve
        raise ConfigError(f"{origin}: {exc}") from None


def load_config_file(path: Path) -> list[NpoIntegrationConfig]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_configs(text, origin=str(path))
