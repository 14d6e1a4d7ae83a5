"""The whole loop: assignment created -> enrolment at the NPO -> NPO progress pulled ->
``candidate_assignment.updated`` under the platform's assignment id."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import read_all
from tests.integration.support.polling import eventually
from tests.integration.test_enrolment import ENROL, TOKEN, assignment, send, wait_results


async def test_progress_of_an_enrolment_reaches_the_platform_under_its_assignment(
    stack: Stack,
) -> None:
    npo_id = "e2e"
    await stack.sandbox.add_npo(
        npo_id, flavour="simple", auth={"kind": "bearer", "token": TOKEN}, offerings=3
    )
    pages = {"style": "page_number", "page_size": 10}
    config = {
        "npo_id": npo_id,
        "display_name": "End to end",
        "base_url": stack.sandbox.npo_url(npo_id),
        "auth": {"kind": "bearer", "token": TOKEN},
        "streams": {
            "offerings": {
                "path": "/api/offerings",
                "records_path": "data",
                "pagination": pages,
                "schedule_seconds": 600,
            },
            "assignments": {
                "path": "/api/progress",
                "records_path": "data",
                "record_id_path": "enrolment_id",
                "pagination": pages,
                "schedule_seconds": 2,
            },
        },
        "enrolment": {"enabled": True, "enrol": ENROL, "idempotency_key": "honoured"},
        "transform": {"kind": "plugin", "name": "simple"},
    }
    status, body = await admin(
        stack.worker.url,
        stack.deployment.admin_token,
        "PUT",
        f"/admin/npos/{npo_id}?wait=true",
        config,
    )
    assert status == 200, body

    await send(stack.deployment, assignment("asg-e2e", npo_id, offering="off-0002"))
    [result] = await wait_results(stack.deployment, "asg-e2e")
    assert result["status"] == "confirmed" and result["npo_enrolment_ref"]
    enrolment_ref = result["npo_enrolment_ref"]

    # The candidate makes progress at the NPO; the next pull brings it.
    await stack.sandbox.upsert(
        npo_id, "progress", {"enrolment_id": enrolment_ref, "state": "in_progress", "percent": 40}
    )

    async def progress_event() -> dict | None:
        for message in await read_all(stack.deployment.topics["assignment_updated"]):
            if message.key == "asg-e2e" and message.value["status"] == "in_progress":
                return message.value
        return None

    event = await eventually(
        progress_event, timeout=40, what="candidate_assignment.updated for asg-e2e"
    )
    assert event["event_type"] == "candidate_assignment.updated"
    assert (event["assignment_id"], event["npo_id"]) == ("asg-e2e", npo_id)
    assert event["progress"] == pytest.approx(0.4)
