"""Fixtures for the unit tests that call NPOs: configs, a secret box, fake
time, throw-away NPO servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from npo_integration.http import NpoHttpClient
from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.registry.config_input import read_config
from npo_integration.sealing import SecretBox


class FakeClock:
    """A monotonic clock that moves only when told to (or when FakeSleep sleeps)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeSleep:
    """Records requested sleeps, advances the fake clock, and only yields to the loop."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.advance(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([SecretBox.generate_key()])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_sleep(clock: FakeClock) -> FakeSleep:
    return FakeSleep(clock)


@pytest.fixture
def config_factory() -> Callable[..., NpoIntegrationConfig]:
    """``config_factory(base_url, auth=..., ...)``: a validated config with test defaults."""

    def make(base_url: str, **overrides: Any) -> NpoIntegrationConfig:
        data: dict[str, Any] = {
            "npo_id": "test-npo",
            "display_name": "Test NPO",
            "base_url": base_url,
            "transform": {"kind": "plugin", "name": "simple"},
            "rate_limit": {"requests_per_second": 10_000, "burst": 1_000},
            "retry": {"max_attempts": 3, "backoff_base_seconds": 0.5, "backoff_max_seconds": 30},
        }
        data.update(overrides)
        return read_config(data)

    return make


Serve = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``base = await serve(web.get("/x", handler), ...)``: an NPO imitation on 127.0.0.1:0."""
    servers: list[TestServer] = []

    async def start(*routes: web.RouteDef) -> str:
        app = web.Application()
        app.add_routes(list(routes))
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def client(
    box: SecretBox, clock: FakeClock, fake_sleep: FakeSleep
) -> AsyncIterator[NpoHttpClient]:
    """A started client allowed to reach loopback, on fake time."""
    async with NpoHttpClient(box, allow_private=True, clock=clock, sleep=fake_sleep) as started:
        yield started
