"""Credentials belong in ``auth``: a header or parameter that looks like one is refused.

``headers`` and ``params`` are stored, logged and shown as written; only ``auth``'s
secrets are sealed, opened in memory when a request is signed and scrubbed from
NPO error bodies. So a credential written as a header or parameter is refused,
naming the field and the auth kind that carries it. A parameter holding a
placeholder (``{cursor}``, ``{candidate.email}``) is filled at run time from
records or assignments, not from the config: it is not a credential.
"""

from __future__ import annotations

from collections.abc import Iterator

from npo_integration.errors import ConfigError
from npo_integration.expressions import parse_template
from npo_integration.models.npo_config import (
    ApiKeyHeaderAuth,
    ApiKeyQueryAuth,
    NpoIntegrationConfig,
    NpoSource,
    OAuth2AuthorizationCodeAuth,
)
from npo_integration.models.secret import looks_like_credential

_ONE_CREDENTIAL = "(one credential per NPO: its auth)"


def check_no_credentials(config: NpoIntegrationConfig) -> None:
    """Raise ConfigError for the first header or literal parameter that looks like a credential."""
    for source in config.all_sources():
        try:
            _check_source(source)
        except ConfigError as exc:
            raise ConfigError(source.where(str(exc))) from None


def _check_source(config: NpoSource) -> None:
    auth = config.auth
    auth_header = auth.header.lower() if isinstance(auth, ApiKeyHeaderAuth) else None
    if isinstance(auth, OAuth2AuthorizationCodeAuth) and auth.subscription_key_header:
        auth_header = auth.subscription_key_header.lower()
    auth_param = auth.param if isinstance(auth, ApiKeyQueryAuth) else None
    for name, value in config.headers.items():
        if name.lower() == auth_header:
            raise ConfigError(
                f"headers.{name}: auth ({auth.kind}) sends this header; remove it here"
            )
        if looks_like_credential(name) and value:
            raise ConfigError(f"headers.{name}: {_header_advice(name, value)}")
    for where, name, template in _literal_params(config):
        if name == auth_param:
            raise ConfigError(f"{where}: auth (api_key_query) sends this parameter; remove it here")
        if looks_like_credential(name) and template:
            raise ConfigError(
                f"{where}: looks like a credential, and parameters are stored and shown in "
                f'clear; put it in auth: {{"kind": "api_key_query", "param": "{name}", '
                f'"key": "..."}}, whose key is sealed {_ONE_CREDENTIAL}'
            )


def _header_advice(name: str, value: str) -> str:
    """Which auth kind carries this header (never quoting its value)."""
    lowered = name.lower()
    clear = "looks like a credential, and headers are stored and shown in clear; "
    if lowered == "authorization":
        scheme = value.split(" ", 1)[0].lower()
        if scheme == "bearer":
            return clear + 'put the token in auth: {"kind": "bearer", "token": "..."}'
        if scheme == "basic":
            return clear + (
                'put the user and password in auth: {"kind": "basic", "username": "...", '
                '"password": "..."}'
            )
        return clear + (
            "use the auth kind of this scheme: bearer, basic or oauth2_client_credentials"
        )
    if lowered == "proxy-authorization":
        return "proxy credentials are not supported: the service calls NPOs without a proxy"
    if "cookie" in lowered:
        return (
            "session cookies are not supported; authenticate with the NPO's API credentials "
            "in auth (bearer, api_key_header, basic or oauth2_client_credentials)"
        )
    return clear + (
        f'put it in auth: {{"kind": "api_key_header", "header": "{name}", "key": "..."}}, '
        f"whose key is sealed {_ONE_CREDENTIAL}"
    )


def _literal_params(config: NpoSource) -> Iterator[tuple[str, str, str]]:
    """``(field, name, value)`` of every stream and lookup parameter without a placeholder."""
    for stream in config.streams:
        for name, text in stream.params.items():
            if not parse_template(text).placeholders:
                yield f"streams.{stream.name}.params.{name}", name, text
    lookup = config.enrolment.lookup
    if lookup is not None:
        for name, param in lookup.params.items():
            if not parse_template(param.template).placeholders:
                yield f"enrolment.lookup.params.{name}", name, param.template
