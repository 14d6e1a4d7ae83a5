"""One refresh at a time across the cluster: the owner of the NPO's grants partition refreshes.

Every worker calls every NPO (pulls go to the owner of the NPO's partition, enrolments to the
owner of the assignment's), but only one worker may refresh an NPO's grant: two refreshes with
the same rotating refresh token revoke the grant (reuse detection) or lose one of the two new
tokens. Kafka already names one worker per partition, so the grant table is partitioned like the
NPO and its owner is the refresher: it runs a :class:`GrantKeeper` (a lock per grant, store
before use). The other workers ask it over the admin API (``POST /admin/npos/{id}/oauth/token``)
and get the access token sealed (only holders of the key ring open it); a rebalance moves the
partition, the table and the refreshing together. A worker that asks while the partition moves
gets an error and the call is retried like any unavailable NPO.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

import aiohttp
from yarl import URL

from npo_integration.app import app, settings
from npo_integration.errors import NpoIntegrationError
from npo_integration.http.auth.base import PostForm
from npo_integration.http.auth.grants import (
    AFTER_TOKEN_ANSWER,
    GrantKeeper,
    GrantRevokedError,
    NoGrantError,
)
from npo_integration.http.errors import NpoUnavailableError
from npo_integration.models.npo_config import OAuth2AuthorizationCodeAuth
from npo_integration.models.oauth_grant import NpoGrants
from npo_integration.tables import oauth_grants
from npo_integration.worker_resources import batch_producer, http_client, secret_box

logger = logging.getLogger(__name__)
PEER_TIMEOUT = 60.0
"""A token request to the owner waits for its refresh (the NPO's token endpoint)."""


class TableGrantStore:
    """The grants table; saves only on the owner (see module doc)."""

    async def load(self, npo_id: str) -> NpoGrants | None:
        return oauth_grants.get(npo_id)

    async def save(self, grants: NpoGrants) -> None:
        await oauth_grants.durable_put(grants, batch_producer)


keeper = GrantKeeper(TableGrantStore(), secret_box)


def owner_url(npo_id: str) -> str:
    """The web address of the worker owning ``npo_id``'s grants partition."""
    try:
        return str(app.router.key_store(oauth_grants.table.name, npo_id.encode()))
    except KeyError:
        raise NpoUnavailableError(
            f"npo={npo_id}: no worker owns its OAuth2 grant right now (rebalancing)"
        ) from None


def is_owner(npo_id: str) -> bool:
    """Compared by host and port, as Faust's router does (``views/peers.py`` alike)."""
    owner, own = URL(owner_url(npo_id)), URL(str(app.conf.canonical_url))
    return (owner.host, owner.port) == (own.host, own.port)


class ClusterGrantBroker:
    """The authenticators' broker (``http_client.grants``): the keeper here, or the owner's."""

    async def access_token(
        self,
        state_key: str,
        config: OAuth2AuthorizationCodeAuth,
        post_form: PostForm,
        base_url: str,
        rejected: str | None = None,
    ) -> tuple[str, float]:
        npo_id, _, source = state_key.partition("/")
        if is_owner(npo_id):
            return await keeper.access_token(state_key, config, post_form, base_url, rejected)
        body = {"source": source or "main", "rejected": rejected}
        answer = await post_to_owner(npo_id, "oauth/token", body)
        return str(answer["access_token"]), float(answer["expires_at"])


async def post_to_owner(npo_id: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``/admin/npos/{npo_id}/{path}`` on the owner; its errors become ours, in one line."""
    url = f"{owner_url(npo_id).rstrip('/')}/admin/npos/{npo_id}/{path}"
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    try:
        async with app.http_client.post(
            url,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientTimeout(total=PEER_TIMEOUT),
        ) as response:
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise NpoUnavailableError(
            f"npo={npo_id}: the owner of its OAuth2 grant did not answer ({type(exc).__name__})"
        ) from None
    if not isinstance(answer, dict):
        raise NpoUnavailableError(f"npo={npo_id}: the grant owner answered {response.status}")
    if response.status == 409 and answer.get("grant") == "revoked":
        raise GrantRevokedError(npo_id)
    if response.status == 409 and answer.get("grant") == "missing":
        raise NoGrantError(npo_id)
    if response.status != 200:
        raise NpoUnavailableError(
            f"npo={npo_id}: the grant owner answered {response.status}: {answer.get('error')}"
        )
    return answer


def grant_error_answer(exc: NpoIntegrationError) -> tuple[dict[str, Any], int]:
    """The owner's answer for a grant that cannot give a token (read by :func:`post_to_owner`)."""
    if isinstance(exc, GrantRevokedError):
        return {"error": str(exc), "grant": "revoked"}, 409
    if isinstance(exc, NoGrantError):
        return {"error": str(exc), "grant": "missing"}, 409
    return {"error": str(exc)}, 502


broker = ClusterGrantBroker()
http_client.grants = broker

TEST_KILL_VARIABLE = "SPOTLIGHT_TEST_KILL_AFTER_TOKEN_ANSWER"
"""Test only (tests/integration/test_oauth_rotation.py): ``1`` makes this worker SIGKILL itself
right after it receives its first refreshed token and before it stores it, the crash window the
rotation rules are about. Never set in a deployment."""

if os.environ.get(TEST_KILL_VARIABLE) == "1":
    logger.warning("%s is set: this worker dies at its first token answer", TEST_KILL_VARIABLE)
    AFTER_TOKEN_ANSWER.append(lambda: os.kill(os.getpid(), signal.SIGKILL))
