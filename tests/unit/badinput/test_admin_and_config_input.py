"""Bad input at the admin API and in NPO configs: a 4xx or a refusal naming the field."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request
from aiohttp.web import Response
from multidict import CIMultiDict
from pydantic import SecretStr, ValidationError

from npo_integration.app import settings
from npo_integration.errors import ConfigError
from npo_integration.http.auth.base import OutgoingRequest
from npo_integration.http.errors import UnsendableRequestError
from npo_integration.http.transport import send
from npo_integration.registry.config_input import read_config
from npo_integration.validation_errors import describe_validation_error
from npo_integration.views import admin_auth
from npo_integration.worker_resources import config_submitter
from tests.unit.badinput.test_json_input import DEEP
from tests.unit.conftest import Serve
from tests.web_routes import worker_routes

TOKEN = secrets.token_urlsafe(32)
ROUTES = {(r.method, r.template): r for r in worker_routes()}
CONFIG: dict[str, Any] = {
    "npo_id": "n1",
    "display_name": "N",
    "base_url": "https://n.example",
    "transform": {"kind": "plugin", "name": "simple"},
}


@pytest.fixture(autouse=True)
def admin_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        admin_auth, "settings", settings.model_copy(update={"admin_token": SecretStr(TOKEN)})
    )


async def call(method: str, template: str, body: bytes, **match: str) -> tuple[int, Any]:
    reader = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    reader.feed_data(body)
    reader.feed_eof()
    path = template.format(**match)
    request = make_mocked_request(
        method,
        path,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        match_info=match,
        payload=reader,
    )
    response = await ROUTES[(method, template)].route.handler(request)
    assert isinstance(response, Response)
    return response.status, json.loads(response.body)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (DEEP, "JSON nested too deeply to parse"),
        (b'{"npo_id": "\xff"}', "not UTF-8: invalid byte at position 12"),
        (
            b"{nope",
            "invalid JSON at line 1 column 2: Expecting property name enclosed in double quotes",
        ),
    ],
    ids=["deep", "not-utf8", "invalid"],
)
async def test_a_config_body_that_is_not_json_we_can_read_is_a_400(body: bytes, error: str) -> None:
    assert await call("POST", "/admin/npos", body) == (400, {"error": error})
    assert await call("PUT", "/admin/npos/{npo_id}", body, npo_id="n1") == (400, {"error": error})


async def test_a_confirm_body_nested_too_deeply_is_a_422() -> None:
    status, body = await call(
        "POST",
        "/admin/npos/{npo_id}/enrolments/{assignment_id}/confirm",
        DEEP,
        npo_id="n1",
        assignment_id="a1",
    )
    assert (status, body) == (422, {"error": "JSON nested too deeply to parse"})


@pytest.mark.parametrize(
    ("headers", "auth", "error"),
    [
        ({"X-A": "a\r\nX-Evil: 1"}, None, "headers.X-A: control character '\\r'"),
        ({"X-A": "a\nb"}, None, "headers.X-A: control character '\\n'"),
        ({"X A": "b"}, None, "not a valid HTTP header name"),
        ({}, {"kind": "api_key_header", "header": "X-K\r\n", "key": "k"}, "auth.api_key_header"),
    ],
    ids=["crlf", "lf", "name", "auth-header-name"],
)
def test_a_header_with_cr_or_lf_is_refused_when_the_config_is_validated(
    headers: dict[str, str], auth: dict[str, str] | None, error: str
) -> None:
    document = {**CONFIG, "headers": headers, **({"auth": auth} if auth else {})}
    with pytest.raises(ValidationError) as refused:
        read_config(document)
    assert error in describe_validation_error(refused.value)


def test_a_config_too_large_for_one_message_is_refused_when_submitted() -> None:
    config = read_config({**CONFIG, "headers": {"X-Big": "a" * 600_000}})
    with pytest.raises(ConfigError, match=r"config of \d+ bytes \(sealed\) is larger than"):
        config_submitter.upsert_command(config, "admin-api")


async def test_a_header_value_aiohttp_refuses_fails_the_request_without_quoting_it(
    serve: Serve,
) -> None:
    """A secret (or an OAuth token from the NPO) with CR/LF is sealed, so not checked as text:
    the request is refused as it is written, as a fatal error that does not quote it."""
    base = await serve(web.get("/x", lambda request: web.json_response({})))
    request = OutgoingRequest(
        "GET", f"{base}/x", headers=CIMultiDict({"Authorization": "Bearer s3cr\r\net"})
    )
    async with aiohttp.ClientSession() as session:
        with pytest.raises(UnsendableRequestError) as refused:
            await send(session, request, public_url=f"{base}/x", timeout=5)
    assert "s3cr" not in str(refused.value)
    assert "request refused before sending: ValueError" in str(refused.value)
