"""Bad input at every entry point of a running worker: a dead letter or a clear error, the worker
alive, and the next good message processed.

Entry points: the two platform topics (``spotlight.npo-assessed``, ``spotlight.candidate-
assignments``), the admin API, and an NPO's answers (the simulated NPO's ``bad_body`` faults).
Bad input: JSON nested thousands of levels deep, bytes that are not UTF-8, a 2 MB message or
record, a header value with CR/LF in a config.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import MessageSizeTooLargeError

from tests.integration.conftest import Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import BOOTSTRAP, produce, read_all
from tests.integration.support.polling import eventually
from tests.integration.test_enrolment import add_stack_npo, assignment, send, wait_results

DEEP = b"[" * 5000 + b"]" * 5000
NOT_UTF8 = b'{"event_type": "\xff\xfe", "npo_id": "caf\xe9"}'
TWO_MB = 2 * 1024 * 1024
LARGE_LIMIT = 4 * 1024 * 1024


async def produce_large(topic: str, key: str, value: bytes) -> None:
    """A message over Kafka's default 1 MB limit: the topic's limit is raised first, as a platform
    whose topic allows large messages would have it."""
    client = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await client.start()
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC, topic, {"max.message.bytes": str(LARGE_LIMIT)}
        )
        await client.alter_configs([resource])
    finally:
        await client.close()
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, max_request_size=LARGE_LIMIT)
    await producer.start()
    try:
        # The broker applies a topic's new config a moment after it acknowledged the change
        # (longer on a busy machine): until then it refuses the message as too large.
        async def sent() -> bool:
            try:
                await producer.send_and_wait(topic, key=key.encode(), value=value)
            except MessageSizeTooLargeError:
                return False
            return True

        await eventually(sent, timeout=30, what=f"{topic} accepting a large message")
    finally:
        await producer.stop()


async def dead_letters(stack: Stack, keys: set[str]) -> dict[str, dict[str, Any]]:
    """The dead letters of ``keys`` (by key, or by record key), once all are there."""

    async def probe() -> dict[str, dict[str, Any]] | None:
        found = {}
        for message in await read_all(stack.deployment.topics["dead_letters"]):
            letter = message.value
            for key in (letter.get("key"), letter.get("record_key")):
                if key in keys:
                    found[key] = letter
        return found if set(found) == keys else None

    letters = await eventually(probe, timeout=45, what=f"dead letters of {sorted(keys)}")
    for letter in letters.values():
        assert letter["reason"]
        assert len(json.dumps(letter)) < 100_000  # capped: it could be written
    return letters


async def healthy(stack: Stack) -> None:
    assert stack.worker.proc is not None and stack.worker.proc.poll() is None
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{stack.worker.url}/health") as response,
    ):
        assert response.status == 200


def assessed(npo_id: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"event_type": "npo.assessed", "npo_id": npo_id, "integration": config}


def npo_config(npo_id: str, base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "npo_id": npo_id,
        "display_name": npo_id,
        "base_url": base_url,
        "transform": {"kind": "plugin", "name": "simple"},
        **extra,
    }


async def test_the_npo_assessed_topic_dead_letters_bad_messages_and_goes_on(stack: Stack) -> None:
    topic = stack.deployment.topics["npo_assessed"]
    url = stack.sandbox.npo_url("bad-after")
    await produce(topic, "bad-deep", DEEP)
    await produce(topic, "bad-utf8", NOT_UTF8)
    crlf = npo_config("bad-crlf", url, headers={"X-Tenant": "a\r\nX-Injected: 1"})
    await produce(topic, "bad-crlf", assessed("bad-crlf", crlf))
    padded = npo_config("bad-large", url, headers={"X-Padding": "x" * TWO_MB})
    large = json.dumps(assessed("bad-large", padded)).encode()
    await produce_large(topic, "bad-large", large)
    await produce(topic, "bad-after", assessed("bad-after", npo_config("bad-after", url)))

    letters = await dead_letters(stack, {"bad-deep", "bad-utf8", "bad-crlf", "bad-large"})
    assert "recursion limit exceeded" in letters["bad-deep"]["reason"]
    assert "Invalid JSON" in letters["bad-utf8"]["reason"]
    assert "headers.X-Tenant: control character '\\r'" in letters["bad-crlf"]["reason"]
    assert f"message of {len(large)} bytes, more than 262144" in letters["bad-large"]["reason"]
    # unparsed input is kept only as a summary (docs/security.md): never the 2 MB in full
    assert letters["bad-large"]["payload"]["length"] == len(large)
    assert len(json.dumps(letters["bad-large"]["payload"])) < 1_000

    async def applied() -> bool:
        status, _ = await admin(
            stack.worker.url, stack.deployment.admin_token, "GET", "/admin/npos/bad-after"
        )
        return status == 200

    await eventually(applied, timeout=30, what="the good message after the bad ones applied")
    await healthy(stack)


async def test_the_candidate_assignments_topic_dead_letters_bad_messages_and_goes_on(
    stack: Stack,
) -> None:
    await add_stack_npo(stack, "bad-enrol")
    topic = stack.deployment.topics["candidate_assignments"]
    await produce(topic, "asg-deep", DEEP)
    await produce(topic, "asg-utf8", NOT_UTF8)
    large = assignment("asg-large", "bad-enrol")
    large["candidate"]["first_name"] = "A" * TWO_MB
    await produce_large(topic, "asg-large", json.dumps(large).encode())
    await send(stack.deployment, assignment("asg-after-bad", "bad-enrol"))

    assert (await wait_results(stack.deployment, "asg-after-bad"))[0]["status"] == "confirmed"
    letters = await dead_letters(stack, {"asg-deep", "asg-utf8", "asg-large"})
    assert f"message of {len(json.dumps(large))} bytes" in letters["asg-large"]["reason"]
    assert [e for e in await stack.sandbox.enrolments("bad-enrol")] != []
    await healthy(stack)


async def raw_admin(stack: Stack, method: str, path: str, body: bytes) -> tuple[int, Any]:
    headers = {
        "Authorization": f"Bearer {stack.deployment.admin_token}",
        "Content-Type": "application/json",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{stack.worker.url}{path}", data=body, headers=headers) as resp,
    ):
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


async def test_the_admin_api_answers_bad_bodies_with_a_4xx_and_goes_on(stack: Stack) -> None:
    url = stack.sandbox.npo_url("adm-after")
    assert await raw_admin(stack, "POST", "/admin/npos", DEEP) == (
        400,
        {"error": "JSON nested too deeply to parse"},
    )
    assert await raw_admin(stack, "PUT", "/admin/npos/adm-x", NOT_UTF8) == (
        400,
        {"error": "not UTF-8: invalid byte at position 16"},
    )
    status, _ = await raw_admin(stack, "POST", "/admin/npos", b" " * TWO_MB)
    assert status == 413
    crlf = npo_config("adm-crlf", url, headers={"X-Tenant": "a\nb"})
    status, body = await raw_admin(stack, "POST", "/admin/npos", json.dumps(crlf).encode())
    assert status == 422 and "headers.X-Tenant: control character '\\n'" in body["error"]
    confirm = "/admin/npos/adm-x/enrolments/a-1/confirm"
    assert await raw_admin(stack, "POST", confirm, DEEP) == (
        422,
        {"error": "JSON nested too deeply to parse"},
    )

    good = json.dumps(npo_config("adm-after", url)).encode()
    status, body = await raw_admin(stack, "PUT", "/admin/npos/adm-after?wait=true", good)
    assert (status, body["status"]) == (200, "applied")
    await healthy(stack)


async def test_hostile_npo_answers_fail_a_pull_or_one_record_and_the_rest_goes_on(
    stack: Stack,
) -> None:
    npo_id = "bad-answers"
    await stack.sandbox.add_npo(
        npo_id, flavour="simple", auth={"kind": "bearer", "token": "t"}, offerings=3
    )
    kinds = ["deep_body", "not_utf8", "oversized_record", "deep_record"]
    await stack.sandbox.set_faults(
        npo_id, endpoint="offerings", fail_next=[{"bad_body": kind} for kind in kinds]
    )
    streams = {
        "offerings": {
            "path": "/api/offerings",
            "records_path": "data",
            "schedule_seconds": 3600,
            "pagination": {"style": "page_number", "page_size": 10},
        }
    }
    config = npo_config(
        npo_id, stack.sandbox.npo_url(npo_id), auth={"kind": "bearer", "token": "t"},
        streams=streams, retry={"max_attempts": 1},
    )  # fmt: skip
    status, body = await admin(
        stack.worker.url, stack.deployment.admin_token, "PUT", f"/admin/npos/{npo_id}?wait=true",
        config,
    )  # fmt: skip
    assert status == 200, body

    async def run_finished(after: str | None) -> dict[str, Any]:
        """The offerings stream's state once a run newer than ``after`` has finished."""

        async def probe() -> dict[str, Any] | None:
            _, body = await admin(
                stack.worker.url, stack.deployment.admin_token, "GET", f"/admin/npos/{npo_id}/pulls"
            )
            state = body.get("streams", {}).get("offerings", {})
            ended = max(filter(None, [state.get("last_success_at"), state.get("last_error_at")]),
                        default=None)  # fmt: skip
            done = state.get("running_since") is None and ended is not None
            return state if done and (after is None or ended > after) else None

        return await eventually(probe, timeout=30, what=f"a pull of {npo_id} after {after}")

    async def pull_again(before: dict[str, Any]) -> dict[str, Any]:
        ended = max(filter(None, [before.get("last_success_at"), before.get("last_error_at")]))
        status, _ = await admin(
            stack.worker.url, stack.deployment.admin_token, "POST", f"/admin/npos/{npo_id}/fetch"
        )
        assert status == 202
        return await run_finished(ended)

    # 1. A body nested 5000 levels deep: the pull fails with a clear error.
    deep = await run_finished(None)
    assert deep["last_success_at"] is None
    assert "nested too deeply to parse" in deep["last_error"]
    # 2. Bytes that are not UTF-8 in a record: read with replacement characters, published.
    garbled = await pull_again(deep)
    assert garbled["last_success_at"] is not None and garbled["records_last_run"] == 3

    async def offerings() -> dict[str, dict[str, Any]] | None:
        found = {
            m.value["offering"]["npo_offering_ref"]: m.value["offering"]
            for m in await read_all(stack.deployment.topics["offerings"])
            if m.value.get("npo_id") == npo_id
        }
        return found if len(found) == 3 else None

    published = await eventually(offerings, timeout=30, what="the three offerings published")
    assert any("\ufffd" in (o.get("description") or "") for o in published.values())
    # 3 and 4. A record of 2 MB, then one nested 200 levels deep: each is dead-lettered, the run
    # succeeds with the others and says so in last_error.
    oversized = await pull_again(garbled)
    assert oversized["records_last_run"] == 2
    assert "1 record(s) refused and dead-lettered" in oversized["last_error"]
    assert "(NPO_MAX_RECORD_BYTES)" in oversized["last_error"]
    nested = await pull_again(oversized)
    assert nested["records_last_run"] == 2
    assert "(NPO_MAX_RECORD_DEPTH)" in nested["last_error"]
    letters = [
        m.value
        for m in await read_all(stack.deployment.topics["dead_letters"])
        if m.value.get("npo_id") == npo_id
    ]
    assert sorted(letter["reason"].rsplit("(", 1)[1] for letter in letters) == [
        "NPO_MAX_RECORD_BYTES)",
        "NPO_MAX_RECORD_DEPTH)",
    ]
    assert all(letter["record_key"].startswith(f"{npo_id}/offerings/") for letter in letters)
    # 5. And the next ordinary pull is clean.
    clean = await pull_again(nested)
    assert clean["records_last_run"] == 3 and clean["consecutive_failures"] == 0
    await healthy(stack)


async def test_schemathesis_finds_no_server_error_in_the_admin_api(
    stack: Stack, tmp_path: Path
) -> None:
    """Every admin operation of the served OpenAPI document, called with generated valid and
    invalid parameters and bodies (with the token): never a 5xx, and the worker lives on."""
    await add_stack_npo(stack, "st-npo", streams={"offerings": {"path": "/api/offerings",
                        "records_path": "data", "schedule_seconds": 3600}})  # fmt: skip
    status, document = await admin(
        stack.worker.url, stack.deployment.admin_token, "GET", "/admin/openapi.json"
    )
    assert status == 200
    operations = sum(len(methods) for methods in document["paths"].values())
    for methods in document["paths"].values():  # an NPO that exists, beside generated ones
        for operation in methods.values():
            for parameter in operation["parameters"]:
                if parameter["name"] == "npo_id":
                    parameter["schema"] = {**parameter["schema"], "examples": ["st-npo"]}
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(document))
    argv = [
        sys.executable, "-m", "schemathesis.cli", "run", str(schema),
        "--url", stack.worker.url,
        "--header", f"Authorization: Bearer {stack.deployment.admin_token}",
        "--checks", "not_a_server_error",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", "10",
        "--generation-deterministic",
        "--request-timeout", "30",
        "--workers", "1",
        "--no-color",
    ]  # fmt: skip
    run = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert f"Tested: {operations}" in run.stdout, run.stdout[-3000:]
    await healthy(stack)
    status, _ = await admin(stack.worker.url, stack.deployment.admin_token, "GET", "/admin/npos")
    assert status == 200
