"""The push path over the real broker and the simulated NPO: exactly one enrolment per assignment.

Every test counts what the NPO received (``sandbox.enrolments``/``requests``)
and reads what a platform consumer would read (enrolment results and links).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime
from typing import Any

from npo_integration.partitioning import partition_for
from npo_integration.push.identity import idempotency_key
from npo_integration.push.processor import NO_CONFIG
from tests.integration.conftest import Deployment, Stack
from tests.integration.support.admin import admin
from tests.integration.support.kafka import produce, read_all
from tests.integration.support.polling import eventually
from tests.integration.support.processes import ROOT, SandboxProcess

TOKEN = "enrol-token"
PARTITIONS = 4  # NPO_TOPIC_PARTITIONS of every test deployment

ENROL = {
    "method": "POST",
    "path": "/api/enrolments",
    "body_format": "json",
    "response_id_path": "enrolment_id",
}
UNENROL = {"method": "DELETE", "path": "/api/enrolments/{enrolment_id}", "body_format": "none"}
LOOKUP = {
    "path": "/api/enrolments",
    "params": {
        "candidate_external_id": "{request.body.candidate.external_id}",
        "offering_id": "{offering.npo_offering_ref}",
    },
    "id_path": "enrolment_id",
}


def enrol_config(
    npo_id: str,
    base_url: str,
    *,
    unenrol: bool = True,
    lookup: bool = False,
    timeout: float = 5.0,
    max_attempts: int = 4,
    idempotency_key: str | None = "honoured",
    streams: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "npo_id": npo_id,
        "display_name": f"Enrolment test {npo_id}",
        "base_url": base_url,
        "auth": {"kind": "bearer", "token": TOKEN},
        "enrolment": {
            "enabled": True,
            "enrol": ENROL,
            "unenrol": UNENROL if unenrol else None,
            "lookup": LOOKUP if lookup else None,
            "idempotency_key": idempotency_key,
            "max_attempts": max_attempts,
        },
        "streams": streams or {},
        "transform": {"kind": "plugin", "name": "simple"},
        "timeout_seconds": timeout,
        "retry": {"backoff_base_seconds": 0.2, "backoff_max_seconds": 1.0},
    }


def assignment(
    assignment_id: str, npo_id: str, *, offering: str = "off-0001", cancelled: bool = False
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "candidate_assignment.cancelled"
        if cancelled
        else "candidate_assignment.created",
        "occurred_at": "2026-11-28T09:05:00Z",
        "assignment_id": assignment_id,
        "candidate": {
            "candidate_id": f"cand-{assignment_id}",
            "email": f"{assignment_id}@example.org",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "npo_user_ref": f"user-{assignment_id}",
        },
        "offering": {"offering_id": "off-5", "npo_id": npo_id, "npo_offering_ref": offering},
    }


async def add_npo(
    sandbox: SandboxProcess,
    url: str,
    token: str,
    npo_id: str,
    *,
    honours_idempotency: bool = True,
    rejects_duplicates: bool = False,
    **config: Any,
) -> dict[str, Any]:
    """The NPO at the simulator and its config (declaring an Idempotency-Key honoured as the
    simulated NPO does, unless ``idempotency_key`` says otherwise); the registry's answer."""
    await sandbox.add_npo(
        npo_id,
        flavour="simple",
        auth={"kind": "bearer", "token": TOKEN},
        offerings=3,
        options={
            "honours_idempotency": honours_idempotency,
            "rejects_duplicates": rejects_duplicates,
        },
    )
    config.setdefault("idempotency_key", "honoured" if honours_idempotency else None)
    status, body = await admin(
        url,
        token,
        "PUT",
        f"/admin/npos/{npo_id}?wait=true",
        enrol_config(npo_id, sandbox.npo_url(npo_id), **config),
    )
    assert status == 200, body
    answer: dict[str, Any] = body
    return answer


async def add_stack_npo(stack: Stack, npo_id: str, **kwargs: Any) -> dict[str, Any]:
    return await add_npo(
        stack.sandbox, stack.worker.url, stack.deployment.admin_token, npo_id, **kwargs
    )


async def send(deployment: Deployment, event: dict[str, Any]) -> None:
    await produce(deployment.topics["candidate_assignments"], event["assignment_id"], event)


async def results_for(deployment: Deployment, assignment_id: str) -> list[dict[str, Any]]:
    return [
        m.value
        for m in await read_all(deployment.topics["enrolment_results"])
        if m.key == assignment_id
    ]


async def wait_results(
    deployment: Deployment, assignment_id: str, count: int = 1, timeout: float = 30
) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        found = await results_for(deployment, assignment_id)
        return found if len(found) >= count else None

    return await eventually(
        probe, timeout=timeout, what=f"{count} enrolment result(s) for {assignment_id}"
    )


async def enrol_requests(
    sandbox: SandboxProcess, npo_id: str, kind: str = "enrol"
) -> list[dict[str, Any]]:
    return [r for r in await sandbox.requests(npo_id) if r["endpoint"] == kind]


def same_partition_as(assignment_id: str, prefix: str) -> str:
    """Another assignment id on the same partition: processed only after
    ``assignment_id``'s events."""
    target = partition_for(assignment_id, PARTITIONS)
    return next(
        f"{prefix}-{i}" for i in range(1000) if partition_for(f"{prefix}-{i}", PARTITIONS) == target
    )


# --- happy path, outcome events, links --------------------------------------------------


async def test_an_assignment_is_enrolled_once_with_its_idempotency_key_and_linked(
    stack: Stack,
) -> None:
    await add_stack_npo(stack, "enr-ok")
    await send(stack.deployment, assignment("asg-ok", "enr-ok"))

    (result,) = await wait_results(stack.deployment, "asg-ok")
    (enrolment,) = await stack.sandbox.enrolments("enr-ok")
    assert result["status"] == "confirmed" and result["reason"] is None and result["attempts"] == 1
    assert result["npo_id"] == "enr-ok" and result["npo_enrolment_ref"] == enrolment["enrolment_id"]
    assert enrolment["idempotency_key"] == idempotency_key("enrol", "asg-ok")
    assert enrolment["offering_id"] == "off-0001"
    assert enrolment["candidate"]["external_id"] == "user-asg-ok"

    links = [
        m
        for m in await read_all(stack.deployment.topics["enrolment_links"])
        if m.value["assignment_id"] == "asg-ok"
    ]
    assert [(m.key, m.value["event_type"]) for m in links] == [("enr-ok", "enrolment.linked")]
    assert links[0].value["npo_enrolment_ref"] == enrolment["enrolment_id"]
    assert (
        links[0].value["npo_offering_ref"] == "off-0001"
        and links[0].value["candidate_id"] == "cand-asg-ok"
    )


async def test_bad_input_is_dead_lettered_and_an_npo_without_integration_fails_visibly(
    stack: Stack,
) -> None:
    await add_stack_npo(stack, "enr-after-bad")
    topic = stack.deployment.topics["candidate_assignments"]
    await produce(topic, "asg-garbage", b"{not json")
    await produce(
        topic,
        "asg-wrong-shape",
        {"event_type": "candidate_assignment.created", "assignment_id": "x"},
    )
    await send(stack.deployment, assignment("asg-no-integration", "npo-without-api"))
    after = same_partition_as("asg-no-integration", "asg-after-bad")
    await send(stack.deployment, assignment(after, "enr-after-bad"))

    assert (await wait_results(stack.deployment, after))[0]["status"] == "confirmed"

    async def letters() -> list[dict[str, Any]] | None:
        found = [
            m.value
            for m in await read_all(stack.deployment.topics["dead_letters"])
            if m.value.get("key") in {"asg-garbage", "asg-wrong-shape"}
        ]
        return found if len(found) == 2 else None

    assert all(
        letter["reason"]
        for letter in await eventually(letters, timeout=15, what="two dead letters")
    )
    (refused,) = await wait_results(stack.deployment, "asg-no-integration")
    assert (refused["status"], refused["reason"]) == ("failed", NO_CONFIG)


# --- failures and retries ------------------------------------------------------------------


async def test_a_permanent_refusal_fails_at_once_with_the_npo_reason(stack: Stack) -> None:
    await add_stack_npo(stack, "enr-422")
    await send(stack.deployment, assignment("asg-422", "enr-422", offering="no-such-offering"))

    (result,) = await wait_results(stack.deployment, "asg-422")
    assert result["status"] == "failed" and result["attempts"] == 1
    assert "HTTP 422" in result["reason"] and "no offering 'no-such-offering'" in result["reason"]
    assert [r["status"] for r in await enrol_requests(stack.sandbox, "enr-422")] == [422]
    assert await stack.sandbox.enrolments("enr-422") == []


async def test_transient_failures_are_retried_with_backoff_then_succeed(stack: Stack) -> None:
    await add_stack_npo(stack, "enr-flaky")
    await stack.sandbox.set_faults(
        "enr-flaky",
        endpoint="enrol",
        fail_next=[{"status": 500}, {"status": 500}, {"status": 429, "retry_after": 2}],
    )
    await send(stack.deployment, assignment("asg-flaky", "enr-flaky"))

    (result,) = await wait_results(stack.deployment, "asg-flaky")
    assert result["status"] == "confirmed" and result["attempts"] == 4
    requests = await enrol_requests(stack.sandbox, "enr-flaky")
    assert [r["status"] for r in requests] == [500, 500, 429, 201]
    waited = datetime.fromisoformat(requests[3]["time"]) - datetime.fromisoformat(
        requests[2]["time"]
    )
    assert waited.total_seconds() >= 2  # Retry-After honoured
    assert len(await stack.sandbox.enrolments("enr-flaky")) == 1


async def test_an_npo_that_is_down_fails_to_the_dead_letters_without_delaying_other_npos(
    stack: Stack,
) -> None:
    await add_stack_npo(stack, "enr-down", max_attempts=3)
    await add_stack_npo(stack, "enr-up")
    await stack.sandbox.set_faults("enr-down", endpoint="any", down=True)
    await send(stack.deployment, assignment("asg-down", "enr-down"))
    sent_at = time.monotonic()
    await send(stack.deployment, assignment("asg-up", "enr-up"))

    (up,) = await wait_results(stack.deployment, "asg-up", timeout=10)
    assert up["status"] == "confirmed" and time.monotonic() - sent_at < 5

    (down,) = await wait_results(stack.deployment, "asg-down")
    assert down["status"] == "failed" and down["reason"].startswith("gave up after 3 attempt(s)")
    assert [r["status"] for r in await enrol_requests(stack.sandbox, "enr-down")] == [503, 503, 503]
    letters = [
        m.value
        for m in await read_all(stack.deployment.topics["dead_letters"])
        if m.value.get("key") == "asg-down"
    ]
    assert len(letters) == 1 and letters[0]["npo_id"] == "enr-down"


# --- exactly once -----------------------------------------------------------------------------


async def test_a_timeout_with_unknown_outcome_is_resolved_by_lookup_without_a_duplicate(
    stack: Stack,
) -> None:
    # This NPO ignores Idempotency-Key: only the lookup stands between
    # a retry and a second enrolment.
    await add_stack_npo(
        stack, "enr-hang-lookup", honours_idempotency=False, lookup=True, timeout=1.0
    )
    await stack.sandbox.set_faults(
        "enr-hang-lookup", endpoint="enrol", fail_next=[{"commit_then_hang_ms": 4000}]
    )
    await send(stack.deployment, assignment("asg-hang-lookup", "enr-hang-lookup"))

    (result,) = await wait_results(stack.deployment, "asg-hang-lookup")
    (enrolment,) = await stack.sandbox.enrolments("enr-hang-lookup")
    assert (
        result["status"] == "confirmed" and result["npo_enrolment_ref"] == enrolment["enrolment_id"]
    )
    assert len(await enrol_requests(stack.sandbox, "enr-hang-lookup")) == 1
    assert len(await enrol_requests(stack.sandbox, "enr-hang-lookup", "lookup")) == 1


async def test_a_timeout_with_unknown_outcome_is_resent_under_the_same_key_and_replayed(
    stack: Stack,
) -> None:
    await add_stack_npo(stack, "enr-hang-key", timeout=1.0)
    await stack.sandbox.set_faults(
        "enr-hang-key", endpoint="enrol", fail_next=[{"commit_then_hang_ms": 4000}]
    )
    await send(stack.deployment, assignment("asg-hang-key", "enr-hang-key"))

    (result,) = await wait_results(stack.deployment, "asg-hang-key")
    (enrolment,) = await stack.sandbox.enrolments("enr-hang-key")
    assert (
        result["status"] == "confirmed" and result["npo_enrolment_ref"] == enrolment["enrolment_id"]
    )
    # the second request was answered from the NPO's idempotency store
    assert enrolment["count"] == 2
    assert enrolment["idempotency_key"] == idempotency_key("enrol", "asg-hang-key")


async def test_duplicate_input_events_enrol_once_and_decide_once(stack: Stack) -> None:
    await add_stack_npo(stack, "enr-dup")
    event = assignment("asg-dup", "enr-dup")
    await send(stack.deployment, event)
    await send(stack.deployment, event)
    await send(stack.deployment, {**event, "event_id": str(uuid.uuid4())})
    marker = same_partition_as("asg-dup", "asg-dup-marker")
    await send(stack.deployment, assignment(marker, "enr-dup", offering="off-0002"))

    # same partition: the duplicates were processed before it
    await wait_results(stack.deployment, marker)
    assert len(await results_for(stack.deployment, "asg-dup")) == 1
    enrolments = await stack.sandbox.enrolments("enr-dup")
    assert sorted(e["offering_id"] for e in enrolments) == ["off-0001", "off-0002"]
    assert len(await enrol_requests(stack.sandbox, "enr-dup")) == 2


# --- cancellation ------------------------------------------------------------------------------


async def test_a_cancelled_assignment_is_unenrolled_in_order_and_unlinked(stack: Stack) -> None:
    await add_stack_npo(stack, "enr-cancel")
    await send(stack.deployment, assignment("asg-cancel", "enr-cancel"))
    await send(stack.deployment, assignment("asg-cancel", "enr-cancel", cancelled=True))

    confirmed, cancelled = await wait_results(stack.deployment, "asg-cancel", count=2)
    assert (confirmed["status"], cancelled["status"]) == ("confirmed", "cancelled")
    (enrolment,) = await stack.sandbox.enrolments("enr-cancel")
    assert enrolment["status"] == "unenrolled"
    (unenrol,) = await enrol_requests(stack.sandbox, "enr-cancel", "unenrol")
    assert (
        unenrol["path"].endswith(f"/api/enrolments/{enrolment['enrolment_id']}")
        and unenrol["status"] == 204
    )
    links = [
        m.value
        for m in await read_all(stack.deployment.topics["enrolment_links"])
        if m.value["assignment_id"] == "asg-cancel"
    ]
    assert [link["event_type"] for link in links] == ["enrolment.linked", "enrolment.unlinked"]


async def test_cancel_without_an_unenrol_endpoint_is_recorded_as_not_supported(
    stack: Stack,
) -> None:
    await add_stack_npo(stack, "enr-no-unenrol", unenrol=False)
    await send(stack.deployment, assignment("asg-no-unenrol", "enr-no-unenrol"))
    await send(stack.deployment, assignment("asg-no-unenrol", "enr-no-unenrol", cancelled=True))

    results = await wait_results(stack.deployment, "asg-no-unenrol", count=2)
    assert [r["status"] for r in results] == ["confirmed", "cancel_not_supported"]
    assert "no unenrol endpoint" in results[1]["reason"]
    assert [e["status"] for e in await stack.sandbox.enrolments("enr-no-unenrol")] == ["enrolled"]
    assert await enrol_requests(stack.sandbox, "enr-no-unenrol", "unenrol") == []


# --- operators --------------------------------------------------------------------------------


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


async def test_an_operator_lists_and_redrives_failed_enrolments_of_one_npo(stack: Stack) -> None:
    await add_stack_npo(stack, "enr-redrive")
    await send(stack.deployment, assignment("asg-redrive", "enr-redrive", offering="off-late"))
    (failed,) = await wait_results(stack.deployment, "asg-redrive")
    assert failed["status"] == "failed"

    listed = await asyncio.to_thread(
        run_cli, stack, "enrolments", "list", "enr-redrive", "--status", "failed"
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("asg-redrive\tfailed\t1\t-\t")

    # The operator fixes the cause (the offering now exists at the NPO) and re-drives.
    await stack.sandbox.call(
        "POST", "/_sandbox/npos/enr-redrive/offerings", {"id": "off-late", "title": "Late"}
    )
    redriven = await asyncio.to_thread(run_cli, stack, "enrolments", "redrive", "enr-redrive")
    assert redriven.returncode == 0, redriven.stderr
    assert '"status": "applied"' in redriven.stdout and '"redriven_here": 1' in redriven.stdout

    failed_again, confirmed = await wait_results(stack.deployment, "asg-redrive", count=2)
    assert confirmed["status"] == "confirmed" and confirmed["event_id"] != failed_again["event_id"]
    assert len(await stack.sandbox.enrolments("enr-redrive")) == 1
    status, body = await admin(
        stack.worker.url, stack.deployment.admin_token, "GET", "/admin/npos/enr-redrive/enrolments"
    )
    assert status == 200 and body["counts"] == {"confirmed": 1}
    status, _ = await admin(
        stack.worker.url,
        stack.deployment.admin_token,
        "POST",
        "/admin/npos/nobody/enrolments/redrive",
    )
    assert status == 404


# --- crash ----------------------------------------------------------------------------------


async def test_a_worker_killed_mid_call_leaves_exactly_one_enrolment_at_the_npo(
    stack: Stack, deployment: Deployment
) -> None:
    # An NPO that ignores Idempotency-Key: a blind re-post after the crash would enrol twice.
    sandbox = stack.sandbox
    first = await deployment.start_worker("killed")
    await add_npo(
        sandbox,
        first.url,
        deployment.admin_token,
        "enr-kill",
        honours_idempotency=False,
        lookup=True,
        timeout=3,
    )
    await sandbox.set_faults(
        "enr-kill", endpoint="enrol", fail_next=[{"commit_then_hang_ms": 60_000}]
    )
    await send(deployment, assignment("asg-kill", "enr-kill"))

    async def committed() -> list[dict[str, Any]]:
        return await sandbox.enrolments("enr-kill")

    await eventually(committed, timeout=30, what="the NPO committing the enrolment")
    # Mid-call (the call times out only after 3 s): the NPO has acted, the worker never learns it
    first.kill()

    # A new data dir: the "sending" state comes back from the changelog, and is resolved when the
    # interrupted event is redelivered or, at the latest, when the call's
    # watchdog (3 x 3 s + 10 s) fires.
    await deployment.start_worker("recovered")
    (result,) = await wait_results(deployment, "asg-kill", timeout=60)
    (enrolment,) = await sandbox.enrolments("enr-kill")
    assert (
        result["status"] == "confirmed" and result["npo_enrolment_ref"] == enrolment["enrolment_id"]
    )
    assert len(await enrol_requests(sandbox, "enr-kill")) == 1
    assert len(await enrol_requests(sandbox, "enr-kill", "lookup")) == 1
