"""The path every NPO request takes: find the NPO, log, faults, auth, handler.

Flavour handlers hold only API logic; this wrapper gives all of them the same
request log, fault injection, auth check and idempotency, in the same order:
latency -> down -> auth -> one-shot fault -> (idempotency) -> handler.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import auth, faults, idempotency
from .reqkeys import ABORTED
from .state import STATE_KEY, SimulatedNpo

log = logging.getLogger(__name__)

Handler = Callable[[web.Request, SimulatedNpo], Awaitable[web.StreamResponse]]
Route = Callable[[web.Request], Awaitable[web.StreamResponse]]
KindResolver = str | Callable[[web.Request, SimulatedNpo], Awaitable[str]]
Unauthorized = Callable[[str], web.Response]


class BadRequest(Exception):
    """A handler's way to answer 400 with a message."""


def json_error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status)


def default_unauthorized(reason: str) -> web.Response:
    """401 with a JSON body; flavours whose real API differs pass their own."""
    return web.json_response(
        {"error": "unauthorized", "message": reason},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="npo-sandbox"'},
    )


def npo_route(
    flavour: str | None,
    kind: KindResolver,
    *,
    authenticate: bool = True,
    unauthorized: Unauthorized = default_unauthorized,
) -> Callable[[Handler], Route]:
    """Wrap ``handler(request, npo)`` into an aiohttp route for one flavour's NPOs."""

    def decorate(handler: Handler) -> Route:
        @functools.wraps(handler)
        async def route(request: web.Request) -> web.StreamResponse:
            state = request.app[STATE_KEY]
            npo_id = request.match_info["npo_id"]
            npo = state.npos.get(npo_id)
            if npo is None:
                state.unknown_npo_requests += 1
                return json_error(404, "unknown_npo", f"no simulated NPO {npo_id!r}")
            if flavour is not None and npo.flavour != flavour:
                npo.log_request(request, "other", state.now()).status = 404
                return json_error(404, "not_found", f"{npo_id} is a {npo.flavour!r} NPO")
            endpoint = kind if isinstance(kind, str) else await kind(request, npo)
            entry = npo.log_request(request, endpoint, state.now())
            try:
                response = await _serve(request, npo, endpoint, handler, authenticate, unauthorized)
            except web.HTTPException as exc:
                entry.status = exc.status
                raise
            except asyncio.CancelledError:
                log.debug("%s %s cancelled: client went away", request.method, request.path)
                raise
            except Exception:
                entry.status = 500
                raise
            entry.status = None if request.get(ABORTED) else response.status
            return response

        return route

    return decorate


async def _serve(
    request: web.Request,
    npo: SimulatedNpo,
    endpoint: str,
    handler: Handler,
    authenticate: bool,
    unauthorized: Unauthorized,
) -> web.StreamResponse:
    early = await faults.before_auth(request, npo, endpoint)
    if early is not None:
        return early
    if authenticate:
        reason = await auth.check(request, npo, request.app[STATE_KEY].clock())
        if reason is not None:
            log.debug("npo %s rejected %s %s: %s", npo.npo_id, request.method, request.path, reason)
            return unauthorized(reason)

    async def run_handler() -> web.StreamResponse:
        try:
            return await handler(request, npo)
        except BadRequest as exc:
            return json_error(400, "bad_request", str(exc))

    async def proceed() -> web.StreamResponse:
        if endpoint == "enrol":
            return await idempotency.guard(request, npo, run_handler)
        return await run_handler()

    action = faults.take_action(npo, endpoint)
    if action is None:
        return faults.renamed(npo, endpoint, await proceed())
    log.debug("npo %s %s: injecting %s", npo.npo_id, endpoint, action)
    return faults.renamed(npo, endpoint, await faults.perform(action, proceed, request))
