"""Replaying a mapping change before it goes live (``npos diff``), and schema drift in the status,
over the real broker and the simulator; what reaches the platform is read with a plain consumer.
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

from tests.integration.conftest import Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import Message
from tests.integration.support.polling import eventually
from tests.integration.test_ingestion import add_cursor_npo, cursor_config, events_of
from tests.integration.test_registry import run_cli


async def _call(stack: Stack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return await admin(stack.worker.url, stack.deployment.admin_token, method, path, body)


async def _registered_with_events(stack: Stack, npo_id: str, count: int, **kw: Any) -> dict:
    """The NPO registered by the declarative mapping, once its ``count`` offerings are out."""
    config = cursor_config(npo_id, stack.sandbox.npo_url(npo_id), **kw)
    status, body = await _call(stack, "PUT", f"/admin/npos/{npo_id}?wait=true", config)
    assert status == 200, body

    async def published() -> list[Message]:
        events = await events_of(stack.deployment, npo_id)
        return events if len(events) >= count else []

    await eventually(published, timeout=30, what=f"{count} offering events of {npo_id}")
    return config


def _fields(config: dict) -> dict[str, Any]:
    fields: dict[str, Any] = config["transform"]["mapping"]["offering"]["fields"]
    return fields


async def test_a_mapping_change_of_one_field_is_named_and_counted_and_applied_to_those_only(
    stack: Stack, tmp_path: Path
) -> None:
    await add_cursor_npo(stack.sandbox, "rp-title", 12)
    config = await _registered_with_events(stack, "rp-title", 12)
    changed = copy.deepcopy(config)
    _fields(changed)["title"] = {"template": "Course: {name}"}
    file = tmp_path / "rp-title.json"
    file.write_text(json.dumps(changed))

    result = await asyncio.to_thread(
        run_cli, stack, "npos", "diff", str(file), "--examples", "2", "--output", "json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [stream] = report["streams"]
    assert (stream["key"], stream["records"], stream["changed"], stream["unchanged"]) == (
        "offerings",
        12,
        12,
        0,
    )
    assert stream["fields"] == [{"field": "title", "records": 12}]
    assert report["events_changed"] == 12 and not report["applied"]
    names = {r["id"]: r["name"] for r in await stack.sandbox.records("rp-title", "offerings")}
    for example in stream["examples"]:
        assert example["changes"] == {
            "title": [names[example["record_id"]], f"Course: {names[example['record_id']]}"]
        }
    assert len(stream["examples"]) == 2
    text = await asyncio.to_thread(run_cli, stack, "npos", "diff", str(file))
    assert text.returncode == 0, text.stderr
    assert "12 platform event(s) would change" in text.stdout
    assert "field title: 12 record(s)" in text.stdout
    # a diff publishes nothing and registers nothing
    assert len(await events_of(stack.deployment, "rp-title")) == 12
    status, shown = await _call(stack, "GET", "/admin/npos/rp-title")
    assert (status, shown["version"]) == (200, 1)

    # the apply registers the change and re-emits the 12 changed records, once each
    status, applied = await _call(
        stack, "POST", "/admin/npos/rp-title/diff", {"config": changed, "apply": True}
    )
    assert status == 200, applied
    assert (applied["applied"], applied["version"], applied["re_emitted"]) == (True, 2, 12)

    async def re_emitted() -> list[Message]:
        events = await events_of(stack.deployment, "rp-title")
        return events if len(events) >= 24 else []

    events = await eventually(re_emitted, timeout=30, what="the 12 changed offerings re-emitted")
    updates = [m.value for m in events if m.value["event_type"] == "npo_offering.updated"]
    assert sorted(u["offering"]["title"] for u in updates) == sorted(
        f"Course: {name}" for name in names.values()
    )
    status, again = await _call(stack, "POST", "/admin/npos/rp-title/diff", {"config": changed})
    assert (status, again["events_changed"], again["current_version"]) == (200, 0, 2)


async def test_a_mapping_change_that_breaks_records_lists_them_and_publishes_nothing(
    stack: Stack,
) -> None:
    await add_cursor_npo(stack.sandbox, "rp-break", 8)
    first = (await stack.sandbox.records("rp-break", "offerings"))[0]
    await stack.sandbox.upsert("rp-break", "offerings", {"id": first["id"], "status": "closed"})
    config = await _registered_with_events(stack, "rp-break", 8)
    closed = {
        r["id"]
        for r in await stack.sandbox.records("rp-break", "offerings")
        if r["status"] != "open"
    }
    assert first["id"] in closed
    breaking = copy.deepcopy(config)
    _fields(breaking)["status"] = {"path": "status", "map": {"open": "open"}}  # no closed

    status, report = await _call(stack, "POST", "/admin/npos/rp-break/diff", {"config": breaking})
    assert status == 200, report
    [stream] = report["streams"]
    assert stream["newly_failing_count"] == len(closed)
    assert {r["record_id"] for r in stream["newly_failing"]} == closed
    for listed in stream["newly_failing"]:
        assert (listed["field"], listed["path"]) == ("offering.status", "status")
        assert "not in map" in listed["error"]
    assert (stream["events_changed"], stream["unchanged"]) == (0, 8 - len(closed))
    assert len(await events_of(stack.deployment, "rp-break")) == 8

    status, body = await _call(stack, "POST", "/admin/npos/rp-break/diff", {"config": config})
    assert status == 200 and body["events_changed"] == 0
    other = {**config, "npo_id": "someone-else"}
    status, body = await _call(stack, "POST", "/admin/npos/rp-break/diff", {"config": other})
    assert status == 422 and "someone-else" in body["error"]
    status, body = await _call(stack, "POST", "/admin/npos/nobody/diff", {"config": config})
    assert status == 404


async def test_a_renamed_field_shows_as_schema_drift_with_its_first_record_in_the_status(
    stack: Stack,
) -> None:
    await add_cursor_npo(stack.sandbox, "rp-drift", 25)
    await _registered_with_events(stack, "rp-drift", 25, schedule=2)
    status, before = await _call(stack, "GET", "/admin/npos/rp-drift/status")
    assert (status, before["schema_drift"]) == (200, [])
    await stack.sandbox.set_faults(
        "rp-drift", endpoint="offerings", rename_fields={"name": "title"}
    )

    async def drifted() -> list[dict]:
        status, body = await _call(stack, "GET", "/admin/npos/rp-drift/status")
        assert status == 200, body
        return [d for d in body["schema_drift"] if d["kind"] == "missing"]

    [finding] = await eventually(drifted, timeout=30, what="schema drift in the status")
    ids = {r["id"] for r in await stack.sandbox.records("rp-drift", "offerings")}
    assert finding["field"] == "name" and finding["stream"] == "offerings"
    assert finding["first_record_key"].removeprefix("rp-drift/offerings/") in ids
    status, metrics = await _call(stack, "GET", "/metrics")
    text = metrics if isinstance(metrics, str) else json.dumps(metrics)
    assert 'npo_schema_drift_total{kind="missing"}' in text
    cli = await asyncio.to_thread(run_cli, stack, "npos", "status", "rp-drift")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["schema_drift"][0]["first_record_key"].startswith("rp-drift/")
