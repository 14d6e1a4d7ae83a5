"""OAuth2 client credentials (RFC 6749 §4.4): fetch a token, cache it, refresh it once for all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from npo_integration.http.auth.base import AuthContext, Authenticator, OutgoingRequest
from npo_integration.http.errors import NpoResponseError
from npo_integration.http.urls import join_base
from npo_integration.models.npo_config import OAuth2ClientCredentialsAuth

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Token:
    value: str = field(repr=False)
    refresh_at: float | None  # None: no expires_in given; kept until the API answers 401


class OAuth2ClientCredentialsAuthenticator(Authenticator[OAuth2ClientCredentialsAuth]):
    """Caches the access token until ``expires_in - refresh_margin_seconds``.

    Many requests needing a token at once wait on one lock, and only the first
    fetches (single flight). After a 401, :meth:`refresh` drops the cached token
    only if it is the one that was rejected, so twenty concurrent 401s still
    cause a single new token.
    """

    def __init__(self, config: OAuth2ClientCredentialsAuth, context: AuthContext) -> None:
        super().__init__(config, context)
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.token_url = join_base(context.base_url, config.token_url)

    async def apply(self, request: OutgoingRequest) -> None:
        token = await self._current()
        request.headers["Authorization"] = f"Bearer {token.value}"

    async def refresh(self, rejected: OutgoingRequest) -> bool:
        token = self._token
        if token is not None and rejected.headers.get("Authorization") == f"Bearer {token.value}":
            self._token = None
            logger.info("npo token rejected with 401; fetching a new one from %s", self.token_url)
        return True

    def _valid(self, token: _Token | None) -> bool:
        if token is None:
            return False
        return token.refresh_at is None or self.context.clock() < token.refresh_at

    async def _current(self) -> _Token:
        token = self._token
        if token is not None and self._valid(token):
            return token
        async with self._lock:
            token = self._token
            if token is None or not self._valid(token):
                token = self._token = await self._fetch()
            return token

    async def _fetch(self) -> _Token:
        cfg = self.config
        form = [
            ("grant_type", "client_credentials"),
            ("client_id", cfg.client_id),
            ("client_secret", self._open(cfg.client_secret)),
        ]
        if cfg.scope:
            form.append(("scope", cfg.scope))
        response = await self.context.post_form(self.token_url, form)
        body: Any = response.json
        access = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(access, str) or not access:
            raise NpoResponseError(
                f"token endpoint {self.token_url} answered without an access_token",
                status=response.status,
            )
        refresh_at = self._refresh_at(body.get("expires_in"))
        logger.info(
            "npo access token obtained from %s (expires_in=%s)",
            self.token_url,
            body.get("expires_in"),
        )
        return _Token(access, refresh_at)

    def _refresh_at(self, expires_in: Any) -> float | None:
        """Refresh ``refresh_margin_seconds`` early; a lifetime under the margin at half-life."""
        try:
            lifetime = float(expires_in)
        except (TypeError, ValueError):
            return None
        margin = self.config.refresh_margin_seconds
        usable = lifetime - margin if lifetime > margin else lifetime / 2
        return self.context.clock() + usable

    def _clear_values(self) -> Iterable[str]:
        values = [self._open(self.config.client_secret)]
        if self._token is not None:
            values.append(self._token.value)
        return values
