"""Admin API of OAuth2 grants (authorization code, rotating refresh tokens; docs/security.md).

* ``GET /admin/npos/{id}/oauth/consent``: the NPO's consent URL, for an operator's browser.
* ``POST /admin/npos/{id}/oauth/code``: the code the consent redirected with, exchanged for the
  first grant by the worker owning the NPO's grant (``grant_broker.py``), any worker forwarding.
* ``POST /admin/npos/{id}/oauth/token``: worker to worker: an access token, sealed, from the
  owner's keeper. Never a clear token: the admin API returns no secret.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from faust import web
from pydantic import BaseModel, ConfigDict, Field

from npo_integration.app import app
from npo_integration.errors import NpoIntegrationError
from npo_integration.grant_broker import (
    grant_error_answer,
    is_owner,
    keeper,
    post_to_owner,
)
from npo_integration.models.npo_config import (
    LEGACY_SOURCE,
    NpoSource,
    OAuth2AuthorizationCodeAuth,
)
from npo_integration.tables import npo_configs
from npo_integration.views.admin_answers import model_body, unknown_npo
from npo_integration.views.admin_auth import admin_only
from npo_integration.views.openapi import documented
from npo_integration.worker_resources import http_client

SOURCE = ("source", {"type": "string"}, "the source whose grant (default: main)")


class CodeExchange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=4096, description="from the consent's redirect")
    source: str = LEGACY_SOURCE


class TokenAsk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = LEGACY_SOURCE
    rejected: str | None = Field(None, description="the sealed access token the NPO refused")


def _oauth_source(npo_id: str, name: str) -> tuple[NpoSource, OAuth2AuthorizationCodeAuth] | str:
    """The source and its auth, or why not (one line)."""
    version = npo_configs.current(npo_id)
    if version is None:
        return f"unknown npo_id {npo_id!r}"
    source = version.config.source(name)
    if source is None:
        return f"NPO {npo_id!r} has no source {name!r}"
    if not isinstance(source.auth, OAuth2AuthorizationCodeAuth):
        return f"NPO {npo_id!r} source {name!r} does not use auth oauth2_authorization_code"
    return source, source.auth


@app.page("/admin/npos/{npo_id}/oauth/consent")
class OAuthConsent(web.View):
    @admin_only
    @documented(query=[SOURCE])
    async def get(self, request: web.Request, npo_id: str) -> web.Response:
        """The URL an operator opens to consent; the NPO redirects to ``redirect_uri`` with a
        ``code`` (and this ``state``), which ``POST .../oauth/code`` takes."""
        found = _oauth_source(npo_id, request.query.get("source", LEGACY_SOURCE))
        if isinstance(found, str):
            return self.json({"error": found}, status=404 if "unknown" in found else 422)
        _, auth = found
        state = secrets.token_urlsafe(16)
        query = {
            "response_type": "code",
            "client_id": auth.client_id,
            "redirect_uri": auth.redirect_uri,
            "state": state,
        }
        if auth.scope:
            query["scope"] = auth.scope
        separator = "&" if "?" in auth.authorize_url else "?"
        url = f"{auth.authorize_url}{separator}{urlencode(query)}"
        return self.json({"npo_id": npo_id, "url": url, "state": state})


@app.page("/admin/npos/{npo_id}/oauth/code")
class OAuthCode(web.View):
    @admin_only
    @documented(body=CodeExchange)
    async def post(self, request: web.Request, npo_id: str) -> web.Response:
        """Exchange a consent's code for the NPO's first grant (replacing a revoked one)."""
        if npo_configs.current(npo_id) is None:  # as every admin change: unknown before bad body
            return unknown_npo(self, npo_id)
        try:
            ask = await model_body(request, CodeExchange)
        except ValueError as exc:
            return self.json({"error": str(exc)}, status=422)
        found = _oauth_source(npo_id, ask.source)
        if isinstance(found, str):
            return (
                unknown_npo(self, npo_id)
                if "unknown" in found
                else self.json({"error": found}, status=422)
            )
        source, auth = found
        try:
            if not is_owner(npo_id):
                answer = await post_to_owner(npo_id, "oauth/code", ask.model_dump())
                return self.json(answer)
            post_form = http_client.authenticator(source).context.post_form
            grant = await keeper.exchange_code(
                source.state_key, auth, post_form, source.base_url, ask.code
            )
        except NpoIntegrationError as exc:
            body, status = grant_error_answer(exc)
            return self.json(body, status=status)
        return self.json(
            {"npo_id": npo_id, "source": ask.source, "status": grant.status, "generation": 0}
        )


@app.page("/admin/npos/{npo_id}/oauth/token")
class OAuthToken(web.View):
    @admin_only
    @documented(body=TokenAsk)
    async def post(self, request: web.Request, npo_id: str) -> web.Response:
        """Worker to worker: a sealed access token of the NPO's grant, from its owner's keeper
        (refreshed there if needed, one refresh at a time). 421 on a worker that is not the
        owner (the partition moved: ask again)."""
        if npo_configs.current(npo_id) is None:
            return unknown_npo(self, npo_id)
        try:
            ask = await model_body(request, TokenAsk)
        except ValueError as exc:
            return self.json({"error": str(exc)}, status=422)
        found = _oauth_source(npo_id, ask.source)
        if isinstance(found, str):
            return self.json({"error": found}, status=422)
        source, auth = found
        try:
            if not is_owner(npo_id):
                return self.json({"error": "not the owner of this NPO's grant"}, status=421)
            post_form = http_client.authenticator(source).context.post_form
            sealed, expires_at = await keeper.access_token(
                source.state_key, auth, post_form, source.base_url, ask.rejected
            )
        except NpoIntegrationError as exc:
            body, status = grant_error_answer(exc)
            return self.json(body, status=status)
        return self.json({"access_token": sealed, "expires_at": expires_at})
