"""Unknown outcomes by the NPO's declared policy, "already enrolled" as success, durable state
before every call, operator decisions: over fake ports, counting what the NPO was sent."""

from __future__ import annotations

from typing import Any

import pytest

from npo_integration.http.errors import NpoRequestError, NpoTimeoutError, NpoUnavailableError
from npo_integration.models.enrolment import EnrolmentCommand
from npo_integration.push.processor import EnrolmentProcessor, wrong_key
from tests.unit.push.conftest import (
    SIMPLE_ENROLMENT,
    SIMPLE_LOOKUP,
    FakeClock,
    FakePorts,
    make_assignment,
    make_config,
    response,
)

NEITHER: dict[str, Any] = {**SIMPLE_ENROLMENT, "idempotency_key": None}
LOOKUP_ONLY: dict[str, Any] = {**NEITHER, "lookup": SIMPLE_LOOKUP}
KEY_AND_LOOKUP: dict[str, Any] = {**SIMPLE_ENROLMENT, "lookup": SIMPLE_LOOKUP}


@pytest.fixture
def processor(ports: FakePorts, clock: FakeClock) -> EnrolmentProcessor:
    return EnrolmentProcessor(ports, clock=clock, random_fraction=lambda: 0.0)


def use(ports: FakePorts, enrolment: dict[str, Any]) -> None:
    ports.add_config(make_config(enrolment=enrolment))


def command(event_type: str, ref: str | None = None) -> EnrolmentCommand:
    return EnrolmentCommand(
        event_type=event_type,  # type: ignore[arg-type]
        npo_id="acme",
        assignment_id="asg-1",
        npo_enrolment_ref=ref,
    )


async def due_retry(processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock) -> None:
    due_at = ports.states["asg-1"].due_at
    assert due_at is not None
    clock.now = due_at
    await processor.on_command(
        EnrolmentCommand(event_type="enrolment.retry", npo_id="acme", assignment_id="asg-1"), 0
    )


def posts(ports: FakePorts) -> int:
    return sum(1 for call, _ in ports.sent if call.method == "POST")


# --- neither key nor lookup: unknown, an operator decides -------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        NpoUnavailableError("POST -> HTTP 504: gateway timeout", status=504),
        NpoUnavailableError("POST -> HTTP 500", status=500),
        NpoTimeoutError("no answer", outcome_unknown=True),
        NpoUnavailableError("connection reset", outcome_unknown=True),
    ],
)
async def test_an_unknown_outcome_without_key_or_lookup_is_unknown_and_not_sent_again(
    processor: EnrolmentProcessor, ports: FakePorts, failure: Exception
) -> None:
    use(ports, NEITHER)
    ports.reply(failure)
    await processor.on_assignment(make_assignment(), 0)

    assert posts(ports) == 1
    (result,) = ports.results
    assert result.status == "unknown" and "outcome unknown" in (result.reason or "")
    state = ports.states["asg-1"]
    assert (state.status, state.due_at, state.maybe_applied) == ("unknown", None, True)
    await processor.on_assignment(make_assignment(), 0)  # a redelivery sends nothing either
    assert posts(ports) == 1 and len(ports.results) == 1


async def test_a_retriable_answer_known_not_to_have_acted_is_still_retried(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    use(ports, NEITHER)
    ports.reply(NpoUnavailableError("HTTP 429", status=429), response(201, {"enrolment_id": "e"}))
    await processor.on_assignment(make_assignment(), 0)
    assert ports.states["asg-1"].status == "pending"
    await due_retry(processor, ports, clock)
    assert [r.status for r in ports.results] == ["confirmed"] and posts(ports) == 2


async def test_an_operator_confirms_an_unknown_enrolment_with_the_npo_ref_and_it_is_linked(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    use(ports, NEITHER)
    ports.reply(NpoUnavailableError("HTTP 504", status=504))
    await processor.on_assignment(make_assignment(), 0)
    await processor.on_command(command("enrolment.confirm", "enr-42"), 0)

    assert posts(ports) == 1
    assert [(r.status, r.npo_enrolment_ref) for r in ports.results] == [
        ("unknown", None),
        ("confirmed", "enr-42"),
    ]
    assert ports.results[0].event_id != ports.results[1].event_id
    (link,) = ports.links
    assert (link.event_type, link.npo_enrolment_ref) == ("enrolment.linked", "enr-42")
    assert ports.states["asg-1"].status == "confirmed"
    await processor.on_command(command("enrolment.confirm", "enr-43"), 0)  # once only
    assert processor.counters["stale_commands"] == 1 and len(ports.results) == 2


async def test_an_operator_resends_an_unknown_enrolment_the_npo_does_not_have(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    use(ports, NEITHER)
    ports.reply(NpoUnavailableError("HTTP 504", status=504), response(201, {"enrolment_id": "e9"}))
    await processor.on_assignment(make_assignment(), 0)
    await processor.on_command(command("enrolment.resend"), 0)

    assert posts(ports) == 2
    assert [r.status for r in ports.results] == ["unknown", "confirmed"]
    assert ports.states["asg-1"].npo_enrolment_ref == "e9"


async def test_a_cancel_of_an_unknown_enrolment_waits_for_the_operator_then_undoes(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    use(ports, NEITHER)
    ports.reply(NpoUnavailableError("HTTP 504", status=504), response(204))
    await processor.on_assignment(make_assignment(), 0)
    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    assert len(ports.sent) == 1 and ports.states["asg-1"].cancel_requested

    await processor.on_command(command("enrolment.confirm", "enr-5"), 0)
    assert [c.method for c, _ in ports.sent] == ["POST", "DELETE"]
    assert [r.status for r in ports.results] == ["unknown", "confirmed", "cancelled"]


async def test_a_resend_of_a_cancelled_unknown_enrolment_sends_nothing(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    use(ports, NEITHER)
    ports.reply(NpoUnavailableError("HTTP 504", status=504))
    await processor.on_assignment(make_assignment(), 0)
    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    await processor.on_command(command("enrolment.resend"), 0)
    assert posts(ports) == 1
    assert [r.status for r in ports.results] == ["unknown", "cancelled"]


async def test_a_config_that_loses_its_lookup_leaves_a_pending_unknown_outcome_to_an_operator(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    use(ports, LOOKUP_ONLY)
    ports.reply(NpoUnavailableError("HTTP 504", status=504))
    await processor.on_assignment(make_assignment(), 0)
    assert ports.states["asg-1"].status == "pending"
    use(ports, NEITHER)
    await due_retry(processor, ports, clock)
    assert posts(ports) == 1 and ports.states["asg-1"].status == "unknown"


# --- a declared key or a lookup: today's behaviour --------------------------------------------


async def test_a_504_to_a_post_is_looked_up_when_the_npo_has_a_lookup(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    use(ports, LOOKUP_ONLY)
    ports.reply(
        NpoUnavailableError("HTTP 504", status=504),
        response(200, [{"enrolment_id": "enr-1"}]),
    )
    await processor.on_assignment(make_assignment(), 0)
    await due_retry(processor, ports, clock)
    assert [c.method for c, _ in ports.sent] == ["POST", "GET"]
    assert [(r.status, r.npo_enrolment_ref) for r in ports.results] == [("confirmed", "enr-1")]


async def test_an_honoured_key_is_resent_first_even_with_a_lookup(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    use(ports, KEY_AND_LOOKUP)
    ports.reply(NpoUnavailableError("HTTP 504", status=504), response(201, {"enrolment_id": "e1"}))
    await processor.on_assignment(make_assignment(), 0)
    await due_retry(processor, ports, clock)
    assert [c.method for c, _ in ports.sent] == ["POST", "POST"]
    assert ports.sent[0][1] == ports.sent[1][1]
    assert [r.status for r in ports.results] == ["confirmed"]


# --- already enrolled ---------------------------------------------------------------------


async def test_a_409_on_resend_is_confirmed_through_the_lookup_and_linked(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    use(ports, KEY_AND_LOOKUP)
    ports.reply(
        NpoUnavailableError("HTTP 504", status=504),
        NpoRequestError("HTTP 409: already enrolled", status=409),
        response(200, [{"enrolment_id": "enr-8"}]),
    )
    await processor.on_assignment(make_assignment(), 0)
    await due_retry(processor, ports, clock)
    assert [c.method for c, _ in ports.sent] == ["POST", "POST", "GET"]
    assert [(r.status, r.npo_enrolment_ref) for r in ports.results] == [("confirmed", "enr-8")]
    assert [(k.event_type, k.npo_enrolment_ref) for k in ports.links] == [
        ("enrolment.linked", "enr-8")
    ]
    assert processor.counters["already_enrolled"] == 1


async def test_already_enrolled_without_a_lookup_is_confirmed_and_linked_by_user_and_offering(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    ports.reply(NpoRequestError("HTTP 409", status=409))
    await processor.on_assignment(make_assignment(), 0)
    (result,) = ports.results
    assert (result.status, result.npo_enrolment_ref) == ("confirmed", None)
    (link,) = ports.links
    assert (link.npo_user_ref, link.npo_offering_ref) == ("u-7", "off-0001")


async def test_a_configured_error_code_in_the_body_means_already_enrolled(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    already = {"statuses": [], "body_contains": ["DUPLICATE_VALUE"]}
    use(ports, {**LOOKUP_ONLY, "already_enrolled": already})
    body = '[{"message": "duplicate value found", "errorCode": "DUPLICATE_VALUE"}]'
    ports.reply(
        NpoRequestError("HTTP 400: duplicate value found", status=400, body=body),
        response(200, [{"enrolment_id": "a0B1"}]),
    )
    await processor.on_assignment(make_assignment(), 0)
    assert [(r.status, r.npo_enrolment_ref) for r in ports.results] == [("confirmed", "a0B1")]


async def test_other_refusals_and_a_409_not_configured_still_fail(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    use(ports, {**SIMPLE_ENROLMENT, "already_enrolled": {"statuses": []}})
    ports.reply(NpoRequestError("HTTP 409: conflict", status=409))
    await processor.on_assignment(make_assignment(), 0)
    assert [r.status for r in ports.results] == ["failed"]


async def test_already_enrolled_that_the_lookup_cannot_find_fails_to_the_dead_letters(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    use(ports, LOOKUP_ONLY)
    ports.reply(NpoRequestError("HTTP 409", status=409), response(200, []))
    await processor.on_assignment(make_assignment(), 0)
    assert [r.status for r in ports.results] == ["failed"]
    assert "lookup finds no enrolment" in (ports.results[0].reason or "")
    assert len(ports.dead) == 1


# --- durable state before every call ---------------------------------------------------------


async def test_no_call_is_made_when_the_sending_state_is_not_acknowledged(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    async def not_acknowledged() -> None:
        ports.journal.append("persist failed")
        raise TimeoutError("changelog not acknowledged within 30s")

    ports.persist = not_acknowledged  # type: ignore[method-assign]
    await processor.on_assignment(make_assignment(), 0)

    assert ports.sent == [] and ports.results == []
    assert ports.journal == ["save sending", "persist failed", "save pending"]
    state = ports.states["asg-1"]
    assert (state.status, state.attempts, state.maybe_applied) == ("pending", 0, False)
    assert state.due_at is not None and state.due_at > clock.now
    assert processor.counters["not_durable"] == 1


async def test_no_unenrol_call_either_when_the_cancelling_state_is_not_acknowledged(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    ports.reply(response(201, {"enrolment_id": "enr-1"}))
    await processor.on_assignment(make_assignment(), 0)

    async def not_acknowledged() -> None:
        raise TimeoutError("not acknowledged")

    ports.persist = not_acknowledged  # type: ignore[method-assign]
    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    assert [c.method for c, _ in ports.sent] == ["POST"]
    assert ports.states["asg-1"].status == "cancel_pending"


# --- keys ------------------------------------------------------------------------------------


def test_a_message_keyed_other_than_its_assignment_id_is_refused_with_the_reason() -> None:
    assert wrong_key("asg-1", "asg-1") is None
    assert wrong_key("asg-2", "asg-1") == "message key 'asg-2' is not its assignment_id 'asg-1'"
    assert wrong_key(None, "asg-1") == "message key None is not its assignment_id 'asg-1'"
