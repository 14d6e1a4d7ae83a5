"""OAuth2 authorization code with rotating refresh tokens, as Blackbaud's SKY API issues them.

``GET /npos/{id}/oauth2/authorization`` (consent) redirects to ``redirect_uri`` with a one-time
``code``; ``POST /npos/{id}/oauth2/token`` (form, client id/secret by HTTP Basic or in the form)
takes ``grant_type=authorization_code`` (code, redirect_uri) or ``grant_type=refresh_token`` and
answers ``access_token``, ``expires_in``, ``refresh_token``, ``refresh_token_expires_in``.

Each refresh issues a new refresh token. ``refresh_rotation`` says when the presented one dies:

* ``strict``: at once. Presenting it again is reuse: ``invalid_grant`` and the whole grant is
  revoked (RFC 9700 §4.14.2 reuse detection), so a client that refreshes twice concurrently, or
  loses a token it was issued, is locked out, which is what the tests look for.
* ``grace``: when the new refresh token, or an access token issued with it, is first used. A
  client that crashed before storing what it was issued can refresh again with the old one (the
  never-used successor is then revoked). Reuse after the successor was used is rejected as above.

The counters (refreshes, in flight at once, reuse rejected) let tests prove one refresh at a time.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from aiohttp import web

from . import auth
from .pipeline import json_error, npo_route
from .state import STATE_KEY, SimulatedNpo

REFRESH_TOKEN_TTL = 365 * 24 * 3600


@dataclass(slots=True)
class _Refresh:
    generation: int
    parent: str | None
    used: bool = False
    revoked: bool = False


@dataclass(slots=True)
class GrantState:
    """One NPO's consent: its refresh tokens (a chain) and its counters."""

    codes: set[str] = field(default_factory=set)
    refresh_tokens: dict[str, _Refresh] = field(default_factory=dict)
    access_generation: dict[str, str] = field(default_factory=dict)
    """access token -> the refresh token issued with it."""
    revoked: bool = False
    refreshes: int = 0
    code_exchanges: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    reuse_rejected: int = 0

    def new_code(self) -> str:
        code = secrets.token_urlsafe(12)
        self.codes.add(code)
        return code

    def counters(self) -> dict[str, int | bool]:
        return {
            "refreshes": self.refreshes,
            "code_exchanges": self.code_exchanges,
            "max_in_flight": self.max_in_flight,
            "reuse_rejected": self.reuse_rejected,
            "revoked": self.revoked,
        }


def grant_of(npo: SimulatedNpo) -> GrantState:
    if npo.grant is None:
        npo.grant = GrantState()
    return npo.grant


def mark_access_used(npo: SimulatedNpo, access_token: str) -> None:
    """An API call with ``access_token`` succeeded: under ``grace`` its refresh token's parent
    is revoked now (the client has shown it holds the successor)."""
    grant = grant_of(npo)
    issued_with = grant.access_generation.get(access_token)
    if issued_with is not None:
        _first_use(npo, issued_with)


def _first_use(npo: SimulatedNpo, refresh_token: str) -> None:
    grant = grant_of(npo)
    entry = grant.refresh_tokens.get(refresh_token)
    if entry is None or entry.used:
        return
    entry.used = True
    if entry.parent is not None and entry.parent in grant.refresh_tokens:
        grant.refresh_tokens[entry.parent].revoked = True


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


def _issue(npo: SimulatedNpo, now: float, parent: str | None) -> dict[str, object]:
    grant = grant_of(npo)
    generation = 0 if parent is None else grant.refresh_tokens[parent].generation + 1
    refresh = secrets.token_urlsafe(24)
    grant.refresh_tokens[refresh] = _Refresh(generation, parent)
    access, ttl = auth.issue_token(npo, now)
    grant.access_generation[access] = refresh
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": int(ttl),
        "refresh_token": refresh,
        "refresh_token_expires_in": REFRESH_TOKEN_TTL,
    }


@npo_route(None, "authorize", authenticate=False)
async def authorization(request: web.Request, npo: SimulatedNpo) -> web.StreamResponse:
    """The consent page, consented at once: redirect with a code (and the caller's state)."""
    query = request.query
    if npo.auth.kind != "oauth2_authorization_code":
        return json_error(404, "not_found", f"{npo.npo_id} does not use the authorization code")
    if query.get("response_type") != "code" or not auth.same_secret(
        query.get("client_id"), npo.auth.client_id
    ):
        return _oauth_error(400, "invalid_request", "response_type=code and client_id required")
    redirect = query.get("redirect_uri", "")
    params = {"code": grant_of(npo).new_code()}
    if "state" in query:
        params["state"] = query["state"]
    raise web.HTTPFound(f"{redirect}?{urlencode(params)}")


@npo_route(None, "token", authenticate=False)
async def token(request: web.Request, npo: SimulatedNpo) -> web.Response:
    if npo.auth.kind != "oauth2_authorization_code":
        return json_error(404, "not_found", f"{npo.npo_id} does not use the authorization code")
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    client_id, secret = auth.client_credentials(form, request.headers.get("Authorization"))
    known_client = auth.same_secret(client_id, npo.auth.client_id)
    if not (auth.same_secret(secret, npo.auth.client_secret) and known_client):
        return _oauth_error(401, "invalid_client", "client authentication failed")
    state = request.app[STATE_KEY]
    grant = grant_of(npo)
    kind = form.get("grant_type")
    if kind == "authorization_code":
        code = form.get("code", "")
        if code not in grant.codes:
            return _oauth_error(400, "invalid_grant", "unknown or used authorization code")
        grant.codes.discard(code)
        grant.refresh_tokens.clear()  # a new consent replaces the old chain
        grant.revoked = False
        grant.code_exchanges += 1
        return web.json_response(_issue(npo, state.clock(), None))
    if kind != "refresh_token":
        return _oauth_error(400, "unsupported_grant_type", "authorization_code or refresh_token")
    grant.in_flight += 1
    grant.max_in_flight = max(grant.max_in_flight, grant.in_flight)
    try:
        if npo.auth.refresh_delay_seconds:  # widens the window two racing refreshes share
            await asyncio.sleep(npo.auth.refresh_delay_seconds)
        presented = form.get("refresh_token", "")
        entry = grant.refresh_tokens.get(presented)
        if grant.revoked or entry is None:
            return _oauth_error(400, "invalid_grant", "the refresh token is invalid or revoked")
        if entry.revoked:
            grant.reuse_rejected += 1
            grant.revoked = True  # reuse detection: the whole grant dies
            return _oauth_error(400, "invalid_grant", "the refresh token was already used")
        _first_use(npo, presented)
        for child in [t for t, e in grant.refresh_tokens.items() if e.parent == presented]:
            grant.refresh_tokens[child].revoked = True  # issued, never used: replaced now
        if npo.auth.refresh_rotation == "strict":
            entry.revoked = True
        grant.refreshes += 1
        return web.json_response(_issue(npo, state.clock(), presented))
    finally:
        grant.in_flight -= 1


def register(router: web.UrlDispatcher) -> None:
    router.add_get("/npos/{npo_id}/oauth2/authorization", authorization)
    router.add_post("/npos/{npo_id}/oauth2/token", token)
