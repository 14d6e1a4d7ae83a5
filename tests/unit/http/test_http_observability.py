"""Each try of an NPO call is timed in npo_http_request_seconds by method and status class, and
the client's log lines carry the NPO's id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from aiohttp import web

from npo_integration import metrics
from npo_integration.http.errors import NpoRequestError
from npo_integration.log_format import JsonFormatter


def tries(method: str, status: str) -> float:
    labels = {"method": method, "status": status}
    return metrics.registry.get_sample_value("npo_http_request_seconds_count", labels) or 0.0


@pytest.fixture
def client_log() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("npo_integration.http.client")
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield out
    logger.removeHandler(handler)
    logger.setLevel(saved)


async def answer(request: web.Request) -> web.Response:
    status = int(request.query.get("status", "200"))
    return web.json_response({"ok": status == 200}, status=status)


async def test_each_try_is_timed_by_status_class(client, serve, config_factory) -> None:
    base = await serve(web.get("/x", answer))
    before = tries("GET", "2xx"), tries("GET", "4xx")
    await client.request(config_factory(base), "GET", "/x")
    with pytest.raises(NpoRequestError):
        await client.request(config_factory(base), "GET", "/x", params={"status": "404"})
    assert (tries("GET", "2xx"), tries("GET", "4xx")) == (before[0] + 1, before[1] + 1)


async def test_a_call_without_an_answer_is_timed_as_an_error(client, config_factory) -> None:
    before = tries("GET", "error")
    with pytest.raises(Exception):  # noqa: B017  (which error is test_http_client's business)
        await client.request(config_factory("http://127.0.0.1:9"), "GET", "/x", retry=False)
    assert tries("GET", "error") == before + 1


async def test_the_clients_lines_carry_the_npo_id(
    client, serve, config_factory, client_log: io.StringIO
) -> None:
    base = await serve(web.get("/x", answer))
    await client.request(config_factory(base), "GET", "/x")
    (line,) = [json.loads(text) for text in client_log.getvalue().splitlines()]
    assert line["npo_id"] == "test-npo" and "-> 200" in line["message"]
