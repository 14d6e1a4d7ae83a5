"""Build the sandbox app and run it on a socket, in-process or as its own process."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from aiohttp import web

from . import admin, grants, oauth
from .auth import AuthSettings
from .faults import FaultAction, FaultUpdate, apply_update
from .flavours import FLAVOURS, get_flavour
from .pipeline import json_error
from .state import STATE_KEY, NpoOptions, SandboxState, SimulatedNpo

log = logging.getLogger(__name__)


async def _unknown_path(request: web.Request) -> web.Response:
    """Log misaddressed calls under the NPO, so a misconfigured client shows up in its log."""
    state = request.app[STATE_KEY]
    npo = state.npos.get(request.match_info["npo_id"])
    if npo is None:
        state.unknown_npo_requests += 1
    else:
        npo.log_request(request, "other", state.now()).status = 404
    return json_error(404, "not_found", f"no such endpoint: {request.method} {request.path}")


def build_sandbox_app(state: SandboxState | None = None) -> web.Application:
    """The aiohttp app: admin API, OAuth token endpoint, every flavour's routes."""
    app = web.Application()
    app[STATE_KEY] = state if state is not None else SandboxState()
    admin.register(app.router)
    oauth.register(app.router)
    grants.register(app.router)
    for flavour in FLAVOURS.values():
        flavour.register(app.router)
    app.router.add_route("*", "/npos/{npo_id}/{tail:.*}", _unknown_path)
    return app


def _display_host(host: str) -> str:
    """A host a client can dial: wildcard binds are reached via loopback."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"[{host}]" if ":" in host else host


class SandboxServer:
    """The sandbox on a real socket for the span of an ``async with``.

    ``port=0`` picks a free port; ``url`` tells which. The helpers act on the
    state directly (no HTTP round trip) and mirror the ``/_sandbox`` admin API.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        state: SandboxState | None = None,
        shutdown_timeout: float = 1.0,
        access_log: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.state = state if state is not None else SandboxState()
        self.app = build_sandbox_app(self.state)
        self._shutdown_timeout = shutdown_timeout
        self._access_log = access_log
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{_display_host(self.host)}:{self.port}"

    def npo_base_url(self, npo_id: str) -> str:
        return f"{self.url}/npos/{npo_id}"

    async def start(self) -> SandboxServer:
        family, kind, proto, _, address = socket.getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        self.port = sock.getsockname()[1]
        # Cancel handlers whose client left, so hang faults never delay shutdown.
        runner = web.AppRunner(
            self.app,
            handler_cancellation=True,
            shutdown_timeout=self._shutdown_timeout,
            access_log=logging.getLogger("aiohttp.access") if self._access_log else None,
        )
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner
        log.info("npo sandbox listening on %s", self.url)
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> SandboxServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def npo(self, npo_id: str) -> SimulatedNpo:
        """The live state of one NPO (KeyError if absent)."""
        return self.state.npos[npo_id]

    async def add_npo(
        self,
        npo_id: str,
        flavour: str = "simple",
        *,
        auth: AuthSettings | Mapping[str, Any] | None = None,
        offerings: int = 10,
        progress: int = 0,
        options: NpoOptions | Mapping[str, Any] | None = None,
    ) -> SimulatedNpo:
        """Create or replace an NPO, like ``PUT /_sandbox/npos/{npo_id}``."""
        spec = admin.NpoSpec.model_validate(
            {
                "flavour": flavour,
                "auth": auth if auth is not None else {},
                "offerings": offerings,
                "progress": progress,
                "options": options if options is not None else {},
            }
        )
        return admin.create_npo(self.state, npo_id, spec)

    async def remove_npo(self, npo_id: str) -> bool:
        return self.state.remove(npo_id)

    async def set_faults(
        self,
        npo_id: str,
        endpoint: str = "any",
        *,
        latency_ms: int | None = None,
        down: bool | None = None,
        down_mode: str | None = None,
        fail_next: Sequence[FaultAction | Mapping[str, Any]] = (),
    ) -> None:
        """Merge faults, like ``PUT /_sandbox/npos/{npo_id}/faults``."""
        update = FaultUpdate.model_validate(
            {
                "endpoint": endpoint,
                "latency_ms": latency_ms,
                "down": down,
                "down_mode": down_mode,
                "fail_next": list(fail_next),
            }
        )
        apply_update(self.npo(npo_id).faults, update)

    async def clear_faults(self, npo_id: str, endpoint: str | None = None) -> None:
        faults = self.npo(npo_id).faults
        if endpoint is None:
            faults.clear()
        else:
            faults.pop(endpoint, None)

    async def upsert(self, npo_id: str, kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """Upsert a flavour-native ``offerings``/``progress`` record; bumps its modified time."""
        npo = self.npo(npo_id)
        when = npo.next_stamp(self.state.now())
        stored, _ = get_flavour(npo.flavour).upsert(npo, kind, dict(record), when)
        return stored

    async def records(self, npo_id: str, kind: str) -> list[dict[str, Any]]:
        """Every current ``offerings``/``progress`` record of an NPO, as served."""
        npo = self.npo(npo_id)
        return list(get_flavour(npo.flavour).records(npo, kind).values())

    async def requests(self, npo_id: str) -> list[dict[str, Any]]:
        return [entry.to_dict() for entry in self.npo(npo_id).requests]

    async def enrolments(self, npo_id: str) -> list[dict[str, Any]]:
        return [record.to_dict() for record in self.npo(npo_id).enrolments]

    async def stats(self) -> dict[str, Any]:
        return self.state.stats()
