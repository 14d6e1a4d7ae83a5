"""Pause and resume across a restart with ``NPO_CONFIG_FILE`` set; full refresh and re-emit,
counted on the platform's topic with a plain consumer."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from tests.integration.conftest import Deployment, Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess, WorkerProcess
from tests.integration.test_ingestion import (
    add_cursor_npo,
    add_simple_npo,
    cursor_config,
    events_of,
    simple_config,
)
from tests.integration.test_registry import run_cli


async def _get(worker: WorkerProcess, deployment: Deployment, path: str) -> Any:
    status, body = await admin(worker.url, deployment.admin_token, "GET", path)
    assert status == 200, body
    return body


async def _offering_pulls(sandbox: SandboxProcess, npo_id: str) -> int:
    return sum(1 for r in await sandbox.requests(npo_id) if r["status"] == 200)


async def test_a_pause_survives_a_restart_with_the_config_file_and_resume_lifts_it(
    sandbox: SandboxProcess, deployment: Deployment, tmp_path: Path
) -> None:
    await add_simple_npo(sandbox, "pr-file", 3)
    await add_simple_npo(sandbox, "pr-kept", 2)
    paused_config = simple_config("pr-file", sandbox.npo_url("pr-file"), schedule=2)
    kept_config = simple_config("pr-kept", sandbox.npo_url("pr-kept"))
    deployment.write_configs([paused_config, kept_config])
    first = await deployment.start_worker("first")

    async def created() -> bool:
        return len(await events_of(deployment, "pr-file")) == 3

    await eventually(created, timeout=30, what="pr-file's 3 offerings, pulled from the file's NPO")

    paused = await asyncio.to_thread(
        run_cli, Stack(sandbox, deployment, first), "npos", "pause", "pr-file"
    )
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["status"] == "applied"
    again = await admin(
        first.url, deployment.admin_token, "POST", "/admin/npos/pr-file/pause?wait=true"
    )
    assert (again[0], again[1]["status"], again[1]["active"], again[1]["version"]) == (
        200,
        "unchanged",
        False,
        2,
    )

    async def idle() -> bool:
        state = await _get(first, deployment, "/admin/npos/pr-file/pulls")
        return state["streams"]["offerings"]["running_since"] is None

    await eventually(idle, timeout=30, what="no pull of pr-file under way")
    pulls_when_paused = await _offering_pulls(sandbox, "pr-file")
    first.stop()

    # The file changes both NPOs; only the one nobody changed otherwise takes it.
    deployment.write_configs(
        [
            {**paused_config, "display_name": "renamed in the file"},
            {**kept_config, "display_name": "renamed in the file"},
        ]
    )
    second = await deployment.start_worker("second")

    async def kept_renamed() -> dict | None:
        body = await _get(second, deployment, "/admin/npos/pr-kept")
        return body if body["version"] == 2 else None

    kept = await eventually(kept_renamed, timeout=30, what="the file's change of pr-kept")
    assert (kept["source"], kept["config"]["display_name"]) == ("file", "renamed in the file")

    async def file_command_sent() -> bool:
        commands = await read_all(deployment.topics["config_commands"])
        from_file = [m for m in commands if m.key == "pr-file" and m.value["source"] == "file"]
        return len(from_file) == 2

    await eventually(file_command_sent, timeout=30, what="the file's second command for pr-file")
    assert await _offering_pulls(sandbox, "pr-file") == pulls_when_paused

    # The resume comes after the file's command on the same partition: it is what makes v3.
    status, body = await admin(
        second.url, deployment.admin_token, "POST", "/admin/npos/pr-file/resume?wait=true"
    )
    assert (status, body["status"], body["version"]) == (200, "applied", 3), body
    versions = (await _get(second, deployment, "/admin/npos/pr-file/versions"))["versions"]
    assert [(v["change"], v["source"]) for v in versions] == [
        ("upsert", "file"),
        ("pause", "cli"),
        ("resume", "admin-api"),
    ]
    assert versions[-1]["config"]["active"] is True
    assert versions[-1]["config"]["display_name"] == "pr-file"  # the file's edit was not applied

    async def pulled_again() -> bool:
        return await _offering_pulls(sandbox, "pr-file") > pulls_when_paused

    await eventually(pulled_again, timeout=30, what="pulls of pr-file after the resume")
    status, body = await admin(
        second.url, deployment.admin_token, "POST", "/admin/npos/nobody/pause"
    )
    assert status == 404 and "nobody" in body["error"]


async def test_a_full_refresh_sends_nothing_unchanged_and_a_re_emit_sends_each_record_once(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    npo_id = "rf-crm"
    await add_cursor_npo(sandbox, npo_id, 6)
    config = cursor_config(npo_id, sandbox.npo_url(npo_id), schedule=3600)
    config["streams"]["offerings"]["incremental"] = {
        "cursor_field": "updated_at",
        "param": "updated_since",
    }
    worker = await deployment.start_worker()
    token = deployment.admin_token
    status, body = await admin(worker.url, token, "PUT", f"/admin/npos/{npo_id}?wait=true", config)
    assert status == 200, body

    async def pull_done(after: str | None) -> dict | None:
        state = (await _get(worker, deployment, f"/admin/npos/{npo_id}/pulls"))["streams"]
        offerings = state.get("offerings", {})
        done = offerings.get("last_success_at")
        return offerings if done and done != after and offerings.get("cursor") else None

    first = await eventually(lambda: pull_done(None), timeout=30, what="the first pull")

    async def events(count: int) -> list | None:
        found = await events_of(deployment, npo_id)
        return found if len(found) >= count else None

    await eventually(lambda: events(6), timeout=30, what="6 created events")

    async def walks_from_the_start() -> int:
        """Pulls that asked for everything: first pages without a cursor or updated_since."""
        return sum(
            1
            for r in await sandbox.requests(npo_id)
            if r["status"] == 200 and not {"cursor", "updated_since"} & set(r["query"])
        )

    assert await walks_from_the_start() == 1

    # Full refresh: walked from the start again, nothing changed, no event.
    refreshed = await asyncio.to_thread(
        run_cli, Stack(sandbox, deployment, worker), "fetch", npo_id, "--full-refresh"
    )
    assert refreshed.returncode == 0, refreshed.stderr
    answer = json.loads(refreshed.stdout)
    assert (answer["full_refresh"], answer["re_emit"]) == (True, False)
    second = await eventually(
        lambda: pull_done(first["last_success_at"]), timeout=30, what="the full refresh"
    )
    assert await walks_from_the_start() == 2

    # Re-emit: every current record once more, as a new event.
    status, body = await admin(
        worker.url, token, "POST", f"/admin/npos/{npo_id}/fetch?re_emit=true&full_refresh=true"
    )
    assert status == 202 and body["re_emit"] is True, body
    await eventually(lambda: events(12), timeout=30, what="6 re-emitted events")
    await eventually(
        lambda: pull_done(second["last_success_at"]), timeout=30, what="the re-emit pull"
    )
    assert await walks_from_the_start() == 3

    # A new record afterwards: its event follows the re-emit's on the NPO's partition, so any
    # second copy of a re-emitted event would be on the topic before it.
    template = (await sandbox.records(npo_id, "offerings"))[0]
    added = await sandbox.upsert(
        npo_id, "offerings", {**template, "id": None, "name": "Late offering"}
    )
    status, _ = await admin(worker.url, token, "POST", f"/admin/npos/{npo_id}/fetch")
    assert status == 202

    async def late() -> list | None:
        found = await events_of(deployment, npo_id)
        return found if any(m.key == f"{npo_id}/{added['id']}" for m in found) else None

    found = await eventually(late, timeout=30, what="the new record's event")
    per_key = Counter(m.key for m in found)
    assert len(found) == 13 and len(per_key) == 7, per_key
    assert sorted(per_key.values()) == [1] + [2] * 6
    assert len({m.value["event_id"] for m in found}) == 13
    assert Counter(m.value["event_type"] for m in found) == {
        "npo_offering.created": 7,
        "npo_offering.updated": 6,
    }

    status, body = await admin(worker.url, token, "POST", f"/admin/npos/{npo_id}/fetch?re_emit=1")
    assert status == 400 and "re_emit" in body["error"]
