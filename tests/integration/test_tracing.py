"""One W3C trace followed over the real broker and the simulated NPO (``npo_integration/tracing``).

A scheduled pull starts a trace: the simulator's request log shows its ``traceparent`` on the
page request, and a plain consumer finds the same trace id in the ``traceparent`` header of the
raw record and of the platform event. An assignment event sent with a ``traceparent`` header is
continued: the enrolment POST at the simulator and the outcome message carry its trace id.
"""

from __future__ import annotations

import secrets
from typing import Any

from npo_integration.tracing import HEADER, parse
from tests.integration.conftest import Stack
from tests.integration.support.kafka import Message, produce, read_all
from tests.integration.support.polling import eventually
from tests.integration.test_enrolment import add_stack_npo, assignment
from tests.integration.test_ingestion import events_of

NPO = "trace-npo"
OFFERINGS = {
    "offerings": {
        "path": "/api/offerings",
        "records_path": "data",
        "pagination": {"style": "page_number", "page_size": 100},
        "schedule_seconds": 600,
    }
}


def trace_of(header: str | None) -> str:
    parsed = parse(header)
    assert parsed is not None, f"no valid traceparent: {header!r}"
    return parsed.trace_id


async def traced_messages(stack: Stack, topic: str) -> list[Message]:
    """The NPO's messages on ``topic`` that carry a traceparent header."""
    return [m for m in await events_of(stack.deployment, NPO, topic) if m.header(HEADER)]


async def test_one_trace_runs_from_the_pull_to_the_event_and_from_the_assignment_to_the_outcome(
    stack: Stack,
) -> None:
    await add_stack_npo(stack, NPO, streams=OFFERINGS)  # registering it schedules a pull

    async def page_requests() -> list[dict[str, Any]]:
        return [
            r
            for r in await stack.sandbox.requests(NPO)
            if r["path"].endswith("/api/offerings") and r["status"] == 200
        ]

    (page, *_) = await eventually(page_requests, what="the pull's page request")
    pulled = trace_of(page["traceparent"])

    raw = await eventually(
        lambda: traced_messages(stack, "raw_records"), what="a raw page with a traceparent"
    )
    assert {trace_of(m.header(HEADER)) for m in raw} == {pulled}
    events = await eventually(
        lambda: traced_messages(stack, "offerings"), what="offering events with a traceparent"
    )
    assert len(events) == 3 and {trace_of(m.header(HEADER)) for m in events} == {pulled}

    platform_trace = secrets.token_hex(16)
    sent = f"00-{platform_trace}-{secrets.token_hex(8)}-01"
    event = assignment("asg-traced", NPO)
    await produce(
        stack.deployment.topics["candidate_assignments"],
        event["assignment_id"],
        event,
        headers=[(HEADER, sent.encode())],
    )

    async def outcome() -> list[Message]:
        return [
            m
            for m in await read_all(stack.deployment.topics["enrolment_results"])
            if m.key == "asg-traced"
        ]

    (result,) = await eventually(outcome, what="the enrolment outcome")
    assert result.value["status"] == "confirmed"
    assert trace_of(result.header(HEADER)) == platform_trace
    (enrol,) = [r for r in await stack.sandbox.requests(NPO) if r["endpoint"] == "enrol"]
    assert trace_of(enrol["traceparent"]) == platform_trace
    assert enrol["traceparent"] != sent  # a span of its own, the platform's its parent
