"""Each auth kind accepts the right credentials and rejects wrong ones; OAuth tokens are counted."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from npo_sandbox import SandboxServer
from npo_sandbox.state import SandboxState


def basic(user: str, password: str) -> dict[str, dict[str, str]]:
    """Basic credentials as a header (aiohttp 3.14 deprecates its BasicAuth helper)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"headers": {"Authorization": f"Basic {token}"}}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sandbox(clock: FakeClock) -> AsyncIterator[SandboxServer]:
    async with SandboxServer(state=SandboxState(clock=clock)) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def status_of(http: aiohttp.ClientSession, url: str, **kwargs: Any) -> int:
    async with http.get(url, **kwargs) as response:
        if response.status == 401:
            assert "error" in await response.json()
        return response.status


CASES: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ({"kind": "none"}, {}, {"headers": {"Authorization": "Bearer whatever"}}),
    (
        {"kind": "bearer", "token": "t0k"},
        {"headers": {"Authorization": "Bearer t0k"}},
        {"headers": {"Authorization": "Bearer nope"}},
    ),
    (
        {"kind": "api_key_header", "api_key": "k1"},
        {"headers": {"X-API-Key": "k1"}},
        {"headers": {"X-API-Key": "k2"}},
    ),
    (
        {"kind": "api_key_header", "api_key": "k1", "header_name": "Api-Token"},
        {"headers": {"Api-Token": "k1"}},
        {"headers": {"X-API-Key": "k1"}},
    ),
    (
        {"kind": "api_key_query", "api_key": "q1"},
        {"params": {"wstoken": "q1"}},
        {"params": {"wstoken": "q2"}},
    ),
    (
        {"kind": "api_key_query", "api_key": "q1", "query_param": "key"},
        {"params": {"key": "q1"}},
        {"params": {"wstoken": "q1"}},
    ),
    ({"kind": "basic", "username": "u", "password": "p"}, basic("u", "p"), basic("u", "wrong")),
]


@pytest.mark.parametrize(("auth", "right", "wrong"), CASES, ids=[c[0]["kind"] for c in CASES])
async def test_auth_kinds(
    sandbox: SandboxServer,
    http: aiohttp.ClientSession,
    auth: dict[str, Any],
    right: dict[str, Any],
    wrong: dict[str, Any],
) -> None:
    await sandbox.add_npo("n", auth=auth)
    url = f"{sandbox.npo_base_url('n')}/api/offerings"
    assert await status_of(http, url, **right) == 200
    expected_wrong = 200 if auth["kind"] == "none" else 401
    assert await status_of(http, url, **wrong) == expected_wrong
    assert await status_of(http, url) == expected_wrong


OAUTH = {
    "kind": "oauth2_client_credentials",
    "client_id": "cid",
    "client_secret": "s3cret",
    "token_ttl_seconds": 60,
}


async def fetch_token(
    http: aiohttp.ClientSession, base: str, **form: str
) -> tuple[int, dict[str, Any]]:
    data = {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "s3cret"}
    data.update(form)
    async with http.post(f"{base}/oauth/token", data=data) as response:
        return response.status, await response.json()


async def test_oauth_client_credentials_issues_counts_and_expires(
    sandbox: SandboxServer, http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    await sandbox.add_npo("sf", "salesforce", auth=OAUTH)
    base = sandbox.npo_base_url("sf")
    url = f"{base}/services/data/v60.0/query"
    params = {"q": "SELECT Id FROM Program__c"}
    status, body = await fetch_token(http, base, scope="api")
    assert status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 60 and body["scope"] == "api"
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    for _ in range(3):
        assert await status_of(http, url, params=params, headers=bearer) == 200
    assert sandbox.npo("sf").tokens_issued == 1
    clock.now += 61
    async with http.get(url, params=params, headers=bearer) as response:
        assert response.status == 401
        assert (await response.json())[0]["errorCode"] == "INVALID_SESSION_ID"
    status, fresh = await fetch_token(http, base)
    assert status == 200 and fresh["access_token"] != body["access_token"]
    bearer = {"Authorization": f"Bearer {fresh['access_token']}"}
    assert await status_of(http, url, params=params, headers=bearer) == 200
    assert sandbox.npo("sf").tokens_issued == 2
    assert (await sandbox.stats())["tokens_issued"]["sf"] == 2


async def test_oauth_rejects_bad_client_and_grant(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("o", auth={**OAUTH, "token_ttl_seconds": 0})
    base = sandbox.npo_base_url("o")
    assert (await fetch_token(http, base, client_secret="nope"))[0] == 401
    assert (await fetch_token(http, base, grant_type="password"))[0] == 400
    form = {"grant_type": "client_credentials"}
    headers = basic("cid", "s3cret")["headers"]
    async with http.post(f"{base}/oauth/token", data=form, headers=headers) as response:
        assert response.status == 200  # client credentials via HTTP Basic (RFC 6749 2.3.1)
        token = (await response.json())["access_token"]
    # ttl 0: the token is born expired, so the client must cope without sleeping
    bearer = {"Authorization": f"Bearer {token}"}
    assert await status_of(http, f"{base}/api/offerings", headers=bearer) == 401
    await sandbox.add_npo("plain", auth={"kind": "bearer", "token": "t"})
    assert (await fetch_token(http, sandbox.npo_base_url("plain")))[0] == 404


async def test_moodle_bad_token_is_an_error_in_200(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("m", "moodle", auth={"kind": "api_key_query", "api_key": "ws-secret"})
    url = f"{sandbox.npo_base_url('m')}/webservice/rest/server.php"
    params = {"wsfunction": "core_course_get_courses", "moodlewsrestformat": "json"}
    async with http.get(url, params={**params, "wstoken": "wrong"}) as response:
        assert response.status == 200
        assert (await response.json())["errorcode"] == "invalidtoken"
    async with http.get(url, params={**params, "wstoken": "ws-secret"}) as response:
        assert isinstance(await response.json(), list)
    async with http.post(url, data={**params, "wstoken": "ws-secret"}) as response:
        assert isinstance(await response.json(), list)  # token in a POSTed form works too


async def test_request_log_never_holds_secret_values(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.add_npo("m", "moodle", auth={"kind": "api_key_query", "api_key": "ws-secret-1"})
    await sandbox.add_npo("b", auth={"kind": "bearer", "token": "bearer-secret-2"})
    await sandbox.add_npo("o", auth=OAUTH)
    await status_of(
        http,
        f"{sandbox.npo_base_url('m')}/webservice/rest/server.php",
        params={
            "wstoken": "ws-secret-1",
            "wsfunction": "core_course_get_courses",
            "moodlewsrestformat": "json",
        },
    )
    async with http.post(
        f"{sandbox.npo_base_url('m')}/webservice/rest/server.php",
        data={
            "wstoken": "ws-secret-1",
            "wsfunction": "enrol_manual_enrol_users",
            "moodlewsrestformat": "json",
            "enrolments[0][roleid]": "5",
            "enrolments[0][userid]": "2001",
            "enrolments[0][courseid]": "2",
        },
    ) as response:
        assert await response.json() is None
    await status_of(
        http,
        f"{sandbox.npo_base_url('b')}/api/offerings",
        headers={"Authorization": "Bearer bearer-secret-2"},
    )
    _, token = await fetch_token(http, sandbox.npo_base_url("o"))
    await status_of(
        http,
        f"{sandbox.npo_base_url('o')}/api/offerings",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    dumped = json.dumps([await sandbox.requests(n) for n in ("m", "b", "o")])
    dumped += json.dumps(await sandbox.enrolments("m"))
    async with http.get(f"{sandbox.url}/_sandbox/npos/o") as response:
        dumped += await response.text()
    for secret in ("ws-secret-1", "bearer-secret-2", "s3cret", token["access_token"]):
        assert secret not in dumped
    entry = (await sandbox.requests("b"))[0]
    assert "Authorization" in entry["header_names"] and entry["status"] == 200
    assert (await sandbox.requests("m"))[0]["query"]["wstoken"] == "***"
