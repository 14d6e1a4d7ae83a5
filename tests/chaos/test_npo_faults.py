"""NPO faults (issue 14): 5xx bursts, 429 with Retry-After, slow bodies past the timeout, a
connection reset mid-body, truncated and non-JSON bodies, a renamed field, pagination that loops,
a record dated in 2099. One worker, one NPO per fault, each fault queued for its NPO's first
pull; the ledger after all of them: every record served published once, nothing lost."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from tests.chaos.scenario import (
    TOKEN,
    add_npo,
    finish,
    memory_of,
    offering_config,
    put_config,
    rss_now,
    settled_ledger,
)
from tests.integration.conftest import Deployment
from tests.integration.support.kafka import read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import SandboxProcess

pytestmark = pytest.mark.chaos

OFFERINGS = 45  # pages of 20, 20 and 5
PROCEED: dict[str, Any] = {"hang_ms": 0}  # a one-shot "fault" that answers normally


async def page_one(sandbox: SandboxProcess, npo_id: str) -> dict[str, Any]:
    """The NPO's real first page, as the worker would read it."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{sandbox.npo_url(npo_id)}/api/offerings",
            params={"page": "1", "per_page": "20"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response,
    ):
        body: dict[str, Any] = await response.json()
        return body


async def test_npo_faults_leave_every_record_published_once(
    sandbox: SandboxProcess, deployment: Deployment
) -> None:
    npos: dict[str, list[dict[str, Any]]] = {
        "f-5xx": [{"status": s} for s in (500, 502, 503, 500, 503)],
        "f-429": [{"status": 429, "retry_after": 2}],
        "f-slow": [{"hang_ms": 8000}],  # past the 2 s timeout
        "f-reset": [PROCEED, {"bad_body": "reset_mid_body"}],
        "f-truncated": [{"bad_body": "truncated"}],
        "f-html": [{"malformed": True}],
        "f-drift": [],  # page one with "title" renamed "name" (below)
        "f-loop": [],  # page two the same as page one (below)
        "f-future": [],  # page one plus a record dated 2099 (below)
    }
    for npo_id in npos:
        await add_npo(sandbox, npo_id, OFFERINGS)
    first = await page_one(sandbox, "f-drift")
    drifted = [{("name" if k == "title" else k): v for k, v in r.items()} for r in first["data"]]
    npos["f-drift"] = [{"wrong_shape": True, "body": {**first, "data": drifted}}]
    npos["f-loop"] = [PROCEED, {"wrong_shape": True, "body": await page_one(sandbox, "f-loop")}]
    future = {**first["data"][0], "id": "off-2099", "updated_at": "2099-01-01T00:00:00Z"}
    first_future = await page_one(sandbox, "f-future")
    npos["f-future"] = [
        {"wrong_shape": True, "body": {**first_future, "data": [*first_future["data"], future]}}
    ]
    for npo_id, actions in npos.items():
        if actions:
            await sandbox.set_faults(npo_id, endpoint="offerings", fail_next=actions)

    worker = await deployment.start_worker("faults")
    rss = {"faults": rss_now(worker)}
    started = time.monotonic()
    for npo_id in npos:
        config = offering_config(
            npo_id,
            sandbox.npo_url(npo_id),
            schedule=3,
            timeout=2,
            incremental=npo_id == "f-future",
        )
        await put_config(worker, deployment, config)

    async def faults_served() -> bool:
        for npo_id in npos:
            faults = (await sandbox.call("GET", f"/_sandbox/npos/{npo_id}/faults"))["faults"]
            if any(spec["fail_next"] for spec in faults.values()):
                return False
        return True

    await eventually(faults_served, timeout=60, what="every NPO's faults served")
    # The stream must go on after the 2099 record: a change made now is pulled incrementally.
    record = (await sandbox.records("f-future", "offerings"))[-1]
    await sandbox.upsert("f-future", "offerings", {"id": record["id"], "title": "Changed later"})

    async def updated() -> bool:
        events = await read_all(deployment.topics["offerings"])
        return any(
            isinstance(m.value, dict)
            and m.value.get("npo_id") == "f-future"
            and m.value["offering"].get("title") == "Changed later"
            for m in events
        )

    await eventually(updated, timeout=60, what="the change after the 2099 record, pulled")
    ledger = await settled_ledger(sandbox, deployment, npos=list(npos))
    finish(
        "npo_faults",
        "NPO faults: 5xx burst, 429 + Retry-After, slow body, reset mid-body, truncated, "
        "non-JSON, renamed field, looping pages, a record dated 2099",
        ledger,
        memory_of([worker], rss),
        {"faults to complete ledger": round(time.monotonic() - started, 1)},
        notes=["the incremental stream went on after a record dated 2099 (cursor capped)"],
    )
