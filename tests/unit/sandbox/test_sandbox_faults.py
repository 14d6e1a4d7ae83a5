"""Every fault kind behaves as documented, and one-shot faults are consumed in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from npo_sandbox import SandboxServer

TOKEN = {"Authorization": "Bearer t"}


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer() as server:
        await server.add_npo("n", auth={"kind": "bearer", "token": "t"}, offerings=3)
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=TOKEN) as session:
        yield session


def offerings_url(sandbox: SandboxServer) -> str:
    return f"{sandbox.npo_base_url('n')}/api/offerings"


async def test_fail_next_queue_is_consumed_in_order(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.set_faults(
        "n",
        "offerings",
        fail_next=[
            {"status": 500},
            {"status": 429, "retry_after": 1},
            {"malformed": True},
            {"wrong_shape": True},
            {"error_in_200": True},
        ],
    )
    url = offerings_url(sandbox)
    async with http.get(url) as response:
        assert response.status == 500
    async with http.get(url) as response:
        assert response.status == 429 and response.headers["Retry-After"] == "1"
    async with http.get(url) as response:
        assert response.status == 200 and response.content_type == "text/html"
        with pytest.raises(aiohttp.ContentTypeError):
            await response.json()
        assert (await response.text()).startswith("<html>")
    async with http.get(url) as response:
        assert response.status == 200 and await response.json() == "unexpected"
    async with http.get(url) as response:
        assert (await response.json())["errorcode"] == "invalidtoken"
    async with http.get(url) as response:
        assert response.status == 200 and len((await response.json())["data"]) == 3
    statuses = [e["status"] for e in await sandbox.requests("n")]
    assert statuses == [500, 429, 200, 200, 200, 200]


async def test_malformed_can_claim_json(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.set_faults(
        "n",
        fail_next=[
            {"malformed": True, "content_type": "application/json"},
            {"wrong_shape": True, "body": [1, 2]},
        ],
    )
    async with http.get(offerings_url(sandbox)) as response:
        with pytest.raises(ValueError):
            await response.json()
    async with http.get(offerings_url(sandbox)) as response:
        assert await response.json() == [1, 2]


async def test_faults_only_hit_their_endpoint_and_need_auth(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.set_faults("n", "progress", fail_next=[{"status": 503}])
    async with http.get(offerings_url(sandbox)) as response:
        assert response.status == 200
    progress = f"{sandbox.npo_base_url('n')}/api/progress"
    async with http.get(progress, headers={"Authorization": "Bearer x"}) as response:
        assert response.status == 401  # an unauthenticated call does not eat the fault
    async with http.get(progress) as response:
        assert response.status == 503
    async with http.get(progress) as response:
        assert response.status == 200


async def test_latency_applies_to_every_request(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.set_faults("n", latency_ms=150)
    started = time.perf_counter()
    async with http.get(offerings_url(sandbox)) as response:
        assert response.status == 200
    assert time.perf_counter() - started >= 0.15
    await sandbox.clear_faults("n")
    started = time.perf_counter()
    async with http.get(offerings_url(sandbox)) as response:
        assert response.status == 200
    assert time.perf_counter() - started < 0.15


async def test_down_answers_503_or_drops_the_connection(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.set_faults("n", down=True)
    async with http.get(offerings_url(sandbox)) as response:
        assert response.status == 503
    await sandbox.set_faults("n", down_mode="reset")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with http.get(offerings_url(sandbox)) as response:
            await response.read()
    assert (await sandbox.requests("n"))[-1]["status"] is None
    await sandbox.set_faults("n", down=False)
    async with http.get(offerings_url(sandbox)) as response:
        assert response.status == 200


async def test_hang_triggers_client_timeout_then_serves_normally(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.set_faults("n", "offerings", fail_next=[{"hang_ms": 5000}])
    started = time.perf_counter()
    with pytest.raises(asyncio.TimeoutError):
        timeout = aiohttp.ClientTimeout(total=0.2)
        async with http.get(offerings_url(sandbox), timeout=timeout) as response:
            await response.read()
    assert time.perf_counter() - started < 1
    async with http.get(offerings_url(sandbox)) as response:
        assert response.status == 200


async def test_commit_then_hang_records_the_enrolment_before_timing_out(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.set_faults("n", "enrol", fail_next=[{"commit_then_hang_ms": 5000}])
    candidate = {"email": "a@x.org", "first_name": "A", "last_name": "B", "external_id": "c-1"}
    body = {"candidate": candidate, "offering_id": "off-0001"}
    headers = {"Idempotency-Key": "k-1"}
    url = f"{sandbox.npo_base_url('n')}/api/enrolments"
    timeout = aiohttp.ClientTimeout(total=0.3)
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(url, json=body, headers=headers, timeout=timeout) as response:
            await response.read()
    enrolments = await sandbox.enrolments("n")
    assert len(enrolments) == 1 and enrolments[0]["idempotency_key"] == "k-1"
    # The client retries with the same key and learns the outcome without a duplicate.
    async with http.post(url, json=body, headers=headers) as response:
        assert response.status == 201 and response.headers["Idempotent-Replayed"] == "true"
        assert (await response.json())["enrolment_id"] == enrolments[0]["enrolment_id"]
    enrolments = await sandbox.enrolments("n")
    assert len(enrolments) == 1 and enrolments[0]["count"] == 2


async def test_token_endpoint_faults(sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    oauth = {"kind": "oauth2_client_credentials", "client_id": "c", "client_secret": "s"}
    await sandbox.add_npo("o", auth=oauth)
    await sandbox.set_faults("o", "token", fail_next=[{"status": 502}])
    form = {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"}
    async with http.post(f"{sandbox.npo_base_url('o')}/oauth/token", data=form) as response:
        assert response.status == 502
    async with http.post(f"{sandbox.npo_base_url('o')}/oauth/token", data=form) as response:
        assert response.status == 200
    assert sandbox.npo("o").tokens_issued == 1


async def test_invalid_fault_is_rejected(sandbox: SandboxServer) -> None:
    with pytest.raises(ValueError):
        await sandbox.set_faults("n", fail_next=[{"status": 500, "malformed": True}])
    with pytest.raises(ValueError):
        await sandbox.set_faults("n", fail_next=[{}])


async def test_faults_via_admin_http(sandbox: SandboxServer, http: aiohttp.ClientSession) -> None:
    admin = f"{sandbox.url}/_sandbox/npos/n/faults"
    payload: dict[str, Any] = {"endpoint": "any", "fail_next": [{"status": 500}, {"status": 500}]}
    async with http.put(admin, json=payload) as response:
        assert response.status == 200
        assert len((await response.json())["faults"]["any"]["fail_next"]) == 2
    async with http.put(admin, json={"endpoint": "any", "fail_next": [{"bogus": 1}]}) as response:
        assert response.status == 400
    async with http.get(offerings_url(sandbox)) as response:
        assert response.status == 500
    async with http.delete(admin) as response:
        assert response.status == 204
    async with http.get(offerings_url(sandbox)) as response:
        assert response.status == 200


async def test_commit_then_status_records_the_enrolment_and_answers_a_gateway_error(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    await sandbox.set_faults("n", "enrol", fail_next=[{"commit_then_status": 504}])
    candidate = {"email": "a@x.org", "first_name": "A", "last_name": "B", "external_id": "c-1"}
    body = {"candidate": candidate, "offering_id": "off-0001"}
    url = f"{sandbox.npo_base_url('n')}/api/enrolments"
    async with http.post(url, json=body, headers={"Idempotency-Key": "k-1"}) as response:
        assert response.status == 504 and "Gateway" in await response.text()
    (enrolment,) = await sandbox.enrolments("n")
    assert enrolment["idempotency_key"] == "k-1"
    async with http.post(url, json=body, headers={"Idempotency-Key": "k-1"}) as response:
        assert response.status == 201 and response.headers["Idempotent-Replayed"] == "true"


async def test_bad_bodies_are_hostile_in_the_way_they_say(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    import json

    from npo_integration.json_input import JsonInputError, loads, nesting_depth

    kinds = ["deep_body", "not_utf8", "oversized_record", "deep_record"]
    await sandbox.set_faults("n", "offerings", fail_next=[{"bad_body": k} for k in kinds])
    bodies = []
    for _ in kinds:
        async with http.get(offerings_url(sandbox)) as response:
            assert response.status == 200
            bodies.append(await response.read())
    deep, not_utf8, oversized, deep_record = bodies
    with pytest.raises(JsonInputError, match="nested too deeply"):
        loads(deep)
    with pytest.raises(JsonInputError, match="not UTF-8"):
        loads(not_utf8)
    assert b"\xff\xfe" in not_utf8 and json.loads(not_utf8.decode(errors="replace"))
    assert len(oversized) > 2 * 1024 * 1024
    assert nesting_depth(json.loads(deep_record)) > 200


async def test_truncated_and_reset_bodies_cut_the_real_answer_in_half(
    sandbox: SandboxServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(offerings_url(sandbox)) as response:
        whole = await response.read()
    kinds = ["truncated", "reset_mid_body"]
    await sandbox.set_faults("n", "offerings", fail_next=[{"bad_body": k} for k in kinds])
    async with http.get(offerings_url(sandbox)) as response:
        assert response.status == 200
        assert await response.read() == whole[: len(whole) // 2]
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.get(offerings_url(sandbox)) as response:
            assert response.status == 200 and response.content_length == len(whole)
            await response.read()
