"""``/ops``: the operations page, server-rendered HTML that works with JavaScript off.

``/ops`` lists every NPO's health (``/admin/status/npos``), ``/ops/npos/{id}`` shows one NPO's
status (``/admin/npos/{id}/status``, answered by its owner) with its actions. An action is the
admin API's own route, called on the operator's behalf with the admin token, then a redirect back
to the NPO's page with the API's answer (post/redirect/get: a reload does not post again).
Authentication is the session cookie or the bearer token of ``ops_auth.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import aiohttp
from faust import web

from npo_integration.app import app, settings
from npo_integration.views import ops_auth, ops_html, peers

LIST_LIMIT = 100
ACTION_PATHS: Mapping[str, str] = {
    "pull": "/admin/npos/{npo_id}/fetch",
    "pause": "/admin/npos/{npo_id}/pause",
    "resume": "/admin/npos/{npo_id}/resume",
    "redrive": "/admin/npos/{npo_id}/dead-letters/redrive",
    "redrive-enrolments": "/admin/npos/{npo_id}/enrolments/redrive",
}
"""Each action of the NPO page -> the admin API route it posts to (pause and resume come with
the pause commands; until then the page shows the API's 404)."""

Html = str


class Refused(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


def _refuse(view: web.View, status: int, body: Html) -> Refused:
    return Refused(view.html(body, status=status))


def _caller(view: web.View, request: web.Request) -> str:
    """The CSRF token for the page's forms ("" for a bearer caller); ``Refused`` when the request
    is neither logged in nor carries the token."""
    if not ops_auth.enabled():
        raise _refuse(view, 503, ops_html.failure("disabled", "NPO_ADMIN_TOKEN is not set", None))
    if ops_auth.has_bearer(request):
        return ""
    session = ops_auth.session_of(request)
    if session is None:
        raise _refuse(view, 401, ops_html.login())
    return ops_auth.csrf_token(session)


async def _form(request: web.Request) -> dict[str, str]:
    body = (await request.read()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, max_num_fields=10).items()}


async def _poster(view: web.View, request: web.Request) -> str:
    """As ``_caller``, for a POST: a logged-in browser's form must carry its CSRF token."""
    csrf = _caller(view, request)
    if csrf and not ops_auth.csrf_ok(
        ops_auth.session_of(request) or "", (await _form(request)).get("csrf", "")
    ):
        raise _refuse(view, 403, ops_html.failure("refused", "stale or missing form token", None))
    return csrf


async def _admin_call(method: str, path: str) -> tuple[int, Any]:
    """This worker's admin API, with the admin token: what an action or a page shows."""
    token = settings.admin_token
    secret = token.get_secret_value() if token else ""
    try:
        async with app.http_client.request(
            method,
            f"{peers.own_url().rstrip('/')}{path}",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=aiohttp.ClientTimeout(total=30),
        ) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, {"error": text[:300]}
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 502, {"error": f"no answer from the admin API: {type(exc).__name__}"}


def _error(body: Any) -> str:
    return str(body.get("error", body)) if isinstance(body, dict) else str(body)


@app.page("/ops")
class OpsHome(web.View):
    async def get(self, request: web.Request) -> web.Response:
        """Every NPO's health, stalest first (``?sort=npo_id``), a page at a time."""
        try:
            csrf = _caller(self, request)
        except Refused as refused:
            return refused.response
        sort = request.query.get("sort", "staleness")
        offset = request.query.get("offset", "0")
        query = urlencode({"sort": sort, "offset": offset, "limit": LIST_LIMIT})
        status, body = await _admin_call("GET", f"/admin/status/npos?{query}")
        if status != 200:
            return self.html(ops_html.failure("NPOs", _error(body), csrf), status=status)
        return self.html(ops_html.npo_list(body, csrf, LIST_LIMIT))


@app.page("/ops/login")
class OpsLogin(web.View):
    async def post(self, request: web.Request) -> web.Response:
        """The admin token from the form; a session cookie and a redirect to ``/ops`` if right."""
        if not ops_auth.enabled():
            page = ops_html.failure("disabled", "NPO_ADMIN_TOKEN is not set", None)
            return self.html(page, status=503)
        if not ops_auth.token_matches((await _form(request)).get("token", "")):
            return self.html(ops_html.login("wrong admin token"), status=401)
        cookie = ops_auth.cookie_header(request, ops_auth.new_session())
        return self.html("", status=303, headers={"Location": "/ops", "Set-Cookie": cookie})


@app.page("/ops/logout")
class OpsLogout(web.View):
    async def post(self, request: web.Request) -> web.Response:
        """End the browser's session (its cookie); others' stay valid until they expire."""
        try:
            await _poster(self, request)
        except Refused as refused:
            return refused.response
        cookie = ops_auth.cookie_header(request, "", max_age=0)
        return self.html("", status=303, headers={"Location": "/ops", "Set-Cookie": cookie})


@app.page("/ops/npos/{npo_id}")
class OpsNpo(web.View):
    async def get(self, request: web.Request, npo_id: str) -> web.Response:
        """One NPO's status, recent pulls, dead letters and actions."""
        try:
            csrf = _caller(self, request)
        except Refused as refused:
            return refused.response
        status, body = await _admin_call("GET", f"/admin/npos/{quote(npo_id, safe='')}/status")
        if status != 200:
            return self.html(ops_html.failure(npo_id, _error(body), csrf), status=status)
        done = request.query.get("done", "")
        message = done if ops_auth.message_ok(done, request.query.get("sig", "")) else None
        return self.html(ops_html.npo_detail(body, csrf, message))


@app.page("/ops/npos/{npo_id}/{action}")
class OpsAction(web.View):
    async def post(self, request: web.Request, npo_id: str, action: str) -> web.Response:
        """Run ``action`` (pull, pause, resume, redrive, redrive-enrolments) through the admin
        API, then back to the NPO's page with its answer."""
        try:
            csrf = await _poster(self, request)
        except Refused as refused:
            return refused.response
        path = ACTION_PATHS.get(action)
        if path is None:
            known = ", ".join(ACTION_PATHS)
            message = f"unknown action {action!r} (one of {known})"
            return self.html(ops_html.failure(npo_id, message, csrf), status=404)
        status, body = await _admin_call("POST", path.format(npo_id=quote(npo_id, safe="")))
        if status == 404 and _error(body).startswith("unknown npo_id"):
            return self.html(ops_html.failure(npo_id, _error(body), csrf), status=404)
        outcome = (
            f"{action}: accepted" if status in (200, 202) else f"{action}: HTTP {status}, "
        ) + ("" if status in (200, 202) else _error(body))
        signed = urlencode({"done": outcome, "sig": ops_auth.message_signature(outcome)})
        target = f"/ops/npos/{quote(npo_id, safe='')}?{signed}"
        return self.html("", status=303, headers={"Location": target})
