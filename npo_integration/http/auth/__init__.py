"""One authenticator class per auth ``kind`` of the NPO config, picked by a name → class mapping.

The mapping holds classes rather than lazy ``"module:Class"`` strings: the
kinds are a closed set fixed by the config model, so there is nothing to load
from elsewhere.
"""

from __future__ import annotations

from npo_integration.http.auth.base import (
    AnyAuthenticator,
    AuthContext,
    Authenticator,
    OutgoingRequest,
)
from npo_integration.http.auth.oauth2 import OAuth2ClientCredentialsAuthenticator
from npo_integration.http.auth.oauth2_code import OAuth2AuthorizationCodeAuthenticator
from npo_integration.http.auth.static import (
    ApiKeyHeaderAuthenticator,
    ApiKeyQueryAuthenticator,
    BasicAuthenticator,
    BearerAuthenticator,
    NoAuthenticator,
)
from npo_integration.models.npo_config import AuthConfig

AUTHENTICATORS: dict[str, type[AnyAuthenticator]] = {
    "none": NoAuthenticator,
    "bearer": BearerAuthenticator,
    "api_key_header": ApiKeyHeaderAuthenticator,
    "api_key_query": ApiKeyQueryAuthenticator,
    "basic": BasicAuthenticator,
    "oauth2_client_credentials": OAuth2ClientCredentialsAuthenticator,
    "oauth2_authorization_code": OAuth2AuthorizationCodeAuthenticator,
}


def build_authenticator(config: AuthConfig, context: AuthContext) -> AnyAuthenticator:
    """The authenticator for ``config.kind``."""
    return AUTHENTICATORS[config.kind](config, context)


__all__ = [
    "AUTHENTICATORS",
    "AnyAuthenticator",
    "ApiKeyHeaderAuthenticator",
    "ApiKeyQueryAuthenticator",
    "AuthContext",
    "Authenticator",
    "BasicAuthenticator",
    "BearerAuthenticator",
    "NoAuthenticator",
    "OAuth2AuthorizationCodeAuthenticator",
    "OAuth2ClientCredentialsAuthenticator",
    "OutgoingRequest",
    "build_authenticator",
]
