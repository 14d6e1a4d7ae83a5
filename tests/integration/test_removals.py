"""Offerings and enrolments that vanish at the NPO, over the real broker and the simulator:
one removal each, never from a failed sweep, a mass removal held for an operator."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.conftest import Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import Message, produce, read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import ROOT
from tests.integration.test_registry import run_cli

INTERVAL = 2
"""Seconds between sweeps of every stream here: "within two intervals" is 2 * INTERVAL + slack."""
WITHIN = 2 * INTERVAL + 20  # + the worker's tick, ingestion and a cold consumer group


def offerings_stream(**extra: Any) -> dict[str, Any]:
    return {
        "path": "/api/offerings",
        "records_path": "data",
        "pagination": {"style": "page_number", "page_size": 2},
        "schedule_seconds": INTERVAL,
        **extra,
    }


def simple(npo_id: str, stack: Stack, *, progress: bool = False, **extra: Any) -> dict[str, Any]:
    streams: dict[str, Any] = {"offerings": offerings_stream()}
    if progress:
        streams["assignments"] = {
            "path": "/api/progress",
            "records_path": "data",
            "record_id_path": "enrolment_id",
            "pagination": {"style": "page_number", "page_size": 100},
            "schedule_seconds": INTERVAL,
        }
    return {
        "npo_id": npo_id,
        "display_name": npo_id,
        "base_url": stack.sandbox.npo_url(npo_id),
        "auth": {"kind": "bearer", "token": f"tok-{npo_id}"},
        "streams": streams,
        "transform": {"kind": "plugin", "name": "simple"},
        "retry": {"max_attempts": 2, "backoff_base_seconds": 0.1, "backoff_max_seconds": 0.5},
        **extra,
    }


async def add_simple(stack: Stack, npo_id: str, offerings: int, progress: int = 0) -> None:
    await stack.sandbox.add_npo(
        npo_id,
        flavour="simple",
        auth={"kind": "bearer", "token": f"tok-{npo_id}"},
        offerings=offerings,
        progress=progress,
    )


async def call(stack: Stack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return await admin(stack.worker.url, stack.deployment.admin_token, method, path, body)


async def put_config(stack: Stack, body: dict[str, Any]) -> None:
    status, answer = await call(stack, "PUT", f"/admin/npos/{body['npo_id']}?wait=true", body)
    assert status == 200, answer


async def events(stack: Stack, npo_id: str, topic: str = "offerings") -> list[dict[str, Any]]:
    messages: list[Message] = await read_all(stack.deployment.topics[topic])
    return [
        m.value for m in messages if isinstance(m.value, dict) and m.value.get("npo_id") == npo_id
    ]


def ref_of(event: dict[str, Any]) -> str:
    return (
        event["offering"]["npo_offering_ref"] if "offering" in event else event["npo_offering_ref"]
    )


async def published(stack: Stack, npo_id: str, count: int) -> list[dict[str, Any]]:
    async def created() -> list[dict[str, Any]]:
        found = [
            e for e in await events(stack, npo_id) if e["event_type"] == "npo_offering.created"
        ]
        return found if len(found) >= count else []

    return await eventually(created, timeout=60, what=f"{count} offerings of {npo_id} created")


async def removals(stack: Stack, npo_id: str) -> list[dict[str, Any]]:
    return [e for e in await events(stack, npo_id) if e["event_type"] == "npo_offering.removed"]


async def sweeps_after(stack: Stack, npo_id: str, since: str, count: int = 2) -> None:
    """Wait until ``count`` more successful sweeps of the offerings ended after ``since``."""
    seen: set[str] = set()

    async def more() -> bool:
        _, state = await call(stack, "GET", f"/admin/npos/{npo_id}/pulls")
        last = state["streams"].get("offerings", {}).get("last_success_at")
        if last and last > since:
            seen.add(last)
        return len(seen) >= count

    await eventually(more, timeout=WITHIN * 2, what=f"{count} more sweeps of {npo_id}")


async def last_success(stack: Stack, npo_id: str) -> str:
    _, state = await call(stack, "GET", f"/admin/npos/{npo_id}/pulls")
    return str(state["streams"].get("offerings", {}).get("last_success_at") or "")


async def test_a_course_removed_from_the_list_is_removed_once_and_returns_as_open(
    stack: Stack,
) -> None:
    await add_simple(stack, "rm-list", 4)
    await put_config(stack, simple("rm-list", stack))
    first = await published(stack, "rm-list", 4)
    gone = first[0]["offering"]
    await stack.sandbox.call(
        "DELETE", f"/_sandbox/npos/rm-list/offerings/{gone['npo_offering_ref']}"
    )

    [removed] = await eventually(
        lambda: removals(stack, "rm-list"), timeout=WITHIN, what="the removal event"
    )
    assert removed["npo_offering_ref"] == gone["npo_offering_ref"]
    assert removed["reason"] == "absent"
    await sweeps_after(stack, "rm-list", await last_success(stack, "rm-list"))
    assert len(await removals(stack, "rm-list")) == 1  # later sweeps do not remove it again

    await stack.sandbox.upsert(
        "rm-list", "offerings", {"id": gone["npo_offering_ref"], "title": "Back"}
    )

    async def back() -> list[dict[str, Any]]:
        later = (await events(stack, "rm-list"))[len(first) + 1 :]
        return [e for e in later if ref_of(e) == gone["npo_offering_ref"]]

    [again] = await eventually(back, timeout=WITHIN, what="the course published again")
    assert again["event_type"] == "npo_offering.created"
    assert again["offering"]["status"] == "open"


async def test_a_course_marked_deleted_is_removed_once(stack: Stack) -> None:
    await stack.sandbox.add_npo(
        "rm-canvas",
        flavour="canvas",
        auth={"kind": "bearer", "token": "tok-rm-canvas"},
        offerings=4,
    )
    await put_config(
        stack,
        {
            **simple("rm-canvas", stack),
            "streams": {
                "offerings": {
                    "path": "/api/v1/courses",
                    "params": {"per_page": "2"},
                    "pagination": {"style": "link_header"},
                    "schedule_seconds": INTERVAL,
                }
            },
            "transform": {"kind": "plugin", "name": "canvas"},
        },
    )
    courses = [
        c
        for c in await stack.sandbox.records("rm-canvas", "offerings")
        if c["workflow_state"] != "deleted"
    ]
    first = await published(stack, "rm-canvas", len(courses))
    target = str(courses[0]["id"])
    await stack.sandbox.upsert(
        "rm-canvas", "offerings", {"id": courses[0]["id"], "workflow_state": "deleted"}
    )

    [removed] = await eventually(
        lambda: removals(stack, "rm-canvas"), timeout=WITHIN, what="the removal event"
    )
    assert (removed["npo_offering_ref"], removed["reason"]) == (target, "filtered")
    await sweeps_after(stack, "rm-canvas", await last_success(stack, "rm-canvas"))
    assert len(await removals(stack, "rm-canvas")) == 1
    assert len(first) == len(courses)


async def test_a_failed_sweep_removes_nothing(stack: Stack) -> None:
    await add_simple(stack, "rm-fail", 4)
    await put_config(stack, simple("rm-fail", stack))
    first = await published(stack, "rm-fail", 4)
    gone = first[0]["offering"]["npo_offering_ref"]
    # Every sweep fails from now (the second page onwards too): none of them is complete
    await stack.sandbox.set_faults("rm-fail", endpoint="offerings", down=True)
    await stack.sandbox.call("DELETE", f"/_sandbox/npos/rm-fail/offerings/{gone}")

    async def failed_twice() -> bool:
        _, state = await call(stack, "GET", "/admin/npos/rm-fail/pulls")
        return state["streams"]["offerings"].get("consecutive_failures", 0) >= 2

    await eventually(failed_twice, timeout=WITHIN * 2, what="two failed sweeps")
    assert await removals(stack, "rm-fail") == []

    await stack.sandbox.call("DELETE", "/_sandbox/npos/rm-fail/faults")
    [removed] = await eventually(
        lambda: removals(stack, "rm-fail"), timeout=WITHIN, what="the removal once sweeps succeed"
    )
    assert removed["npo_offering_ref"] == gone


async def test_an_empty_answer_is_held_shown_and_released_by_an_operator(stack: Stack) -> None:
    await add_simple(stack, "rm-empty", 3)
    await put_config(stack, simple("rm-empty", stack))
    first = await published(stack, "rm-empty", 3)
    for event in first:
        ref = event["offering"]["npo_offering_ref"]
        await stack.sandbox.call("DELETE", f"/_sandbox/npos/rm-empty/offerings/{ref}")

    async def held() -> dict[str, Any] | None:
        _, state = await call(stack, "GET", "/admin/npos/rm-empty/pulls")
        return state.get("removal_holds", {}).get("offerings")

    hold = await eventually(held, timeout=WITHIN, what="the mass removal held")
    assert hold["status"] == "mass removal held"
    assert (hold["published"], hold["seen"], hold["would_remove"]) == (3, 0, 3)
    status, shown = await call(stack, "GET", "/admin/npos/rm-empty/removals")
    assert status == 200 and shown["holds"]["offerings"]["would_remove"] == 3
    await sweeps_after(stack, "rm-empty", await last_success(stack, "rm-empty"))
    assert await removals(stack, "rm-empty") == []  # held sweeps remove nothing

    done = run_cli(stack, "npos", "removals", "confirm", "rm-empty", "--stream", "offerings")
    assert done.returncode == 0, done.stderr

    async def all_removed() -> list[dict[str, Any]]:
        found = await removals(stack, "rm-empty")
        return found if len(found) >= 3 else []

    gone = await eventually(all_removed, timeout=WITHIN, what="3 removals once confirmed")
    assert {e["npo_offering_ref"] for e in gone} == {
        e["offering"]["npo_offering_ref"] for e in first
    }
    _, after = await call(stack, "GET", "/admin/npos/rm-empty/removals")
    assert after["holds"] == {}


async def test_a_hold_is_cleared_when_the_records_come_back(stack: Stack) -> None:
    await add_simple(stack, "rm-back", 3)
    await put_config(stack, simple("rm-back", stack))
    first = await published(stack, "rm-back", 3)
    saved = await stack.sandbox.records("rm-back", "offerings")
    for record in saved:
        await stack.sandbox.call("DELETE", f"/_sandbox/npos/rm-back/offerings/{record['id']}")

    async def holds() -> dict[str, Any]:
        _, shown = await call(stack, "GET", "/admin/npos/rm-back/removals")
        return dict(shown["holds"])

    await eventually(holds, timeout=WITHIN, what="the mass removal held")
    for record in saved:
        await stack.sandbox.upsert("rm-back", "offerings", record)

    async def cleared() -> bool:
        return not await holds()

    await eventually(cleared, timeout=WITHIN, what="the hold cleared by a full sweep")
    assert await removals(stack, "rm-back") == []
    assert len(first) == 3


async def test_a_deleted_enrolment_is_withdrawn(stack: Stack) -> None:
    await add_simple(stack, "rm-prog", 2, progress=3)
    records = sorted(
        await stack.sandbox.records("rm-prog", "progress"), key=lambda r: r["enrolment_id"]
    )
    for index, record in enumerate(records):
        await produce(
            stack.deployment.topics["enrolment_links"],
            "rm-prog",
            {
                "event_type": "enrolment.linked",
                "npo_id": "rm-prog",
                "assignment_id": f"asg-{index}",
                "candidate_id": record["candidate_external_id"],
                "npo_enrolment_ref": record["enrolment_id"],
                "npo_offering_ref": record["offering_id"],
            },
        )
    await put_config(stack, simple("rm-prog", stack, progress=True))

    async def updates() -> list[dict[str, Any]]:
        return await events(stack, "rm-prog", "assignment_updated")

    async def three() -> list[dict[str, Any]]:
        found = await updates()
        return found if len(found) >= 3 else []

    await eventually(three, timeout=60, what="3 progress events")
    index, target = next((i, r) for i, r in enumerate(records) if r["state"] != "withdrawn")
    await stack.sandbox.call("DELETE", f"/_sandbox/npos/rm-prog/progress/{target['enrolment_id']}")

    async def withdrawn() -> list[dict[str, Any]]:
        return [
            e
            for e in await updates()
            if e["status"] == "withdrawn" and e["assignment_id"] == f"asg-{index}"
        ]

    [event] = await eventually(withdrawn, timeout=WITHIN, what="the withdrawn update")
    assert event["progress"] is None


async def test_an_incremental_stream_with_full_sweeps_notices_a_removal(stack: Stack) -> None:
    sandbox = stack.sandbox
    secret = {"client_id": "cid", "client_secret": "tok-inc"}
    await sandbox.add_npo(
        "rm-inc",
        flavour="salesforce",
        auth={"kind": "oauth2_client_credentials", **secret},
        offerings=4,
        options={"page_size": 2},
    )
    example = json.loads((ROOT / "examples" / "npos" / "salesforce.json").read_text())
    offerings = {**example["streams"]["offerings"], "schedule_seconds": INTERVAL}
    await put_config(
        stack,
        {
            **{k: v for k, v in example.items() if k != "enrolment"},
            "npo_id": "rm-inc",
            "base_url": sandbox.npo_url("rm-inc"),
            "auth": {**example["auth"], **secret},
            "streams": {"offerings": {**offerings, "full_sweep_every": 2}},
        },
    )
    first = await published(stack, "rm-inc", 4)
    gone = first[0]["offering"]["npo_offering_ref"]
    await sandbox.call("DELETE", f"/_sandbox/npos/rm-inc/offerings/{gone}")

    [removed] = await eventually(
        lambda: removals(stack, "rm-inc"), timeout=WITHIN * 2, what="the removal by a full sweep"
    )
    assert (removed["npo_offering_ref"], removed["reason"]) == (gone, "absent")
    _, state = await call(stack, "GET", "/admin/npos/rm-inc/pulls")
    assert state["streams"]["offerings"]["cursor"]  # the incremental cursor stays
