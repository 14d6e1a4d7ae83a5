"""Schemes that send a fixed credential: none, bearer token, API key (header or query), basic."""

from __future__ import annotations

import base64
from collections.abc import Iterable

from npo_integration.errors import ConfigError
from npo_integration.http.auth.base import Authenticator, OutgoingRequest
from npo_integration.models.npo_config import (
    ApiKeyHeaderAuth,
    ApiKeyQueryAuth,
    BasicAuth,
    BearerAuth,
    NoAuth,
)


class NoAuthenticator(Authenticator[NoAuth]):
    """Public APIs."""

    async def apply(self, request: OutgoingRequest) -> None:
        return None


class BearerAuthenticator(Authenticator[BearerAuth]):
    """``Authorization: Bearer <token>`` with a long-lived token."""

    async def apply(self, request: OutgoingRequest) -> None:
        request.headers["Authorization"] = f"Bearer {self._open(self.config.token)}"

    def _clear_values(self) -> Iterable[str]:
        return (self._open(self.config.token),)


class ApiKeyHeaderAuthenticator(Authenticator[ApiKeyHeaderAuth]):
    """A key in a header of the NPO's choosing (``X-API-Key``)."""

    async def apply(self, request: OutgoingRequest) -> None:
        request.headers[self.config.header] = self._open(self.config.key)

    def _clear_values(self) -> Iterable[str]:
        return (self._open(self.config.key),)


class ApiKeyQueryAuthenticator(Authenticator[ApiKeyQueryAuth]):
    """A key in the query string (Moodle's ``wstoken``); replaces one already in the params."""

    @property
    def secret_params(self) -> frozenset[str]:
        return frozenset({self.config.param})

    async def apply(self, request: OutgoingRequest) -> None:
        name = self.config.param
        request.params = [(k, v) for k, v in request.params if k != name]
        request.params.append((name, self._open(self.config.key)))

    def _clear_values(self) -> Iterable[str]:
        return (self._open(self.config.key),)


class BasicAuthenticator(Authenticator[BasicAuth]):
    """HTTP Basic (RFC 7617, UTF-8) with a username and a sealed password."""

    def _header(self) -> str:
        if ":" in self.config.username:
            raise ConfigError("auth.username must not contain ':' (RFC 7617)")
        pair = f"{self.config.username}:{self._open(self.config.password)}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    async def apply(self, request: OutgoingRequest) -> None:
        request.headers["Authorization"] = self._header()

    def _clear_values(self) -> Iterable[str]:
        return (self._open(self.config.password), self._header().removeprefix("Basic "))
