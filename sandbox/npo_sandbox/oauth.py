"""OAuth2 client-credentials token endpoint: ``POST /npos/{npo_id}/oauth/token`` (and at
Salesforce's path, ``/services/oauth2/token``).

Issued tokens are counted per NPO so a test can assert that a client caches
its token instead of fetching one per request; ``token_ttl_seconds`` lets a
test make tokens expire (0 = already expired) without sleeping.
"""

from __future__ import annotations

from aiohttp import web

from . import auth
from .pipeline import json_error, npo_route
from .state import STATE_KEY, SimulatedNpo


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


@npo_route(None, "token", authenticate=False)
async def token(request: web.Request, npo: SimulatedNpo) -> web.Response:
    if npo.auth.kind != "oauth2_client_credentials":
        return json_error(404, "not_found", f"{npo.npo_id} does not use OAuth2")
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    client_id, secret = auth.client_credentials(form, request.headers.get("Authorization"))
    known_client = auth.same_secret(client_id, npo.auth.client_id)
    if not (auth.same_secret(secret, npo.auth.client_secret) and known_client):
        return _oauth_error(401, "invalid_client", "client authentication failed")
    access_token, ttl = auth.issue_token(npo, request.app[STATE_KEY].clock())
    body: dict[str, object] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": int(ttl) if float(ttl).is_integer() else ttl,
    }
    if form.get("scope"):
        body["scope"] = form["scope"]
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def register(router: web.UrlDispatcher) -> None:
    router.add_post("/npos/{npo_id}/oauth/token", token)
    router.add_post("/npos/{npo_id}/services/oauth2/token", token)  # Salesforce's path
