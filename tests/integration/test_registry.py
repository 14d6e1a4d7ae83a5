"""The registry over the real broker: every source of change, versions, and every refusal."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

from tests.integration.conftest import Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import produce, read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import ROOT


def npo_config(
    npo_id: str,
    base_url: str,
    *,
    token: str = "tok",
    name: str = "Academy",
    page_size: int = 10,
    **extra: Any,
) -> dict:
    return {
        "npo_id": npo_id,
        "display_name": name,
        "base_url": base_url,
        "auth": {"kind": "bearer", "token": token},
        "streams": {
            "offerings": {
                "path": "/api/offerings",
                "records_path": "data",
                "pagination": {"style": "page_number", "page_size": page_size},
                "schedule_seconds": 600,
            }
        },
        "transform": {"kind": "plugin", "name": "simple"},
        **extra,
    }


async def get_npo(stack: Stack, npo_id: str) -> tuple[int, Any]:
    return await admin(
        stack.worker.url, stack.deployment.admin_token, "GET", f"/admin/npos/{npo_id}"
    )


async def wait_for_version(stack: Stack, npo_id: str, version: int, url: str | None = None) -> dict:
    async def probe() -> dict | None:
        status, body = await admin(
            url or stack.worker.url, stack.deployment.admin_token, "GET", f"/admin/npos/{npo_id}"
        )
        return body if status == 200 and body["version"] >= version else None

    return await eventually(probe, timeout=15, what=f"{npo_id} at version {version}")


async def test_an_assessed_npo_becomes_a_config_with_its_secret_sealed(stack: Stack) -> None:
    config = npo_config(
        "assessed-1", stack.sandbox.npo_url("assessed-1"), token="assessed-secret-1"
    )
    await produce(
        stack.deployment.topics["npo_assessed"],
        "assessed-1",
        {
            "event_type": "npo.assessed",
            "event_id": "e1",
            "occurred_at": "2026-11-28T09:00:00Z",
            "npo_id": "assessed-1",
            "integration": config,
        },
    )
    body = await wait_for_version(stack, "assessed-1", 1)
    assert body["source"] == "npo-assessed"
    [main] = body["config"]["sources"]  # a one-system config is shown as its source main
    assert (main["name"], main["auth"]) == ("main", {"kind": "bearer", "token": "***"})
    assert body["config"]["display_name"] == "Academy"


async def test_create_update_deactivate_through_the_admin_api_keeps_every_version(
    stack: Stack,
) -> None:
    url, token = stack.worker.url, stack.deployment.admin_token
    config = npo_config("api-1", stack.sandbox.npo_url("api-1"), name="First name")
    status, body = await admin(url, token, "POST", "/admin/npos?wait=true", config)
    assert (status, body["status"], body["version"]) == (200, "applied", 1)

    status, body = await admin(url, token, "POST", "/admin/npos", config)
    assert status == 409

    config["display_name"] = "Second name"
    status, body = await admin(url, token, "PUT", "/admin/npos/api-1?wait=true", config)
    assert (status, body["version"]) == (200, 2)

    status, body = await admin(url, token, "POST", "/admin/npos/api-1/deactivate?wait=true")
    assert (status, body["version"]) == (200, 3)

    status, body = await admin(url, token, "GET", "/admin/npos/api-1/versions")
    assert status == 200
    versions = body["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert [v["change"] for v in versions] == ["upsert", "upsert", "deactivate"]
    assert [v["config"]["display_name"] for v in versions] == [
        "First name",
        "Second name",
        "Second name",
    ]
    assert [v["config"]["active"] for v in versions] == [True, True, False]
    assert versions[0]["updated_at"] <= versions[1]["updated_at"] <= versions[2]["updated_at"]

    status, body = await admin(url, token, "GET", "/admin/npos")
    assert {"npo_id": "api-1", "active": False, "version": 3}.items() <= next(
        n for n in body["npos"] if n["npo_id"] == "api-1"
    ).items()


async def test_a_change_that_changes_nothing_answers_unchanged_at_once(stack: Stack) -> None:
    url, token = stack.worker.url, stack.deployment.admin_token
    config = npo_config("same-1", stack.sandbox.npo_url("same-1"))
    await admin(url, token, "PUT", "/admin/npos/same-1?wait=true", config)
    status, body = await admin(url, token, "PUT", "/admin/npos/same-1?wait=true", config)
    assert (status, body["status"], body["version"]) == (200, "unchanged", 1), body
    status, body = await admin(url, token, "POST", "/admin/npos/same-1/deactivate?wait=true")
    assert (status, body["status"], body["version"]) == (200, "applied", 2), body
    status, body = await admin(url, token, "POST", "/admin/npos/same-1/deactivate?wait=true")
    assert (status, body["status"], body["version"]) == (200, "unchanged", 2), body
    _, body = await admin(url, token, "GET", "/admin/npos/same-1/versions")
    assert len(body["versions"]) == 2


async def test_a_resume_right_after_a_pause_is_applied_after_it(stack: Stack) -> None:
    """The resume is sent even when this worker has not applied the pause yet (it then changes
    nothing in the version here): both land, in order, and the NPO ends active."""
    url, token = stack.worker.url, stack.deployment.admin_token
    config = npo_config("quick-1", stack.sandbox.npo_url("quick-1"))
    await admin(url, token, "PUT", "/admin/npos/quick-1?wait=true", config)
    paused, _ = await admin(url, token, "POST", "/admin/npos/quick-1/pause")
    resumed, _ = await admin(url, token, "POST", "/admin/npos/quick-1/resume")
    assert (paused, resumed) in ((202, 200), (202, 202)), (paused, resumed)
    body = await wait_for_version(stack, "quick-1", 3)
    assert (body["version"], body["config"]["active"]) == (3, True), body
    _, history = await admin(url, token, "GET", "/admin/npos/quick-1/versions")
    assert [v["change"] for v in history["versions"]] == ["upsert", "pause", "resume"]


def run_cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NPO_")},
        "NPO_ADMIN_URL": stack.worker.url,
        "NPO_ADMIN_TOKEN": stack.deployment.admin_token,
    }
    return subprocess.run(
        [sys.executable, "-m", "npo_integration.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_cli_adds_lists_shows_and_deactivates(stack: Stack, tmp_path: Any) -> None:
    path = tmp_path / "cli-npo.json"
    path.write_text(
        json.dumps(npo_config("cli-1", stack.sandbox.npo_url("cli-1"), token="cli-secret-1"))
    )
    added = await asyncio.to_thread(run_cli, stack, "npos", "add", str(path))
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["status"] == "applied"

    listed = await asyncio.to_thread(run_cli, stack, "npos", "list")
    assert any(line.startswith("cli-1\tv1\tactive") for line in listed.stdout.splitlines())

    shown = await asyncio.to_thread(run_cli, stack, "npos", "show", "cli-1")
    body = json.loads(shown.stdout)
    assert body["source"] == "cli" and body["config"]["sources"][0]["auth"]["token"] == "***"
    assert "cli-secret-1" not in shown.stdout + shown.stderr + added.stdout + added.stderr

    gone = await asyncio.to_thread(run_cli, stack, "npos", "deactivate", "cli-1")
    assert gone.returncode == 0 and json.loads(gone.stdout)["version"] == 2

    missing = await asyncio.to_thread(run_cli, stack, "npos", "show", "no-such-npo")
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr


async def test_a_new_npo_takes_effect_on_a_running_worker_within_10_seconds(stack: Stack) -> None:
    await stack.sandbox.add_npo(
        "live-1", flavour="simple", auth={"kind": "bearer", "token": "live"}, offerings=2
    )
    started = time.monotonic()
    status, _ = await admin(
        stack.worker.url,
        stack.deployment.admin_token,
        "PUT",
        "/admin/npos/live-1",
        npo_config("live-1", stack.sandbox.npo_url("live-1"), token="live"),
    )
    assert status == 202

    async def pulled() -> list:
        return [r for r in await stack.sandbox.requests("live-1") if r["status"] == 200]

    await eventually(pulled, timeout=10, what="the worker pulling the new NPO")
    assert time.monotonic() - started < 10


BAD_INPUTS = [
    ("not json", None, 400, "invalid JSON"),
    (None, {"auth": {"kind": "kerberos"}}, 422, "auth"),
    (None, {"base_url": "ftp://files.example"}, 422, "base_url"),
    (None, {"transform": {"kind": "plugin", "name": "no-such-plugin"}}, 422, "no-such-plugin"),
]


async def test_bad_input_gets_a_clear_error_and_nothing_is_stored(stack: Stack) -> None:
    url, token = stack.worker.url, stack.deployment.admin_token
    commands_before = len(await read_all(stack.deployment.topics["config_commands"]))
    for raw, change, expected_status, expected_text in BAD_INPUTS:
        body = (
            None
            if change is None
            else {**npo_config("bad-1", stack.sandbox.npo_url("bad-1")), **change}
        )
        status, answer = await admin(url, token, "PUT", "/admin/npos/bad-1", body, raw=raw)
        assert status == expected_status, answer
        assert expected_text in answer["error"]

    missing = npo_config("bad-1", stack.sandbox.npo_url("bad-1"))
    del missing["display_name"], missing["transform"]
    status, answer = await admin(url, token, "PUT", "/admin/npos/bad-1", missing)
    assert status == 422 and "display_name" in answer["error"] and "transform" in answer["error"]

    status, answer = await admin(
        url, token, "PUT", "/admin/npos/other-id", npo_config("bad-1", "https://x.example")
    )
    assert status == 422 and "does not match" in answer["error"]

    assert (await admin(url, "wrong-token", "GET", "/admin/npos"))[0] == 401
    assert (await admin(url, None, "PUT", "/admin/npos/bad-1", missing))[0] == 401
    assert (await admin(url, token, "GET", "/admin/npos/no-such-npo"))[0] == 404
    assert (await admin(url, token, "GET", "/admin/npos/no-such-npo/versions"))[0] == 404
    assert (await admin(url, token, "POST", "/admin/npos/no-such-npo/deactivate"))[0] == 404

    assert (await get_npo(stack, "bad-1"))[0] == 404
    assert len(await read_all(stack.deployment.topics["config_commands"])) == commands_before


async def test_a_bad_npo_assessed_message_is_dead_lettered_redacted_and_the_agent_lives(
    stack: Stack,
) -> None:
    topic = stack.deployment.topics["npo_assessed"]
    await produce(topic, "broken-1", b"{not json")
    await produce(
        topic,
        "broken-2",
        {
            "event_type": "npo.assessed",
            "npo_id": "broken-2",
            "integration": {
                **npo_config("broken-2", "https://x.example", token="leaky-secret"),
                "auth": {"kind": "x", "token": "leaky-secret"},
            },
        },
    )
    letters = await eventually(
        lambda: _letters_for(stack, {"broken-1", "broken-2"}), timeout=15, what="two dead letters"
    )
    assert all(letter["reason"] for letter in letters)
    assert "leaky-secret" not in json.dumps(letters)
    # The agent is alive: a good message after the bad ones is applied.
    good = npo_config("after-bad", stack.sandbox.npo_url("after-bad"))
    await produce(
        topic,
        "after-bad",
        {"event_type": "npo.assessed", "npo_id": "after-bad", "integration": good},
    )
    await wait_for_version(stack, "after-bad", 1)
    assert (await get_npo(stack, "broken-2"))[0] == 404


async def _letters_for(stack: Stack, keys: set[str]) -> list[dict] | None:
    letters = [
        m.value
        for m in await read_all(stack.deployment.topics["dead_letters"])
        if m.value.get("key") in keys
    ]
    return letters if len(letters) == len(keys) else None
