"""Checks an NPO config must pass before it is stored, beyond its schema."""

from __future__ import annotations

from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.registry.credentials import check_no_credentials
from npo_integration.url_policy import check_url_allowed


def check_config(config: NpoIntegrationConfig, *, allow_private: bool) -> None:
    """Raise ConfigError naming the field when the config may not be stored."""
    for source in config.all_sources():
        check_url_allowed(
            source.base_url, allow_private=allow_private, field=source.where("base_url")
        )
        token_url = getattr(source.auth, "token_url", None)
        if token_url and token_url.startswith(("http://", "https://")):
            field = source.where("auth.token_url")
            check_url_allowed(token_url, allow_private=allow_private, field=field)
    check_no_credentials(config)
