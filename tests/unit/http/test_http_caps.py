"""The worker's caps clamp what an NPO config asks of a call: timeout, tries, breaker threshold."""

import asyncio
import logging
import time

import pytest
from aiohttp import web

from npo_integration.http import NpoHttpClient
from npo_integration.http.errors import CircuitOpenError, NpoTimeoutError, NpoUnavailableError
from npo_integration.http.npo_state import CallCaps

CAPS = CallCaps(
    timeout_seconds=0.2, retry_attempts=2, retry_backoff_seconds=1.0, failure_threshold=2
)


@pytest.fixture
async def capped(box, clock, fake_sleep):
    async with NpoHttpClient(
        box, allow_private=True, clock=clock, sleep=fake_sleep, caps=CAPS
    ) as started:
        yield started


async def test_a_timeout_above_the_cap_is_clamped(capped, serve, config_factory) -> None:
    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    base = await serve(web.get("/slow", slow))
    config = config_factory(base, timeout_seconds=60, retry={"max_attempts": 1})
    started = time.monotonic()
    with pytest.raises(NpoTimeoutError):
        await capped.request(config, "GET", "/slow")
    assert time.monotonic() - started < 2


async def test_tries_waits_and_breaker_threshold_above_their_caps_are_clamped(
    capped, serve, config_factory, fake_sleep, caplog
) -> None:
    hits: list[int] = []

    async def down(_request: web.Request) -> web.Response:
        hits.append(1)
        return web.json_response({"message": "down"}, status=503)

    base = await serve(web.get("/x", down))
    config = config_factory(
        base,
        retry={"max_attempts": 20, "backoff_base_seconds": 50, "backoff_max_seconds": 3600},
        circuit_breaker={"failure_threshold": 1000},
    )
    with caplog.at_level(logging.WARNING, logger="npo_integration.http.npo_state"):
        with pytest.raises(NpoUnavailableError):
            await capped.request(config, "GET", "/x")
        assert len(hits) == 2 and all(wait <= 1.0 for wait in fake_sleep.calls)
        with pytest.raises(CircuitOpenError):  # open after those 2 failures, not 1000
            await capped.request(config, "GET", "/x")
    assert len(hits) == 2
    warnings = [r.getMessage() for r in caplog.records if r.name.endswith("npo_state")]
    assert len(warnings) == 4  # once per capped value (the default timeout too), not per call
    assert any("NPO_HTTP_MAX_RETRY_ATTEMPTS=2: 2 is used" in w for w in warnings)


def test_values_within_the_caps_are_kept(config_factory) -> None:
    config = config_factory(
        "https://npo.example.org",
        timeout_seconds=0.1,
        retry={"max_attempts": 2, "backoff_max_seconds": 1},
        circuit_breaker={"failure_threshold": 2},
    )
    assert CAPS.exceeded(config) == []
    assert CallCaps().exceeded(config_factory("https://npo.example.org", timeout_seconds=300)) == []
