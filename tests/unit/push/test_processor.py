"""The push path's rules end to end, over fake ports: what is sent, saved
and published, in which order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from npo_integration.http.errors import (
    CircuitOpenError,
    NpoRequestError,
    NpoTimeoutError,
    NpoUnavailableError,
)
from npo_integration.http.response import NpoResponse
from npo_integration.models.enrolment import EnrolmentCommand
from npo_integration.models.npo_config import NpoIntegrationConfig
from npo_integration.push import machine
from npo_integration.push.calls import HttpCall
from npo_integration.push.identity import idempotency_key
from npo_integration.push.processor import NO_CONFIG, EnrolmentProcessor
from npo_integration.registry.config_input import read_config
from tests.unit.push.conftest import (
    LOOKUP_ENROLMENT,
    SIMPLE_ENROLMENT,
    FakeClock,
    FakePorts,
    make_assignment,
    make_config,
    response,
)

ENROL_KEY = idempotency_key("enrol", "asg-1")


@pytest.fixture
def processor(ports: FakePorts, clock: FakeClock) -> EnrolmentProcessor:
    return EnrolmentProcessor(ports, clock=clock, random_fraction=lambda: 0.0)


def retry_command(assignment_id: str = "asg-1") -> EnrolmentCommand:
    return EnrolmentCommand(
        event_type="enrolment.retry", npo_id="acme", assignment_id=assignment_id
    )


async def run_due_retry(processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock) -> None:
    """What the timer and the agent do together once the retry is due."""
    due_at = ports.states["asg-1"].due_at
    assert due_at is not None
    clock.now = due_at
    await processor.on_command(retry_command(), 0)


async def test_success_saves_sending_durably_before_the_call_then_links_and_confirms(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    ports.reply(response(201, {"enrolment_id": "enr-9", "status": "enrolled"}))
    await processor.on_assignment(make_assignment(), 0)

    assert ports.journal == [
        "save sending",
        "persist",
        "send POST /api/enrolments",
        "enrolment.linked",
        "result confirmed",
        "save confirmed",
    ]
    assert ports.durable["asg-1"].status == "sending"
    call, key = ports.sent[0]
    assert key == ENROL_KEY
    assert call.json == {
        "candidate": {
            "email": "ada@example.org",
            "first_name": "Ada",
            "last_name": "",
            "external_id": "u-7",
        },
        "offering_id": "off-0001",
    }
    (result,) = ports.results
    assert (result.status, result.npo_enrolment_ref, result.attempts, result.reason) == (
        "confirmed",
        "enr-9",
        1,
        None,
    )
    (link,) = ports.links
    assert (link.npo_id, link.assignment_id, link.npo_enrolment_ref, link.candidate_id) == (
        "acme",
        "asg-1",
        "enr-9",
        "cand-7",
    )
    assert (link.npo_user_ref, link.npo_offering_ref) == ("u-7", "off-0001")
    state = ports.states["asg-1"]
    assert (state.status, state.npo_enrolment_ref, state.due_at) == ("confirmed", "enr-9", None)


def two_sources(*names: str) -> NpoIntegrationConfig:
    return read_config(
        {
            "npo_id": "acme",
            "display_name": "Acme Academy",
            "sources": [
                {
                    "name": name,
                    "base_url": f"https://{name}.example.org",
                    "enrolment": SIMPLE_ENROLMENT,
                    "transform": {"kind": "plugin", "name": "simple"},
                }
                for name in names
            ],
        }
    )


async def test_the_link_names_the_source_the_call_went_to_though_the_config_changed_meanwhile(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    """A progress record finds its enrolment by the source's prefixed reference: an operator
    removing the source while the call is out must not leave the link unprefixed."""
    ports.add_config(two_sources("lms", "crm"))

    def enrolled_while_the_source_is_removed(_: HttpCall) -> NpoResponse:
        ports.add_config(two_sources("lms"))
        return response(201, {"enrolment_id": "enr-9"})

    ports.reply(enrolled_while_the_source_is_removed)
    assignment = make_assignment()
    offering = assignment.offering.model_copy(update={"npo_offering_ref": "crm:off-0001"})
    await processor.on_assignment(assignment.model_copy(update={"offering": offering}), 0)

    assert len(ports.sent) == 1
    (link,) = ports.links
    assert link.npo_enrolment_ref == "crm:enr-9"
    assert ports.results[0].status == "confirmed"


async def test_the_plugin_reads_the_id_when_response_id_path_finds_none(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    enrolment = {**SIMPLE_ENROLMENT, "enrol": {"path": "/api/enrolments", "response_id_path": "id"}}
    ports.add_config(make_config(enrolment=enrolment))
    ports.reply(response(201, {"enrolment_id": "enr-3"}))
    await processor.on_assignment(make_assignment(), 0)
    assert ports.results[0].npo_enrolment_ref == "enr-3"


async def test_a_redelivered_created_event_sends_nothing(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    ports.reply(response(201, {"enrolment_id": "enr-9"}))
    await processor.on_assignment(make_assignment(), 0)
    await processor.on_assignment(make_assignment(), 0)
    assert len(ports.sent) == 1 and len(ports.results) == 1
    assert processor.counters["duplicates"] == 1


async def test_a_permanent_refusal_fails_at_once_with_the_npo_reason(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    reason = "POST https://acme.example.org/api/enrolments -> HTTP 422: no offering 'off-0001'"
    ports.reply(NpoRequestError(reason, status=422))
    await processor.on_assignment(make_assignment(), 0)
    (result,) = ports.results
    assert (result.status, result.reason, result.attempts) == ("failed", reason, 1)
    assert ports.states["asg-1"].status == "failed" and ports.dead == [] and ports.links == []


async def test_transient_failures_are_retried_later_under_the_same_key(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    ports.reply(NpoUnavailableError("HTTP 500", status=500))
    await processor.on_assignment(make_assignment(), 0)
    waiting = ports.states["asg-1"]
    assert (waiting.status, waiting.attempts, waiting.reason) == ("pending", 1, "HTTP 500")
    assert waiting.due_at == clock.now + timedelta(seconds=0.5)  # equal jitter: half of base 1s
    assert ports.results == []

    await processor.on_command(retry_command(), 0)  # not due yet: a stale or early command
    assert len(ports.sent) == 1 and processor.counters["stale_commands"] == 1

    ports.reply(
        NpoUnavailableError("HTTP 429", status=429, retry_after=4),
        response(201, {"enrolment_id": "e"}),
    )
    await run_due_retry(processor, ports, clock)
    assert ports.states["asg-1"].due_at == clock.now + timedelta(seconds=4)  # Retry-After wins
    await run_due_retry(processor, ports, clock)
    assert [key for _, key in ports.sent] == [ENROL_KEY] * 3
    assert (ports.results[0].status, ports.results[0].attempts) == ("confirmed", 3)


async def test_out_of_attempts_fails_to_the_dead_letters(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    ports.reply(*[NpoUnavailableError("HTTP 503", status=503)] * 3)
    await processor.on_assignment(make_assignment(), 0)
    await run_due_retry(processor, ports, clock)
    await run_due_retry(processor, ports, clock)
    (result,) = ports.results
    assert result.status == "failed" and result.reason == "gave up after 3 attempt(s): HTTP 503"
    assert ports.dead == [("asg-1", "gave up after 3 attempt(s): HTTP 503")]
    assert ports.states["asg-1"].due_at is None


async def test_an_open_circuit_is_not_an_attempt(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    ports.reply(CircuitOpenError("circuit open", retry_after=20))
    await processor.on_assignment(make_assignment(), 0)
    state = ports.states["asg-1"]
    assert (state.attempts, state.due_at) == (0, clock.now + timedelta(seconds=20))


async def test_an_unknown_outcome_is_looked_up_not_posted_again(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    ports.add_config(make_config(enrolment=LOOKUP_ENROLMENT))
    ports.reply(NpoTimeoutError("no answer within 1s", outcome_unknown=True))
    await processor.on_assignment(make_assignment(), 0)
    assert ports.states["asg-1"].maybe_applied

    ports.reply(response(200, [{"enrolment_id": "enr-4", "offering_id": "off-0001"}]))
    await run_due_retry(processor, ports, clock)
    lookup, key = ports.sent[1]
    assert (lookup.method, lookup.path, key) == ("GET", "/api/enrolments", None)
    assert lookup.params == {"candidate_external_id": "u-7", "offering_id": "off-0001"}
    assert len(ports.sent) == 2
    assert (ports.results[0].status, ports.results[0].npo_enrolment_ref) == ("confirmed", "enr-4")


async def test_a_lookup_that_finds_nothing_makes_the_post_safe(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    ports.add_config(make_config(enrolment=LOOKUP_ENROLMENT))
    ports.reply(
        NpoTimeoutError("no answer", outcome_unknown=True),
        response(200, []),
        response(201, {"enrolment_id": "e5"}),
    )
    await processor.on_assignment(make_assignment(), 0)
    await run_due_retry(processor, ports, clock)
    assert [(c.method, k) for c, k in ports.sent] == [
        ("POST", ENROL_KEY),
        ("GET", None),
        ("POST", ENROL_KEY),
    ]
    assert ports.results[0].npo_enrolment_ref == "e5"


async def test_without_a_lookup_an_unknown_outcome_is_resent_under_the_same_key(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    ports.reply(
        NpoTimeoutError("no answer", outcome_unknown=True), response(201, {"enrolment_id": "e1"})
    )
    await processor.on_assignment(make_assignment(), 0)
    await run_due_retry(processor, ports, clock)
    assert [k for _, k in ports.sent] == [ENROL_KEY, ENROL_KEY]
    assert ports.results[0].status == "confirmed"


async def test_a_failing_lookup_fails_the_enrolment_rather_than_risk_a_duplicate(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    ports.add_config(make_config(enrolment=LOOKUP_ENROLMENT))
    ports.reply(
        NpoTimeoutError("no answer", outcome_unknown=True), NpoRequestError("HTTP 404", status=404)
    )
    await processor.on_assignment(make_assignment(), 0)
    await run_due_retry(processor, ports, clock)
    assert len(ports.sent) == 2
    assert ports.results[0].status == "failed" and "lookup failed: HTTP 404" in (
        ports.results[0].reason or ""
    )
    assert ports.states["asg-1"].maybe_applied  # a re-drive resolves before it sends


async def test_a_call_interrupted_by_a_crash_is_resolved_when_the_event_comes_again(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    ports.add_config(make_config(enrolment=LOOKUP_ENROLMENT))
    crashed = machine.begin(machine.new(make_assignment(), 0, ports.clock()), ports.clock(), 10)
    ports.states["asg-1"] = crashed  # recovered from the changelog: "sending", attempt 1
    ports.reply(response(200, [{"enrolment_id": "enr-1"}]))
    await processor.on_assignment(make_assignment(), 0)
    assert [c.method for c, _ in ports.sent] == ["GET"]
    assert (ports.results[0].status, ports.results[0].attempts) == ("confirmed", 2)
    assert processor.counters["resumed"] == 1


async def test_npos_without_enrolment_are_ignored_and_inactive_or_unknown_ones_fail(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    ports.add_config(make_config("no-enrol", enrolment={"enabled": False}))
    ports.add_config(make_config("asleep", active=False))
    await processor.on_assignment(make_assignment("a1", npo_id="unknown-npo"), 0)
    await processor.on_assignment(make_assignment("a2", npo_id="no-enrol"), 0)
    await processor.on_assignment(make_assignment("a3", npo_id="asleep"), 0)
    assert processor.counters["no_config"] == 1
    assert processor.counters["ignored_enrolment_disabled"] == 1
    assert ports.sent == [] and ports.dead == [] and set(ports.states) == {"a1", "a3"}
    assert [(r.assignment_id, r.status, r.reason) for r in ports.results] == [
        ("a1", "failed", NO_CONFIG),
        ("a3", "failed", "the NPO's integration is inactive"),
    ]


async def test_a_config_another_worker_just_wrote_is_waited_for_not_dropped(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    ports.in_changelog["acme"] = ports.configs.pop("acme")  # not read here yet
    ports.reply(response(201, {"enrolment_id": "enr-1"}))
    await processor.on_assignment(make_assignment(), 0)
    assert ports.journal[0] == "catch_up"
    assert [r.status for r in ports.results] == ["confirmed"]
    assert processor.counters["config_seen_after_catch_up"] == 1


async def test_no_config_while_the_configs_are_behind_is_dead_lettered_too(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    ports.catches_up = False
    ports.in_changelog["acme"] = ports.configs.pop("acme")  # not read here yet
    await processor.on_assignment(make_assignment(), 0)
    (result,) = ports.results
    assert result.status == "failed" and result.reason is not None
    assert result.reason.startswith(NO_CONFIG) and "behind" in result.reason
    assert ports.dead == [("asg-1", result.reason)]
    assert processor.counters["no_config_behind"] == 1


async def test_a_cancel_first_waits_for_the_config_and_leaves_its_tombstone(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    ports.in_changelog["acme"] = ports.configs.pop("acme")  # not read here yet
    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    await processor.on_assignment(make_assignment(), 0)
    assert ports.sent == []
    assert ports.states["asg-1"].status == "cancelled"


async def test_a_plugin_that_cannot_build_the_request_fails_it_to_the_dead_letters(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    await processor.on_assignment(make_assignment(email=None), 0)  # the simple plug-in needs one
    assert ports.sent == []
    assert ports.results[0].status == "failed" and "requires an email" in (
        ports.results[0].reason or ""
    )
    assert len(ports.dead) == 1


async def confirmed(processor: EnrolmentProcessor, ports: FakePorts) -> None:
    ports.reply(response(201, {"enrolment_id": "enr-9"}))
    await processor.on_assignment(make_assignment(), 0)


async def test_cancel_unenrols_with_its_own_key_and_unlinks(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    await confirmed(processor, ports)
    ports.reply(response(204))
    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    call, key = ports.sent[1]
    assert (call.method, call.path, call.json, key) == (
        "DELETE",
        "/api/enrolments/enr-9",
        None,
        idempotency_key("unenrol", "asg-1"),
    )
    assert [r.status for r in ports.results] == ["confirmed", "cancelled"]
    assert [link.event_type for link in ports.links] == ["enrolment.linked", "enrolment.unlinked"]
    assert ports.states["asg-1"].status == "cancelled"


async def test_an_unenrol_answered_404_means_already_gone(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    await confirmed(processor, ports)
    ports.reply(NpoRequestError("HTTP 404", status=404))
    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    assert ports.results[-1].status == "cancelled"


async def test_a_refused_unenrol_is_a_failed_result_saying_so(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    await confirmed(processor, ports)
    ports.reply(NpoRequestError("HTTP 403: locked", status=403))
    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    assert ports.states["asg-1"].status == "cancel_failed"
    assert (ports.results[-1].status, ports.results[-1].reason) == (
        "failed",
        "unenrol failed: HTTP 403: locked",
    )


async def test_cancel_without_an_unenrol_endpoint_is_recorded_as_not_supported(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    await confirmed(processor, ports)
    ports.add_config(make_config(enrolment={**SIMPLE_ENROLMENT, "unenrol": None}))
    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    assert len(ports.sent) == 1
    assert ports.results[-1].status == "cancel_not_supported"
    assert [link.event_type for link in ports.links] == [
        "enrolment.linked"
    ]  # still enrolled at the NPO


async def test_cancel_before_any_attempt_took_effect_needs_no_npo_call(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    ports.reply(NpoUnavailableError("HTTP 429", status=429))
    await processor.on_assignment(make_assignment(), 0)
    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    assert len(ports.sent) == 1
    assert ports.results[-1].status == "cancelled" and ports.states["asg-1"].due_at is None


async def test_cancel_after_an_unknown_outcome_resolves_first_then_undoes(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    ports.reply(NpoTimeoutError("no answer", outcome_unknown=True))
    await processor.on_assignment(make_assignment(), 0)
    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    assert ports.states["asg-1"].cancel_requested and ports.results == []

    ports.reply(response(201, {"enrolment_id": "enr-2"}), response(204))
    await run_due_retry(processor, ports, clock)
    assert [c.method for c, _ in ports.sent] == ["POST", "POST", "DELETE"]
    assert [r.status for r in ports.results] == ["confirmed", "cancelled"]


async def test_a_cancel_before_its_created_leaves_a_tombstone_so_the_late_created_sends_nothing(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    await processor.on_assignment(make_assignment(), 0)
    await processor.on_assignment(make_assignment(), 0)
    assert ports.sent == []
    assert [r.status for r in ports.results] == ["cancelled"]
    assert ports.states["asg-1"].status == "cancelled"
    assert processor.counters["created_after_cancel"] == 2


async def test_a_cancel_for_an_npo_this_service_does_not_enrol_is_ignored(
    processor: EnrolmentProcessor, ports: FakePorts
) -> None:
    cancel = make_assignment(npo_id="elsewhere", event_type="candidate_assignment.cancelled")
    await processor.on_assignment(cancel, 0)
    assert ports.results == [] and ports.states == {}
    assert processor.counters["ignored_cancel_unknown"] == 1


async def test_redrive_makes_the_npos_failed_enrolments_on_that_partition_due(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    ports.reply(NpoRequestError("HTTP 422", status=422), NpoRequestError("HTTP 422", status=422))
    await processor.on_assignment(make_assignment("asg-1"), 0)
    await processor.on_assignment(make_assignment("asg-2"), 1)
    command = EnrolmentCommand(event_type="enrolment.redrive_npo", npo_id="acme")
    await processor.on_command(command, 0)
    assert ports.states["asg-1"].status == "pending" and ports.states["asg-2"].status == "failed"

    ports.reply(response(201, {"enrolment_id": "enr-1"}))
    await run_due_retry(processor, ports, clock)
    assert [r.status for r in ports.results] == ["failed", "failed", "confirmed"]
    assert ports.results[0].event_id != ports.results[2].event_id
    assert ports.states["asg-1"].redrives == 1


async def test_a_call_lost_with_its_worker_is_resolved_by_the_watchdog_retry(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    crashed = machine.begin(machine.new(make_assignment(), 0, clock()), clock(), 10)
    ports.states["asg-1"] = crashed  # the interrupted event itself was never seen again
    await processor.on_command(retry_command(), 0)
    assert ports.sent == []  # the call may still be in flight: too early
    ports.reply(response(201, {"enrolment_id": "enr-1"}))
    await run_due_retry(processor, ports, clock)
    assert [k for _, k in ports.sent] == [ENROL_KEY]  # resolved by re-sending under the same key
    assert ports.results[0].status == "confirmed"


async def test_cancel_after_a_failure_known_to_have_enrolled_nobody_calls_nothing(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    ports.add_config(make_config(enrolment=LOOKUP_ENROLMENT))
    ports.reply(
        NpoTimeoutError("no answer", outcome_unknown=True),  # attempt 1: POST, outcome unknown
        NpoUnavailableError("lookup 503"),  # attempt 2: the lookup fails
        response(200, []),  # attempt 3: the lookup finds nothing...
        NpoUnavailableError("HTTP 503"),  # ... so the POST is safe; it fails: out of attempts
    )
    await processor.on_assignment(make_assignment(), 0)
    await run_due_retry(processor, ports, clock)
    await run_due_retry(processor, ports, clock)
    assert ports.results[-1].status == "failed" and not ports.states["asg-1"].maybe_applied

    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    assert ports.results[-1].status == "cancelled" and len(ports.sent) == 4


async def test_cancel_after_giving_up_with_the_outcome_still_unknown_looks_it_up_first(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    ports.add_config(make_config(enrolment=LOOKUP_ENROLMENT))
    ports.reply(
        *[NpoTimeoutError("no answer", outcome_unknown=True)]
        + [NpoUnavailableError("lookup 503")] * 2
    )
    await processor.on_assignment(make_assignment(), 0)
    await run_due_retry(processor, ports, clock)
    await run_due_retry(processor, ports, clock)
    assert ports.states["asg-1"].status == "failed" and ports.states["asg-1"].maybe_applied

    ports.reply(response(200, [{"enrolment_id": "enr-7"}]), response(204))
    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    assert [c.method for c, _ in ports.sent[-2:]] == ["GET", "DELETE"]
    assert [r.status for r in ports.results] == ["failed", "confirmed", "cancelled"]


async def test_an_erased_candidate_is_never_acted_on_again(
    processor: EnrolmentProcessor, ports: FakePorts, clock: FakeClock
) -> None:
    """After an erasure: its retries are stale, its late events ignored, a re-drive skips it."""
    from npo_integration.erasure.personal import blanked_state

    ports.reply(NpoUnavailableError("HTTP 503", status=503))
    await processor.on_assignment(make_assignment(), 0)
    waiting = ports.states["asg-1"]
    assert waiting.status == "pending" and waiting.due_at is not None
    ports.save(blanked_state(waiting, "er-1", clock.now))
    ports.erased_candidates.add("cand-7")
    sent = len(ports.sent)

    clock.now = waiting.due_at
    await processor.on_command(retry_command(), 0)
    await processor.on_assignment(make_assignment(event_type="candidate_assignment.cancelled"), 0)
    await processor.on_assignment(make_assignment("asg-2"), 0)
    await processor.on_command(
        EnrolmentCommand(event_type="enrolment.redrive_npo", npo_id="acme"), 0
    )

    assert len(ports.sent) == sent and "asg-2" not in ports.states
    assert ports.states["asg-1"].erased_at is not None
    assert ports.states["asg-1"].assignment.candidate.email is None
    assert processor.counters["ignored_erased"] == 2
