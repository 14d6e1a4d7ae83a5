"""The preview over the real broker and the simulator: one test per failure a config can hide
(auth refused, an error inside a 200, a mapping error on one record), and that a preview leaves
nothing behind (no config stored, no event published, no enrolment sent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration.conftest import Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import read_all
from tests.integration.test_registry import run_cli

SECRET = "preview-secret-0123456789"


def config(npo_id: str, base_url: str, *, token: str = SECRET, **extra: Any) -> dict[str, Any]:
    """Two sources: the simulator's NPO as ``lms`` (offerings, enrolment) and as ``crm``."""
    source = {
        "base_url": base_url,
        "auth": {"kind": "bearer", "token": token},
        "streams": [
            {
                "name": "courses",
                "kind": "offerings",
                "path": "/api/offerings",
                "records_path": "data",
                "pagination": {"style": "page_number", "page_size": 3},
            }
        ],
        "transform": {"kind": "plugin", "name": "simple"},
        **extra,
    }
    enrolling = {"enrolment": {"enabled": True, "enrol": {"path": "/api/enrolments"}}}
    return {
        "npo_id": npo_id,
        "display_name": "Preview Academy",
        "sources": [{"name": "lms", **source, **enrolling}, {"name": "crm", **source}],
    }


async def preview(stack: Stack, body: dict[str, Any]) -> tuple[int, Any]:
    return await admin(
        stack.worker.url, stack.deployment.admin_token, "POST", "/admin/npos/preview", body
    )


async def nothing_left_behind(stack: Stack, npo_id: str) -> None:
    status, _ = await admin(
        stack.worker.url, stack.deployment.admin_token, "GET", f"/admin/npos/{npo_id}"
    )
    assert status == 404  # not registered
    for topic in ("offerings", "raw_records", "config_commands"):
        messages = await read_all(stack.deployment.topics[topic], settle=0.2)
        assert not [m for m in messages if npo_id in json.dumps(m.value)], topic
    assert await stack.sandbox.enrolments(npo_id) == []


async def test_a_good_config_shows_each_source_and_stream_and_leaves_nothing_behind(
    stack: Stack,
) -> None:
    await stack.sandbox.add_npo("prev-ok", auth={"kind": "bearer", "token": SECRET}, offerings=5)
    body = {"config": config("prev-ok", stack.sandbox.npo_url("prev-ok")), "pages": 2}
    status, answer = await preview(stack, body)
    assert status == 200, answer
    assert [s["name"] for s in answer["sources"]] == ["lms", "crm"]
    lms, crm = answer["sources"]
    assert [s["key"] for s in lms["streams"]] == ["lms/courses"]
    assert [s["key"] for s in crm["streams"]] == ["crm/courses"]
    courses = lms["streams"][0]
    assert (courses["pages"], courses["more"], courses["error"]) == (2, False, None)
    assert [r["status"] for r in courses["requests"]] == [200, 200]
    assert courses["requests"][0]["headers"]["Authorization"] == "***"
    assert len(courses["records"]) == 5
    refs = [r["model"]["npo_offering_ref"] for r in courses["results"]]
    assert refs == [f"lms:off-000{i}" for i in range(1, 6)]  # as the platform would see them
    sample = lms["enrolment"]
    assert sample["method"] == "POST" and sample["url"].endswith("/npos/prev-ok/api/enrolments")
    assert sample["json_body"]["offering_id"] == "off-0001"  # the source's own reference
    assert crm["enrolment"] is None
    assert SECRET not in json.dumps(answer)
    logged = await stack.sandbox.requests("prev-ok")
    assert len(logged) == 4 and {r["endpoint"] for r in logged} == {"offerings"}
    await nothing_left_behind(stack, "prev-ok")


async def test_a_refused_token_is_shown_as_the_npo_answered_it(stack: Stack) -> None:
    await stack.sandbox.add_npo("prev-auth", auth={"kind": "bearer", "token": SECRET})
    wrong = "not-the-token-0123456789"
    body = {"config": config("prev-auth", stack.sandbox.npo_url("prev-auth"), token=wrong)}
    status, answer = await preview(stack, {**body, "stream": "lms/courses"})
    assert status == 200, answer
    [source] = answer["sources"]
    [courses] = source["streams"]
    assert [r["status"] for r in courses["requests"]] == [401]
    assert "HTTP 401" in courses["error"] and courses["records"] == []
    assert wrong not in json.dumps(answer)
    await nothing_left_behind(stack, "prev-auth")


async def test_an_error_inside_a_200_stops_the_stream_with_the_npo_reason(stack: Stack) -> None:
    await stack.sandbox.add_npo("prev-200", auth={"kind": "bearer", "token": SECRET})
    await stack.sandbox.set_faults(
        "prev-200", endpoint="offerings", fail_next=[{"error_in_200": True}]
    )
    document = config(
        "prev-200", stack.sandbox.npo_url("prev-200"), error_in_body={"path": "exception"}
    )
    status, answer = await preview(stack, {"config": document, "stream": "lms/courses"})
    assert status == 200, answer
    [courses] = answer["sources"][0]["streams"]
    assert [r["status"] for r in courses["requests"]] == [200]
    assert "invalidtoken" in courses["error"] and courses["results"] == []
    await nothing_left_behind(stack, "prev-200")


async def test_a_mapping_error_on_one_record_names_its_field_and_npo_path(
    stack: Stack, tmp_path: Path
) -> None:
    await stack.sandbox.add_npo("prev-map", auth={"kind": "bearer", "token": SECRET}, offerings=3)
    await stack.sandbox.upsert("prev-map", "offerings", {"id": "off-0002", "title": None})
    document = config("prev-map", stack.sandbox.npo_url("prev-map"))
    status, answer = await preview(stack, {"config": document, "stream": "lms/courses"})
    assert status == 200, answer
    results = answer["sources"][0]["streams"][0]["results"]
    assert [r["error"] is None for r in results] == [True, False, True]
    broken = results[1]
    assert (broken["record_id"], broken["field"], broken["path"]) == (
        "off-0002",
        "offering.title",
        "title",
    )

    # the same through the CLI: a table per stream, the error in full; --output json for scripts
    path = tmp_path / "prev-map.json"
    path.write_text(json.dumps(document))
    shown = run_cli(stack, "npos", "check", str(path), "--stream", "lms/courses")
    assert shown.returncode == 0, shown.stderr
    assert "stream lms/courses (offerings): 1 page(s), 3 record(s), 1 error(s)" in shown.stdout
    assert "#2 off-0002: ERROR field offering.title (NPO path title)" in shown.stdout
    assert SECRET not in shown.stdout
    as_json = run_cli(stack, "npos", "check", str(path), "--output", "json")
    assert json.loads(as_json.stdout)["npo_id"] == "prev-map"
    await nothing_left_behind(stack, "prev-map")


async def test_what_the_registry_refuses_the_preview_refuses_in_the_same_words(
    stack: Stack,
) -> None:
    document = config("prev-bad", stack.sandbox.npo_url("prev-bad"))
    document["sources"][0]["headers"] = {"Authorization": "Bearer abcdef123456"}
    url, token = stack.worker.url, stack.deployment.admin_token
    registry = await admin(url, token, "POST", "/admin/npos", document)
    status, answer = await preview(stack, {"config": document})
    assert (status, answer) == registry and status == 422
    assert answer["error"].startswith("sources.lms.headers.Authorization: looks like a credential")
    status, answer = await preview(stack, {"config": {"npo_id": "prev-bad"}, "pages": 99})
    assert status == 422 and "display_name" in answer["error"]
