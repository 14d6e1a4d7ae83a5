"""The pull path over the real broker and the simulated NPOs: every pagination style and auth kind,
incremental cursors, faults, isolation between NPOs."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

import aiohttp
import pytest

from tests.integration.conftest import Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import read_all
from tests.integration.support.polling import eventually
from tests.integration.test_registry import run_cli

PAGE = 4


def config(npo_id: str, base_url: str, auth: dict, streams: dict, **extra: Any) -> dict:
    return {
        "npo_id": npo_id,
        "display_name": npo_id,
        "base_url": base_url,
        "auth": auth,
        "streams": streams,
        "transform": {"kind": "plugin", "name": "simple"},
        "retry": {"max_attempts": 4, "backoff_base_seconds": 0.2, "backoff_max_seconds": 5},
        **extra,
    }


def stream(path: str, **fields: Any) -> dict:
    return {"path": path, "schedule_seconds": 600, **fields}


# npo_id -> (sandbox flavour, sandbox auth, config auth, streams, id field per stream, extra config)
SCENARIOS: dict[str, tuple[str, dict, dict, dict, dict, dict]] = {
    "p-simple": (
        "simple",
        {"kind": "bearer", "token": "tok-simple"},
        {"kind": "bearer", "token": "tok-simple"},
        {
            "offerings": stream(
                "/api/offerings",
                records_path="data",
                pagination={"style": "page_number", "page_size": PAGE},
            ),
            "assignments": stream(
                "/api/progress",
                records_path="data",
                record_id_path="enrolment_id",
                pagination={"style": "page_number", "page_size": PAGE},
            ),
        },
        {"offerings": "id", "progress": "enrolment_id"},
        {},
    ),
    "p-canvas": (
        "canvas",
        {"kind": "bearer", "token": "tok-canvas"},
        {"kind": "bearer", "token": "tok-canvas"},
        {
            "offerings": stream(
                "/api/v1/courses",
                params={"per_page": str(PAGE)},
                pagination={"style": "link_header"},
            )
        },
        {"offerings": "id"},
        {},
    ),
    "p-moodle": (
        "moodle",
        {"kind": "api_key_query", "api_key": "tok-moodle"},
        {"kind": "api_key_query", "param": "wstoken", "key": "tok-moodle"},
        {
            "offerings": stream(
                "/webservice/rest/server.php",
                params={"wsfunction": "core_course_get_courses", "moodlewsrestformat": "json"},
            ),
            "assignments": stream(
                "/webservice/rest/server.php",
                params={"wsfunction": "local_spotlight_progress", "moodlewsrestformat": "json"},
                records_path="records",
                record_id_path="enrolid",
                pagination={"style": "offset", "limit": PAGE},
            ),
        },
        {"offerings": "id", "progress": "enrolid"},
        {
            "error_in_body": {
                "path": "exception",
                "message_path": "message",
                "code_path": "errorcode",
            }
        },
    ),
    "p-sf": (
        "salesforce",
        {"kind": "oauth2_client_credentials", "client_id": "cid", "client_secret": "tok-sf"},
        {
            "kind": "oauth2_client_credentials",
            "token_url": "/oauth/token",
            "client_id": "cid",
            "client_secret": "tok-sf",
        },
        {
            "offerings": stream(
                "/services/data/v60.0/query",
                params={"q": "SELECT Id FROM Program__c WHERE LastModifiedDate > {cursor}"},
                records_path="records",
                record_id_path="Id",
                pagination={"style": "next_url", "next_url_path": "nextRecordsUrl"},
                incremental={"cursor_field": "LastModifiedDate", "initial": "1970-01-01T00:00:00Z"},
            )
        },
        {"offerings": "Id"},
        {"headers": {"Sforce-Query-Options": f"batchSize={PAGE}"}},
    ),
    "p-cursor": (
        "cursor",
        {"kind": "api_key_header", "api_key": "tok-cursor", "header_name": "X-Api-Key"},
        {"kind": "api_key_header", "header": "X-Api-Key", "key": "tok-cursor"},
        {
            "offerings": stream(
                "/v2/offerings",
                params={"limit": str(PAGE)},
                records_path="items",
                pagination={"style": "body_cursor", "cursor_path": "meta.next_cursor"},
                incremental={"cursor_field": "updated_at", "param": "updated_since"},
            )
        },
        {"offerings": "id"},
        {},
    ),
    "p-offset": (
        "offset",
        {"kind": "basic", "username": "npo", "password": "tok-offset"},
        {"kind": "basic", "username": "npo", "password": "tok-offset"},
        {
            "offerings": stream(
                "/rest/programs",
                records_path="results",
                record_id_path="program_id",
                pagination={"style": "offset", "limit": PAGE},
            )
        },
        {"offerings": "program_id"},
        {},
    ),
}


async def raw_ids(stack: Stack) -> dict[tuple[str, str], list[str]]:
    """(npo_id, stream) -> record ids on the raw-records topic, in order, duplicates kept."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for message in await read_all(stack.deployment.topics["raw_records"]):
        page = message.value  # a page of records of one NPO stream
        if page.get("event_type") != "raw_page.fetched":
            continue  # the end of a complete sweep
        for record in page["records"]:
            found[(page["npo_id"], page["stream"])].append(record["record_key"].rsplit("/", 1)[1])
    return found


async def put_config(stack: Stack, body: dict) -> None:
    status, answer = await admin(
        stack.worker.url,
        stack.deployment.admin_token,
        "PUT",
        f"/admin/npos/{body['npo_id']}?wait=true",
        body,
    )
    assert status == 200, answer


async def pull_state(stack: Stack, npo_id: str) -> dict:
    status, body = await admin(
        stack.worker.url, stack.deployment.admin_token, "GET", f"/admin/npos/{npo_id}/pulls"
    )
    assert status == 200, body
    return body


async def test_every_pagination_style_and_auth_kind_pulls_every_record_once(stack: Stack) -> None:
    sandbox = stack.sandbox
    expected: dict[tuple[str, str], set[str]] = {}
    for npo_id, (flavour, sandbox_auth, auth, streams, ids, extra) in SCENARIOS.items():
        await sandbox.add_npo(
            npo_id,
            flavour=flavour,
            auth=sandbox_auth,
            offerings=9,
            progress=6,
            options={"page_size": PAGE, "relative_links": True},
        )
        await put_config(stack, config(npo_id, sandbox.npo_url(npo_id), auth, streams, **extra))
        for kind, id_field in ids.items():
            name = "offerings" if kind == "offerings" else "assignments"
            expected[(npo_id, name)] = {
                str(r[id_field]) for r in await sandbox.records(npo_id, kind)
            }

    async def complete() -> dict | None:
        found = await raw_ids(stack)
        return found if all(set(found.get(k, [])) == v for k, v in expected.items()) else None

    found = await eventually(
        complete, timeout=45, what="every record of every NPO on the raw topic"
    )
    for key, ids in expected.items():
        assert len(found[key]) == len(ids), f"{key}: duplicates in a single pull"
    # Paginated for real: more than one page was requested of each paginated stream.
    for npo_id in ("p-simple", "p-canvas", "p-sf", "p-cursor", "p-offset"):
        pages = [
            r
            for r in await sandbox.requests(npo_id)
            if r["endpoint"] == "offerings" and r["status"] == 200
        ]
        assert len(pages) >= 3, npo_id
    # The OAuth2 token was fetched once and reused across pages.
    assert (await sandbox.call("GET", "/_sandbox/stats"))["tokens_issued"]["p-sf"] == 1

    async def pulls_recorded() -> list[dict[str, Any]] | None:
        # a pull's records reach the raw topic before its end is recorded in the pull state
        states = [(await pull_state(stack, n))["streams"].get("offerings", {}) for n in SCENARIOS]
        return states if all(s.get("last_success_at") for s in states) else None

    for state in await eventually(pulls_recorded, timeout=15, what="every pull's end recorded"):
        assert state["last_error"] is None


async def test_incremental_cursor_brings_only_changes_on_the_next_run(stack: Stack) -> None:
    sandbox = stack.sandbox
    npo_id = "inc-sf"
    _, sandbox_auth, auth, streams, _, extra = SCENARIOS["p-sf"]
    await sandbox.add_npo(
        npo_id, flavour="salesforce", auth=sandbox_auth, offerings=10, options={"page_size": PAGE}
    )
    await put_config(stack, config(npo_id, sandbox.npo_url(npo_id), auth, streams, **extra))

    async def first_run_done() -> dict | None:
        state = (await pull_state(stack, npo_id))["streams"].get("offerings", {})
        return state if state.get("last_success_at") and state.get("cursor") else None

    first = await eventually(first_run_done, timeout=30, what="the first pull to commit a cursor")
    records = await sandbox.records(npo_id, "offerings")
    assert first["cursor"].startswith(max(r["LastModifiedDate"] for r in records)[:19])

    changed = records[3]["Id"]
    await sandbox.upsert(npo_id, "offerings", {"Id": changed, "Name": "Renamed programme"})
    # the operator's way
    triggered = await asyncio.to_thread(run_cli, stack, "fetch", npo_id, "--stream", "offerings")
    assert triggered.returncode == 0, triggered.stderr
    assert [r["stream"] for r in json.loads(triggered.stdout)["requested"]] == ["offerings"]

    async def second_run_done() -> list | None:
        state = (await pull_state(stack, npo_id))["streams"]["offerings"]
        if state["last_success_at"] == first["last_success_at"]:
            return None
        return (await raw_ids(stack))[(npo_id, "offerings")]

    ids = await eventually(second_run_done, timeout=30, what="the second pull")
    assert len(ids) == 10 + 1 and ids[-1] == changed  # the second run brought the one change only
    queries = [
        r["query"].get("q", "")
        for r in await sandbox.requests(npo_id)
        if r["endpoint"] == "offerings"
    ]
    assert "1970-01-01" not in queries[-1] and first["cursor"][:19] in queries[-1]


@pytest.mark.parametrize(
    ("fault", "expect_error"),
    [
        ([{"status": 429, "retry_after": 1}], None),
        ([{"status": 500}, {"status": 503}], None),
        ([{"hang_ms": 3000}], None),
        ([{"malformed": True}] * 4, "not JSON"),
    ],
    ids=["429-retry-after", "5xx-then-success", "timeout-then-success", "non-json"],
)
async def test_faults_are_retried_or_recorded_per_npo(
    stack: Stack, fault: list, expect_error: str | None
) -> None:
    sandbox = stack.sandbox
    npo_id = f"fault-{abs(hash(str(fault))) % 10_000}"
    _, sandbox_auth, auth, streams, _, _ = SCENARIOS["p-simple"]
    await sandbox.add_npo(
        npo_id, flavour="simple", auth=sandbox_auth, offerings=3, options={"page_size": PAGE}
    )
    await sandbox.set_faults(npo_id, endpoint="offerings", fail_next=fault)
    await put_config(
        stack,
        config(
            npo_id,
            sandbox.npo_url(npo_id),
            auth,
            {"offerings": streams["offerings"]},
            timeout_seconds=1.0,
        ),
    )

    async def finished() -> dict | None:
        state = (await pull_state(stack, npo_id))["streams"].get("offerings", {})
        return state if state.get("last_success_at") or state.get("last_error") else None

    state = await eventually(finished, timeout=30, what="the pull to finish")
    statuses = [r["status"] for r in await sandbox.requests(npo_id) if r["endpoint"] == "offerings"]
    if expect_error is None:
        assert state["last_error"] is None and state["records_last_run"] == 3
        assert statuses[-1] == 200 and len(statuses) >= 2
        if fault[0].get("retry_after"):
            log = [r for r in await sandbox.requests(npo_id) if r["endpoint"] == "offerings"]
            gap = datetime.fromisoformat(log[1]["time"]) - datetime.fromisoformat(log[0]["time"])
            assert log[0]["status"] == 429 and gap.total_seconds() >= 1.0  # Retry-After honoured
    else:
        assert expect_error in state["last_error"]
        assert state["consecutive_failures"] == 1
        # The worker is alive and the next pull succeeds once the NPO behaves.
        await sandbox.call("DELETE", f"/_sandbox/npos/{npo_id}/faults")
        await admin(
            stack.worker.url, stack.deployment.admin_token, "POST", f"/admin/npos/{npo_id}/fetch"
        )

        async def recovered() -> bool:
            again = (await pull_state(stack, npo_id))["streams"]["offerings"]
            return (
                bool(again["last_success_at"]) and again["last_success_at"] > again["last_error_at"]
            )

        await eventually(recovered, timeout=20, what="a good pull after the garbage")


async def test_an_npo_that_is_down_does_not_delay_the_others(stack: Stack) -> None:
    sandbox = stack.sandbox
    _, sandbox_auth, auth, streams, _, _ = SCENARIOS["p-simple"]
    every_2s = {"offerings": {**streams["offerings"], "schedule_seconds": 2}}
    for npo_id in ("iso-down", "iso-a", "iso-b"):
        await sandbox.add_npo(npo_id, flavour="simple", auth=sandbox_auth, offerings=2)
    await sandbox.set_faults("iso-down", endpoint="any", latency_ms=4000, down=True)
    for npo_id in ("iso-down", "iso-a", "iso-b"):
        await put_config(
            stack, config(npo_id, sandbox.npo_url(npo_id), auth, every_2s, timeout_seconds=20)
        )

    async def pulls_of(npo_id: str) -> int:
        return sum(1 for r in await sandbox.requests(npo_id) if r["status"] == 200)

    start = {n: await pulls_of(n) for n in ("iso-a", "iso-b")}

    async def others_pulled_repeatedly() -> bool:
        counts = {n: await pulls_of(n) for n in ("iso-a", "iso-b")}
        return all(counts[n] >= start[n] + 3 for n in counts)

    began = time.monotonic()
    await eventually(
        others_pulled_repeatedly, timeout=20, what="iso-a and iso-b pulled on schedule"
    )
    # Three runs each at a 2 s interval, while iso-down hangs for 30 s on every request.
    assert time.monotonic() - began < 12
    assert await pulls_of("iso-down") == 0


async def test_metrics_count_pulls_and_show_circuits(stack: Stack) -> None:
    sandbox = stack.sandbox
    _, sandbox_auth, auth, streams, _, _ = SCENARIOS["p-simple"]
    await sandbox.add_npo("metrics-1", flavour="simple", auth=sandbox_auth, offerings=2)
    await put_config(
        stack,
        config(
            "metrics-1", sandbox.npo_url("metrics-1"), auth, {"offerings": streams["offerings"]}
        ),
    )

    async def scrape() -> str | None:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{stack.worker.url}/metrics") as resp,
        ):
            assert resp.status == 200 and resp.content_type == "text/plain"
            text = await resp.text()
        succeeded = re.search(
            r'npo_pulls_total\{outcome="succeeded",stream="offerings"\} (\d+)', text
        )
        return text if succeeded and int(succeeded[1]) >= 1 else None

    text = await eventually(scrape, timeout=20, what="a succeeded pull in the metrics")
    assert re.search(r'npo_circuits\{state="closed"\} [1-9]', text)
    assert "npo_raw_records_total" in text and "tok-" not in text
