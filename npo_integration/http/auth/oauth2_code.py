"""OAuth2 authorization code with rotating refresh tokens (Blackbaud SKY API): sign with the
grant's access token, got from the grant broker (``grants.py``), never refreshed here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from npo_integration.errors import ConfigError
from npo_integration.http.auth.base import AuthContext, Authenticator, OutgoingRequest
from npo_integration.models.npo_config import OAuth2AuthorizationCodeAuth


class OAuth2AuthorizationCodeAuthenticator(Authenticator[OAuth2AuthorizationCodeAuth]):
    """Caches the access token (sealed, opened once) until ``refresh_margin_seconds`` before
    it expires. Concurrent requests wait on one lock, so a worker asks the broker once; after a
    401 it asks again naming the rejected token, which the broker's keeper replaces only if it
    is still the stored one (twenty 401s, one refresh)."""

    def __init__(self, config: OAuth2AuthorizationCodeAuth, context: AuthContext) -> None:
        super().__init__(config, context)
        self._sealed: str | None = None
        self._clear = ""
        self._expires_at = 0.0
        self._rejected: str | None = None
        self._lock = asyncio.Lock()

    async def apply(self, request: OutgoingRequest) -> None:
        request.headers["Authorization"] = f"Bearer {await self._token()}"
        if self.config.subscription_key_header and self.config.subscription_key:
            key = self._open(self.config.subscription_key)
            request.headers[self.config.subscription_key_header] = key

    async def refresh(self, rejected: OutgoingRequest) -> bool:
        sealed = self._sealed
        if sealed is not None and rejected.headers.get("Authorization") == f"Bearer {self._clear}":
            self._rejected, self._sealed = sealed, None
        return True

    def _fresh(self) -> bool:
        """The grant's expiry is wall-clock time: it is shared by every worker."""
        margin = self.config.refresh_margin_seconds
        return self._sealed is not None and time.time() < self._expires_at - margin

    async def _token(self) -> str:
        if not self._fresh():
            async with self._lock:
                if not self._fresh():
                    broker = self.context.grants
                    if broker is None:
                        raise ConfigError(
                            "auth oauth2_authorization_code needs the worker's grant store"
                        )
                    sealed, self._expires_at = await broker.access_token(
                        self.context.state_key,
                        self.config,
                        self.context.post_form,
                        self.context.base_url,
                        rejected=self._rejected,
                    )
                    self._clear = self.context.box.open(sealed)
                    self._sealed = sealed
        return self._clear

    def _clear_values(self) -> Iterable[str]:
        values = [self._open(self.config.client_secret)]
        if self.config.subscription_key is not None:
            values.append(self._open(self.config.subscription_key))
        if self._clear:
            values.append(self._clear)
        return values
