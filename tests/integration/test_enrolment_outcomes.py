"""Every answer an NPO can give to an enrolment, over the real broker and the simulated NPO:
an unknown outcome settled as the NPO's config declares (lookup, honoured key, or an operator),
"already enrolled" as a success, a cancel before its created, a message under the wrong key.

Each test counts what the NPO received and the outcome events a platform consumer reads.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.integration.conftest import Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import produce, read_all
from tests.integration.support.polling import eventually
from tests.integration.test_enrolment import (
    add_stack_npo,
    assignment,
    enrol_requests,
    results_for,
    run_cli,
    same_partition_as,
    send,
    wait_results,
)

COMMIT_THEN_504 = [{"commit_then_status": 504}]
PAGES = {"style": "page_number", "page_size": 10}
PROGRESS_STREAM = {
    "assignments": {
        "path": "/api/progress",
        "records_path": "data",
        "record_id_path": "enrolment_id",
        "pagination": PAGES,
        "schedule_seconds": 2,
    }
}


async def links_for(stack: Stack, assignment_id: str) -> list[dict[str, Any]]:
    return [
        m.value
        for m in await read_all(stack.deployment.topics["enrolment_links"])
        if m.value["assignment_id"] == assignment_id
    ]


async def test_a_504_after_the_npo_committed_is_looked_up_into_one_confirmed_enrolment(
    stack: Stack,
) -> None:
    await add_stack_npo(stack, "out-504", honours_idempotency=False, lookup=True)
    await stack.sandbox.set_faults("out-504", endpoint="enrol", fail_next=COMMIT_THEN_504)
    await send(stack.deployment, assignment("asg-504", "out-504"))

    (result,) = await wait_results(stack.deployment, "asg-504")
    (enrolment,) = await stack.sandbox.enrolments("out-504")
    assert result["status"] == "confirmed"
    assert result["npo_enrolment_ref"] == enrolment["enrolment_id"]
    assert [r["status"] for r in await enrol_requests(stack.sandbox, "out-504")] == [504]
    assert len(await enrol_requests(stack.sandbox, "out-504", "lookup")) == 1


async def test_neither_key_nor_lookup_makes_the_outcome_unknown_until_an_operator_confirms(
    stack: Stack,
) -> None:
    registered = await add_stack_npo(stack, "out-unknown", honours_idempotency=False)
    assert any("neither idempotency_key" in w for w in registered["warnings"])
    status, history = await admin(
        stack.worker.url,
        stack.deployment.admin_token,
        "GET",
        "/admin/npos/out-unknown/versions",
    )
    assert status == 200 and history["versions"][-1]["warnings"] == registered["warnings"]
    await stack.sandbox.set_faults("out-unknown", endpoint="enrol", fail_next=COMMIT_THEN_504)
    await send(stack.deployment, assignment("asg-unknown", "out-unknown"))

    (unknown,) = await wait_results(stack.deployment, "asg-unknown")
    assert unknown["status"] == "unknown" and "HTTP 504" in unknown["reason"]
    (enrolment,) = await stack.sandbox.enrolments("out-unknown")
    assert len(await enrol_requests(stack.sandbox, "out-unknown")) == 1
    assert await links_for(stack, "asg-unknown") == []

    # The operator finds the enrolment at the NPO and confirms it with the NPO's id.
    status, body = await admin(
        stack.worker.url,
        stack.deployment.admin_token,
        "POST",
        "/admin/npos/out-unknown/enrolments/asg-unknown/confirm?wait=true",
        {"npo_enrolment_ref": enrolment["enrolment_id"]},
    )
    assert status == 200 and body["status"] == "applied", body
    assert body["enrolment"]["status"] == "confirmed"

    _, confirmed = await wait_results(stack.deployment, "asg-unknown", count=2)
    assert confirmed["status"] == "confirmed"
    assert confirmed["npo_enrolment_ref"] == enrolment["enrolment_id"]
    (link,) = await links_for(stack, "asg-unknown")
    assert (link["event_type"], link["npo_enrolment_ref"]) == (
        "enrolment.linked",
        enrolment["enrolment_id"],
    )
    assert len(await enrol_requests(stack.sandbox, "out-unknown")) == 1
    assert len(await stack.sandbox.enrolments("out-unknown")) == 1
    status, _ = await admin(
        stack.worker.url,
        stack.deployment.admin_token,
        "POST",
        "/admin/npos/out-unknown/enrolments/asg-unknown/retry",
    )
    assert status == 409  # settled already: a second decision is refused


async def test_an_operator_retries_from_the_cli_an_unknown_enrolment_the_npo_does_not_have(
    stack: Stack,
) -> None:
    await add_stack_npo(stack, "out-retry", honours_idempotency=False)
    # A gateway's 504 before the NPO committed: the service cannot tell, the operator can.
    await stack.sandbox.set_faults("out-retry", endpoint="enrol", fail_next=[{"status": 504}])
    await send(stack.deployment, assignment("asg-retry", "out-retry"))
    (unknown,) = await wait_results(stack.deployment, "asg-retry")
    assert unknown["status"] == "unknown"
    assert await stack.sandbox.enrolments("out-retry") == []

    retried = await asyncio.to_thread(
        run_cli, stack, "enrolments", "retry", "out-retry", "asg-retry"
    )
    assert retried.returncode == 0, retried.stderr
    assert '"status": "applied"' in retried.stdout

    _, confirmed = await wait_results(stack.deployment, "asg-retry", count=2)
    (enrolment,) = await stack.sandbox.enrolments("out-retry")
    assert (confirmed["status"], confirmed["npo_enrolment_ref"]) == (
        "confirmed",
        enrolment["enrolment_id"],
    )
    assert [r["status"] for r in await enrol_requests(stack.sandbox, "out-retry")] == [504, 201]


async def test_a_409_on_resend_is_confirmed_through_the_lookup_linked_and_progress_flows(
    stack: Stack,
) -> None:
    # The config says the key is honoured, but the NPO has forgotten it (keys expire): its answer
    # to the re-send is "already enrolled".
    await add_stack_npo(
        stack,
        "out-409",
        honours_idempotency=False,
        rejects_duplicates=True,
        idempotency_key="honoured",
        lookup=True,
        streams=PROGRESS_STREAM,
    )
    await stack.sandbox.set_faults("out-409", endpoint="enrol", fail_next=COMMIT_THEN_504)
    await send(stack.deployment, assignment("asg-409", "out-409", offering="off-0002"))

    (result,) = await wait_results(stack.deployment, "asg-409")
    (enrolment,) = await stack.sandbox.enrolments("out-409")
    ref = enrolment["enrolment_id"]
    assert (result["status"], result["npo_enrolment_ref"]) == ("confirmed", ref)
    assert [r["status"] for r in await enrol_requests(stack.sandbox, "out-409")] == [504, 409]
    assert len(await enrol_requests(stack.sandbox, "out-409", "lookup")) == 1
    (link,) = await links_for(stack, "asg-409")
    assert link["npo_enrolment_ref"] == ref

    await stack.sandbox.upsert(
        "out-409", "progress", {"enrolment_id": ref, "state": "in_progress", "percent": 40}
    )

    async def progress() -> dict[str, Any] | None:
        for message in await read_all(stack.deployment.topics["assignment_updated"]):
            if message.key == "asg-409" and message.value["status"] == "in_progress":
                value: dict[str, Any] = message.value
                return value
        return None

    event = await eventually(progress, timeout=40, what="progress of asg-409")
    assert event["npo_id"] == "out-409"


async def test_a_cancel_before_its_created_leaves_no_enrolment_at_the_npo(stack: Stack) -> None:
    await add_stack_npo(stack, "out-order")
    await send(stack.deployment, assignment("asg-order", "out-order", cancelled=True))
    await send(stack.deployment, assignment("asg-order", "out-order"))
    marker = same_partition_as("asg-order", "asg-order-marker")
    await send(stack.deployment, assignment(marker, "out-order", offering="off-0002"))

    await wait_results(stack.deployment, marker)  # same partition: processed after both
    (result,) = await results_for(stack.deployment, "asg-order")
    assert result["status"] == "cancelled"
    assert [e["offering_id"] for e in await stack.sandbox.enrolments("out-order")] == ["off-0002"]
    assert len(await enrol_requests(stack.sandbox, "out-order")) == 1  # the marker's only


async def test_an_assignment_keyed_other_than_its_id_is_dead_lettered_with_the_reason(
    stack: Stack,
) -> None:
    await add_stack_npo(stack, "out-key")
    topic = stack.deployment.topics["candidate_assignments"]
    await produce(topic, "not-asg-key", assignment("asg-key", "out-key"))
    marker = same_partition_as("not-asg-key", "asg-key-marker")
    await send(stack.deployment, assignment(marker, "out-key", offering="off-0002"))

    await wait_results(stack.deployment, marker)

    async def letter() -> dict[str, Any] | None:
        for message in await read_all(stack.deployment.topics["dead_letters"]):
            if message.value.get("key") == "not-asg-key":
                value: dict[str, Any] = message.value
                return value
        return None

    found = await eventually(letter, timeout=15, what="the dead letter of the wrong key")
    assert found["reason"] == "message key 'not-asg-key' is not its assignment_id 'asg-key'"
    assert found["npo_id"] == "out-key"
    assert await results_for(stack.deployment, "asg-key") == []
    assert [e["offering_id"] for e in await stack.sandbox.enrolments("out-key")] == ["off-0002"]
