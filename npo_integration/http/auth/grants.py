"""Keeping an NPO's OAuth2 grant alive when each refresh rotates the refresh token.

The rules (docs/security.md, "OAuth2 with rotating refresh tokens"):

* **Store before use.** A token answer is stored (durably: :meth:`GrantStore.save` returns once
  it is) before its access token is handed to anyone, so nothing issued with a token we might
  lose is ever used.
* **Keep the previous token until the new one has worked once.** The stored grant keeps the
  refresh token the current one replaced; a refresh with the current one that the NPO rejects
  (``invalid_grant``) falls back to it once. It is dropped when a refresh with its successor
  succeeds.
* **One refresh at a time.** A keeper refreshes one grant at a time (a lock per grant), and in a
  cluster only the worker owning the NPO's partition of the grants table runs a keeper for it
  (``grants/cluster.py``); the others ask that worker.
* **A revoked grant is final until an operator consents again.** ``invalid_grant`` with every
  token we hold stores the grant as revoked (NPO status, metric) and raises
  :class:`GrantRevokedError`; nothing retries it.

Secrets: every token is sealed in the store and in answers; clear values live in locals only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from npo_integration import metrics
from npo_integration.errors import FatalError
from npo_integration.http.auth.base import PostForm
from npo_integration.http.errors import NpoRequestError, NpoResponseError
from npo_integration.http.urls import join_base
from npo_integration.models.npo_config import OAuth2AuthorizationCodeAuth
from npo_integration.models.oauth_grant import NpoGrants, StoredGrant
from npo_integration.sealing import SecretBox

logger = logging.getLogger(__name__)

AFTER_TOKEN_ANSWER: list[Callable[[], None]] = []
"""Called between receiving a token answer and storing it. Empty in production; the crash test
puts a SIGKILL here so the kill lands exactly in that window."""


class GrantError(FatalError):
    """The NPO's grant cannot give an access token; an operator must act."""


class NoGrantError(GrantError):
    def __init__(self, key: str) -> None:
        super().__init__(f"npo={key}: no OAuth2 grant yet; run `npo-integration npos authorize`")


class GrantRevokedError(GrantError):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"npo={key}: the NPO revoked the OAuth2 grant (invalid_grant); an operator must "
            "consent again: `npo-integration npos authorize`"
        )


class GrantStore(Protocol):
    async def load(self, npo_id: str) -> NpoGrants | None: ...

    async def save(self, grants: NpoGrants) -> None:
        """Durable when it returns (the crash rules above depend on it)."""


def split_key(state_key: str) -> tuple[str, str]:
    """``(npo_id, source)`` of a source's state key (``npo`` or ``npo/source``)."""
    npo_id, _, source = state_key.partition("/")
    return npo_id, source or "main"


def _invalid_grant(exc: Exception) -> bool:
    return (
        isinstance(exc, NpoRequestError)
        and exc.status in (400, 401)
        and ("invalid_grant" in exc.body)
    )


class GrantKeeper:
    """Hands out access tokens of stored grants, refreshing them by the rules above."""

    def __init__(
        self, store: GrantStore, box: SecretBox, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._box = box
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    async def grant(self, state_key: str) -> StoredGrant | None:
        npo_id, source = split_key(state_key)
        stored = await self._store.load(npo_id)
        return None if stored is None else stored.sources.get(source)

    async def access_token(
        self,
        state_key: str,
        config: OAuth2AuthorizationCodeAuth,
        post_form: PostForm,
        base_url: str,
        rejected: str | None = None,
    ) -> tuple[str, float]:
        """``(sealed access token, expires_at)``: the stored one while it is valid and not
        ``rejected`` (the sealed token the NPO answered 401 to), else a refreshed one."""
        async with self._locks.setdefault(state_key, asyncio.Lock()):
            grant = await self.grant(state_key)
            if grant is None or grant.refresh_token is None:
                raise NoGrantError(state_key)
            if grant.status == "revoked":
                raise GrantRevokedError(state_key)
            margin = config.refresh_margin_seconds
            if (
                grant.access_token is not None
                and grant.access_token != rejected
                and grant.access_expires_at is not None
                and self._clock() < grant.access_expires_at - margin
            ):
                return grant.access_token, grant.access_expires_at
            grant = await self._refresh(state_key, grant, config, post_form, base_url)
            assert grant.access_token is not None and grant.access_expires_at is not None
            return grant.access_token, grant.access_expires_at

    async def exchange_code(
        self,
        state_key: str,
        config: OAuth2AuthorizationCodeAuth,
        post_form: PostForm,
        base_url: str,
        code: str,
    ) -> StoredGrant:
        """The consent's code exchanged for a first grant, stored (replacing any earlier one)."""
        async with self._locks.setdefault(state_key, asyncio.Lock()):
            body = await self._token_request(
                config,
                post_form,
                base_url,
                [
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", config.redirect_uri),
                ],
            )
            if not isinstance(body.get("refresh_token"), str):
                raise NpoResponseError("token endpoint answered the code without a refresh_token")
            grant = self._answered(StoredGrant(), body, used=None)
            await self._save(state_key, grant)
            metrics.oauth_token_requests.labels("authorization_code", "ok").inc()
            logger.info("npo=%s OAuth2 grant stored from a consent", state_key)
            return grant

    async def _refresh(
        self,
        state_key: str,
        grant: StoredGrant,
        config: OAuth2AuthorizationCodeAuth,
        post_form: PostForm,
        base_url: str,
    ) -> StoredGrant:
        candidates = [grant.refresh_token, grant.previous_refresh_token]
        for sealed in [c for c in candidates if c is not None]:
            form = [("grant_type", "refresh_token"), ("refresh_token", self._box.open(sealed))]
            try:
                body = await self._token_request(config, post_form, base_url, form)
            except NpoRequestError as exc:
                if not _invalid_grant(exc):
                    metrics.oauth_token_requests.labels("refresh_token", "error").inc()
                    raise
                logger.warning("npo=%s the NPO refused a refresh token (invalid_grant)", state_key)
                continue
            for hook in AFTER_TOKEN_ANSWER:
                hook()
            refreshed = self._answered(grant, body, used=sealed)
            await self._save(state_key, refreshed)  # stored before anyone uses it
            metrics.oauth_token_requests.labels("refresh_token", "ok").inc()
            logger.info("npo=%s OAuth2 access token refreshed", state_key)
            return refreshed
        revoked = grant.model_copy(
            update={
                "status": "revoked",
                "access_token": None,
                "access_expires_at": None,
                "revoked_reason": "invalid_grant",
                "revoked_at": self._clock(),
            }
        )
        await self._save(state_key, revoked)
        metrics.oauth_token_requests.labels("refresh_token", "invalid_grant").inc()
        metrics.oauth_grants_revoked.inc()
        logger.error("npo=%s OAuth2 grant revoked by the NPO; consent again", state_key)
        raise GrantRevokedError(state_key)

    def _answered(self, grant: StoredGrant, body: dict[str, Any], used: str | None) -> StoredGrant:
        """The grant after a token answer: a rotated refresh token becomes current, the one
        ``used`` for this answer becomes the way back."""
        now = self._clock()
        rotated = body.get("refresh_token")
        update: dict[str, Any] = {
            "status": "active",
            "access_token": self._box.seal(body["access_token"]),
            "access_expires_at": now + _lifetime(body.get("expires_in")),
            "refreshed_at": now,
            "revoked_reason": None,
            "revoked_at": None,
        }
        if isinstance(rotated, str) and rotated:
            update["refresh_token"] = self._box.seal(rotated)
            update["previous_refresh_token"] = used
            update["generation"] = 0 if used is None else grant.generation + 1
        return grant.model_copy(update=update)

    async def _token_request(
        self,
        config: OAuth2AuthorizationCodeAuth,
        post_form: PostForm,
        base_url: str,
        form: list[tuple[str, str]],
    ) -> dict[str, Any]:
        secret = self._box.open(config.client_secret.get_secret_value())
        url = join_base(base_url, config.token_url)
        response = await post_form(url, form, basic=(config.client_id, secret))
        body = response.json
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise NpoResponseError(
                "token endpoint answered without an access_token", status=response.status
            )
        return body

    async def _save(self, state_key: str, grant: StoredGrant) -> None:
        npo_id, source = split_key(state_key)
        stored = await self._store.load(npo_id) or NpoGrants(npo_id=npo_id)
        sources = {**stored.sources, source: grant}
        await self._store.save(stored.model_copy(update={"sources": sources}))


def _lifetime(expires_in: Any) -> float:
    """Seconds the access token lives; SKY API says 3600. Without one, an hour."""
    try:
        return max(float(expires_in), 0.0)
    except (TypeError, ValueError):
        return 3600.0


class MemoryGrantStore:
    """A store in memory: a single process (tests, `npos check` previews)."""

    def __init__(self) -> None:
        self.values: dict[str, NpoGrants] = {}
        self.saves = 0

    async def load(self, npo_id: str) -> NpoGrants | None:
        return self.values.get(npo_id)

    async def save(self, grants: NpoGrants) -> None:
        self.values[grants.npo_id] = grants
        self.saves += 1
